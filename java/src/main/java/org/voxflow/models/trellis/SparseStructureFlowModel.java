package org.voxflow.models.trellis;

import org.voxflow.autograd.F;
import org.voxflow.nn.Linear;
import org.voxflow.nn.ModulatedCrossBlock;
import org.voxflow.nn.Module;
import org.voxflow.nn.PositionEmbedder;
import org.voxflow.nn.RowLayout;
import org.voxflow.nn.Sequential;
import org.voxflow.nn.TimestepEmbedder;
import org.voxflow.tensor.Backend;
import org.voxflow.tensor.Tensor;

/**
 * TRELLIS stage 1: the dense flow transformer over the sparse-structure latent [B, 8, R, R, R]. Patchify, input
 * linear, absolute 3D position embedding, modulated cross blocks, final non-affine layer norm, output linear,
 * unpatchify.
 */
public final class SparseStructureFlowModel extends Module implements FlowModel {
    public static final String CLASS_NAME = "SparseStructureFlowModel";

    private final SparseStructureFlowConfig cfg;
    private final TimestepEmbedder tEmbedder;
    private final Linear sharedAdaLN, inputLayer, outLayer;
    private final ModulatedCrossBlock[] blocks;
    private volatile boolean checkpointing;
    private final Tensor posEmb;
    private final int tokensPerSide;

    public SparseStructureFlowModel(Backend be, SparseStructureFlowConfig cfg) {
        super(be);
        this.cfg = cfg;
        this.checkpointing = cfg.useCheckpoint();
        int p = cfg.patchSize(), ch = cfg.modelChannels();
        tokensPerSide = cfg.resolution() / p;
        tEmbedder = child("t_embedder", new TimestepEmbedder(be, ch));
        sharedAdaLN = cfg.shareMod() ? child("adaLN_modulation", new Sequential(be)).add("1", new Linear(be, ch, 6 * ch)) : null;
        int n = tokensPerSide * tokensPerSide * tokensPerSide;
        int[] coords = new int[n * 3];
        for (int i = 0; i < n; i++) {
            coords[i * 3] = i / (tokensPerSide * tokensPerSide);
            coords[i * 3 + 1] = (i / tokensPerSide) % tokensPerSide;
            coords[i * 3 + 2] = i % tokensPerSide;
        }
        posEmb = buffer("pos_emb", be.fromFloats(PositionEmbedder.embed(coords, n, ch), n, ch));
        inputLayer = child("input_layer", new Linear(be, cfg.inChannels() * p * p * p, ch));
        Sequential list = child("blocks", new Sequential(be));
        blocks = new ModulatedCrossBlock[cfg.numBlocks()];
        for (int i = 0; i < blocks.length; i++)
            blocks[i] = list.add(Integer.toString(i), new ModulatedCrossBlock(be, ch, cfg.condChannels(), cfg.numHeads(),
                    cfg.mlpRatio(), cfg.shareMod(), cfg.qkRmsNorm(), cfg.qkRmsNormCross()));
        outLayer = child("out_layer", new Linear(be, ch, cfg.outChannels() * p * p * p));
    }

    public SparseStructureFlowConfig config() { return cfg; }

    /**
     * @param x    [B, in_channels, R, R, R]
     * @param t    [B], already multiplied by 1000
     * @param cond [B, L, cond_channels]
     */
    public Tensor forward(Tensor x, Tensor t, Tensor cond) {
        int b = x.size(0), p = cfg.patchSize(), s = tokensPerSide, r = cfg.resolution();
        int[] expect = {b, cfg.inChannels(), r, r, r};
        if (!java.util.Arrays.equals(x.shape(), expect))
            throw new IllegalArgumentException("stage-1 input has shape " + java.util.Arrays.toString(x.shape()) + ", expected " + java.util.Arrays.toString(expect));
        if (cond.dim() != 3 || cond.size(0) != b || cond.size(2) != cfg.condChannels())
            throw new IllegalArgumentException("condition has shape " + java.util.Arrays.toString(cond.shape()) + ", expected [" + b + ", L, " + cfg.condChannels() + "]");
        int tokens = s * s * s, cp = cfg.inChannels() * p * p * p;
        // patchify: [B,C,X,p,Y,p,Z,p] -> [B,C,p,p,p,X,Y,Z] -> [B, C p^3, T] -> tokens [B T, C p^3]
        Tensor h = F.reshape(x, b, cfg.inChannels(), s, p, s, p, s, p);
        h = F.permute(h, 0, 1, 3, 5, 7, 2, 4, 6);
        h = F.reshape(F.contiguous(h), b, cp, tokens);
        h = F.reshape(F.contiguous(F.permute(h, 0, 2, 1)), b * tokens, cp);
        h = inputLayer.forward(h);
        h = F.reshape(F.add(F.reshape(h, b, tokens, cfg.modelChannels()), posEmb), b * tokens, cfg.modelChannels());
        Tensor emb = tEmbedder.forward(t);
        if (sharedAdaLN != null) emb = sharedAdaLN.forward(F.silu(emb));
        RowLayout layout = RowLayout.uniform(b, tokens);
        int l = cond.size(1);
        // the condition rows only feed the blocks' kv projections: cast once to their GEMM type, not once per block
        Tensor ctx = F.cast(F.reshape(cond, b * l, cfg.condChannels()), F.matmulInputType(cond));
        RowLayout ctxLayout = RowLayout.uniform(b, l);
        h = ModulatedCrossBlock.runBlocksThenNorm(java.util.Arrays.asList(blocks), h, layout, emb, ctx, ctxLayout, checkpointing,
                cfg.useFp16(), 1e-5f); // TRELLIS: F.layer_norm(h, h.shape[-1:]), in the output layer's input type
        h = outLayer.forward(h);
        int co = cfg.outChannels();
        // unpatchify: [B T, Co p^3] -> [B, Co p^3, T] -> [B, Co, p,p,p, X,Y,Z] -> [B, Co, X,p, Y,p, Z,p]
        h = F.contiguous(F.permute(F.reshape(h, b, tokens, co * p * p * p), 0, 2, 1));
        h = F.reshape(h, b, co, p, p, p, s, s, s);
        h = F.contiguous(F.permute(h, 0, 1, 5, 2, 6, 3, 7, 4));
        return F.reshape(h, b, co, r, r, r);
    }

    @Override public void setCheckpointing(boolean on) { checkpointing = on; }

    @Override public boolean checkpointing() { return checkpointing; }

    @Override public String className() { return CLASS_NAME; }

    @Override public java.util.Map<String, Object> args() { return cfg.toArgs(); }
}
