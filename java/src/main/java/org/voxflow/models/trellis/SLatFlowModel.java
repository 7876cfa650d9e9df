package org.voxflow.models.trellis;

import java.util.ArrayList;
import java.util.List;
import org.voxflow.autograd.F;
import org.voxflow.nn.Linear;
import org.voxflow.nn.ModulatedCrossBlock;
import org.voxflow.nn.Module;
import org.voxflow.nn.PositionEmbedder;
import org.voxflow.nn.RowLayout;
import org.voxflow.nn.Sequential;
import org.voxflow.nn.TimestepEmbedder;
import org.voxflow.sparse.SparseTensor;
import org.voxflow.tensor.Backend;
import org.voxflow.tensor.Tensor;

/**
 * TRELLIS stage 2: the sparse flow transformer over structured latents. Sparse input linear, residual blocks that
 * downsample to the transformer resolution, position embedding of the coarse coordinates, sparse modulated
 * cross blocks with full attention per instance, residual blocks that upsample with skip concatenation, final
 * non-affine layer norm and output linear. Output rows follow input rows.
 */
public final class SLatFlowModel extends Module implements FlowModel {
    public static final String CLASS_NAME = "SLatFlowModel";

    private final SLatFlowConfig cfg;
    private final TimestepEmbedder tEmbedder;
    private final Linear sharedAdaLN, inputLayer, outLayer;
    private final List<SparseResBlock3d> inputBlocks = new ArrayList<>(), outBlocks = new ArrayList<>();
    private final ModulatedCrossBlock[] blocks;
    private volatile boolean checkpointing;

    public SLatFlowModel(Backend be, SLatFlowConfig cfg) {
        super(be);
        this.cfg = cfg;
        this.checkpointing = cfg.useCheckpoint();
        int ch = cfg.modelChannels();
        int[] io = cfg.ioBlockChannels();
        tEmbedder = child("t_embedder", new TimestepEmbedder(be, ch));
        sharedAdaLN = cfg.shareMod() ? child("adaLN_modulation", new Sequential(be)).add("1", new Linear(be, ch, 6 * ch)) : null;
        inputLayer = child("input_layer", new Linear(be, cfg.inChannels(), io[0]));
        Sequential in = child("input_blocks", new Sequential(be));
        for (int s = 0; s < io.length; s++) {
            int chs = io[s], next = s + 1 < io.length ? io[s + 1] : ch;
            for (int i = 0; i < cfg.numIoResBlocks() - 1; i++)
                inputBlocks.add(in.add(Integer.toString(inputBlocks.size()), new SparseResBlock3d(be, chs, ch, chs, SparseResBlock3d.Resample.NONE)));
            inputBlocks.add(in.add(Integer.toString(inputBlocks.size()), new SparseResBlock3d(be, chs, ch, next, SparseResBlock3d.Resample.DOWN)));
        }
        Sequential list = child("blocks", new Sequential(be));
        blocks = new ModulatedCrossBlock[cfg.numBlocks()];
        for (int i = 0; i < blocks.length; i++)
            blocks[i] = list.add(Integer.toString(i), new ModulatedCrossBlock(be, ch, cfg.condChannels(), cfg.numHeads(),
                    cfg.mlpRatio(), cfg.shareMod(), cfg.qkRmsNorm(), cfg.qkRmsNormCross()));
        Sequential out = child("out_blocks", new Sequential(be));
        int mult = cfg.useSkipConnection() ? 2 : 1;
        for (int s = io.length - 1; s >= 0; s--) {
            int chs = io[s], prev = s == io.length - 1 ? ch : io[s + 1];
            outBlocks.add(out.add(Integer.toString(outBlocks.size()), new SparseResBlock3d(be, prev * mult, ch, chs, SparseResBlock3d.Resample.UP)));
            for (int i = 0; i < cfg.numIoResBlocks() - 1; i++)
                outBlocks.add(out.add(Integer.toString(outBlocks.size()), new SparseResBlock3d(be, chs * mult, ch, chs, SparseResBlock3d.Resample.NONE)));
        }
        outLayer = child("out_layer", new Linear(be, io[0], cfg.outChannels()));
    }

    public SLatFlowConfig config() { return cfg; }

    /**
     * @param x    sparse latent, feats [N, in_channels]
     * @param t    [B], already multiplied by 1000
     * @param cond [B, L, cond_channels]
     */
    public SparseTensor forward(SparseTensor x, Tensor t, Tensor cond) {
        int b = x.structure().batch();
        if (x.channels() != cfg.inChannels())
            throw new IllegalArgumentException("stage-2 input has " + x.channels() + " channels, expected " + cfg.inChannels());
        if (cond.dim() != 3 || cond.size(0) != b || cond.size(2) != cfg.condChannels())
            throw new IllegalArgumentException("condition has shape " + java.util.Arrays.toString(cond.shape()) + ", expected [" + b + ", L, " + cfg.condChannels() + "]");
        SparseTensor h = x.withFeats(inputLayer.forward(x.feats()));
        Tensor emb = tEmbedder.forward(t);
        if (sharedAdaLN != null) emb = sharedAdaLN.forward(F.silu(emb));
        List<Tensor> skips = new ArrayList<>();
        for (SparseResBlock3d block : inputBlocks) {
            h = block.forwardScoped(h, emb);
            skips.add(h.feats());
        }
        int n = h.structure().rows();
        var coarse = h.structure();
        Tensor pos = coarse.derived("pos_emb" + cfg.modelChannels(), backend,
                () -> backend.fromFloats(PositionEmbedder.embed(coarse.xyz(), n, cfg.modelChannels()), n, cfg.modelChannels()));
        Tensor feats = F.add(h.feats(), pos);
        RowLayout layout = h.structure().layout();
        int l = cond.size(1);
        // the condition rows only feed the blocks' kv projections: cast once to their GEMM type, not once per block
        Tensor ctx = F.cast(F.reshape(cond, b * l, cfg.condChannels()), F.matmulInputType(cond));
        RowLayout ctxLayout = RowLayout.uniform(b, l);
        feats = ModulatedCrossBlock.runBlocks(java.util.Arrays.asList(blocks), feats, layout, emb, ctx, ctxLayout, checkpointing,
                cfg.useFp16());
        h = h.withFeats(feats);
        for (int i = 0; i < outBlocks.size(); i++) {
            Tensor skip = skips.get(skips.size() - 1 - i);
            if (cfg.useSkipConnection()) h = h.withFeats(F.concat(new Tensor[] {h.feats(), skip}, 1));
            h = outBlocks.get(i).forwardScoped(h, emb);
        }
        return h.withFeats(outLayer.forward(F.layerNorm(h.feats(), null, null, 1e-5f)));
    }

    @Override public void setCheckpointing(boolean on) { checkpointing = on; }

    @Override public boolean checkpointing() { return checkpointing; }

    @Override public String className() { return CLASS_NAME; }

    @Override public java.util.Map<String, Object> args() { return cfg.toArgs(); }
}
