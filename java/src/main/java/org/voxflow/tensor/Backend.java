package org.voxflow.tensor;

/**
 * The primitive ops every device implements. Inputs may be any view (the backend reads strides or makes a
 * contiguous copy); outputs are new contiguous tensors on this backend. Float math is f32 (bf16/f16 tensors are
 * {@link #cast} first); integer index tensors are I32 or I64. The CPU backend is the reference every other
 * backend is tested against. Autograd rules live in {@code org.voxflow.autograd}, built on these primitives.
 */
public interface Backend {
    Device device();

    /**
     * Records the device work that body queues for replay (see {@link Recording}), or returns null where this backend
     * cannot record (the CPU): callers then run body themselves whenever they would replay. Everything body
     * allocates must be freed before it returns (results go into tensors made beforehand), and body must not read
     * device values on the host or upload host arrays: run it once unrecorded first so that every cache it fills
     * (weights cast for autocast, uploaded index maps) already exists.
     */
    default Recording record(Runnable body) { return null; }

    // ---- memory ------------------------------------------------------------------------------------------

    /** A contiguous tensor filled with zeros. */
    Tensor zeros(DType dtype, int... shape);

    Tensor full(float value, int... shape);

    Tensor fromFloats(float[] data, int... shape);

    Tensor fromInts(int[] data, int... shape);

    Tensor fromLongs(long[] data, int... shape);

    /** Host copy in logical (row-major) order; float dtypes convert to f32. */
    float[] toFloats(Tensor t);

    int[] toInts(Tensor t);

    long[] toLongs(Tensor t);

    /** A contiguous copy of any view, on this backend (also the transfer from another backend). */
    Tensor copy(Tensor src);

    /** Element type conversion (round to nearest even for bf16/f16; truncation toward zero float -> int). */
    Tensor cast(Tensor src, DType to);

    /** Copies src (any view, same shape) into the dense tensor dst in place: parameter updates, caches. */
    void assign(Tensor dst, Tensor src);

    // ---- elementwise ---------------------------------------------------------------------------------------

    Tensor unary(UnaryOp op, Tensor x);

    Tensor binary(BinaryOp op, Tensor a, Tensor b);

    /**
     * a * b + c with broadcasting, rounded as the multiply and then the add (no fused-multiply-add contraction), so it
     * equals composing the two ops; GPUs make it one pass (adaLN modulation, gated residuals).
     */
    default Tensor fma(Tensor a, Tensor b, Tensor c) {
        Tensor p = binary(BinaryOp.MUL, a, b);
        Tensor r = binary(BinaryOp.ADD, p, c);
        p.close();
        return r;
    }

    /** alpha * x + beta. */
    Tensor affine(Tensor x, float alpha, float beta);

    /** x ^ p. */
    Tensor powScalar(Tensor x, float p);

    /** cond != 0 ? a : b, broadcasting all three. */
    Tensor where(Tensor cond, Tensor a, Tensor b);

    // ---- reductions ----------------------------------------------------------------------------------------

    Tensor reduce(ReduceOp op, Tensor x, int[] axes, boolean keepDims);

    // ---- linear algebra --------------------------------------------------------------------------------------

    /**
     * Batched matrix product op(a) @ op(b): a [..., M, K] (or [..., K, M] with transA), b [..., K, N] (or
     * [..., N, K] with transB). Batch axes broadcast; a 2-D b is shared by every batch.
     */
    Tensor matmul(Tensor a, Tensor b, boolean transA, boolean transB);

    /**
     * PyTorch's Linear, optionally followed by GELU (tanh approximation): x [..., K] @ weight^T ([N, K]) + bias ([N]
     * or null). This composition is the reference; GPU backends run the bias and the activation in the GEMM's
     * epilogue instead of as separate passes over the output.
     */
    default Tensor linear(Tensor x, Tensor weight, Tensor bias, boolean gelu) {
        Tensor y = matmul(x, weight, false, true);
        if (bias != null) {
            Tensor b = binary(BinaryOp.ADD, y, bias);
            y.close();
            y = b;
        }
        if (!gelu) return y;
        Tensor a = unary(UnaryOp.GELU_TANH, y);
        y.close();
        return a;
    }

    // ---- fused ops (composites on the CPU, single kernels on the GPU) -----------------------------------------

    /** Softmax over the last axis. */
    Tensor softmax(Tensor x);

    /** Softmax vector-Jacobian (and, the Jacobian being symmetric, Jacobian-vector) product: y * (dy - sum(dy * y)). */
    Tensor softmaxBackward(Tensor y, Tensor dy);

    /**
     * Normalizes the last axis to zero mean and unit variance (biased variance, as PyTorch): returns
     * {xhat, rstd} with rstd of shape [..., 1].
     */
    Tensor[] normalize(Tensor x, float eps);

    /**
     * x / max(||x||_2, eps) over the last axis (PyTorch F.normalize). This composition is the reference; GPUs run one
     * row kernel that also reads strided head slices in place.
     */
    default Tensor l2Normalize(Tensor x, float eps) {
        Tensor sq = binary(BinaryOp.MUL, x, x);
        Tensor ss = reduce(ReduceOp.SUM, sq, new int[] {-1}, true);
        Tensor n = unary(UnaryOp.SQRT, ss);
        Tensor e = full(eps, 1);
        Tensor d = binary(BinaryOp.MAX, n, e);
        Tensor y = binary(BinaryOp.DIV, x, d);
        for (Tensor t : new Tensor[] {sq, ss, n, e, d}) t.close();
        return y;
    }

    /** The normalization's vector-Jacobian product (also its JVP: the Jacobian is symmetric). */
    Tensor normalizeBackward(Tensor dy, Tensor xhat, Tensor rstd);

    /**
     * Exact softmax attention, variable length per instance: q [Nq, H, D], k and v [Nk, H, Dv]; instance b owns
     * query rows cuQ[b]..cuQ[b+1] and key rows cuK[b]..cuK[b+1]. Returns {out [Nq, H, Dv], lse [Nq, H]}
     * (log-sum-exp of the scaled scores, for the backward pass). Dense batches are the case of equal lengths.
     */
    Tensor[] attention(Tensor q, Tensor k, Tensor v, int[] cuQ, int[] cuK, float scale);

    /** Gradients {dq, dk, dv} of {@link #attention} given dout and the forward's out and lse. */
    Tensor[] attentionBackward(Tensor dout, Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse,
                               int[] cuQ, int[] cuK, float scale);

    /** Tangent of {@link #attention}'s output along (dq, dk, dv) (forward mode). */
    Tensor attentionJvp(Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse, Tensor dq, Tensor dk, Tensor dv,
                        int[] cuQ, int[] cuK, float scale);

    // ---- inference forms: ops whose result only feeds matrix products, rounded to the type those run in ---------------
    // Each is the composition of the ops above followed by a cast to `out`; GPU backends write `out` directly from one
    // kernel (or the GEMM's epilogue), which under bf16 autocast halves the bytes written and spares the GEMM or the
    // attention its cast pass. Callers use them where nothing is differentiated (see F.matmulInputType).

    /**
     * The element type for activations whose only consumers are matrix products (GEMM inputs, attention operands):
     * F32 here; a GPU backend running its GEMMs in bf16 (autocast) answers BF16.
     */
    default DType matmulInputType() { return DType.F32; }

    /**
     * normalize(x, eps)[0] * w + b, rounded to out: layer norm with adaLN modulation (w = 1 + scale, b = shift per
     * instance) or with its affine parameters. w and b broadcast against x; both null: normalize(x, eps)[0] rounded
     * to out (a norm without affine parameters).
     */
    default Tensor normalizeAffine(Tensor x, float eps, Tensor w, Tensor b, DType out) {
        Tensor[] n = normalize(x, eps);
        n[1].close();
        if (w == null && b == null) return castOwned(n[0], out);
        Tensor y = fma(n[0], w, b);
        n[0].close();
        return castOwned(y, out);
    }

    /**
     * A residual update followed by the next layer norm: x1 = gate == null ? x + h : h * gate + x (each rounded as the
     * ops {@link #binary} ADD or {@link #fma} round, then to x's type: a 16-bit torso's stream stays 16-bit), then
     * {@link #normalizeAffine}(x1, eps, w, b, out). Returns {x1, normed}. h (a branch output) may come in a 16-bit
     * type; gate, w and b broadcast against x (w and b both null: no affine parameters).
     */
    default Tensor[] residualNormAffine(Tensor x, Tensor h, Tensor gate, float eps, Tensor w, Tensor b, DType out) {
        Tensor x1 = castOwned(gate == null ? binary(BinaryOp.ADD, x, h) : fma(h, gate, x), x.dtype());
        return new Tensor[] {x1, normalizeAffine(x1, eps, w, b, out)};
    }

    /**
     * l2Normalize(x, eps) * weight (weight broadcast against x, or null for none), rounded to out: TRELLIS's multi-head
     * RMS norm of q and k.
     */
    default Tensor l2Normalize(Tensor x, float eps, Tensor weight, DType out) {
        Tensor y = l2Normalize(x, eps);
        if (weight != null) {
            Tensor w = binary(BinaryOp.MUL, y, weight);
            y.close();
            y = w;
        }
        return castOwned(y, out);
    }

    /** {@link #linear(Tensor, Tensor, Tensor, boolean)} rounded to out (GPUs: the GEMM's epilogue writes out). */
    default Tensor linear(Tensor x, Tensor weight, Tensor bias, boolean gelu, DType out) {
        return castOwned(linear(x, weight, bias, gelu), out);
    }

    /**
     * residual + x W^T + bias in residual's type (residual [.., n] of the output's shape): a residual update after a
     * projection (GPUs: the GEMM's epilogue reads the residual, one rounding of the f32 sum).
     */
    default Tensor linearResidual(Tensor x, Tensor weight, Tensor bias, Tensor residual) {
        Tensor y = linear(x, weight, bias, false);
        Tensor sum = binary(BinaryOp.ADD, residual, y);
        y.close();
        return castOwned(sum, residual.dtype());
    }

    /**
     * Several linear layers on the same x, rounded to out: [G, rows of x, n], slice g = x W_g^T + b_g (every W_g
     * [n, k]; biases null, or each null or [n]). GPUs run a group on a few rows (every block's adaLN) as one pass, and
     * one on many rows (every block's cross-attention K/V of one condition) as one batched GEMM.
     */
    default Tensor linearEach(Tensor x, Tensor[] weights, Tensor[] biases, DType out) {
        Tensor[] ys = new Tensor[weights.length];
        try {
            for (int g = 0; g < ys.length; g++) {
                Tensor y = linear(x, weights[g], biases == null ? null : biases[g], false, out);
                int[] s = new int[] {1, Math.toIntExact(y.numel() / y.size(-1)), y.size(-1)};
                ys[g] = y.reshape(s);
                if (ys[g].storage() != y.storage()) y.close();
            }
            return concat(ys, 0);
        } finally {
            for (Tensor y : ys) if (y != null) y.close();
        }
    }

    /** {@link #attention}'s output rounded to out (the log-sum-exp, not needed without a backward, is dropped). */
    default Tensor attention(Tensor q, Tensor k, Tensor v, int[] cuQ, int[] cuK, float scale, DType out) {
        Tensor[] r = attention(q, k, v, cuQ, cuK, scale);
        r[1].close();
        return castOwned(r[0], out);
    }

    /** x cast to `to`, closing x when a new tensor was made. */
    private Tensor castOwned(Tensor x, DType to) {
        if (x.dtype() == to) return x;
        Tensor c = cast(x, to);
        x.close();
        return c;
    }

    // ---- flow sampling and distillation losses (one pass each on the GPU) --------------------------------------

    /**
     * One Euler step of a flow sampler with its x0 prediction, in one pass over dense operands of one shape:
     * <pre>
     * v      = vNeg == null ? vCond : condWeight vCond - negWeight vNeg   (classifier-free guidance: 1 + w and w)
     * x0     = x0Scale x - x0VelocityScale v                            (the schedule's x0 from a velocity)
     * xPrev  = x - dt v
     * </pre>
     * each product and difference rounded to f32 separately (no fused multiply-add), so every backend gives the
     * bits of the composed elementwise ops. Returns {xPrev, x0}.
     */
    Tensor[] flowStep(Tensor x, Tensor vCond, Tensor vNeg, float condWeight, float negWeight, float dt, float x0Scale,
                      float x0VelocityScale);

    /**
     * MDT-dist's velocity-matching loss term (VM, and VD's with its own inputs) with the gradient w.r.t. pred, in
     * one pass after a per-sample reduction. pred, vT and g share one shape [R, ...]; sample b owns rows
     * rowOffsets[b] .. rowOffsets[b+1] of axis 0 (dense batches: one row each; sparse feats [N, C]: an instance's
     * voxels; empty samples allowed) and t [B] holds its time. With n = pred.numel():
     * <pre>
     * gh_i   = dNorm ? g_i / (sqrt(sum_{j in b} g_j^2) + normEps) : g_i
     * target = vT_i - t_b gh_i
     * d_i    = pred_i - target_i
     * loss   = mean_i(lambda d_i^2)                                         (a scalar, shape [])
     * grad_i = (lambda (1 / n)) (2 d_i) = d loss / d pred_i                   (only when withGrad, else null)
     * </pre>
     * Elementwise products, quotients and differences are rounded separately (no fused multiply-add); the two sums
     * (per-sample sum of squares, the mean) may run in any order with f32 or wider partial sums. Returns {loss, grad}.
     */
    Tensor[] mdtVelocityLoss(Tensor pred, Tensor vT, Tensor g, Tensor t, int[] rowOffsets, boolean dNorm, float normEps,
                             float lambda, boolean withGrad);

    // ---- shape / indexing --------------------------------------------------------------------------------

    Tensor concat(Tensor[] xs, int axis);

    /** out[..., i, ...] = x[..., idx[i], ...] along axis; idx entries of -1 give zeros (sparse neighbour maps). */
    Tensor indexSelect(Tensor x, int axis, Tensor idx);

    /** Zeros of x's shape with size `size` along axis, then out[idx[i]] += src[i] along axis; idx -1 is skipped. */
    Tensor indexAdd(Tensor src, int axis, Tensor idx, int size);

    // ---- sparse voxel structures ---------------------------------------------------------------------------

    /**
     * The submanifold 3x3x3 neighbour map of sparse voxels, built where coords live (no host copy on a GPU).
     * coords: I32 [N, 4] rows (batch, x, y, z) with 0 <= x, y, z < 2^15 and 0 <= batch < 2^18. Returns I32 [N, 27]:
     * entry (i, k), k = kx*9 + ky*3 + kz, is the row whose coordinates are (b_i, x_i + kx - 1, y_i + ky - 1,
     * z_i + kz - 1), or -1 where there is none (a coordinate off [0, 2^15) included); where coordinates repeat, the
     * last such row.
     */
    Tensor sparseNeighbours(Tensor coords);

    /**
     * The maps of pooling sparse voxels by `factor` (TRELLIS's SparseDownsample): coarse coordinates
     * (b, x / factor, y / factor, z / factor) (floor), unique and sorted by (batch, x, y, z), each fine row's coarse
     * row and the fine rows per coarse row (see {@link SparsePooling}). coords as for {@link #sparseNeighbours},
     * batch indices below `batch`. A GPU reads back only the [batch] coarse row counts per instance.
     */
    SparsePooling sparseDownsample(Tensor coords, int batch, int factor);
}
