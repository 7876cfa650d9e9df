/*
 * voxflow's CUDA kernels as a plain C API, bound from Java by JavaCPP (org.voxflow.cuda.VoxKernels).
 *
 * Why plain C: the JNI glue is compiled on machines without CUDA headers or a driver stub, so nothing here may
 * name a CUDA type. Device addresses and streams travel as 64-bit integers; every function returns a
 * cudaError_t as int (0 = success) and names no CUDA type, so the Java side turns failures into exceptions that
 * name the call and vf_error_string(code).
 *
 * Conventions: dtype codes are org.voxflow.tensor.DType ordinals (0 f32, 1 bf16, 2 f16, 3 i32, 4 i64). Strides
 * and shapes are in elements; a strided operand's address already includes its view offset. Layouts with at
 * most VF_MAX_RANK axes (the Java side merges axes first, so real tensors fit).
 */
#ifndef VOXFLOW_KERNELS_H
#define VOXFLOW_KERNELS_H

#ifdef __cplusplus
extern "C" {
#endif

#define VF_MAX_RANK 8
#define VF_ATTN_MAX_HEAD_DIM 256

/* ---- runtime: devices, streams, memory -------------------------------------------------------------------- */
const char* vf_error_string(int err);
const char* vf_error_name(int err);
int vf_device_count(int* count);
/* name (64 bytes), {major, minor, multiprocessors} */
int vf_device_info(int device, char* name, int* info);
int vf_set_device(int device);
int vf_stream_create(long long* stream);
int vf_stream_destroy(long long stream);
int vf_stream_sync(long long stream);
/* Keeps freed blocks cached in the device's default memory pool instead of returning them at each sync. */
int vf_pool_configure(int device);
/* {reserved bytes, used bytes} of the default pool */
int vf_pool_stats(int device, long long* stats);
int vf_pool_trim(int device, long long keepBytes);
/* Stream-ordered allocation from the pool: a block freed on the stream is reusable by later work on it. */
int vf_malloc(long long* ptr, long long bytes, long long stream);
int vf_free(long long ptr, long long stream);
/* {free, total} */
int vf_mem_info(long long* freeTotal);
/* Host copies synchronize the stream before returning: host buffers may be reused at once. */
int vf_memcpy_h2d(long long dst, const void* src, long long bytes, long long stream);
int vf_memcpy_d2h(void* dst, long long src, long long bytes, long long stream);
int vf_memcpy_d2d(long long dst, long long src, long long bytes, long long stream);
int vf_memset(long long dst, int value, long long bytes, long long stream);
/* Page-locked host memory: staging for fast transfers of Java arrays. */
int vf_host_alloc(long long* ptr, long long bytes);
int vf_host_free(long long ptr);

/* ---- elementwise --------------------------------------------------------------------------------------------- */
int vf_fill_f32(long long out, long long n, float value, long long stream);
/* dst[i] = convert(src[i]) over a strided layout: copies, casts, assign, concat pieces. */
int vf_convert(int rank, const int* shape, long long dst, int dstType, const long long* dstStrides,
               long long src, int srcType, const long long* srcStrides, long long stream);
/* out (dense f32) = op(x), x f32 strided. op = UnaryOp ordinal, or VF_OP_AFFINE / VF_OP_POW with p0, p1. */
#define VF_OP_AFFINE 100
#define VF_OP_POW 101
int vf_unary(int op, float p0, float p1, int rank, const int* shape, long long x, const long long* xStrides,
             long long out, long long stream);
/* out (dense f32) = op(a, b), op = BinaryOp ordinal; broadcasting through zero strides. */
int vf_binary(int op, int rank, const int* shape, long long a, const long long* aStrides, long long b,
              const long long* bStrides, long long out, long long stream);
/* out = cond != 0 ? a : b; cond f32. */
int vf_where(int rank, const int* shape, long long cond, const long long* cStrides, long long a,
             const long long* aStrides, long long b, const long long* bStrides, long long out, long long stream);

/* ---- row-wise (last axis of a dense f32 [rows, cols]) ---------------------------------------------------------- */
/* op = ReduceOp ordinal (sum, mean, max, min) */
int vf_reduce_rows(int op, long long x, long long out, long long rows, long long cols, long long stream);
/* The same over the first axis: out[c] = op over r of x[r, c] (bias gradients and other leading-axis sums). */
int vf_reduce_cols(int op, long long x, long long out, long long rows, long long cols, long long stream);
int vf_softmax(long long x, long long y, long long rows, long long cols, long long stream);
int vf_softmax_backward(long long y, long long dy, long long dx, long long rows, long long cols, long long stream);
int vf_normalize(long long x, long long xhat, long long rstd, long long rows, long long cols, float eps,
                 long long stream);
int vf_normalize_backward(long long dy, long long xhat, long long rstd, long long dx, long long rows,
                          long long cols, long long stream);

/* ---- indexing ------------------------------------------------------------------------------------------------- */
/* x dense f32 [outer, n, inner] -> out [outer, m, inner]; idx (i32/i64, m entries); -1 gives zeros. */
int vf_index_select(long long x, long long idx, int idxType, long long out, long long outer, long long n,
                    long long m, long long inner, long long stream);
/* out (zeroed f32 [outer, size, inner]) [o, idx[i], :] += src [o, i, :]; -1 skipped. */
int vf_index_add(long long src, long long idx, int idxType, long long out, long long outer, long long m,
                 long long size, long long inner, long long stream);

/* ---- attention ([N, H, D] rows, variable length) ------------------------------------------------------------------
 * Instance b owns query rows cuQ[b]..cuQ[b+1] and key rows cuK[b]..cuK[b+1]. `offsets` is a HOST array of 2 (B+1)
 * ints, cuQ then cuK: for B <= VF_ATTN_INLINE_BATCH it travels inside the kernel parameters (no upload, the host
 * never waits); larger batches must also pass devOffsets, a device copy of the same array (else 0). */
#define VF_ATTN_INLINE_BATCH 255
/* f32 kernels (the accurate path; any head dims up to VF_ATTN_MAX_HEAD_DIM) */
int vf_attention_forward(long long q, long long k, long long v, long long out, long long lse, const int* offsets,
                         long long devOffsets, int batch, int heads, int d, int dv, int maxQ, float scale,
                         long long stream);
/* delta: scratch f32 [Nq, H] */
int vf_attention_backward(long long dout, long long q, long long k, long long v, long long out, long long lse,
                          long long dq, long long dk, long long dv, long long delta, const int* offsets,
                          long long devOffsets, int batch, int heads, int d, int dvDim, long long nqTotal, int maxQ,
                          int maxK, float scale, long long stream);
/* tangents tq, tk, tv may be 0 (absent) */
int vf_attention_jvp(long long q, long long k, long long v, long long out, long long lse, long long tq,
                     long long tk, long long tv, long long tout, const int* offsets, long long devOffsets, int batch,
                     int heads, int d, int dv, int maxQ, float scale, long long stream);
/* Tensor-core (flash) kernels for bf16/f16 q, k, v (dtype code 1 or 2, 16-byte aligned dense [N, H, D]) with
 * D == Dv in {32, 64, 128} and scale > 0: out, lse, dq, dk, dv are f32. */
int vf_flash_attention_forward(long long q, long long k, long long v, int dtype, long long out, long long lse,
                               const int* offsets, long long devOffsets, int batch, int heads, int d, int maxQ,
                               float scale, long long stream);
/* dout, out f32 dense [Nq, H, D], lse f32 [Nq, H] from vf_flash_attention_forward on the same q, k, v. Scratch:
 * doutHalf [Nq, H, D] of dtype, delta f32 [Nq, H]. dq is zeroed and accumulated here (f32 atomics, so its last
 * bits depend on the order of the adds). */
int vf_flash_attention_backward(long long dout, long long q, long long k, long long v, int dtype, long long out,
                                long long lse, long long dq, long long dk, long long dv, long long doutHalf,
                                long long delta, const int* offsets, long long devOffsets, int batch, int heads, int d,
                                long long nqTotal, int maxK, float scale, long long stream);

#ifdef __cplusplus
}
#endif
#endif
