package org.voxflow.tensor;

/**
 * The primitive ops every device implements. Inputs may be any view (the backend reads strides or makes a
 * contiguous copy); outputs are new contiguous tensors on this backend. Float math is f32 (bf16/f16 tensors are
 * {@link #cast} first); integer index tensors are I32 or I64. The CPU backend is the reference every other
 * backend is tested against. Autograd rules live in {@code org.voxflow.autograd}, built on these primitives.
 */
public interface Backend {
    Device device();

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
