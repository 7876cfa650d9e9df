package org.voxflow.nn;

import org.voxflow.autograd.F;
import org.voxflow.tensor.Backend;
import org.voxflow.tensor.DType;
import org.voxflow.tensor.Tensor;

/**
 * TRELLIS's MultiHeadAttention (self: to_qkv; cross: to_q + to_kv), full attention, optional per-head RMS norm
 * of q and k, on token rows [N, C] grouped into instances by cumulative offsets. Dense batches [B, L, C] are
 * the case of equal lengths; sparse tensors pass their per-instance layout. q, k, v and the attention output are
 * produced in {@link F#matmulInputType} (bf16 when sampling under GPU autocast); the output projection is f32.
 */
public final class Attention extends Module {
    private final int heads, headDim;
    private final boolean self;
    private final Linear toQkv, toQ, toKv, toOut;
    private final MultiHeadRmsNorm qNorm, kNorm;

    public Attention(Backend be, int channels, int heads, Integer ctxChannels, boolean selfAttention, boolean qkRmsNorm) {
        super(be);
        if (channels % heads != 0) throw new IllegalArgumentException("channels " + channels + " not divisible by heads " + heads);
        this.heads = heads;
        this.headDim = channels / heads;
        this.self = selfAttention;
        if (selfAttention) {
            toQkv = child("to_qkv", new Linear(be, channels, 3 * channels));
            toQ = toKv = null;
        } else {
            toQkv = null;
            toQ = child("to_q", new Linear(be, channels, channels));
            toKv = child("to_kv", new Linear(be, ctxChannels, 2 * channels));
        }
        qNorm = qkRmsNorm ? child("q_rms_norm", new MultiHeadRmsNorm(be, headDim, heads)) : null;
        kNorm = qkRmsNorm ? child("k_rms_norm", new MultiHeadRmsNorm(be, headDim, heads)) : null;
        toOut = child("to_out", new Linear(be, channels, channels));
    }

    /** Self-attention over x [N, C] with instances cu[b]..cu[b+1]. */
    public Tensor forward(Tensor x, int[] cu) { return forward(x, cu, DType.F32); }

    /** Self-attention with its output projection rounded to out. */
    public Tensor forward(Tensor x, int[] cu, DType out) {
        if (!self) throw new IllegalStateException("cross-attention needs a context");
        int n = x.size(0);
        DType act = F.matmulInputType(x);
        // [N, 3 heads, D]: q, k and v heads in turn
        Tensor qkv = F.reshape(toQkv.forward(x, act), n, 3 * heads, headDim);
        Tensor v = F.slice(qkv, 1, 2 * heads, 3 * heads);
        // training keeps q and k apart: their normalized halves sliced out of one pair would send each gradient
        // through a zero-padded copy of the pair (MDT-dist step, TRELLIS-large, batch 8, H100: 0.8 GB more at the peak)
        if (qNorm == null || org.voxflow.autograd.Grad.enabled())
            return attend(F.slice(qkv, 1, 0, heads), F.slice(qkv, 1, heads, 2 * heads), v, cu, cu, n, act, out, null);
        // sampling: both norms in one pass over the q and k heads, which sit next to each other
        Tensor qk = qNorm.forwardPair(kNorm, F.slice(qkv, 1, 0, 2 * heads), act);
        return project(F.slice(qk, 1, 0, heads), F.slice(qk, 1, heads, 2 * heads), v, cu, cu, n, act, out, null);
    }

    /** Cross-attention of x [N, C] (instances cu) to ctx [Nc, Cc] (instances cuCtx). */
    public Tensor forward(Tensor x, int[] cu, Tensor ctx, int[] cuCtx) {
        if (self) throw new IllegalStateException("self-attention takes no context");
        return crossAttend(x, cu, toKv.forward(ctx, F.matmulInputType(x)), cuCtx, DType.F32, null);
    }

    /** The to_kv projection (cross-attention), for callers that project a shared context once for many layers. */
    public Linear kvProjection() {
        if (self) throw new IllegalStateException("self-attention has no to_kv");
        return toKv;
    }

    /**
     * residual + the cross-attention of x to the context's K/V rows kvRows [Nc, 2C] = to_kv(ctx) (in the activation
     * type), in residual's type: the residual update rides on the output projection (GPUs: read by its GEMM's
     * epilogue, where a separate pass would re-read the projection's output).
     */
    public Tensor forwardKvResidual(Tensor x, int[] cu, Tensor kvRows, int[] cuCtx, Tensor residual) {
        return crossAttend(x, cu, kvRows, cuCtx, residual.dtype(), residual);
    }

    private Tensor crossAttend(Tensor x, int[] cu, Tensor kvRows, int[] cuCtx, DType out, Tensor residual) {
        if (self) throw new IllegalStateException("self-attention takes no context");
        int n = x.size(0), m = kvRows.size(0);
        DType act = F.matmulInputType(x);
        Tensor q = F.reshape(toQ.forward(x, act), n, heads, headDim);
        Tensor kv = F.reshape(kvRows, m, 2, heads, headDim);
        Tensor k = F.squeeze(F.slice(kv, 1, 0, 1), 1);
        Tensor v = F.squeeze(F.slice(kv, 1, 1, 2), 1);
        return attend(q, k, v, cu, cuCtx, n, act, out, residual);
    }

    private Tensor attend(Tensor q, Tensor k, Tensor v, int[] cuQ, int[] cuK, int n, DType act, DType out, Tensor residual) {
        if (qNorm != null) {
            q = qNorm.forward(q, act);
            k = kNorm.forward(k, act);
        }
        return project(q, k, v, cuQ, cuK, n, act, out, residual);
    }

    /** The attention and its output projection (plus residual when not null, in its type; else rounded to out). */
    private Tensor project(Tensor q, Tensor k, Tensor v, int[] cuQ, int[] cuK, int n, DType act, DType out, Tensor residual) {
        // q, k, v may be strided slices of the packed projections: backends read or convert views themselves
        Tensor h = F.reshape(F.attention(q, k, v, cuQ, cuK, (float) (1.0 / Math.sqrt(headDim)), act), n, heads * headDim);
        return residual == null ? toOut.forward(h, out) : toOut.forwardResidual(h, residual);
    }

    /** Offsets of `batch` equal instances of `len` rows. */
    public static int[] uniform(int batch, int len) {
        int[] cu = new int[batch + 1];
        for (int i = 0; i <= batch; i++) cu[i] = i * len;
        return cu;
    }
}
