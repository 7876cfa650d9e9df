// Flash-style attention forward for bf16/f16 inputs on tensor cores (wmma, sm_80+): one block of 4 warps per
// (64-query tile, head, instance), each warp owning 16 query rows. Per 64-key tile a warp forms its 16x64 score
// block with mma (f32 accumulation), updates the running max/sum per row (online softmax), rounds the
// probabilities to the input type and accumulates P V with mma into an f32 output block kept in shared memory
// (wmma fragments have no defined element-to-row map, so the per-row rescaling happens there). Output and lse are
// f32, as the reference's; the only extra rounding is P's, about 2^-8 (bf16) or 2^-11 (f16) relative.
#include "vf_common.cuh"
#include <mma.h>

namespace {

using namespace nvcuda;

constexpr int WARPS = 4, ROWS = 16, BQ = WARPS * ROWS, BK = 64, THREADS = WARPS * 32;
constexpr float LOG2E = 1.4426950408889634f;
constexpr float LN2 = 0.6931471805599453f;

template <typename T> __device__ __forceinline__ T to_t(float v);
template <> __device__ __forceinline__ __half to_t<__half>(float v) { return __float2half_rn(v); }
template <> __device__ __forceinline__ __nv_bfloat16 to_t<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }

// Rows [start, start+64) of head h from [N, H, D] (16-bit elements) into a dense [64][D] tile; missing rows are
// zero. 16-byte copies: rows are D * 2 = 128 or 256 bytes and the host passes 16-byte aligned tensors.
template <int D>
__device__ __forceinline__ void load_rows(uint4* tile, const unsigned short* src, int base, int start, int n, int H,
                                          int h) {
    constexpr int W = D / 8;  // 16-byte words per row
    for (int e = threadIdx.x; e < 64 * W; e += blockDim.x) {
        int r = e / W, c = e - r * W;
        int i = start + r;
        tile[e] = i < n ? reinterpret_cast<const uint4*>(src + ((long long)(base + i) * H + h) * D)[c] : make_uint4(0, 0, 0, 0);
    }
}

template <typename T, int D>
__global__ void __launch_bounds__(THREADS) flash_fwd(const T* __restrict__ q, const T* __restrict__ k,
                                                     const T* __restrict__ v, float* __restrict__ out,
                                                     float* __restrict__ lse, const int* cuQ, const int* cuK, int H,
                                                     float scale2) {
    extern __shared__ __align__(128) unsigned char smem[];
    int b = blockIdx.z, h = blockIdx.y;
    int q0 = cuQ[b], nq = cuQ[b + 1] - q0, k0 = cuK[b], nk = cuK[b + 1] - k0;
    int tile0 = blockIdx.x * BQ;
    if (tile0 >= nq) return;
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;

    T* Qs = reinterpret_cast<T*>(smem);                     // [64][D]
    T* Ks = Qs + BQ * D;                                    // [64][D]
    T* Vs = Ks + BK * D;                                    // [64][D]
    float* Ss = reinterpret_cast<float*>(Vs + BK * D);      // per warp [16][64]
    float* Os = Ss + WARPS * ROWS * BK;                     // per warp [16][D]
    T* Ps = reinterpret_cast<T*>(Os + WARPS * ROWS * D);    // per warp [16][64]
    float* S = Ss + warp * ROWS * BK;
    float* O = Os + warp * ROWS * D;
    T* P = Ps + warp * ROWS * BK;

    load_rows<D>(reinterpret_cast<uint4*>(Qs), reinterpret_cast<const unsigned short*>(q), q0, tile0, nq, H, h);
    for (int e = lane; e < ROWS * D; e += 32) O[e] = 0.f;
    __syncwarp();

    // every lane holds the running max and sum of all 16 rows (warp-uniform values); lane l owns score columns
    // l and l + 32 and output columns l, l + 32, ..., so shared-memory accesses are conflict-free
    float mrow[ROWS], lrow[ROWS];
#pragma unroll
    for (int r = 0; r < ROWS; r++) { mrow[r] = -INFINITY; lrow[r] = 0.f; }
    const T* Qw = Qs + warp * ROWS * D;

    for (int kt = 0; kt < nk; kt += BK) {
        __syncthreads();
        load_rows<D>(reinterpret_cast<uint4*>(Ks), reinterpret_cast<const unsigned short*>(k), k0, kt, nk, H, h);
        load_rows<D>(reinterpret_cast<uint4*>(Vs), reinterpret_cast<const unsigned short*>(v), k0, kt, nk, H, h);
        __syncthreads();

        // S = Q_w K^T (16 x 64)
#pragma unroll
        for (int nt = 0; nt < BK / 16; nt++) {
            wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
            wmma::fill_fragment(acc, 0.f);
#pragma unroll
            for (int kk = 0; kk < D / 16; kk++) {
                wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> a;
                wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::col_major> bt;
                wmma::load_matrix_sync(a, Qw + kk * 16, D);
                wmma::load_matrix_sync(bt, Ks + nt * 16 * D + kk * 16, D);
                wmma::mma_sync(acc, a, bt, acc);
            }
            wmma::store_matrix_sync(S + nt * 16, acc, BK, wmma::mem_row_major);
        }
        __syncwarp();

        // online softmax, row by row
        bool valid0 = kt + lane < nk, valid1 = kt + lane + 32 < nk;
#pragma unroll
        for (int r = 0; r < ROWS; r++) {
            float s0 = valid0 ? S[r * BK + lane] * scale2 : -INFINITY;
            float s1 = valid1 ? S[r * BK + lane + 32] * scale2 : -INFINITY;
            float mn = fmaxf(mrow[r], vf_warp_max(fmaxf(s0, s1)));  // finite: key kt is valid
            float alpha = exp2f(mrow[r] - mn);
            T p0 = to_t<T>(exp2f(s0 - mn)), p1 = to_t<T>(exp2f(s1 - mn));
            P[r * BK + lane] = p0;
            P[r * BK + lane + 32] = p1;
            // the sum of the rounded weights keeps the output normalized
            lrow[r] = lrow[r] * alpha + vf_warp_sum(vf_to_float<T>(p0) + vf_to_float<T>(p1));
            mrow[r] = mn;
            for (int c = lane; c < D; c += 32) O[r * D + c] *= alpha;
        }
        __syncwarp();

        // O_w += P V (16 x D)
#pragma unroll
        for (int nt = 0; nt < D / 16; nt++) {
            wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
            wmma::load_matrix_sync(acc, O + nt * 16, D, wmma::mem_row_major);
#pragma unroll
            for (int kk = 0; kk < BK / 16; kk++) {
                wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> a;
                wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::row_major> bv;
                wmma::load_matrix_sync(a, P + kk * 16, BK);
                wmma::load_matrix_sync(bv, Vs + kk * 16 * D + nt * 16, D);
                wmma::mma_sync(acc, a, bv, acc);
            }
            wmma::store_matrix_sync(O + nt * 16, acc, D, wmma::mem_row_major);
        }
        __syncwarp();
    }

#pragma unroll
    for (int r = 0; r < ROWS; r++) {
        int i = tile0 + warp * ROWS + r;
        if (i >= nq) continue;
        long long g = (long long)(q0 + i) * H + h;
        bool empty = nk == 0;  // no keys: zero output, lse -inf (the reference's convention)
        float inv = empty ? 0.f : 1.f / lrow[r];
        for (int c = lane; c < D; c += 32) out[g * D + c] = O[r * D + c] * inv;
        if (lane == 0) lse[g] = empty ? -INFINITY : (mrow[r] + log2f(lrow[r])) * LN2;
    }
}

template <typename T, int D>
int launch(long long q, long long k, long long v, long long out, long long lse, long long cuQ, long long cuK, int batch,
           int heads, int maxQ, float scale, cudaStream_t st) {
    size_t smem = sizeof(T) * (size_t)(BQ + 2 * BK) * D + sizeof(float) * (size_t)WARPS * ROWS * (BK + D) +
                  sizeof(T) * (size_t)WARPS * ROWS * BK;
    cudaError_t e = cudaFuncSetAttribute(flash_fwd<T, D>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
    if (e != cudaSuccess) return (int)e;
    dim3 grid((maxQ + BQ - 1) / BQ, heads, batch);
    flash_fwd<T, D><<<grid, THREADS, smem, st>>>(VF_PTR(const T, q), VF_PTR(const T, k), VF_PTR(const T, v),
                                                  VF_PTR(float, out), VF_PTR(float, lse), VF_PTR(const int, cuQ),
                                                  VF_PTR(const int, cuK), heads, scale * LOG2E);
    return vf_launch_status();
}

}  // namespace

extern "C" {

int vf_flash_attention_forward(long long q, long long k, long long v, int dtype, long long out, long long lse,
                               long long cuQ, long long cuK, int batch, int heads, int d, int maxQ, float scale,
                               long long stream) {
    if (batch == 0 || maxQ == 0 || heads == 0) return 0;
    cudaStream_t st = VF_STREAM(stream);
    if (dtype == VF_BF16) {
        if (d == 64) return launch<__nv_bfloat16, 64>(q, k, v, out, lse, cuQ, cuK, batch, heads, maxQ, scale, st);
        if (d == 128) return launch<__nv_bfloat16, 128>(q, k, v, out, lse, cuQ, cuK, batch, heads, maxQ, scale, st);
    } else if (dtype == VF_F16) {
        if (d == 64) return launch<__half, 64>(q, k, v, out, lse, cuQ, cuK, batch, heads, maxQ, scale, st);
        if (d == 128) return launch<__half, 128>(q, k, v, out, lse, cuQ, cuK, batch, heads, maxQ, scale, st);
    }
    return (int)cudaErrorInvalidValue;
}

}  // extern "C"
