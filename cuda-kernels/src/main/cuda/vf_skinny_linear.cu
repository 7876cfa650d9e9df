// Linear layers with a few input rows (m <= 8: adaLN modulations and timestep MLPs when sampling): y [m, n] =
// x [m, k] W^T + bias with bf16 / f16 x and W and f32 accumulation. Such a product is a pass over W; cuBLASLt runs it
// as a GEMM tile with all but m rows empty and read TRELLIS-large's 12.6 MB adaLN weights at under half the H100's
// memory bandwidth. Here x sits in shared memory as f32, each warp takes two rows of W at a time and each lane loads
// all of its 16-byte chunks of them before any arithmetic (several loads in flight), then the warp sums its lanes.
// The bias has y's type, as in the cuBLASLt epilogue this stands in for (f32, or rounded to the 16-bit y): acc + bias
// in f32, rounded once. One launch also takes a group of such layers on the same x (every block's adaLN of a
// TRELLIS flow: 24 passes of 12.6 MB that each spent a third of their time starting and draining).
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include "vf_common.cuh"
#include "voxflow_kernels.h"

namespace {

constexpr int kWarps = 8, kCols = 2, kMaxRows = 8, kMaxGroups = 32;
constexpr long long kMaxStaged = 12288;  // f32 elements of x in shared memory (48 KB)

// The layers of one launch: blockIdx.y picks one; y[g] is [m, n] dense.
template <typename T, typename OutT> struct Group {
    const T* w[kMaxGroups];
    const OutT* bias[kMaxGroups];
    OutT* y[kMaxGroups];
};

template <typename T> __device__ __forceinline__ void unpack8(const uint4& u, float (&f)[8]) {
    const T* e = reinterpret_cast<const T*>(&u);
#pragma unroll
    for (int i = 0; i < 8; i++) f[i] = vf_to_float<T>(e[i]);
}

// M: rows of x rounded up to a power of two (rows past m are zeros and write nothing).
template <typename T, typename OutT, int M>
__global__ void __launch_bounds__(kWarps * 32) skinny_linear_kernel(const T* __restrict__ x, long long ldx,
                                                                   const __grid_constant__ Group<T, OutT> grp, int m,
                                                                   int n, int k) {
    vf_pdl_wait();  // launched with vf_launch
    vf_pdl_trigger();
    const T* __restrict__ w = grp.w[blockIdx.y];
    const OutT* __restrict__ bias = grp.bias[blockIdx.y];
    OutT* __restrict__ y = grp.y[blockIdx.y];
    extern __shared__ float4 xs4[];
    float* xs = reinterpret_cast<float*>(xs4);  // [M][k]
    for (int i = threadIdx.x; i < M * k; i += blockDim.x) {
        const int r = i / k, c = i - r * k;
        xs[i] = r < m ? vf_to_float<T>(x[r * ldx + c]) : 0.f;
    }
    __syncthreads();
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const long long step = (long long)gridDim.x * kWarps * kCols;
    for (long long n0 = ((long long)blockIdx.x * kWarps + warp) * kCols; n0 < n; n0 += step) {
        float acc[kCols][M];
#pragma unroll
        for (int j = 0; j < kCols; j++)
#pragma unroll
            for (int r = 0; r < M; r++) acc[j][r] = 0.f;
        // lane chunks c = lane + 32 i of 8 elements; four at a time per row of W
        for (int c0 = lane; c0 * 8 < k; c0 += 128) {
            uint4 wr[kCols][4];
#pragma unroll
            for (int j = 0; j < kCols; j++)
#pragma unroll
                for (int u = 0; u < 4; u++) {
                    const int c = c0 + 32 * u;
                    wr[j][u] = n0 + j < n && c * 8 < k
                                   ? *reinterpret_cast<const uint4*>(w + (n0 + j) * (long long)k + c * 8)
                                   : make_uint4(0, 0, 0, 0);
                }
#pragma unroll
            for (int u = 0; u < 4; u++) {
                const int c = c0 + 32 * u;
                if (c * 8 >= k) break;
#pragma unroll
                for (int r = 0; r < M; r++) {
                    const float4 a = xs4[(r * k + c * 8) / 4], b = xs4[(r * k + c * 8) / 4 + 1];
                    const float xv[8] = {a.x, a.y, a.z, a.w, b.x, b.y, b.z, b.w};
#pragma unroll
                    for (int j = 0; j < kCols; j++) {
                        float wf[8];
                        unpack8<T>(wr[j][u], wf);
#pragma unroll
                        for (int e = 0; e < 8; e++) acc[j][r] = fmaf(wf[e], xv[e], acc[j][r]);
                    }
                }
            }
        }
#pragma unroll
        for (int j = 0; j < kCols; j++)
#pragma unroll
            for (int r = 0; r < M; r++) acc[j][r] = vf_warp_sum(acc[j][r]);
        // lane j M + r writes y[r, n0 + j]
#pragma unroll
        for (int j = 0; j < kCols; j++)
#pragma unroll
            for (int r = 0; r < M; r++)
                if (lane == j * M + r && r < m && n0 + j < n) {
                    const float b = bias ? vf_to_float<OutT>(bias[n0 + j]) : 0.f;
                    y[r * (long long)n + n0 + j] = vf_from_float<OutT>(acc[j][r] + b);
                }
    }
}

template <typename T, typename OutT>
int launch(long long x, long long ldx, const long long* w, const long long* bias, long long y, int groups, int m, int n,
           int k, cudaStream_t st) {
    const int rowsUp = m <= 1 ? 1 : m <= 2 ? 2 : m <= 4 ? 4 : 8;
    const size_t smem = (size_t)rowsUp * k * sizeof(float);
    const unsigned blocks = vf_blocks(n, kWarps * kCols, 4096);
    for (int g0 = 0; g0 < groups; g0 += kMaxGroups) {
        const int gn = groups - g0 < kMaxGroups ? groups - g0 : kMaxGroups;
        Group<T, OutT> grp{};
        for (int g = 0; g < gn; g++) {
            grp.w[g] = VF_PTR(const T, w[g0 + g]);
            grp.bias[g] = bias ? VF_PTR(const OutT, bias[g0 + g]) : nullptr;
            grp.y[g] = VF_PTR(OutT, y) + (long long)(g0 + g) * m * n;
        }
        const dim3 grid(blocks, gn);
        int e = 0;
#define VF_SK(M) e = vf_launch(skinny_linear_kernel<T, OutT, M>, grid, kWarps * 32, smem, st, VF_PTR(const T, x), ldx, grp, m, n, k)
        if (rowsUp == 1) VF_SK(1);
        else if (rowsUp == 2) VF_SK(2);
        else if (rowsUp == 4) VF_SK(4);
        else VF_SK(8);
#undef VF_SK
        if (e) return e;
    }
    return 0;
}

}  // namespace

extern "C" {

int vf_linear_skinny_group(long long x, long long ldx, const long long* w, int dtype, const long long* bias, long long y,
                           int outType, int groups, int m, int n, int k, long long stream) {
    if (groups < 1 || m < 1 || m > kMaxRows || n < 1 || k < 8 || k % 8 != 0 || ldx < k) return -1;
    if ((long long)(m <= 1 ? 1 : m <= 2 ? 2 : m <= 4 ? 4 : 8) * k > kMaxStaged) return -1;
    for (int g = 0; g < groups; g++)
        if (w[g] % 16 != 0) return -1;
    if (dtype != VF_BF16 && dtype != VF_F16) return -1;
    if (outType != VF_F32 && outType != dtype) return -1;
    cudaStream_t st = VF_STREAM(stream);
    if (dtype == VF_BF16) {
        if (outType == VF_F32) return launch<__nv_bfloat16, float>(x, ldx, w, bias, y, groups, m, n, k, st);
        return launch<__nv_bfloat16, __nv_bfloat16>(x, ldx, w, bias, y, groups, m, n, k, st);
    }
    if (outType == VF_F32) return launch<__half, float>(x, ldx, w, bias, y, groups, m, n, k, st);
    return launch<__half, __half>(x, ldx, w, bias, y, groups, m, n, k, st);
}

int vf_linear_skinny(long long x, long long ldx, long long w, int dtype, long long bias, long long y, int outType, int m,
                     int n, int k, long long stream) {
    return vf_linear_skinny_group(x, ldx, &w, dtype, bias ? &bias : nullptr, y, outType, 1, m, n, k, stream);
}

}  // extern "C"
