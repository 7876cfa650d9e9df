package org.voxflow.nn;

import org.voxflow.autograd.F;
import org.voxflow.tensor.Backend;
import org.voxflow.tensor.Tensor;

/**
 * TRELLIS's ModulatedTransformerCrossBlock (dense) and ModulatedSparseTransformerCrossBlock (sparse): the same
 * math on token rows. adaLN gives shift/scale/gate for self-attention and MLP; cross-attention follows an affine
 * layer norm. With share_mod the modulation comes precomputed from the model.
 */
public final class ModulatedCrossBlock extends Module {
    private final int channels;
    private final LayerNorm norm1, norm2, norm3;
    private final Attention selfAttn, crossAttn;
    private final FeedForward mlp;
    private final Linear adaLN;

    public ModulatedCrossBlock(Backend be, int channels, int ctxChannels, int heads, double mlpRatio, boolean shareMod,
                               boolean qkRmsNorm, boolean qkRmsNormCross) {
        super(be);
        this.channels = channels;
        norm1 = child("norm1", new LayerNorm(be, channels, false, 1e-6f));
        norm2 = child("norm2", new LayerNorm(be, channels, true, 1e-6f));
        norm3 = child("norm3", new LayerNorm(be, channels, false, 1e-6f));
        selfAttn = child("self_attn", new Attention(be, channels, heads, null, true, qkRmsNorm));
        crossAttn = child("cross_attn", new Attention(be, channels, heads, ctxChannels, false, qkRmsNormCross));
        mlp = child("mlp", new FeedForward(be, channels, mlpRatio));
        adaLN = shareMod ? null : child("adaLN_modulation", new Sequential(be)).add("1", new Linear(be, channels, 6 * channels));
    }

    /**
     * @param x   token rows [N, C], instances by layout
     * @param mod the timestep embedding [B, C] (or, with share_mod, the shared modulation [B, 6C])
     * @param ctx condition rows [Nc, Cc], instances by ctxLayout
     */
    public Tensor forward(Tensor x, RowLayout layout, Tensor mod, Tensor ctx, RowLayout ctxLayout) {
        Tensor m = adaLN == null ? mod : adaLN.forward(F.silu(mod));
        Tensor[] p = F.chunk(layout.perRow(m), 6, 1);
        Tensor shiftMsa = p[0], scaleMsa = p[1], gateMsa = p[2], shiftMlp = p[3], scaleMlp = p[4], gateMlp = p[5];
        int[] cu = layout.offsets();
        Tensor h = modulate(norm1.forward(x), shiftMsa, scaleMsa);
        h = selfAttn.forward(h, cu);
        x = F.add(x, F.mul(h, gateMsa));
        h = crossAttn.forward(norm2.forward(x), cu, ctx, ctxLayout.offsets());
        x = F.add(x, h);
        h = modulate(norm3.forward(x), shiftMlp, scaleMlp);
        h = mlp.forward(h);
        return F.add(x, F.mul(h, gateMlp));
    }

    /** h * (1 + scale) + shift. */
    static Tensor modulate(Tensor h, Tensor shift, Tensor scale) {
        return F.add(F.add(h, F.mul(h, scale)), shift);
    }

    public int channels() { return channels; }
}
