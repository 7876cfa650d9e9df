package org.voxflow.cuda;

import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.annotation.Cast;
import org.bytedeco.javacpp.annotation.Platform;

/**
 * JavaCPP bridge to libvoxflow_kernels (cuda-kernels/src/main/cuda/voxflow_kernels.h). Every function returns a
 * cudaError_t code (0 = success); {@link CudaRuntime#check} turns the others into exceptions. Device addresses and
 * streams are plain longs, so the JNI glue needs no CUDA header and no driver stub to build.
 *
 * <p>Never touch this class before {@link CudaRuntime#available()} said yes: its static initializer loads the
 * native libraries, which fails on machines without CUDA.
 */
@Platform(include = "voxflow_kernels.h", link = "voxflow_kernels")
final class VoxKernels {
    static { Loader.load(); }

    private VoxKernels() {}

    // ---- runtime ----
    static native String vf_error_string(int err);
    static native String vf_error_name(int err);
    static native int vf_device_count(int[] count);
    static native int vf_device_info(int device, @Cast("char*") byte[] name, int[] info);
    static native int vf_set_device(int device);
    static native int vf_stream_create(@Cast("long long*") long[] stream);
    static native int vf_stream_destroy(long stream);
    static native int vf_stream_sync(long stream);
    static native int vf_pool_configure(int device);
    static native int vf_pool_stats(int device, @Cast("long long*") long[] stats);
    static native int vf_pool_trim(int device, long keepBytes);
    static native int vf_malloc(@Cast("long long*") long[] ptr, long bytes, long stream);
    static native int vf_free(long ptr, long stream);
    static native int vf_mem_info(@Cast("long long*") long[] freeTotal);
    static native int vf_memcpy_h2d(long dst, @Cast("const void*") float[] src, long bytes, long stream);
    static native int vf_memcpy_h2d(long dst, @Cast("const void*") int[] src, long bytes, long stream);
    static native int vf_memcpy_h2d(long dst, @Cast("const void*") long[] src, long bytes, long stream);
    /** From a raw host address (a CPU tensor's off-heap memory). */
    static native int vf_memcpy_h2d(long dst, @Cast("const void*") long src, long bytes, long stream);
    static native int vf_memcpy_d2h(@Cast("void*") float[] dst, long src, long bytes, long stream);
    static native int vf_memcpy_d2h(@Cast("void*") int[] dst, long src, long bytes, long stream);
    static native int vf_memcpy_d2h(@Cast("void*") long[] dst, long src, long bytes, long stream);
    /** To a raw host address (pinned staging). */
    static native int vf_memcpy_d2h(@Cast("void*") long dst, long src, long bytes, long stream);
    static native int vf_host_alloc(@Cast("long long*") long[] ptr, long bytes);
    static native int vf_host_free(long ptr);
    static native int vf_profiler(int on);
    static native int vf_memcpy_d2d(long dst, long src, long bytes, long stream);
    static native int vf_memset(long dst, int value, long bytes, long stream);

    // ---- CUDA graphs ----
    static native int vf_capture_begin(long stream);
    static native int vf_capture_end(long stream, @Cast("long long*") long[] exec, @Cast("long long*") long[] nodes);
    static native int vf_capture_status(long stream, int[] capturing);
    static native int vf_graph_launch(long exec, long stream);
    static native int vf_graph_destroy(long exec);

    // ---- elementwise ----
    static native int vf_fill_f32(long out, long n, float value, long stream);
    static native int vf_convert(int rank, int[] shape, long dst, int dstType, @Cast("const long long*") long[] dstStrides,
                                 long src, int srcType, @Cast("const long long*") long[] srcStrides, long stream);
    static native int vf_unary(int op, float p0, float p1, int rank, int[] shape, long x,
                               @Cast("const long long*") long[] xStrides, long out, long stream);
    static native int vf_binary(int op, int rank, int[] shape, long a, @Cast("const long long*") long[] aStrides, long b,
                                @Cast("const long long*") long[] bStrides, long out, long stream);
    static native int vf_where(int rank, int[] shape, long cond, @Cast("const long long*") long[] cStrides, long a,
                               @Cast("const long long*") long[] aStrides, long b, @Cast("const long long*") long[] bStrides,
                               long out, long stream);
    static native int vf_fma(int rank, int[] shape, long a, @Cast("const long long*") long[] aStrides, long b,
                             @Cast("const long long*") long[] bStrides, long c, @Cast("const long long*") long[] cStrides,
                             long out, long stream);

    // ---- rows ----
    static native int vf_reduce_rows(int op, long x, long out, long rows, long cols, long stream);
    static native int vf_reduce_cols(int op, long x, long out, long rows, long cols, long stream);
    static native int vf_softmax(long x, long y, long rows, long cols, long stream);
    static native int vf_softmax_backward(long y, long dy, long dx, long rows, long cols, long stream);
    static native int vf_normalize(long x, long xhat, long rstd, long rows, long cols, float eps, long stream);
    static native int vf_norm_affine(long x, int xType, long out, int outType, long w, long b, long rows, long cols,
                                     long groupRows, long wG, long wR, long bG, long bR, float eps, long stream);
    static native int vf_residual_norm(long x, int xType, long h, int hType, long gate, long x1, long out, int outType, long w, long b,
                                       long rows, long cols, long groupRows, long gG, long gR, long wG, long wR, long bG,
                                       long bR, float eps, long stream);
    static native int vf_l2_normalize(long x, int xType, long out, int outType, long w, long rows, long inner,
                                      long strideOuter, long strideInner, long cols, float eps, long stream);
    static native int vf_normalize_backward(long dy, long xhat, long rstd, long dx, long rows, long cols, long stream);

    // ---- indexing ----
    static native int vf_index_select(long x, long idx, int idxType, long out, long outer, long n, long m, long inner,
                                      long bad, long stream);
    static native int vf_index_add(long src, long idx, int idxType, long out, long outer, long m, long size, long inner,
                                   long bad, long stream);

    // ---- sparse structure maps ----
    static native int vf_sparse_neighbours_scratch(long n, @Cast("long long*") long[] bytes);
    static native int vf_sparse_neighbours(long coords, long n, long scratch, long scratchBytes, long nbr, long stream);
    static native int vf_sparse_downsample_scratch(long n, int batch, @Cast("long long*") long[] bytes);
    static native int vf_sparse_downsample(long coords, long n, int batch, int factor, long scratch, long scratchBytes,
                                           long coarse, long counts, long toCoarse, long batchRows, long stream);

    // ---- attention ----
    // offsets: host int[] of 2 (B+1) offsets (cuQ then cuK), carried in the kernel parameters when B <= 255
    // (VF_ATTN_INLINE_BATCH); devOffsets: a device copy of the same for larger batches, else 0.
    static native int vf_attention_forward(long q, long k, long v, long out, long lse, int[] offsets, long devOffsets,
                                           int batch, int heads, int d, int dv, int maxQ, float scale, long stream);
    static native int vf_attention_backward(long dout, long q, long k, long v, long out, long lse, long dq, long dk,
                                            long dv, long delta, int[] offsets, long devOffsets, int batch, int heads,
                                            int d, int dvDim, long nqTotal, int maxQ, int maxK, float scale, long stream);
    static native int vf_attention_jvp(long q, long k, long v, long out, long lse, long tq, long tk, long tv, long tout,
                                       int[] offsets, long devOffsets, int batch, int heads, int d, int dv, int maxQ,
                                       float scale, long stream);
    static native int vf_flash_attention_forward(long q, long qStride, long k, long kStride, long v, long vStride, int dtype,
                                                 long out, int outType, long lse, int[] offsets, long devOffsets, int batch,
                                                 int heads, int d, int maxQ, float scale, long workspace,
                                                 long workspaceBytes, long stream);
    static native long vf_flash_attention_workspace_bytes();
    static native int vf_linear_skinny(long x, long ldx, long w, int dtype, long bias, long y, int outType, int m, int n,
                                       int k, long stream);
    static native int vf_linear_skinny_group(long x, long ldx, @Cast("const long long*") long[] w, int dtype,
                                             @Cast("const long long*") long[] bias, long y, int outType, int groups, int m,
                                             int n, int k, long stream);
    static native int vf_flash_attention_backward(long dout, long q, long k, long v, int dtype, long out, long lse,
                                                  long dq, long dk, long dv, long doutHalf, long delta, int[] offsets,
                                                  long devOffsets, int batch, int heads, int d, long nqTotal, int maxK,
                                                  float scale, long stream);

    // ---- flow sampling and distillation losses ----
    static native int vf_flow_step(long x, long vCond, long vNeg, float condWeight, float negWeight, float dt, float x0Scale,
                                   float x0VelocityScale, long xPrev, long x0, long n, long stream);
    static native int vf_mdt_velocity_loss(long pred, long vT, long g, long t, @Cast("const long long*") long[] segOffsets,
                                           int samples, int dNorm, float normEps, float lambda, float gradScale, long loss,
                                           long grad, long n, long stream);

    // ---- events and stream ordering ----
    static native int vf_event_create(@Cast("long long*") long[] event, int timing);
    static native int vf_event_destroy(long event);
    static native int vf_event_record(long event, long stream);
    static native int vf_stream_wait_event(long stream, long event);
    static native int vf_event_query(long event);
    static native int vf_event_sync(long event);
    static native int vf_event_elapsed_ms(float[] ms, long start, long end);
}
