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
/* cudaProfilerStart (on = 1) / cudaProfilerStop (on = 0). */
int vf_profiler(int on);

/* ---- CUDA graphs: record a stream's work once, replay it with one launch ------------------------------------ */
/* Starts capturing the stream (thread-local mode: other threads' CUDA calls are not affected or captured). */
int vf_capture_begin(long long stream);
/* Ends the capture and instantiates it: exec receives the executable graph, nodes its node count. On failure the
 * capture is discarded and exec is 0. */
int vf_capture_end(long long stream, long long* exec, long long* nodes);
/* 1 while the stream is capturing, else 0. */
int vf_capture_status(long long stream, int* capturing);
int vf_graph_launch(long long exec, long long stream);
int vf_graph_destroy(long long exec);

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

/* out = a * b + c (f32, broadcasting through zero strides), rounded as a multiply then an add (no contraction). */
int vf_fma(int rank, const int* shape, long long a, const long long* aStrides, long long b, const long long* bStrides,
           long long c, const long long* cStrides, long long out, long long stream);

/* ---- row-wise (last axis of a dense f32 [rows, cols]) ---------------------------------------------------------- */
/* op = ReduceOp ordinal (sum, mean, max, min) */
int vf_reduce_rows(int op, long long x, long long out, long long rows, long long cols, long long stream);
/* The same over the first axis: out[c] = op over r of x[r, c] (bias gradients and other leading-axis sums). */
int vf_reduce_cols(int op, long long x, long long out, long long rows, long long cols, long long stream);
int vf_softmax(long long x, long long y, long long rows, long long cols, long long stream);
int vf_softmax_backward(long long y, long long dy, long long dx, long long rows, long long cols, long long stream);
int vf_normalize(long long x, long long xhat, long long rstd, long long rows, long long cols, float eps,
                 long long stream);
/* out (dense [rows, cols], type outType) = normalize(x) * w + b rounded as normalize, multiply, add, cast (layer norm
 * with adaLN modulation or an affine weight, for inference). Row r = (g, i) = (r / groupRows, r % groupRows) takes
 * w[g * wG + i * wR + c] and b[g * bG + i * bR + c] (f32). x dense of xType: f32 (any outType), or bf16/f16 (a 16-bit
 * torso's stream) with out of the same type on the register path only (as vf_residual_norm), else -1 (nothing
 * done: the caller converts x to f32 first). */
int vf_norm_affine(long long x, int xType, long long out, int outType, long long w, long long b, long long rows,
                   long long cols, long long groupRows, long long wG, long long wR, long long bG, long long bR, float eps,
                   long long stream);
/* The residual update and the next layer norm in one pass: x1 (xType) = gate ? h * gate + x : x + h (rounded as a
 * multiply then an add, then to xType), out = normalize(x1) * w + b in outType, as vf_norm_affine. x and x1 dense of
 * xType: f32 with h of any hType (f32, bf16, f16) and any outType, or a 16-bit residual stream (bf16/f16) with h and
 * out of that same type; gate (f32, or 0 for none) indexed like w with (gG, gR); w and b both 0: out = normalize(x1)
 * (a norm without affine parameters), their strides ignored. Runs only the register path (cols a multiple of 128,
 * up to 2048; x, x1, out 16-byte aligned); returns -1 (nothing done) otherwise, for the caller to compose. */
int vf_residual_norm(long long x, int xType, long long h, int hType, long long gate, long long x1, long long out,
                     int outType, long long w, long long b, long long rows, long long cols, long long groupRows,
                     long long gG, long long gR, long long wG, long long wR, long long bG, long long bR, float eps,
                     long long stream);
/* out (dense [rows, cols], outType = xType or f32) = x / max(||x||_2, eps) per row, times w (f32 [inner, cols], or
 * 0: none) at row r % inner; row r = (r / inner, r % inner) sits at x + (r / inner) * strideOuter +
 * (r % inner) * strideInner (elements), its cols contiguous. x is f32, bf16 or f16. */
int vf_l2_normalize(long long x, int xType, long long out, int outType, long long w, long long rows, long long inner,
                    long long strideOuter, long long strideInner, long long cols, float eps, long long stream);
int vf_normalize_backward(long long dy, long long xhat, long long rstd, long long dx, long long rows,
                          long long cols, long long stream);

/* ---- linear layers with few rows (vf_skinny_linear.cu) --------------------------------------------------------- */
/* y [m, n] (dense, outType f32 or dtype) = x [m, k] (rows ldx apart) W^T + bias, x and W of dtype (bf16 / f16), W
 * dense [n, k] 16-byte aligned, bias [n] of y's type or 0; f32 accumulation. -1 (nothing done) outside its cases:
 * m > 8, k not a multiple of 8, more than 12288 staged x values. */
int vf_linear_skinny(long long x, long long ldx, long long w, int dtype, long long bias, long long y, int outType, int m,
                     int n, int k, long long stream);
/* The same for `groups` layers on one x: W_g at w[g], bias_g at bias[g] (bias null: none), y dense [groups, m, n]. */
int vf_linear_skinny_group(long long x, long long ldx, const long long* w, int dtype, const long long* bias, long long y,
                           int outType, int groups, int m, int n, int k, long long stream);

/* ---- indexing ------------------------------------------------------------------------------------------------- */
/* x dense f32 [outer, n, inner] -> out [outer, m, inner]; idx (i32/i64, m entries); -1 gives zeros. Any other
 * index outside [0, n) also gives zeros and, when bad (3 ints, zeroed) is given and holds no earlier report, is
 * recorded there: {1, index, n} (the host reports it at its next synchronization). */
int vf_index_select(long long x, long long idx, int idxType, long long out, long long outer, long long n,
                    long long m, long long inner, long long bad, long long stream);
/* out (zeroed f32 [outer, size, inner]) [o, idx[i], :] += src [o, i, :]; -1 skipped; other indices outside
 * [0, size) skipped and recorded in bad as {2, index, size}. */
int vf_index_add(long long src, long long idx, int idxType, long long out, long long outer, long long m,
                 long long size, long long inner, long long bad, long long stream);

/* ---- sparse structure maps (vf_sparse.cu) ------------------------------------------------------------------ */
/* coords: dense i32 [n, 4] rows (batch, x, y, z), 0 <= x, y, z < 2^15, 0 <= batch < 2^18. Each map takes a device
 * scratch buffer of at least the bytes its _scratch function reports (contents need no initialization). */
int vf_sparse_neighbours_scratch(long long n, long long* bytes);
/* nbr (i32 [n, 27]): nbr[i, kx*9 + ky*3 + kz] = the row with coordinates (b, x+kx-1, y+ky-1, z+kz-1), or -1 where
 * none (or off [0, 2^15)); repeated coordinates resolve to their last row. Device hash table, no host round trip. */
int vf_sparse_neighbours(long long coords, long long n, long long scratch, long long scratchBytes, long long nbr,
                         long long stream);
int vf_sparse_downsample_scratch(long long n, int batch, long long* bytes);
/* Pooling by factor: coarse keys (b, x/f, y/f, z/f), unique and sorted by (batch, x, y, z), give the coarse rows
 * m = 0..M-1. Writes coarse (i32 [M, 4], capacity [n, 4]), counts (i32 [M]: fine rows per coarse row, capacity [n]),
 * toCoarse (i32 [n]: each fine row's coarse row) and batchRows (i32 [batch + 1]: coarse rows per instance, then
 * those with a batch index >= batch, which should be none; they sum to M; the only thing the host reads back). */
int vf_sparse_downsample(long long coords, long long n, int batch, int factor, long long scratch,
                         long long scratchBytes, long long coarse, long long counts, long long toCoarse,
                         long long batchRows, long long stream);

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
/* Tensor-core (flash) kernels for bf16/f16 q, k, v (dtype code 1 or 2, 16-byte aligned) with D == Dv in
 * {32, 64, 128} and scale > 0. Forward: q, k, v are [N, H, D] token rows qStride / kStride / vStride elements apart
 * (multiples of 8, at least H D: slices of packed projections), out dense [Nq, H, D] of outType (f32 or dtype), lse
 * f32. Backward: dense q, k, v; dq, dk, dv f32. */
int vf_flash_attention_forward(long long q, long long qStride, long long k, long long kStride, long long v,
                               long long vStride, int dtype, long long out, int outType, long long lse,
                               const int* offsets, long long devOffsets, int batch, int heads, int d, int maxQ,
                               float scale, long long workspace, long long workspaceBytes, long long stream);
/* Device scratch the forward can use (0: none): vf_flash_attention_workspace_bytes() bytes, zeroed once before the
 * first forward that gets it and then only used by forwards queued one after another (one stream). */
long long vf_flash_attention_workspace_bytes(void);
/* dout, out f32 dense [Nq, H, D], lse f32 [Nq, H] from vf_flash_attention_forward on the same q, k, v. Scratch:
 * doutHalf [Nq, H, D] of dtype, delta f32 [Nq, H]. dq is zeroed and accumulated here (f32 atomics, so its last
 * bits depend on the order of the adds). */
int vf_flash_attention_backward(long long dout, long long q, long long k, long long v, int dtype, long long out,
                                long long lse, long long dq, long long dk, long long dv, long long doutHalf,
                                long long delta, const int* offsets, long long devOffsets, int batch, int heads, int d,
                                long long nqTotal, int maxK, float scale, long long stream);

/* ---- flow sampling and distillation losses ---------------------------------------------------------------- */
/* One Euler step with its x0 prediction (vf_flow.cu), all operands dense f32 of n elements, vNeg 0 when unguided:
   v = vNeg ? condWeight vCond - negWeight vNeg : vCond; x0 = x0Scale x - x0VelocityScale v; xPrev = x - dt v.
   Products and differences rounded one by one (no FMA): the CPU reference's bits. */
int vf_flow_step(long long x, long long vCond, long long vNeg, float condWeight, float negWeight, float dt,
                 float x0Scale, float x0VelocityScale, long long xPrev, long long x0, long long n, long long stream);
/* MDT-dist's VM/VD loss term over dense f32 pred, vT, g (n elements) and t (f32, one per sample). Sample b owns
   elements segOffsets[b] .. segOffsets[b+1] (a host array of samples + 1 non-decreasing offsets from 0 to n):
   gh = dNorm ? g / (||g_b||_2 + normEps) : g; d = pred - (vT - t_b gh); loss (one f32) = mean(lambda d^2);
   grad (0: not wanted) = gradScale (2 d). Uses a stream-ordered scratch. */
int vf_mdt_velocity_loss(long long pred, long long vT, long long g, long long t, const long long* segOffsets,
                         int samples, int dNorm, float normEps, float lambda, float gradScale, long long loss,
                         long long grad, long long n, long long stream);

/* ---- events and stream ordering --------------------------------------------------------------------------- */
/* Ordering between streams without the host waiting: an event recorded on one stream captures the work queued there
 * so far; another stream that waits for it runs its later work only after that work finished. The overlapped gradient
 * all-reduce records on the compute stream before each bucket's collective on the communication stream, and makes the
 * compute stream wait for the communication stream before the gradients are read. An event may be recorded again
 * at once: a wait already queued keeps the record it saw. timing 0 = cudaEventDisableTiming (cheapest), 1 = timed. */
int vf_event_create(long long* event, int timing);
int vf_event_destroy(long long event);
int vf_event_record(long long event, long long stream);
int vf_stream_wait_event(long long stream, long long event);
/* 0 when the recorded work has finished, cudaErrorNotReady (600) while it has not, else an error. */
int vf_event_query(long long event);
int vf_event_sync(long long event);
/* Milliseconds between two finished records of timed events. */
int vf_event_elapsed_ms(float* ms, long long start, long long end);

#ifdef __cplusplus
}
#endif
#endif
