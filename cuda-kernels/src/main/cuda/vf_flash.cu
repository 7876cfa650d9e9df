// Flash attention forward for bf16/f16 q, k, v (FlashAttention-2 design, mma.sync tensor cores, sm_80+), head dims
// 32, 64 and 128 (D == Dv); lse is f32, out f32 or the input type (rounded once, from the normalized f32 row: the
// input of the next GEMM under autocast). q, k and v are token rows with their own token strides (slices of packed
// qkv / kv projections are read in place).
//
// One block of NW warps per (BQ-query tile, head, instance); each warp owns MT * 16 query rows (MT m16 tiles, so
// every K / V fragment read from shared memory feeds MT mma's). K and V tiles of BK keys stream through a
// double-buffered, XOR-swizzled shared ring filled by cp.async (tile j + 1 loads while tile j computes); ldmatrix
// reads are bank-conflict free. Per key tile a warp computes S = Q K^T into registers (Q fragments held in
// registers for D <= 64, re-read from shared memory for D == 128 to stay within 255 registers), masks keys past the
// instance's end, updates the running row max / sum (online softmax: exp2 of pre-scaled scores, row reductions over
// the 4 lanes of a quad), and feeds the probabilities, rounded to the input type, straight from the S accumulator
// layout into the A operand of the P V mma (ldmatrix.trans gives V's B operand). The row sum uses the unrounded f32
// probabilities; P's rounding (2^-8 relative for bf16, 2^-11 for f16) is the only error beyond f32 arithmetic.
// Variable-length instances come from the offsets in the kernel parameters; an instance without keys gets zero
// output and lse -inf (the reference's convention).
#include "vf_attn_common.cuh"
#include "vf_flash_sm90.cuh"

namespace {

using namespace vfa;

// MT m16 tiles per warp, NW warps, BK keys per tile, Q fragments in registers or re-read from shared memory.
template <int MT_, int NW_, int BK_, bool QREG_> struct FwdShape {
    static constexpr int MT = MT_, NW = NW_, BK = BK_;
    static constexpr bool QREG = QREG_;
};
// (the VF_F64_* / VF_F128_* macros exist for tuning builds of bench/flash_bench.cu)
#ifndef VF_F64_MT
#define VF_F64_MT 2
#define VF_F64_NW 4
#define VF_F64_BK 64
#endif
#ifndef VF_F128_MT
#define VF_F128_MT 2
#define VF_F128_NW 4
#define VF_F128_BK 64
#define VF_F128_Q false
#endif
template <int D> struct FwdCfg;
template <> struct FwdCfg<32> : FwdShape<2, 4, 64, true> {};
template <> struct FwdCfg<64> : FwdShape<VF_F64_MT, VF_F64_NW, VF_F64_BK, true> {};
template <> struct FwdCfg<128> : FwdShape<VF_F128_MT, VF_F128_NW, VF_F128_BK, VF_F128_Q> {};

template <int D> constexpr int fwd_threads() { return FwdCfg<D>::NW * 32; }
template <int D> constexpr int fwd_bq() { return FwdCfg<D>::NW * 16 * FwdCfg<D>::MT; }
template <int D> constexpr int fwd_min_blocks() { return FwdCfg<D>::NW <= 4 ? 2 : 1; }
template <int D> constexpr size_t fwd_smem() { return 16u * (D / 8) * (fwd_bq<D>() + 4 * FwdCfg<D>::BK); }

template <typename T, int D, typename OutT>
__global__ void __launch_bounds__(fwd_threads<D>(), fwd_min_blocks<D>())
    flash_fwd(const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v, OutT* __restrict__ out,
              float* __restrict__ lse, const __grid_constant__ VfAttnOffsets off, int H, float scale2, int qStride,
              int kStride, int vStride) {
    using C = FwdCfg<D>;
    constexpr int MT = C::MT, NW = C::NW, BK = C::BK, BQ = NW * 16 * MT, CH = D / 8, THREADS = NW * 32;
    constexpr int KS = D / 16;  // k-steps over the head dim
    extern __shared__ __align__(128) uint4 smem[];
    uint4* Qs = smem;              // [BQ][CH]
    uint4* Ks = Qs + BQ * CH;      // 2 x [BK][CH]
    uint4* Vs = Ks + 2 * BK * CH;  // 2 x [BK][CH]

    const int b = blockIdx.z, h = blockIdx.y;
    const int q0 = off.q(b), nq = off.q(b + 1) - q0, k0 = off.k(b), nk = off.k(b + 1) - k0;
    const int tile0 = blockIdx.x * BQ;
    if (tile0 >= nq) return;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    // token strides in 16-byte units
    const long long qs = qStride / 8, ks = kStride / 8, vs = vStride / 8;
    const uint4* qsrc = reinterpret_cast<const uint4*>(q) + (long long)q0 * qs + h * CH;
    const uint4* ksrc = reinterpret_cast<const uint4*>(k) + (long long)k0 * ks + h * CH;
    const uint4* vsrc = reinterpret_cast<const uint4*>(v) + (long long)k0 * vs + h * CH;
    const int ntiles = (nk + BK - 1) / BK;

    load_tile<BQ, CH, THREADS>(Qs, qsrc, qs, tile0, nq);
    if (ntiles > 0) {
        load_tile<BK, CH, THREADS>(Ks, ksrc, ks, 0, nk);
        load_tile<BK, CH, THREADS>(Vs, vsrc, vs, 0, nk);
    }
    cp_async_commit();
    cp_async_wait_all();
    __syncthreads();

    const int wrow = warp * 16 * MT;  // the warp's first row in the tile
    unsigned qf[C::QREG ? MT : 1][C::QREG ? KS : 1][4];
    if constexpr (C::QREG) {
#pragma unroll
        for (int mt = 0; mt < MT; mt++)
#pragma unroll
            for (int kk = 0; kk < KS; kk++) ldsm_x4(qf[mt][kk], Qs + swz<CH>(wrow + mt * 16 + (lane & 15), 2 * kk + (lane >> 4)));
    }

    float o[MT][D / 8][4];
    float mrow[MT][2], lrow[MT][2];
#pragma unroll
    for (int mt = 0; mt < MT; mt++) {
#pragma unroll
        for (int r = 0; r < 2; r++) { mrow[mt][r] = -INFINITY; lrow[mt][r] = 0.f; }
#pragma unroll
        for (int dt = 0; dt < D / 8; dt++)
#pragma unroll
            for (int e = 0; e < 4; e++) o[mt][dt][e] = 0.f;
    }

    for (int j = 0; j < ntiles; j++) {
        if (j + 1 < ntiles) {
            int st = (j + 1) & 1;
            load_tile<BK, CH, THREADS>(Ks + st * BK * CH, ksrc, ks, (j + 1) * BK, nk);
            load_tile<BK, CH, THREADS>(Vs + st * BK * CH, vsrc, vs, (j + 1) * BK, nk);
        }
        cp_async_commit();
        const uint4* Kt = Ks + (j & 1) * BK * CH;
        const uint4* Vt = Vs + (j & 1) * BK * CH;

        // S = Q K^T
        float s[MT][BK / 8][4];
#pragma unroll
        for (int mt = 0; mt < MT; mt++)
#pragma unroll
            for (int nt = 0; nt < BK / 8; nt++)
#pragma unroll
                for (int e = 0; e < 4; e++) s[mt][nt][e] = 0.f;
#pragma unroll
        for (int kk = 0; kk < KS; kk++) {
            unsigned a[MT][4];
#pragma unroll
            for (int mt = 0; mt < MT; mt++) {
                if constexpr (C::QREG) {
#pragma unroll
                    for (int e = 0; e < 4; e++) a[mt][e] = qf[mt][kk][e];
                } else {
                    ldsm_x4(a[mt], Qs + swz<CH>(wrow + mt * 16 + (lane & 15), 2 * kk + (lane >> 4)));
                }
            }
#pragma unroll
            for (int np = 0; np < BK / 16; np++) {
                unsigned bk[4];
                ldsm_x4(bk, Kt + swz<CH>(np * 16 + (lane & 7) + ((lane >> 4) << 3), 2 * kk + ((lane >> 3) & 1)));
#pragma unroll
                for (int mt = 0; mt < MT; mt++) {
                    mma<T>(s[mt][2 * np], a[mt], bk[0], bk[1]);
                    mma<T>(s[mt][2 * np + 1], a[mt], bk[2], bk[3]);
                }
            }
        }

        // keys past the instance's end (last tile only)
        if ((j + 1) * BK > nk) {
#pragma unroll
            for (int nt = 0; nt < BK / 8; nt++)
#pragma unroll
                for (int e = 0; e < 4; e++) {
                    int col = j * BK + nt * 8 + 2 * (lane & 3) + (e & 1);
                    if (col >= nk)
#pragma unroll
                        for (int mt = 0; mt < MT; mt++) s[mt][nt][e] = -INFINITY;
                }
        }

        // online softmax; thread rows: g = lane / 4 (elements 0, 1) and g + 8 (elements 2, 3) of each m tile
#pragma unroll
        for (int mt = 0; mt < MT; mt++)
#pragma unroll
            for (int r = 0; r < 2; r++) {
                float mx = -INFINITY;
#pragma unroll
                for (int nt = 0; nt < BK / 8; nt++) mx = fmaxf(mx, fmaxf(s[mt][nt][2 * r], s[mt][nt][2 * r + 1]));
                mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
                mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
                float mnew = fmaxf(mrow[mt][r], mx * scale2);  // finite: key j * BK is valid
                float alpha = ex2(mrow[mt][r] - mnew);
                mrow[mt][r] = mnew;
                float sum = 0.f;
#pragma unroll
                for (int nt = 0; nt < BK / 8; nt++)
#pragma unroll
                    for (int e = 2 * r; e < 2 * r + 2; e++) {
                        float p = ex2(fmaf(s[mt][nt][e], scale2, -mnew));
                        s[mt][nt][e] = p;
                        sum += p;
                    }
                lrow[mt][r] = lrow[mt][r] * alpha + sum;  // per-lane partial sum; the quad adds them up at the end
#pragma unroll
                for (int dt = 0; dt < D / 8; dt++) {
                    o[mt][dt][2 * r] *= alpha;
                    o[mt][dt][2 * r + 1] *= alpha;
                }
            }

        // O += P V: the S accumulators of key columns 16 kk .. 16 kk + 15 are P's A fragment for k-step kk
#pragma unroll
        for (int kk = 0; kk < BK / 16; kk++) {
            unsigned pa[MT][4];
#pragma unroll
            for (int mt = 0; mt < MT; mt++) {
                pa[mt][0] = pack2<T>(s[mt][2 * kk][0], s[mt][2 * kk][1]);
                pa[mt][1] = pack2<T>(s[mt][2 * kk][2], s[mt][2 * kk][3]);
                pa[mt][2] = pack2<T>(s[mt][2 * kk + 1][0], s[mt][2 * kk + 1][1]);
                pa[mt][3] = pack2<T>(s[mt][2 * kk + 1][2], s[mt][2 * kk + 1][3]);
            }
#pragma unroll
            for (int dp = 0; dp < D / 16; dp++) {
                unsigned bv[4];
                ldsm_x4_t(bv, Vt + swz<CH>(kk * 16 + (lane & 15), 2 * dp + (lane >> 4)));
#pragma unroll
                for (int mt = 0; mt < MT; mt++) {
                    mma<T>(o[mt][2 * dp], pa[mt], bv[0], bv[1]);
                    mma<T>(o[mt][2 * dp + 1], pa[mt], bv[2], bv[3]);
                }
            }
        }
        cp_async_wait_all();  // tile j + 1 has landed ...
        __syncthreads();      // ... for every thread, and nobody reads tile j's buffers any more
    }

#pragma unroll
    for (int mt = 0; mt < MT; mt++)
#pragma unroll
        for (int r = 0; r < 2; r++) {
            float l = lrow[mt][r];
            l += __shfl_xor_sync(0xffffffffu, l, 1);
            l += __shfl_xor_sync(0xffffffffu, l, 2);
            int i = tile0 + wrow + mt * 16 + (lane >> 2) + 8 * r;
            if (i >= nq) continue;
            long long row = (long long)(q0 + i) * H + h;
            float inv = nk == 0 ? 0.f : 1.f / l;
            OutT* orow = out + row * D + 2 * (lane & 3);
#pragma unroll
            for (int dt = 0; dt < D / 8; dt++) {
                float a = o[mt][dt][2 * r] * inv, c = o[mt][dt][2 * r + 1] * inv;
                if constexpr (sizeof(OutT) == 4) *reinterpret_cast<float2*>(orow + dt * 8) = make_float2(a, c);
                else *reinterpret_cast<unsigned*>(orow + dt * 8) = pack2<T>(a, c);
            }
            if ((lane & 3) == 0) lse[row] = nk == 0 ? -INFINITY : (mrow[mt][r] + __log2f(l)) * LN2;
        }
}

template <typename T, int D, typename OutT>
int launch(long long q, long long qStride, long long k, long long kStride, long long v, long long vStride, long long out,
           long long lse, const VfAttnOffsets& off, int batch, int heads, int maxQ, float scale, cudaStream_t st) {
    static unsigned long long ready = 0;
    constexpr size_t smem = fwd_smem<D>();
    int err = vf_smem_attribute((const void*)flash_fwd<T, D, OutT>, smem, ready);
    if (err) return err;
    dim3 grid((maxQ + fwd_bq<D>() - 1) / fwd_bq<D>(), heads, batch);
    flash_fwd<T, D, OutT><<<grid, fwd_threads<D>(), smem, st>>>(
        VF_PTR(const T, q), VF_PTR(const T, k), VF_PTR(const T, v), VF_PTR(OutT, out), VF_PTR(float, lse), off, heads,
        scale * LOG2E, (int)qStride, (int)kStride, (int)vStride);
    return vf_launch_status();
}

// The Hopper kernel unless VOXFLOW_FLASH_SM90=0 is in the environment (for comparisons).
bool sm90_enabled() {
    static const bool on = [] { const char* e = getenv("VOXFLOW_FLASH_SM90"); return !(e && e[0] == '0'); }();
    return on;
}

}  // namespace

extern "C" {

long long vf_flash_attention_workspace_bytes(void) { return sm90_enabled() ? vf_flash_fwd_sm90_workspace() : 0; }

int vf_flash_attention_forward(long long q, long long qStride, long long k, long long kStride, long long v,
                               long long vStride, int dtype, long long out, int outType, long long lse,
                               const int* offsets, long long devOffsets, int batch, int heads, int d, int maxQ,
                               float scale, long long workspace, long long workspaceBytes, long long stream) {
    if (batch == 0 || maxQ == 0 || heads == 0) return 0;
    if (!(scale > 0.f)) return (int)cudaErrorInvalidValue;  // the running max is taken over unscaled scores
    for (long long s : {qStride, kStride, vStride})  // whole 16-byte chunks per token, within 32-bit offsets
        if (s % 8 != 0 || s < (long long)heads * d || s > (1LL << 30)) return (int)cudaErrorInvalidValue;
    if (outType != VF_F32 && outType != dtype) return (int)cudaErrorInvalidValue;
    VfAttnOffsets off;
    int err = vf_attn_offsets(off, offsets, devOffsets, batch);
    if (err) return err;
    cudaStream_t st = VF_STREAM(stream);
    // Hopper: the wgmma kernel (vf_flash_sm90.cu) where it takes the case; it declines (-1) elsewhere
    if (sm90_enabled()) {
        int r = vf_flash_fwd_sm90(VF_PTR(const void, q), qStride, VF_PTR(const void, k), kStride, VF_PTR(const void, v),
                                  vStride, dtype, VF_PTR(void, out), (long long)heads * d, outType == VF_F32 ? 1 : 0,
                                  VF_PTR(float, lse), off, batch, heads, d, maxQ, scale, VF_PTR(void, workspace),
                                  workspaceBytes, st);
        if (r != -1) return r;
    }
#define VF_FWD(T, D)                                                                                             \
    return outType == VF_F32 ? launch<T, D, float>(q, qStride, k, kStride, v, vStride, out, lse, off, batch, heads, \
                                                   maxQ, scale, st)                                                 \
                             : launch<T, D, T>(q, qStride, k, kStride, v, vStride, out, lse, off, batch, heads, maxQ, \
                                               scale, st)
    if (dtype == VF_BF16) {
        if (d == 32) VF_FWD(__nv_bfloat16, 32);
        if (d == 64) VF_FWD(__nv_bfloat16, 64);
        if (d == 128) VF_FWD(__nv_bfloat16, 128);
    } else if (dtype == VF_F16) {
        if (d == 32) VF_FWD(__half, 32);
        if (d == 64) VF_FWD(__half, 64);
        if (d == 128) VF_FWD(__half, 128);
    }
#undef VF_FWD
    return (int)cudaErrorInvalidValue;
}

}  // extern "C"
