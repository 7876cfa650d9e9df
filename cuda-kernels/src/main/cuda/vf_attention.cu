// Exact softmax attention with variable-length instances, f32, and its backward and forward-mode (JVP) rules.
//
// Layout: rows of [N, H, D]; instance b owns query rows cuQ[b]..cuQ[b+1] and key rows cuK[b]..cuK[b+1].
// One block per (32-row tile, head, instance); 4 warps each own 8 rows. Per 32-key tile a lane owns one key for
// the score dot products (keys padded by one float per row so lanes hit distinct banks) and 32-column slices of
// the outputs for the weighted sums. The forward keeps a running max and sum (online softmax) and never
// materializes the score matrix; backward and JVP recompute probabilities from the saved log-sum-exp.
#include "vf_attn_common.cuh"

namespace {

constexpr int BQ = 32, BK = 32, WARPS = 4, RPW = BQ / WARPS, THREADS = WARPS * 32;
constexpr float LOG2E = 1.4426950408889634f;
constexpr float LN2 = 0.6931471805599453f;

struct Inst {
    int q0, nq, k0, nk;
};

__device__ __forceinline__ Inst instance(const VfAttnOffsets& off) {
    int b = blockIdx.z;
    Inst in;
    in.q0 = off.q(b);
    in.nq = off.q(b + 1) - in.q0;
    in.k0 = off.k(b);
    in.nk = off.k(b + 1) - in.k0;
    return in;
}

// Copies rows [start, start+32) (of n valid) of head h from [N, H, width] into a padded shared tile; rows past n
// become zeros.
__device__ __forceinline__ void load_tile(float* tile, int stride, const float* src, int base, int start, int n, int H,
                                          int h, int width) {
    for (int e = threadIdx.x; e < 32 * width; e += blockDim.x) {
        int r = e / width, c = e - r * width;
        int i = start + r;
        tile[r * stride + c] = i < n ? src[((long long)(base + i) * H + h) * width + c] : 0.f;
    }
}

// s[r] = sum_c A[r, c] B[lane, c] over n columns: the warp's RPW rows of A (row stride sa) against the row of B this
// lane owns (stride sb), the score-like dot products every kernel here forms per 32-row tile.
__device__ __forceinline__ void row_dots(float (&s)[RPW], const float* A, int sa, const float* B, int sb, int lane, int n) {
#pragma unroll
    for (int r = 0; r < RPW; r++) s[r] = 0.f;
    for (int c = 0; c < n; c++) {
        float bc = B[lane * sb + c];
#pragma unroll
        for (int r = 0; r < RPW; r++) s[r] += A[r * sa + c] * bc;
    }
}

// acc[t] += sum_j w_j T[j, lane + 32 t] for columns below width, w_j the weight lane j holds: a weighted sum of the 32
// rows of a tile, each lane producing its 32-column slices.
template <int DL>
__device__ __forceinline__ void add_weighted_rows(float (&acc)[DL], float w, const float* T, int st, int lane, int width) {
    for (int j = 0; j < 32; j++) {
        float wj = __shfl_sync(0xffffffffu, w, j);
#pragma unroll
        for (int t = 0; t < DL; t++) {
            int c = lane + 32 * t;
            if (c < width) acc[t] += wj * T[j * st + c];
        }
    }
}

template <int DL>
__global__ void __launch_bounds__(THREADS) fwd_kernel(const float* __restrict__ q, const float* __restrict__ k,
                                                      const float* __restrict__ v, float* __restrict__ out,
                                                      float* __restrict__ lse, const __grid_constant__ VfAttnOffsets off, int H,
                                                      int D, int Dv, float scale2) {
    extern __shared__ float sm[];
    Inst in = instance(off);
    int tile0 = blockIdx.x * BQ, h = blockIdx.y;
    if (tile0 >= in.nq) return;
    const int SD = D + 1, SV = Dv + 1;
    float* Qs = sm;
    float* Ks = Qs + BQ * SD;
    float* Vs = Ks + BK * SD;
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    load_tile(Qs, SD, q, in.q0, tile0, in.nq, H, h, D);

    float m[RPW], l[RPW], o[RPW][DL];
#pragma unroll
    for (int r = 0; r < RPW; r++) {
        m[r] = -INFINITY;
        l[r] = 0.f;
#pragma unroll
        for (int t = 0; t < DL; t++) o[r][t] = 0.f;
    }
    const float* Qw = Qs + warp * RPW * SD;
    for (int kt = 0; kt < in.nk; kt += BK) {
        __syncthreads();
        load_tile(Ks, SD, k, in.k0, kt, in.nk, H, h, D);
        load_tile(Vs, SV, v, in.k0, kt, in.nk, H, h, Dv);
        __syncthreads();
        float s[RPW];
        row_dots(s, Qw, SD, Ks, SD, lane, D);
        bool valid = kt + lane < in.nk;
#pragma unroll
        for (int r = 0; r < RPW; r++) {
            float sr = valid ? s[r] * scale2 : -INFINITY;
            float mn = fmaxf(m[r], vf_warp_max(sr));  // finite: key kt is always valid
            float alpha = exp2f(m[r] - mn);
            float p = exp2f(sr - mn);
            l[r] = l[r] * alpha + vf_warp_sum(p);
            m[r] = mn;
#pragma unroll
            for (int t = 0; t < DL; t++) o[r][t] *= alpha;
            add_weighted_rows<DL>(o[r], p, Vs, SV, lane, Dv);
        }
    }
#pragma unroll
    for (int r = 0; r < RPW; r++) {
        int i = tile0 + warp * RPW + r;
        if (i >= in.nq) continue;
        long long row = (long long)(in.q0 + i) * H + h;
        bool empty = in.nk == 0;  // no keys: zero output, lse -inf (the reference's convention)
        float inv = empty ? 0.f : 1.f / l[r];
#pragma unroll
        for (int t = 0; t < DL; t++) {
            int c = lane + 32 * t;
            if (c < Dv) out[row * Dv + c] = o[r][t] * inv;
        }
        if (lane == 0) lse[row] = empty ? -INFINITY : (m[r] + log2f(l[r])) * LN2;
    }
}

// delta[row] = sum_c dout[row, c] * out[row, c]; one warp per (token, head) row.
__global__ void delta_kernel(const float* dout, const float* out, float* delta, long long rows, int Dv) {
    long long row = blockIdx.x * (long long)(blockDim.x / 32) + (threadIdx.x >> 5);
    int lane = threadIdx.x & 31;
    if (row >= rows) return;
    float a = 0.f;
    for (int c = lane; c < Dv; c += 32) a += dout[row * Dv + c] * out[row * Dv + c];
    a = vf_warp_sum(a);
    if (lane == 0) delta[row] = a;
}

// dq = scale * sum_j P_ij (dP_ij - delta_i) k_j, one block per query tile.
template <int DL>
__global__ void __launch_bounds__(THREADS) dq_kernel(const float* __restrict__ dout, const float* __restrict__ q,
                                                     const float* __restrict__ k, const float* __restrict__ v,
                                                     const float* __restrict__ lse, const float* __restrict__ delta,
                                                     float* __restrict__ dq, const __grid_constant__ VfAttnOffsets off, int H,
                                                     int D, int Dv, float scale, float scale2) {
    extern __shared__ float sm[];
    Inst in = instance(off);
    int tile0 = blockIdx.x * BQ, h = blockIdx.y;
    if (tile0 >= in.nq) return;
    const int SD = D + 1, SV = Dv + 1;
    float* Qs = sm;
    float* Gs = Qs + BQ * SD;
    float* Ks = Gs + BQ * SV;
    float* Vs = Ks + BK * SD;
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    load_tile(Qs, SD, q, in.q0, tile0, in.nq, H, h, D);
    load_tile(Gs, SV, dout, in.q0, tile0, in.nq, H, h, Dv);
    float lse2[RPW], dl[RPW], acc[RPW][DL];
#pragma unroll
    for (int r = 0; r < RPW; r++) {
        int i = tile0 + warp * RPW + r;
        long long row = (long long)(in.q0 + i) * H + h;
        lse2[r] = i < in.nq ? lse[row] * LOG2E : INFINITY;
        dl[r] = i < in.nq ? delta[row] : 0.f;
#pragma unroll
        for (int t = 0; t < DL; t++) acc[r][t] = 0.f;
    }
    const float* Qw = Qs + warp * RPW * SD;
    const float* Gw = Gs + warp * RPW * SV;
    for (int kt = 0; kt < in.nk; kt += BK) {
        __syncthreads();
        load_tile(Ks, SD, k, in.k0, kt, in.nk, H, h, D);
        load_tile(Vs, SV, v, in.k0, kt, in.nk, H, h, Dv);
        __syncthreads();
        float s[RPW], dp[RPW];
        row_dots(s, Qw, SD, Ks, SD, lane, D);
        row_dots(dp, Gw, SV, Vs, SV, lane, Dv);
        bool valid = kt + lane < in.nk;
#pragma unroll
        for (int r = 0; r < RPW; r++) {
            float p = valid ? exp2f(s[r] * scale2 - lse2[r]) : 0.f;
            float ds = p * (dp[r] - dl[r]);
            add_weighted_rows<DL>(acc[r], ds, Ks, SD, lane, D);
        }
    }
#pragma unroll
    for (int r = 0; r < RPW; r++) {
        int i = tile0 + warp * RPW + r;
        if (i >= in.nq) continue;
        long long row = (long long)(in.q0 + i) * H + h;
#pragma unroll
        for (int t = 0; t < DL; t++) {
            int c = lane + 32 * t;
            if (c < D) dq[row * D + c] = acc[r][t] * scale;
        }
    }
}

// dk = scale * sum_i dS_ij q_i and dv = sum_i P_ij dout_i, one block per key tile iterating over query tiles.
template <int DL>
__global__ void __launch_bounds__(THREADS) dkv_kernel(const float* __restrict__ dout, const float* __restrict__ q,
                                                      const float* __restrict__ k, const float* __restrict__ v,
                                                      const float* __restrict__ lse, const float* __restrict__ delta,
                                                      float* __restrict__ dk, float* __restrict__ dv, const __grid_constant__ VfAttnOffsets off,
                                                      int H, int D, int Dv, float scale, float scale2) {
    extern __shared__ float sm[];
    Inst in = instance(off);
    int tile0 = blockIdx.x * BK, h = blockIdx.y;
    if (tile0 >= in.nk) return;
    const int SD = D + 1, SV = Dv + 1;
    float* Ks = sm;
    float* Vs = Ks + BK * SD;
    float* Qs = Vs + BK * SV;
    float* Gs = Qs + BQ * SD;
    float* L2 = Gs + BQ * SV;
    float* Dl = L2 + BQ;
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    load_tile(Ks, SD, k, in.k0, tile0, in.nk, H, h, D);
    load_tile(Vs, SV, v, in.k0, tile0, in.nk, H, h, Dv);
    float ak[RPW][DL], av[RPW][DL];
#pragma unroll
    for (int r = 0; r < RPW; r++)
#pragma unroll
        for (int t = 0; t < DL; t++) ak[r][t] = av[r][t] = 0.f;
    const float* Kw = Ks + warp * RPW * SD;
    const float* Vw = Vs + warp * RPW * SV;
    for (int qt = 0; qt < in.nq; qt += BQ) {
        __syncthreads();
        load_tile(Qs, SD, q, in.q0, qt, in.nq, H, h, D);
        load_tile(Gs, SV, dout, in.q0, qt, in.nq, H, h, Dv);
        if (threadIdx.x < BQ) {
            int i = qt + threadIdx.x;
            long long row = (long long)(in.q0 + i) * H + h;
            L2[threadIdx.x] = i < in.nq ? lse[row] * LOG2E : INFINITY;  // padding rows get probability 0
            Dl[threadIdx.x] = i < in.nq ? delta[row] : 0.f;
        }
        __syncthreads();
        float s[RPW], dp[RPW];
        row_dots(s, Kw, SD, Qs, SD, lane, D);   // this warp's keys against the lane's query
        row_dots(dp, Vw, SV, Gs, SV, lane, Dv);
        float l2 = L2[lane], dlt = Dl[lane];
#pragma unroll
        for (int r = 0; r < RPW; r++) {
            float p = exp2f(s[r] * scale2 - l2);
            float ds = p * (dp[r] - dlt);
            add_weighted_rows<DL>(av[r], p, Gs, SV, lane, Dv);
            add_weighted_rows<DL>(ak[r], ds, Qs, SD, lane, D);
        }
    }
#pragma unroll
    for (int r = 0; r < RPW; r++) {
        int j = tile0 + warp * RPW + r;
        if (j >= in.nk) continue;
        long long row = (long long)(in.k0 + j) * H + h;
#pragma unroll
        for (int t = 0; t < DL; t++) {
            int c = lane + 32 * t;
            if (c < D) dk[row * D + c] = ak[r][t] * scale;
            if (c < Dv) dv[row * Dv + c] = av[r][t];
        }
    }
}

// Tangent of the output: sum_j P_ij (dS_ij v_j + tv_j) - (sum_j P_ij dS_ij) out_i, dS = scale (tq k + q tk).
template <int DL>
__global__ void __launch_bounds__(THREADS) jvp_kernel(const float* __restrict__ q, const float* __restrict__ k,
                                                      const float* __restrict__ v, const float* __restrict__ out,
                                                      const float* __restrict__ lse, const float* __restrict__ tq,
                                                      const float* __restrict__ tk, const float* __restrict__ tv,
                                                      float* __restrict__ tout, const __grid_constant__ VfAttnOffsets off, int H,
                                                      int D, int Dv, float scale, float scale2) {
    extern __shared__ float sm[];
    Inst in = instance(off);
    int tile0 = blockIdx.x * BQ, h = blockIdx.y;
    if (tile0 >= in.nq) return;
    const int SD = D + 1, SV = Dv + 1;
    float* Qs = sm;
    float* TQs = Qs + BQ * SD;
    float* Ks = TQs + BQ * SD;
    float* TKs = Ks + BK * SD;
    float* Vs = TKs + BK * SD;
    float* TVs = Vs + BK * SV;
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    load_tile(Qs, SD, q, in.q0, tile0, in.nq, H, h, D);
    if (tq) load_tile(TQs, SD, tq, in.q0, tile0, in.nq, H, h, D);
    float lse2[RPW], mu[RPW], acc[RPW][DL];
#pragma unroll
    for (int r = 0; r < RPW; r++) {
        int i = tile0 + warp * RPW + r;
        lse2[r] = i < in.nq ? lse[(long long)(in.q0 + i) * H + h] * LOG2E : INFINITY;
        mu[r] = 0.f;
#pragma unroll
        for (int t = 0; t < DL; t++) acc[r][t] = 0.f;
    }
    const float* Qw = Qs + warp * RPW * SD;
    const float* TQw = TQs + warp * RPW * SD;
    for (int kt = 0; kt < in.nk; kt += BK) {
        __syncthreads();
        load_tile(Ks, SD, k, in.k0, kt, in.nk, H, h, D);
        if (tk) load_tile(TKs, SD, tk, in.k0, kt, in.nk, H, h, D);
        load_tile(Vs, SV, v, in.k0, kt, in.nk, H, h, Dv);
        if (tv) load_tile(TVs, SV, tv, in.k0, kt, in.nk, H, h, Dv);
        __syncthreads();
        float s[RPW], ds[RPW];
#pragma unroll
        for (int r = 0; r < RPW; r++) s[r] = ds[r] = 0.f;
        for (int c = 0; c < D; c++) {
            float kc = Ks[lane * SD + c];
            float tkc = tk ? TKs[lane * SD + c] : 0.f;
#pragma unroll
            for (int r = 0; r < RPW; r++) {
                float qc = Qw[r * SD + c];
                s[r] += qc * kc;
                ds[r] += qc * tkc + (tq ? TQw[r * SD + c] * kc : 0.f);
            }
        }
        bool valid = kt + lane < in.nk;
#pragma unroll
        for (int r = 0; r < RPW; r++) {
            float p = valid ? exp2f(s[r] * scale2 - lse2[r]) : 0.f;
            float pds = p * ds[r] * scale;
            mu[r] += pds;
            for (int j = 0; j < 32; j++) {
                float a = __shfl_sync(0xffffffffu, pds, j);
                float b = __shfl_sync(0xffffffffu, p, j);
#pragma unroll
                for (int t = 0; t < DL; t++) {
                    int c = lane + 32 * t;
                    if (c < Dv) acc[r][t] += a * Vs[j * SV + c] + (tv ? b * TVs[j * SV + c] : 0.f);
                }
            }
        }
    }
#pragma unroll
    for (int r = 0; r < RPW; r++) {
        float m = vf_warp_sum(mu[r]);
        int i = tile0 + warp * RPW + r;
        if (i >= in.nq) continue;
        long long row = (long long)(in.q0 + i) * H + h;
#pragma unroll
        for (int t = 0; t < DL; t++) {
            int c = lane + 32 * t;
            if (c < Dv) tout[row * Dv + c] = acc[r][t] - m * out[row * Dv + c];
        }
    }
}

inline int chunks(int d, int dv) {
    int w = d > dv ? d : dv;
    int n = (w + 31) / 32;
    return n <= 1 ? 1 : n <= 2 ? 2 : n <= 4 ? 4 : 8;
}

// Raises a kernel's dynamic shared-memory limit, once per device, to what its largest tile set (head dims
// VF_ATTN_MAX_HEAD_DIM) needs; the attribute is only a cap, the launch's own size sets the occupancy.
template <typename K>
int prepare(K kernel, size_t bytes, size_t maxBytes, unsigned long long& done) {
    if (bytes <= 48 * 1024) return 0;
    return vf_smem_attribute((const void*)kernel, maxBytes, done);
}
constexpr size_t MAXW = VF_ATTN_MAX_HEAD_DIM + 1;

#define VF_DISPATCH_DL(DLV, ...)             \
    switch (DLV) {                            \
        case 1: { constexpr int DL = 1; __VA_ARGS__; } break; \
        case 2: { constexpr int DL = 2; __VA_ARGS__; } break; \
        case 4: { constexpr int DL = 4; __VA_ARGS__; } break; \
        default: { constexpr int DL = 8; __VA_ARGS__; } break; \
    }

}  // namespace

extern "C" {

int vf_attention_forward(long long q, long long k, long long v, long long out, long long lse, const int* offsets,
                         long long devOffsets, int batch, int heads, int d, int dv, int maxQ, float scale,
                         long long stream) {
    if (d > VF_ATTN_MAX_HEAD_DIM || dv > VF_ATTN_MAX_HEAD_DIM || d < 1 || dv < 1) return (int)cudaErrorInvalidValue;
    if (batch == 0 || maxQ == 0 || heads == 0) return 0;
    VfAttnOffsets off;
    if (int e = vf_attn_offsets(off, offsets, devOffsets, batch)) return e;
    dim3 grid((maxQ + BQ - 1) / BQ, heads, batch);
    size_t smem = sizeof(float) * ((size_t)BQ * (d + 1) + (size_t)BK * (d + 1) + (size_t)BK * (dv + 1));
    cudaStream_t st = VF_STREAM(stream);
    int err = 0;
    VF_DISPATCH_DL(chunks(d, dv), {
        static unsigned long long ready = 0;
        if ((err = prepare(fwd_kernel<DL>, smem, sizeof(float) * (BQ + 2 * BK) * MAXW, ready))) return err;
        fwd_kernel<DL><<<grid, THREADS, smem, st>>>(VF_PTR(const float, q), VF_PTR(const float, k), VF_PTR(const float, v),
                                                    VF_PTR(float, out), VF_PTR(float, lse), off, heads, d, dv,
                                                    scale * LOG2E);
    });
    return vf_launch_status();
}

int vf_attention_backward(long long dout, long long q, long long k, long long v, long long out, long long lse,
                          long long dq, long long dk, long long dv, long long delta, const int* offsets,
                          long long devOffsets, int batch, int heads, int d, int dvDim, long long nqTotal, int maxQ,
                          int maxK, float scale, long long stream) {
    if (d > VF_ATTN_MAX_HEAD_DIM || dvDim > VF_ATTN_MAX_HEAD_DIM || d < 1 || dvDim < 1) return (int)cudaErrorInvalidValue;
    if (batch == 0 || heads == 0) return 0;
    VfAttnOffsets off;
    if (int e = vf_attn_offsets(off, offsets, devOffsets, batch)) return e;
    cudaStream_t st = VF_STREAM(stream);
    int err = 0;
    long long rows = nqTotal * heads;
    if (rows > 0) {
        delta_kernel<<<vf_blocks(rows, 8, 1u << 31), 256, 0, st>>>(VF_PTR(const float, dout), VF_PTR(const float, out),
                                                               VF_PTR(float, delta), rows, dvDim);
        if ((err = vf_launch_status())) return err;
    }
    float scale2 = scale * LOG2E;
    if (maxQ > 0) {
        dim3 grid((maxQ + BQ - 1) / BQ, heads, batch);
        size_t smem = sizeof(float) * (((size_t)BQ + BK) * (d + 1) + ((size_t)BQ + BK) * (dvDim + 1));
        VF_DISPATCH_DL(chunks(d, dvDim), {
            static unsigned long long ready = 0;
            if ((err = prepare(dq_kernel<DL>, smem, sizeof(float) * 2 * (BQ + BK) * MAXW, ready))) return err;
            dq_kernel<DL><<<grid, THREADS, smem, st>>>(VF_PTR(const float, dout), VF_PTR(const float, q), VF_PTR(const float, k),
                                                       VF_PTR(const float, v), VF_PTR(const float, lse), VF_PTR(const float, delta),
                                                       VF_PTR(float, dq), off, heads, d, dvDim, scale, scale2);
        });
        if ((err = vf_launch_status())) return err;
    }
    if (maxK > 0) {
        dim3 grid((maxK + BK - 1) / BK, heads, batch);
        size_t smem = sizeof(float) * (((size_t)BQ + BK) * (d + 1) + ((size_t)BQ + BK) * (dvDim + 1) + 2 * BQ);
        VF_DISPATCH_DL(chunks(d, dvDim), {
            static unsigned long long ready = 0;
            if ((err = prepare(dkv_kernel<DL>, smem, sizeof(float) * (2 * (BQ + BK) * MAXW + 2 * BQ), ready))) return err;
            dkv_kernel<DL><<<grid, THREADS, smem, st>>>(VF_PTR(const float, dout), VF_PTR(const float, q), VF_PTR(const float, k),
                                                        VF_PTR(const float, v), VF_PTR(const float, lse), VF_PTR(const float, delta),
                                                        VF_PTR(float, dk), VF_PTR(float, dv), off, heads, d, dvDim, scale, scale2);
        });
        if ((err = vf_launch_status())) return err;
    }
    return 0;
}

int vf_attention_jvp(long long q, long long k, long long v, long long out, long long lse, long long tq, long long tk,
                     long long tv, long long tout, const int* offsets, long long devOffsets, int batch, int heads,
                     int d, int dv, int maxQ, float scale, long long stream) {
    if (d > VF_ATTN_MAX_HEAD_DIM || dv > VF_ATTN_MAX_HEAD_DIM || d < 1 || dv < 1) return (int)cudaErrorInvalidValue;
    if (batch == 0 || maxQ == 0 || heads == 0) return 0;
    VfAttnOffsets off;
    if (int e = vf_attn_offsets(off, offsets, devOffsets, batch)) return e;
    dim3 grid((maxQ + BQ - 1) / BQ, heads, batch);
    size_t smem = sizeof(float) * (((size_t)2 * BQ + 2 * BK) * (d + 1) + (size_t)2 * BK * (dv + 1));
    cudaStream_t st = VF_STREAM(stream);
    int err = 0;
    VF_DISPATCH_DL(chunks(d, dv), {
        static unsigned long long ready = 0;
        if ((err = prepare(jvp_kernel<DL>, smem, sizeof(float) * (2 * BQ + 4 * BK) * MAXW, ready))) return err;
        jvp_kernel<DL><<<grid, THREADS, smem, st>>>(VF_PTR(const float, q), VF_PTR(const float, k), VF_PTR(const float, v),
                                                    VF_PTR(const float, out), VF_PTR(const float, lse), VF_PTR(const float, tq),
                                                    VF_PTR(const float, tk), VF_PTR(const float, tv), VF_PTR(float, tout),
                                                    off, heads, d, dv, scale, scale * LOG2E);
    });
    return vf_launch_status();
}

}  // extern "C"
