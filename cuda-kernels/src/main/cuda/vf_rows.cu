// Row-wise kernels over the last axis of a dense f32 [rows, cols] matrix: reductions, softmax and the
// layer-norm core, with their backward rules. Short rows get one warp each (8 rows per block); long rows get a
// whole block. Sums accumulate in f32 per thread and combine as a tree, close to the CPU's f64 loops.
#include <type_traits>
#include "vf_common.cuh"

namespace {

constexpr int BLOCK = 256;
constexpr int LONG_ROW = 2048;  // above this a row gets a whole block

__device__ __forceinline__ float max_nan(float a, float b) { return (isnan(a) || a > b) ? a : b; }
__device__ __forceinline__ float min_nan(float a, float b) { return (isnan(a) || a < b) ? a : b; }

// Combines one value per thread across the TPR threads that own a row.
template <int TPR, int KIND>  // KIND 0 sum, 1 max, 2 min
__device__ __forceinline__ float group_reduce(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        float w = __shfl_xor_sync(0xffffffffu, v, o);
        v = KIND == 0 ? v + w : (KIND == 1 ? max_nan(v, w) : min_nan(v, w));
    }
    if constexpr (TPR > 32) {
        __shared__ float part[TPR / 32];
        int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
        __syncthreads();  // part[] may still be read by a previous call
        if (lane == 0) part[warp] = v;
        __syncthreads();
        v = lane < TPR / 32 ? part[lane] : (KIND == 0 ? 0.f : part[0]);
#pragma unroll
        for (int o = 16; o > 0; o >>= 1) {
            float w = __shfl_xor_sync(0xffffffffu, v, o);
            v = KIND == 0 ? v + w : (KIND == 1 ? max_nan(v, w) : min_nan(v, w));
        }
    }
    return v;
}

// Thread's rank inside its row group, first row, and row step, for TPR threads per row.
template <int TPR> struct RowGrid {
    int t;
    long long row, step;
    __device__ RowGrid() {
        t = threadIdx.x % TPR;
        long long groupsPerBlock = blockDim.x / TPR;
        row = blockIdx.x * groupsPerBlock + threadIdx.x / TPR;
        step = gridDim.x * groupsPerBlock;
    }
};

template <int TPR>
__global__ void reduce_kernel(int op, const float* x, float* out, long long rows, long long cols) {
    RowGrid<TPR> g;
    // The loop bound is uniform for a whole block when TPR == blockDim (block-level barriers inside).
    for (long long r = g.row; r < rows; r += g.step) {
        const float* p = x + r * cols;
        float v;
        if (op == 0 || op == 1) {
            v = 0.f;
            for (long long c = g.t; c < cols; c += TPR) v += p[c];
            v = group_reduce<TPR, 0>(v);
            if (op == 1) v = v / (float)cols;
        } else if (op == 2) {
            v = -INFINITY;
            for (long long c = g.t; c < cols; c += TPR) v = max_nan(v, p[c]);
            v = group_reduce<TPR, 1>(v);
        } else {
            v = INFINITY;
            for (long long c = g.t; c < cols; c += TPR) v = min_nan(v, p[c]);
            v = group_reduce<TPR, 2>(v);
        }
        if (g.t == 0) out[r] = v;
    }
}

template <int TPR>
__global__ void softmax_kernel(const float* x, float* y, long long rows, long long cols) {
    RowGrid<TPR> g;
    for (long long r = g.row; r < rows; r += g.step) {
        const float* p = x + r * cols;
        float m = -INFINITY;
        for (long long c = g.t; c < cols; c += TPR) m = fmaxf(m, p[c]);
        m = group_reduce<TPR, 1>(m);
        float s = 0.f;
        for (long long c = g.t; c < cols; c += TPR) s += expf(p[c] - m);
        s = group_reduce<TPR, 0>(s);
        float inv = 1.f / s;
        float* q = y + r * cols;
        for (long long c = g.t; c < cols; c += TPR) q[c] = expf(p[c] - m) * inv;
    }
}

template <int TPR>
__global__ void softmax_backward_kernel(const float* y, const float* dy, float* dx, long long rows, long long cols) {
    RowGrid<TPR> g;
    for (long long r = g.row; r < rows; r += g.step) {
        const float* py = y + r * cols;
        const float* pg = dy + r * cols;
        float dot = 0.f;
        for (long long c = g.t; c < cols; c += TPR) dot += py[c] * pg[c];
        dot = group_reduce<TPR, 0>(dot);
        float* q = dx + r * cols;
        for (long long c = g.t; c < cols; c += TPR) q[c] = py[c] * (pg[c] - dot);
    }
}

// Mean and 1 / sqrt(var + eps) of one row (biased variance of the centred values, as the reference): the one
// definition the layer-norm core and its fused affine form share, so both give the same bits.
template <int TPR>
__device__ __forceinline__ void row_moments(const float* p, long long cols, int t, float eps, float& mean, float& rs) {
    float s = 0.f;
    for (long long c = t; c < cols; c += TPR) s += p[c];
    mean = group_reduce<TPR, 0>(s) / (float)cols;
    float v = 0.f;
    for (long long c = t; c < cols; c += TPR) { float d = p[c] - mean; v += d * d; }
    float var = group_reduce<TPR, 0>(v) / (float)cols;
    rs = 1.f / sqrtf(var + eps);
}

template <int TPR>
__global__ void normalize_kernel(const float* x, float* xhat, float* rstd, long long rows, long long cols, float eps) {
    RowGrid<TPR> g;
    for (long long r = g.row; r < rows; r += g.step) {
        const float* p = x + r * cols;
        float mean, rs;
        row_moments<TPR>(p, cols, g.t, eps, mean, rs);
        float* q = xhat + r * cols;
        for (long long c = g.t; c < cols; c += TPR) q[c] = (p[c] - mean) * rs;
        if (g.t == 0) rstd[r] = rs;
    }
}

// Layer norm then w * xhat + b, rounded as the composition (normalize, multiply, add, cast to O) rounds: the
// inference form of LayerNorm + adaLN modulation, one read of x and one write of out (f32 or a 16-bit GEMM input).
// Row r = (g, i) = (r / groupRows, r % groupRows) takes w at w + g * wG + i * wR (likewise b), its cols contiguous:
// per-instance modulation [B, 1, C] over [B, L, C] is (wG, wR) = (C, 0), one affine weight [C] is (0, 0).
template <int TPR, typename O>
__global__ void norm_affine_kernel(const float* x, O* out, const float* w, const float* b, long long rows,
                                   long long cols, long long groupRows, long long wG, long long wR, long long bG,
                                   long long bR, float eps) {
    RowGrid<TPR> g;
    for (long long r = g.row; r < rows; r += g.step) {
        const float* p = x + r * cols;
        float mean, rs;
        row_moments<TPR>(p, cols, g.t, eps, mean, rs);
        long long gi = r / groupRows, i = r - gi * groupRows;
        const float* pw = w + gi * wG + i * wR;
        const float* pb = b + gi * bG + i * bR;
        O* q = out + r * cols;
        for (long long c = g.t; c < cols; c += TPR)
            q[c] = vf_from_float<O>(__fadd_rn(__fmul_rn((p[c] - mean) * rs, pw[c]), pb[c]));
    }
}

// ---- register-resident rows (the common transformer widths) ----------------------------------------------------
// Rows of 128 NV f32 (NV in NORM_VEC_WIDTHS) at 16-byte aligned addresses: one warp per row, each lane holding NV
// float4 of it (lane l owns float4 l + 32 j), so x is read from memory once and with 16-byte loads, where the general
// kernels above read it three times with 4-byte loads. normalize and norm_affine take this path under the same
// condition (norm_vec_width), so the fused form keeps giving the composition's bits.
template <int NV>
__device__ __forceinline__ void row_moments_vec(const float4 (&v)[NV], float cols, float eps, float& mean, float& rs) {
    float s = 0.f;
#pragma unroll
    for (int j = 0; j < NV; j++) s += (v[j].x + v[j].y) + (v[j].z + v[j].w);
    mean = vf_warp_sum(s) / cols;
    float q = 0.f;
#pragma unroll
    for (int j = 0; j < NV; j++) {
        float a = v[j].x - mean, b = v[j].y - mean, c = v[j].z - mean, d = v[j].w - mean;
        q += (a * a + b * b) + (c * c + d * d);
    }
    rs = 1.f / sqrtf(vf_warp_sum(q) / cols + eps);
}

// Four consecutive values of a row as f32 (16 bytes of f32, 8 of bf16/f16).
template <typename H> __device__ __forceinline__ float4 load4f(const H* p);
template <> __device__ __forceinline__ float4 load4f<float>(const float* p) { return *reinterpret_cast<const float4*>(p); }
template <> __device__ __forceinline__ float4 load4f<__nv_bfloat16>(const __nv_bfloat16* p) {
    uint2 u = *reinterpret_cast<const uint2*>(p);
    float2 a = __bfloat1622float2(*reinterpret_cast<__nv_bfloat162*>(&u.x)), b = __bfloat1622float2(*reinterpret_cast<__nv_bfloat162*>(&u.y));
    return make_float4(a.x, a.y, b.x, b.y);
}
template <> __device__ __forceinline__ float4 load4f<__half>(const __half* p) {
    uint2 u = *reinterpret_cast<const uint2*>(p);
    float2 a = __half22float2(*reinterpret_cast<__half2*>(&u.x)), b = __half22float2(*reinterpret_cast<__half2*>(&u.y));
    return make_float4(a.x, a.y, b.x, b.y);
}

// A register-resident row of X (lane l holds float4 l + 32 j) as f32.
template <int NV, typename X>
__device__ __forceinline__ void load_row_vec(const X* p, int lane, float4 (&v)[NV]) {
#pragma unroll
    for (int j = 0; j < NV; j++) v[j] = load4f<X>(p + 4 * (lane + 32 * j));
}

// Row r's slice of a per-row parameter (w, b or gate) addressed by (G, R) with groupRows rows a group (see
// norm_affine_kernel); null stays null.
__device__ __forceinline__ const float* row_param(const float* p, long long r, long long groupRows, long long G, long long R) {
    if (p == nullptr) return nullptr;
    const long long gi = r / groupRows;
    return p + gi * G + (r - gi * groupRows) * R;
}

// Stores 4 consecutive values of an output row in its type (16 bytes of f32, 8 of bf16/f16).
template <typename O> __device__ __forceinline__ void store4(O* q, float a, float b, float c, float d);
template <> __device__ __forceinline__ void store4<float>(float* q, float a, float b, float c, float d) {
    *reinterpret_cast<float4*>(q) = make_float4(a, b, c, d);
}
template <> __device__ __forceinline__ void store4<__nv_bfloat16>(__nv_bfloat16* q, float a, float b, float c, float d) {
    __nv_bfloat162 lo = __floats2bfloat162_rn(a, b), hi = __floats2bfloat162_rn(c, d);
    *reinterpret_cast<uint2*>(q) = make_uint2(*reinterpret_cast<unsigned*>(&lo), *reinterpret_cast<unsigned*>(&hi));
}
template <> __device__ __forceinline__ void store4<__half>(__half* q, float a, float b, float c, float d) {
    __half2 lo = __floats2half2_rn(a, b), hi = __floats2half2_rn(c, d);
    *reinterpret_cast<uint2*>(q) = make_uint2(*reinterpret_cast<unsigned*>(&lo), *reinterpret_cast<unsigned*>(&hi));
}

template <int NV>
__global__ void normalize_vec_kernel(const float* x, float* xhat, float* rstd, long long rows, float eps) {
    const int lane = threadIdx.x & 31;
    const long long cols = 128LL * NV;
    for (long long r = blockIdx.x * (blockDim.x / 32LL) + threadIdx.x / 32; r < rows; r += gridDim.x * (blockDim.x / 32LL)) {
        float4 v[NV];
        load_row_vec<NV>(x + r * cols, lane, v);
        float mean, rs;
        row_moments_vec<NV>(v, (float)cols, eps, mean, rs);
        float* q = xhat + r * cols;
#pragma unroll
        for (int j = 0; j < NV; j++)
            store4<float>(q + 4 * (lane + 32 * j), (v[j].x - mean) * rs, (v[j].y - mean) * rs, (v[j].z - mean) * rs,
                          (v[j].w - mean) * rs);
        if (lane == 0) rstd[r] = rs;
    }
}

// Four consecutive per-row parameters (w, b, gate): one 16-byte load when PV (the launcher checked their alignment),
// else four scalar loads (any alignment; they stay in cache across rows).
template <bool PV> __device__ __forceinline__ float4 param4(const float* p) {
    if constexpr (PV) return *reinterpret_cast<const float4*>(p);
    else return make_float4(p[0], p[1], p[2], p[3]);
}

// Writes w * xhat + b for a register-resident row (v, its mean and rstd): the output half of norm_affine_vec_kernel
// and residual_norm_vec_kernel, so both round exactly like normalize + fma. pw and pb both null: xhat itself (a norm
// without affine parameters, rounded like normalize + cast).
template <int NV, bool PV, typename O>
__device__ __forceinline__ void store_affine_vec(const float4 (&v)[NV], float mean, float rs, const float* pw,
                                                 const float* pb, O* q, int lane) {
#pragma unroll
    for (int j = 0; j < NV; j++) {
        int c = 4 * (lane + 32 * j);
        if (pw == nullptr) {
            store4<O>(q + c, (v[j].x - mean) * rs, (v[j].y - mean) * rs, (v[j].z - mean) * rs, (v[j].w - mean) * rs);
            continue;
        }
        float4 w = param4<PV>(pw + c), b = param4<PV>(pb + c);
        store4<O>(q + c, __fadd_rn(__fmul_rn((v[j].x - mean) * rs, w.x), b.x),
                  __fadd_rn(__fmul_rn((v[j].y - mean) * rs, w.y), b.y),
                  __fadd_rn(__fmul_rn((v[j].z - mean) * rs, w.z), b.z),
                  __fadd_rn(__fmul_rn((v[j].w - mean) * rs, w.w), b.w));
    }
}

// Rows of x in f32 or a 16-bit type (a 16-bit residual stream read in place, without a conversion pass first).
template <int NV, bool PV, typename X, typename O>
__global__ void norm_affine_vec_kernel(const X* x, O* out, const float* w, const float* b, long long rows,
                                       long long groupRows, long long wG, long long wR, long long bG, long long bR,
                                       float eps) {
    vf_pdl_wait();  // launched with vf_launch
    vf_pdl_trigger();
    const int lane = threadIdx.x & 31;
    const long long cols = 128LL * NV;
    for (long long r = blockIdx.x * (blockDim.x / 32LL) + threadIdx.x / 32; r < rows; r += gridDim.x * (blockDim.x / 32LL)) {
        float4 v[NV];
        load_row_vec<NV>(x + r * cols, lane, v);
        float mean, rs;
        row_moments_vec<NV>(v, (float)cols, eps, mean, rs);
        store_affine_vec<NV, PV, O>(v, mean, rs, row_param(w, r, groupRows, wG, wR), row_param(b, r, groupRows, bG, bR),
                                     out + r * cols, lane);
    }
}

// Four values as their type X would hold them (identity for f32): a 16-bit residual stream's x1 is the rounded sum.
template <typename X> __device__ __forceinline__ float4 round4(float4 v) {
    if constexpr (sizeof(X) == 4) return v;
    else return make_float4(vf_to_float(vf_from_float<X>(v.x)), vf_to_float(vf_from_float<X>(v.y)),
                            vf_to_float(vf_from_float<X>(v.z)), vf_to_float(vf_from_float<X>(v.w)));
}

// The residual update and the next layer norm in one pass: x1 = gate ? h * gate + x : x + h (rounded as fma / add,
// then to X, the residual stream's type: f32, or bf16/f16 for a 16-bit torso), written out, then
// w * normalize(x1) + b in O, the statistics taken from the registers holding the rounded x1. Rows, groups and
// strides as norm_affine_vec_kernel; the gate [.., C] indexes like w.
template <int NV, bool PV, typename X, typename H, typename O>
__global__ void residual_norm_vec_kernel(const X* x, const H* h, const float* gate, X* x1, O* out,
                                         const float* w, const float* b, long long rows, long long groupRows,
                                         long long gG, long long gR, long long wG, long long wR, long long bG,
                                         long long bR, float eps) {
    vf_pdl_wait();  // launched with vf_launch
    vf_pdl_trigger();
    const int lane = threadIdx.x & 31;
    const long long cols = 128LL * NV;
    for (long long r = blockIdx.x * (blockDim.x / 32LL) + threadIdx.x / 32; r < rows; r += gridDim.x * (blockDim.x / 32LL)) {
        float4 v[NV];
        load_row_vec<NV>(x + r * cols, lane, v);
        const float* pg = row_param(gate, r, groupRows, gG, gR);
        const H* ph = h + r * cols;
#pragma unroll
        for (int j = 0; j < NV; j++) {
            int c = 4 * (lane + 32 * j);
            float4 u = load4f<H>(ph + c);
            if (pg) {
                float4 gv = param4<PV>(pg + c);
                v[j].x = __fadd_rn(__fmul_rn(u.x, gv.x), v[j].x);
                v[j].y = __fadd_rn(__fmul_rn(u.y, gv.y), v[j].y);
                v[j].z = __fadd_rn(__fmul_rn(u.z, gv.z), v[j].z);
                v[j].w = __fadd_rn(__fmul_rn(u.w, gv.w), v[j].w);
            } else {
                v[j].x = __fadd_rn(v[j].x, u.x);
                v[j].y = __fadd_rn(v[j].y, u.y);
                v[j].z = __fadd_rn(v[j].z, u.z);
                v[j].w = __fadd_rn(v[j].w, u.w);
            }
            v[j] = round4<X>(v[j]);
            store4<X>(x1 + r * cols + c, v[j].x, v[j].y, v[j].z, v[j].w);
        }
        float mean, rs;
        row_moments_vec<NV>(v, (float)cols, eps, mean, rs);
        store_affine_vec<NV, PV, O>(v, mean, rs, row_param(w, r, groupRows, wG, wR), row_param(b, r, groupRows, bG, bR),
                                     out + r * cols, lane);
    }
}

// Whether a per-row parameter (base address, group and row strides in floats) can be read 16 bytes at a time.
inline bool params16(long long p, long long g, long long r) { return p % 16 == 0 && g % 4 == 0 && r % 4 == 0; }

// NV for the register path, or 0 for the general kernels: the same answer for normalize and norm_affine.
inline int norm_vec_width(long long x, long long cols) {
    if (x % 16 != 0 || cols % 128 != 0) return 0;
    long long nv = cols / 128;
    return (nv == 1 || nv == 2 || nv == 3 || nv == 4 || nv == 6 || nv == 8 || nv == 12 || nv == 16) ? (int)nv : 0;
}

// x / max(||x||_2, eps) per row (PyTorch F.normalize), times w[r % inner] when w is given (TRELLIS's multi-head
// RMS norm: [heads, cols] gains), rounded like the composition (divide, multiply, cast to O). Rows come from a
// two-level view (outer x inner rows, e.g. tokens x heads of a q slice inside a packed qkv), so the slice needs no
// contiguous copy first; out is dense.
template <int TPR, typename X, typename O>
__global__ void l2_normalize_kernel(const X* x, O* out, const float* w, long long rows, long long inner,
                                    long long strideOuter, long long strideInner, long long cols, float eps) {
    RowGrid<TPR> g;
    for (long long r = g.row; r < rows; r += g.step) {
        long long o = r / inner, i = r - o * inner;
        const X* p = x + o * strideOuter + i * strideInner;
        float s = 0.f;
        for (long long c = g.t; c < cols; c += TPR) { float e = vf_to_float(p[c]); s += e * e; }
        float n = fmaxf(sqrtf(group_reduce<TPR, 0>(s)), eps);
        O* q = out + r * cols;
        const float* pw = w ? w + i * cols : nullptr;
        for (long long c = g.t; c < cols; c += TPR) {
            float y = vf_to_float(p[c]) / n;
            q[c] = vf_from_float<O>(pw ? __fmul_rn(y, pw[c]) : y);
        }
    }
}

// A lane's E consecutive outputs: one 16-byte store when they fill 16 bytes (8 bf16 / f16; two 8-byte stores left
// every 32-byte sector half written per instruction, which ncu counted as half of the kernel's store sectors being
// excess), else 16-byte pieces.
template <typename O, int E> __device__ __forceinline__ void store_lane(O* q, const float (&y)[E]) {
    if constexpr (sizeof(O) == 2 && E == 8) {
        uint4 u;
        unsigned* w = reinterpret_cast<unsigned*>(&u);
#pragma unroll
        for (int k = 0; k < 4; k++) {
            float2 f = make_float2(y[2 * k], y[2 * k + 1]);
            if constexpr (std::is_same<O, __nv_bfloat16>::value) {
                __nv_bfloat162 h = __float22bfloat162_rn(f);
                w[k] = *reinterpret_cast<unsigned*>(&h);
            } else {
                __half2 h = __float22half2_rn(f);
                w[k] = *reinterpret_cast<unsigned*>(&h);
            }
        }
        *reinterpret_cast<uint4*>(q) = u;
    } else {
#pragma unroll
        for (int k = 0; k < E; k += 4) store4<O>(q + k, y[k], y[k + 1], y[k + 2], y[k + 3]);
    }
}

// The l2 row kernel for short rows of 16-bit or f32 values at 16-byte aligned addresses (q/k head rows): G lanes per
// row, each loading 16 bytes (E = 16 / sizeof(X) elements), sums combined over the G lanes. Rows of 64 bf16 take 8
// lanes, so a warp normalizes 4 rows with one load each where the general kernel spends a warp per row. Idx: the
// integer type of row numbers (32-bit division where they fit).
template <int G, typename X, typename O, typename Idx>
__global__ void l2_normalize_vec_kernel(const X* x, O* out, const float* w, Idx rows, Idx inner,
                                        long long strideOuter, long long strideInner, float eps) {
    vf_pdl_wait();  // launched with vf_launch
    vf_pdl_trigger();
    constexpr int E = 16 / sizeof(X);
    constexpr long long COLS = (long long)G * E;
    const int t = threadIdx.x % G;
    const long long per = blockDim.x / G;
    // the loop bound is uniform per warp (a warp's 32 / G rows start together), so the shuffles see every lane
    const long long first = blockIdx.x * per + (threadIdx.x / 32) * (32 / G);
    for (long long r0 = first; r0 < rows; r0 += gridDim.x * per) {
        const long long r = r0 + (threadIdx.x % 32) / G;
        const bool ok = r < rows;
        const Idx o = (Idx)r / inner, i = (Idx)r - o * inner;
        uint4 raw = ok ? *reinterpret_cast<const uint4*>(x + o * strideOuter + i * strideInner + t * E) : make_uint4(0, 0, 0, 0);
        const X* e = reinterpret_cast<const X*>(&raw);
        float v[E];
        float s = 0.f;
#pragma unroll
        for (int k = 0; k < E; k++) { v[k] = vf_to_float(e[k]); s += v[k] * v[k]; }
#pragma unroll
        for (int off = G / 2; off > 0; off >>= 1) s += __shfl_xor_sync(0xffffffffu, s, off);
        float n = fmaxf(sqrtf(s), eps);
        if (!ok) continue;
        // the gains in 16-byte loads (the launcher checked w's alignment): scalar loads kept the L1 pipe busier
        // than the row's own data
        const float4* pw = w ? reinterpret_cast<const float4*>(w + i * COLS + t * E) : nullptr;
        O* q = out + r * COLS + t * E;
        float y[E];
#pragma unroll
        for (int k = 0; k < E; k += 4) {
            const float4 g = pw ? pw[k / 4] : make_float4(0.f, 0.f, 0.f, 0.f);
            const float gs[4] = {g.x, g.y, g.z, g.w};
#pragma unroll
            for (int m = 0; m < 4; m++) y[k + m] = pw ? __fmul_rn(v[k + m] / n, gs[m]) : v[k + m] / n;
        }
        store_lane<O, E>(q, y);
    }
}

template <int TPR>
__global__ void normalize_backward_kernel(const float* dy, const float* xhat, const float* rstd, float* dx,
                                          long long rows, long long cols) {
    RowGrid<TPR> g;
    for (long long r = g.row; r < rows; r += g.step) {
        const float* pg = dy + r * cols;
        const float* px = xhat + r * cols;
        float a = 0.f, b = 0.f;
        for (long long c = g.t; c < cols; c += TPR) { a += pg[c]; b += pg[c] * px[c]; }
        float mg = group_reduce<TPR, 0>(a) / (float)cols;
        float mgx = group_reduce<TPR, 0>(b) / (float)cols;
        float rs = rstd[r];
        float* q = dx + r * cols;
        for (long long c = g.t; c < cols; c += TPR) q[c] = rs * (pg[c] - mg - px[c] * mgx);
    }
}

// Column reduction of a dense [rows, cols]: out[split, c] over rows [split*per, (split+1)*per). Blocks of 32
// columns x 8 row lanes read whole 128-byte row segments (coalesced), then fold the 8 lanes in shared memory.
__global__ void cols_kernel(int op, float divisor, const float* x, float* out, long long rows, long long cols,
                            long long per) {
    __shared__ float part[8][33];
    long long c = blockIdx.x * 32LL + threadIdx.x;
    long long r0 = blockIdx.y * per, r1 = min(rows, r0 + per);
    float acc = op <= 1 ? 0.f : (op == 2 ? -INFINITY : INFINITY);
    if (c < cols) {
        for (long long r = r0 + threadIdx.y; r < r1; r += 8) {
            float e = x[r * cols + c];
            acc = op <= 1 ? acc + e : (op == 2 ? max_nan(acc, e) : min_nan(acc, e));
        }
    }
    part[threadIdx.y][threadIdx.x] = acc;
    __syncthreads();
    if (threadIdx.y == 0 && c < cols) {
        for (int y = 1; y < 8; y++) {
            float e = part[y][threadIdx.x];
            acc = op <= 1 ? acc + e : (op == 2 ? max_nan(acc, e) : min_nan(acc, e));
        }
        out[blockIdx.y * cols + c] = op == 1 ? acc / divisor : acc;
    }
}

// Grid for TPR threads per row.
inline unsigned row_blocks(long long rows, int tpr) {
    long long perBlock = BLOCK / tpr;
    return vf_blocks(rows, (int)perBlock, 1 << 16);
}

}  // namespace

#define VF_ROW_LAUNCH(KERNEL, ...)                                                                         \
    do {                                                                                                   \
        if (rows == 0) return 0;                                                                           \
        cudaStream_t st = VF_STREAM(stream);                                                               \
        if (cols > LONG_ROW) KERNEL<BLOCK><<<row_blocks(rows, BLOCK), BLOCK, 0, st>>>(__VA_ARGS__);        \
        else KERNEL<32><<<row_blocks(rows, 32), BLOCK, 0, st>>>(__VA_ARGS__);                              \
        return vf_launch_status();                                                                         \
    } while (0)

extern "C" {

int vf_reduce_rows(int op, long long x, long long out, long long rows, long long cols, long long stream) {
    VF_ROW_LAUNCH(reduce_kernel, op, VF_PTR(const float, x), VF_PTR(float, out), rows, cols);
}

int vf_reduce_cols(int op, long long x, long long out, long long rows, long long cols, long long stream) {
    if (cols == 0) return 0;
    cudaStream_t st = VF_STREAM(stream);
    long long bx = (cols + 31) / 32;
    // enough row splits for ~4 blocks per multiprocessor, each split at least 64 rows
    long long splits = (528 + bx - 1) / bx;
    long long maxSplits = (rows + 63) / 64;
    if (splits > maxSplits) splits = maxSplits;
    if (splits > 1024) splits = 1024;
    if (splits < 1) splits = 1;
    dim3 block(32, 8);
    float n = (float)rows;
    if (splits == 1) {
        cols_kernel<<<dim3((unsigned)bx, 1), block, 0, st>>>(op, n, VF_PTR(const float, x), VF_PTR(float, out), rows, cols, rows);
        return vf_launch_status();
    }
    // two passes through a stream-ordered scratch of partials [splits, cols]: deterministic, no atomics
    void* scratch = nullptr;
    cudaError_t e = cudaMallocAsync(&scratch, sizeof(float) * (size_t)(splits * cols), st);
    if (e != cudaSuccess) return (int)e;
    long long per = (rows + splits - 1) / splits;
    int first = op == 1 ? 0 : op;  // a mean sums first and divides once at the end
    cols_kernel<<<dim3((unsigned)bx, (unsigned)splits), block, 0, st>>>(first, 1.f, VF_PTR(const float, x), (float*)scratch, rows, cols, per);
    int err = vf_launch_status();
    if (!err) {
        cols_kernel<<<dim3((unsigned)bx, 1), block, 0, st>>>(op, n, (const float*)scratch, VF_PTR(float, out), splits, cols, splits);
        err = vf_launch_status();
    }
    cudaError_t f = cudaFreeAsync(scratch, st);
    return err ? err : (int)f;
}

int vf_softmax(long long x, long long y, long long rows, long long cols, long long stream) {
    VF_ROW_LAUNCH(softmax_kernel, VF_PTR(const float, x), VF_PTR(float, y), rows, cols);
}

int vf_softmax_backward(long long y, long long dy, long long dx, long long rows, long long cols, long long stream) {
    VF_ROW_LAUNCH(softmax_backward_kernel, VF_PTR(const float, y), VF_PTR(const float, dy), VF_PTR(float, dx), rows, cols);
}

// Runs STMT with the compile-time constant NV equal to the run-time nv (one of norm_vec_width's answers).
#define VF_NV_SWITCH(nv, STMT)                                      \
    switch (nv) {                                                   \
        case 1: { constexpr int NV = 1; STMT; } break;              \
        case 2: { constexpr int NV = 2; STMT; } break;              \
        case 3: { constexpr int NV = 3; STMT; } break;              \
        case 4: { constexpr int NV = 4; STMT; } break;              \
        case 6: { constexpr int NV = 6; STMT; } break;              \
        case 8: { constexpr int NV = 8; STMT; } break;              \
        case 12: { constexpr int NV = 12; STMT; } break;            \
        default: { constexpr int NV = 16; STMT; } break;            \
    }

int vf_normalize(long long x, long long xhat, long long rstd, long long rows, long long cols, float eps,
                 long long stream) {
    int nv = norm_vec_width(x, cols);
    if (nv && rows > 0 && xhat % 16 == 0) {
        cudaStream_t st = VF_STREAM(stream);
        VF_NV_SWITCH(nv, (normalize_vec_kernel<NV><<<row_blocks(rows, 32), BLOCK, 0, st>>>(
                             VF_PTR(const float, x), VF_PTR(float, xhat), VF_PTR(float, rstd), rows, eps)));
        return vf_launch_status();
    }
    VF_ROW_LAUNCH(normalize_kernel, VF_PTR(const float, x), VF_PTR(float, xhat), VF_PTR(float, rstd), rows, cols, eps);
}

int vf_norm_affine(long long x, int xType, long long out, int outType, long long w, long long b, long long rows,
                   long long cols, long long groupRows, long long wG, long long wR, long long bG, long long bR, float eps,
                   long long stream) {
    if (groupRows < 1) return (int)cudaErrorInvalidValue;
    int nv = norm_vec_width(x, cols);
    bool vec = nv && rows > 0 && out % 16 == 0;
    bool pv = params16(w, wG, wR) && params16(b, bG, bR);
    // 16-bit rows (a 16-bit torso's stream) only on the register path and into their own type
    if (xType != VF_F32 && (!vec || outType != xType)) return -1;
    int e = 0;
#define VF_NA(X, O)                                                                                                   \
    do {                                                                                                              \
        if (vec) {                                                                                                    \
            cudaStream_t st = VF_STREAM(stream);                                                                      \
            if (pv) VF_NV_SWITCH(nv, (e = vf_launch(norm_affine_vec_kernel<NV, true, X, O>, row_blocks(rows, 32), BLOCK, 0, st, \
                         VF_PTR(const X, x), VF_PTR(O, out), VF_PTR(const float, w), VF_PTR(const float, b), rows,        \
                         groupRows, wG, wR, bG, bR, eps)))                                                             \
            else VF_NV_SWITCH(nv, (e = vf_launch(norm_affine_vec_kernel<NV, false, X, O>, row_blocks(rows, 32), BLOCK, 0, st, \
                         VF_PTR(const X, x), VF_PTR(O, out), VF_PTR(const float, w), VF_PTR(const float, b), rows,        \
                         groupRows, wG, wR, bG, bR, eps)))                                                             \
            return e;                                                                                                 \
        }                                                                                                             \
        /* f32 rows only here: 16-bit ones took the register path or returned -1 above */                           \
        VF_ROW_LAUNCH(norm_affine_kernel, VF_PTR(const float, x), VF_PTR(O, out), VF_PTR(const float, w),             \
                      VF_PTR(const float, b), rows, cols, groupRows, wG, wR, bG, bR, eps);                            \
    } while (0)
    if (xType == VF_BF16) VF_NA(__nv_bfloat16, __nv_bfloat16);
    if (xType == VF_F16) VF_NA(__half, __half);
    if (xType != VF_F32) return (int)cudaErrorInvalidValue;
    if (outType == VF_F32) VF_NA(float, float);
    if (outType == VF_BF16) VF_NA(float, __nv_bfloat16);
    if (outType == VF_F16) VF_NA(float, __half);
#undef VF_NA
    return (int)cudaErrorInvalidValue;
}

int vf_residual_norm(long long x, int xType, long long h, int hType, long long gate, long long x1, long long out,
                     int outType, long long w, long long b, long long rows, long long cols, long long groupRows,
                     long long gG, long long gR, long long wG, long long wR, long long bG, long long bR, float eps,
                     long long stream) {
    if (groupRows < 1) return (int)cudaErrorInvalidValue;
    int nv = norm_vec_width(x, cols);
    int hb = hType == VF_F32 ? 16 : 8;  // bytes of 4 branch values
    // a 16-bit stream takes its branch and its normed rows in its own type (the torso's one 16-bit type)
    bool combo = xType == VF_F32 || (hType == xType && outType == xType);
    if (!nv || !combo || rows == 0 || out % 16 != 0 || x1 % 16 != 0 || h % hb != 0) return -1;
    cudaStream_t st = VF_STREAM(stream);
    bool pv = params16(w, wG, wR) && params16(b, bG, bR) && (gate == 0 || params16(gate, gG, gR));
    int e = 0;
#define VF_RN(X, H, O)                                                                                                \
    do {                                                                                                              \
        if (pv) VF_NV_SWITCH(nv, (e = vf_launch(residual_norm_vec_kernel<NV, true, X, H, O>, row_blocks(rows, 32), BLOCK, 0, st, \
                     VF_PTR(const X, x), VF_PTR(const H, h), VF_PTR(const float, gate), VF_PTR(X, x1),                   \
                     VF_PTR(O, out), VF_PTR(const float, w), VF_PTR(const float, b), rows, groupRows, gG, gR, wG, wR,   \
                     bG, bR, eps)))                                                                                   \
        else VF_NV_SWITCH(nv, (e = vf_launch(residual_norm_vec_kernel<NV, false, X, H, O>, row_blocks(rows, 32), BLOCK, 0, st, \
                     VF_PTR(const X, x), VF_PTR(const H, h), VF_PTR(const float, gate), VF_PTR(X, x1),                   \
                     VF_PTR(O, out), VF_PTR(const float, w), VF_PTR(const float, b), rows, groupRows, gG, gR, wG, wR,   \
                     bG, bR, eps)))                                                                                   \
        return e;                                                                                                     \
    } while (0)
#define VF_RN_OUT(H)                                           \
    do {                                                       \
        if (outType == VF_F32) VF_RN(float, H, float);         \
        if (outType == VF_BF16) VF_RN(float, H, __nv_bfloat16); \
        if (outType == VF_F16) VF_RN(float, H, __half);        \
    } while (0)
    if (xType == VF_BF16) VF_RN(__nv_bfloat16, __nv_bfloat16, __nv_bfloat16);
    if (xType == VF_F16) VF_RN(__half, __half, __half);
    if (hType == VF_F32) VF_RN_OUT(float);
    if (hType == VF_BF16) VF_RN_OUT(__nv_bfloat16);
    if (hType == VF_F16) VF_RN_OUT(__half);
#undef VF_RN_OUT
#undef VF_RN
    return (int)cudaErrorInvalidValue;
}

int vf_l2_normalize(long long x, int xType, long long out, int outType, long long w, long long rows, long long inner,
                    long long strideOuter, long long strideInner, long long cols, float eps, long long stream) {
    if (inner < 1 || xType != outType && outType != VF_F32) return (int)cudaErrorInvalidValue;
    if (rows == 0) return 0;
    // short aligned rows: G lanes of 16 bytes each (see l2_normalize_vec_kernel)
    int xb = xType == VF_F32 ? 4 : 2;
    long long g = cols * xb / 16;
    bool vec = cols * xb % 16 == 0 && (g == 4 || g == 8 || g == 16 || g == 32) && x % 16 == 0 && out % 16 == 0 && w % 16 == 0 &&
               (strideOuter * xb) % 16 == 0 && (strideInner * xb) % 16 == 0;
    if (vec) {
        cudaStream_t st = VF_STREAM(stream);
        unsigned blocks = vf_blocks(rows, BLOCK / (int)g, 1 << 16);
        int e = 0;
#define VF_L2V(G, X, O)                                                                                                  \
    do {                                                                                                                 \
        if (rows + 32 <= 0xFFFFFFFFLL)                                                                                   \
            e = vf_launch(l2_normalize_vec_kernel<G, X, O, unsigned>, blocks, BLOCK, 0, st,                              \
                VF_PTR(const X, x), VF_PTR(O, out), VF_PTR(const float, w), (unsigned)rows, (unsigned)inner, strideOuter, \
                strideInner, eps);                                                                                       \
        else                                                                                                             \
            e = vf_launch(l2_normalize_vec_kernel<G, X, O, long long>, blocks, BLOCK, 0, st,                             \
                VF_PTR(const X, x), VF_PTR(O, out), VF_PTR(const float, w), rows, inner, strideOuter, strideInner, eps); \
    } while (0)
#define VF_L2G(X, O)                                  \
    do {                                              \
        if (g == 4) VF_L2V(4, X, O);                  \
        else if (g == 8) VF_L2V(8, X, O);             \
        else if (g == 16) VF_L2V(16, X, O);           \
        else VF_L2V(32, X, O);                        \
        return e;                                     \
    } while (0)
        if (xType == VF_F32) VF_L2G(float, float);
        if (xType == VF_BF16) { if (outType == VF_F32) VF_L2G(__nv_bfloat16, float); VF_L2G(__nv_bfloat16, __nv_bfloat16); }
        if (xType == VF_F16) { if (outType == VF_F32) VF_L2G(__half, float); VF_L2G(__half, __half); }
#undef VF_L2G
#undef VF_L2V
        return (int)cudaErrorInvalidValue;
    }
#define VF_L2(X, O) VF_ROW_LAUNCH(l2_normalize_kernel, VF_PTR(const X, x), VF_PTR(O, out), VF_PTR(const float, w), rows, \
                                  inner, strideOuter, strideInner, cols, eps)
    if (xType == VF_F32) VF_L2(float, float);
    if (xType == VF_BF16) { if (outType == VF_F32) VF_L2(__nv_bfloat16, float); VF_L2(__nv_bfloat16, __nv_bfloat16); }
    if (xType == VF_F16) { if (outType == VF_F32) VF_L2(__half, float); VF_L2(__half, __half); }
#undef VF_L2
    return (int)cudaErrorInvalidValue;
}

int vf_normalize_backward(long long dy, long long xhat, long long rstd, long long dx, long long rows, long long cols,
                          long long stream) {
    VF_ROW_LAUNCH(normalize_backward_kernel, VF_PTR(const float, dy), VF_PTR(const float, xhat),
                  VF_PTR(const float, rstd), VF_PTR(float, dx), rows, cols);
}

}  // extern "C"
