// Flash attention backward for bf16/f16 q, k, v (FlashAttention-2 design, mma.sync tensor cores, sm_80+), head dims
// 32, 64 and 128 (D == Dv); dq, dk, dv are f32. Counterpart of vf_flash.cu: it rebuilds the probabilities from the
// forward's lse, so the two must have run on the same (rounded) q, k, v.
//
// 1. prep: one warp per (query, head) row rounds dO to the input type and forms delta = rowsum(dO~ * O) (dO~ the
//    rounded dO, the one the main kernel multiplies with), and dq is zeroed.
// 2. main: one block of 8 warps per (128-key tile, head, instance) loops over the instance's 64-query tiles
//    (double-buffered cp.async ring of Q, dO, lse, delta; XOR-swizzled tiles, conflict-free ldmatrix). Warp w owns
//    keys 16 w .. 16 w + 15 of the tile and works on transposed products, so that every elementwise step stays in
//    the accumulator registers of the warp that needs the result:
//      S^T = K Q^T, P^T = exp2(S^T scale log2e - lse log2e)     (K fragments in registers for D <= 64)
//      dV += P^T dO                                              (P^T from the accumulators as the A operand)
//      dP^T = V dO^T, dS^T = P^T (dP^T - delta) scale
//      dK += dS^T Q
//    dK and dV stay in registers for the whole loop and are written once. dQ = dS K needs a sum over all key
//    tiles: the warps write dS^T (rounded) to shared memory, each warp forms a 16 x D/2 slice of dS K for the
//    block's 128 keys and adds it to dq with f32 atomics (red.global.add.v2.f32 on sm_90).
//    Why atomics rather than a separate dQ pass: a dQ kernel over query tiles would recompute S and dP (two more
//    of the five matmuls, +40% tensor work); the atomics cost Nq H D (Nk / 128) adds that run in the background
//    of the mma work. The price is that dq's last bits depend on the order of the adds (not bit-reproducible).
// Rounding: dO, P and dS are rounded to the input type before their products (relative 2^-8 for bf16, 2^-11 f16);
// everything else is f32.
#include "vf_attn_common.cuh"

namespace {

using namespace vfa;

constexpr int NW = 8, THREADS = NW * 32, BKC = NW * 16, BQ = 64;
static_assert(NW == 8 && BQ == 64, "the dQ step splits BQ x D over the warps as 4 query m-tiles x 2 column halves");

#ifndef VF_BWD_KVREG_MAX
#define VF_BWD_KVREG_MAX 64
#endif
template <int D> __host__ __device__ constexpr bool kv_in_regs() { return D <= VF_BWD_KVREG_MAX; }
template <int D> constexpr size_t bwd_smem() {
    // K, V: [BKC][CH]; Q, dO: 2 stages x [BQ][CH]; dS^T: [BKC][BQ / 8 chunks]; lse, delta: 2 stages x BQ floats
    return 16u * ((size_t)2 * BKC * (D / 8) + 4 * BQ * (D / 8) + BKC * (BQ / 8)) + 4u * 4 * BQ;
}

template <typename T, int D>
__global__ void __launch_bounds__(THREADS, 1)
    flash_bwd(const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v, const T* __restrict__ dO,
              const float* __restrict__ lse, const float* __restrict__ delta, float* __restrict__ dq,
              float* __restrict__ dk, float* __restrict__ dv, const __grid_constant__ VfAttnOffsets off, int H,
              float scale, float scale2) {
    constexpr int CH = D / 8, KS = D / 16, SCH = BQ / 8;
    constexpr bool KVREG = kv_in_regs<D>();
    extern __shared__ __align__(128) uint4 smem[];
    uint4* Ks = smem;                   // [BKC][CH]
    uint4* Vs = Ks + BKC * CH;          // [BKC][CH]
    uint4* Qs = Vs + BKC * CH;          // 2 x [BQ][CH]
    uint4* Gs = Qs + 2 * BQ * CH;       // 2 x [BQ][CH] (dO)
    uint4* Ss = Gs + 2 * BQ * CH;       // [BKC][SCH]   (dS^T)
    float* Ls = reinterpret_cast<float*>(Ss + BKC * SCH);  // 2 x [BQ] lse
    float* Ds = Ls + 2 * BQ;                                // 2 x [BQ] delta

    const int b = blockIdx.z, h = blockIdx.y;
    const int q0 = off.q(b), nq = off.q(b + 1) - q0, k0 = off.k(b), nk = off.k(b + 1) - k0;
    const int kt0 = blockIdx.x * BKC;
    if (kt0 >= nk) return;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const long long stride = (long long)H * CH;
    const uint4* qsrc = reinterpret_cast<const uint4*>(q) + ((long long)q0 * H + h) * CH;
    const uint4* gsrc = reinterpret_cast<const uint4*>(dO) + ((long long)q0 * H + h) * CH;
    const uint4* ksrc = reinterpret_cast<const uint4*>(k) + ((long long)k0 * H + h) * CH;
    const uint4* vsrc = reinterpret_cast<const uint4*>(v) + ((long long)k0 * H + h) * CH;
    const float* lsrc = lse + (long long)q0 * H + h;
    const float* dsrc = delta + (long long)q0 * H + h;
    const int nqt = (nq + BQ - 1) / BQ;

    auto load_q_tile = [&](int t) {
        int st = t & 1;
        load_tile<BQ, CH, THREADS>(Qs + st * BQ * CH, qsrc, stride, t * BQ, nq);
        load_tile<BQ, CH, THREADS>(Gs + st * BQ * CH, gsrc, stride, t * BQ, nq);
        if (threadIdx.x < 2 * BQ) {
            int r = threadIdx.x & (BQ - 1), i = t * BQ + r;
            bool ok = i < nq;
            float* dst = (threadIdx.x < BQ ? Ls : Ds) + st * BQ + r;
            cp_async4(dst, (threadIdx.x < BQ ? lsrc : dsrc) + (long long)(ok ? i : 0) * H, ok);
        }
    };

    load_tile<BKC, CH, THREADS>(Ks, ksrc, stride, kt0, nk);
    load_tile<BKC, CH, THREADS>(Vs, vsrc, stride, kt0, nk);
    if (nqt > 0) load_q_tile(0);
    cp_async_commit();
    cp_async_wait_all();
    __syncthreads();

    const int wk = warp * 16;  // the warp's first key in the tile
    unsigned kf[KVREG ? KS : 1][4], vf[KVREG ? KS : 1][4];
    if constexpr (KVREG) {
#pragma unroll
        for (int kk = 0; kk < KS; kk++) {
            ldsm_x4(kf[kk], Ks + swz<CH>(wk + (lane & 15), 2 * kk + (lane >> 4)));
            ldsm_x4(vf[kk], Vs + swz<CH>(wk + (lane & 15), 2 * kk + (lane >> 4)));
        }
    }
    // this thread's keys (accumulator rows g and g + 8); keys past the end get P = 0 so they add nothing to dQ
    const bool key0 = kt0 + wk + (lane >> 2) < nk, key1 = kt0 + wk + (lane >> 2) + 8 < nk;

    float dka[D / 8][4], dva[D / 8][4];
#pragma unroll
    for (int dt = 0; dt < D / 8; dt++)
#pragma unroll
        for (int e = 0; e < 4; e++) dka[dt][e] = dva[dt][e] = 0.f;

    // dQ slice of this warp: queries 16 (w % 4) .., head-dim columns (w / 4) D / 2 ..
    const int mq = warp & 3, dh = (warp >> 2) * (D / 2);

    for (int t = 0; t < nqt; t++) {
        if (t + 1 < nqt) load_q_tile(t + 1);
        cp_async_commit();
        const uint4* Qt = Qs + (t & 1) * BQ * CH;
        const uint4* Gt = Gs + (t & 1) * BQ * CH;
        const float* Lt = Ls + (t & 1) * BQ;
        const float* Dt = Ds + (t & 1) * BQ;

        // S^T = K Q^T (16 keys x 64 queries per warp)
        float st[BQ / 8][4];
#pragma unroll
        for (int nt = 0; nt < BQ / 8; nt++)
#pragma unroll
            for (int e = 0; e < 4; e++) st[nt][e] = 0.f;
#pragma unroll
        for (int kk = 0; kk < KS; kk++) {
            unsigned a[4];
            if constexpr (KVREG) {
#pragma unroll
                for (int e = 0; e < 4; e++) a[e] = kf[kk][e];
            } else {
                ldsm_x4(a, Ks + swz<CH>(wk + (lane & 15), 2 * kk + (lane >> 4)));
            }
#pragma unroll
            for (int np = 0; np < BQ / 16; np++) {
                unsigned bq[4];
                ldsm_x4(bq, Qt + swz<CH>(np * 16 + (lane & 7) + ((lane >> 4) << 3), 2 * kk + ((lane >> 3) & 1)));
                mma<T>(st[2 * np], a, bq[0], bq[1]);
                mma<T>(st[2 * np + 1], a, bq[2], bq[3]);
            }
        }
        // P^T; queries past the end (last tile) and keys past the end get 0
        const bool qtail = (t + 1) * BQ > nq;
#pragma unroll
        for (int nt = 0; nt < BQ / 8; nt++) {
            int c = nt * 8 + 2 * (lane & 3);
            float2 l2 = *reinterpret_cast<const float2*>(Lt + c);
            float la = l2.x * LOG2E, lb = l2.y * LOG2E;
            bool qa = !qtail || t * BQ + c < nq, qb = !qtail || t * BQ + c + 1 < nq;
            st[nt][0] = key0 && qa ? ex2(fmaf(st[nt][0], scale2, -la)) : 0.f;
            st[nt][1] = key0 && qb ? ex2(fmaf(st[nt][1], scale2, -lb)) : 0.f;
            st[nt][2] = key1 && qa ? ex2(fmaf(st[nt][2], scale2, -la)) : 0.f;
            st[nt][3] = key1 && qb ? ex2(fmaf(st[nt][3], scale2, -lb)) : 0.f;
        }
        // dV += P^T dO
#pragma unroll
        for (int kq = 0; kq < BQ / 16; kq++) {
            unsigned pa[4];
            pa[0] = pack2<T>(st[2 * kq][0], st[2 * kq][1]);
            pa[1] = pack2<T>(st[2 * kq][2], st[2 * kq][3]);
            pa[2] = pack2<T>(st[2 * kq + 1][0], st[2 * kq + 1][1]);
            pa[3] = pack2<T>(st[2 * kq + 1][2], st[2 * kq + 1][3]);
#pragma unroll
            for (int dp = 0; dp < D / 16; dp++) {
                unsigned bg[4];
                ldsm_x4_t(bg, Gt + swz<CH>(kq * 16 + (lane & 15), 2 * dp + (lane >> 4)));
                mma<T>(dva[2 * dp], pa, bg[0], bg[1]);
                mma<T>(dva[2 * dp + 1], pa, bg[2], bg[3]);
            }
        }
        // dP^T = V dO^T
        float dpt[BQ / 8][4];
#pragma unroll
        for (int nt = 0; nt < BQ / 8; nt++)
#pragma unroll
            for (int e = 0; e < 4; e++) dpt[nt][e] = 0.f;
#pragma unroll
        for (int kk = 0; kk < KS; kk++) {
            unsigned a[4];
            if constexpr (KVREG) {
#pragma unroll
                for (int e = 0; e < 4; e++) a[e] = vf[kk][e];
            } else {
                ldsm_x4(a, Vs + swz<CH>(wk + (lane & 15), 2 * kk + (lane >> 4)));
            }
#pragma unroll
            for (int np = 0; np < BQ / 16; np++) {
                unsigned bg[4];
                ldsm_x4(bg, Gt + swz<CH>(np * 16 + (lane & 7) + ((lane >> 4) << 3), 2 * kk + ((lane >> 3) & 1)));
                mma<T>(dpt[2 * np], a, bg[0], bg[1]);
                mma<T>(dpt[2 * np + 1], a, bg[2], bg[3]);
            }
        }
        // dS^T = P^T (dP^T - delta) scale, into dpt
#pragma unroll
        for (int nt = 0; nt < BQ / 8; nt++) {
            float2 d2 = *reinterpret_cast<const float2*>(Dt + nt * 8 + 2 * (lane & 3));
            dpt[nt][0] = st[nt][0] * (dpt[nt][0] - d2.x) * scale;
            dpt[nt][1] = st[nt][1] * (dpt[nt][1] - d2.y) * scale;
            dpt[nt][2] = st[nt][2] * (dpt[nt][2] - d2.x) * scale;
            dpt[nt][3] = st[nt][3] * (dpt[nt][3] - d2.y) * scale;
        }
        // dK += dS^T Q, and dS^T (rounded) to shared memory for dQ
#pragma unroll
        for (int kq = 0; kq < BQ / 16; kq++) {
            unsigned pa[4];
            pa[0] = pack2<T>(dpt[2 * kq][0], dpt[2 * kq][1]);
            pa[1] = pack2<T>(dpt[2 * kq][2], dpt[2 * kq][3]);
            pa[2] = pack2<T>(dpt[2 * kq + 1][0], dpt[2 * kq + 1][1]);
            pa[3] = pack2<T>(dpt[2 * kq + 1][2], dpt[2 * kq + 1][3]);
            int r = wk + (lane >> 2), cw = lane & 3;  // row (key) and 4-byte word within the 16-byte chunk
            reinterpret_cast<unsigned*>(Ss + swz<SCH>(r, 2 * kq))[cw] = pa[0];
            reinterpret_cast<unsigned*>(Ss + swz<SCH>(r + 8, 2 * kq))[cw] = pa[1];
            reinterpret_cast<unsigned*>(Ss + swz<SCH>(r, 2 * kq + 1))[cw] = pa[2];
            reinterpret_cast<unsigned*>(Ss + swz<SCH>(r + 8, 2 * kq + 1))[cw] = pa[3];
#pragma unroll
            for (int dp = 0; dp < D / 16; dp++) {
                unsigned bq[4];
                ldsm_x4_t(bq, Qt + swz<CH>(kq * 16 + (lane & 15), 2 * dp + (lane >> 4)));
                mma<T>(dka[2 * dp], pa, bq[0], bq[1]);
                mma<T>(dka[2 * dp + 1], pa, bq[2], bq[3]);
            }
        }
        __syncthreads();  // dS^T complete

        // dQ slice = dS K over the block's keys: A = dS from dS^T (ldmatrix.trans), B = K (ldmatrix.trans)
        float dqa[D / 16][4];
#pragma unroll
        for (int nt = 0; nt < D / 16; nt++)
#pragma unroll
            for (int e = 0; e < 4; e++) dqa[nt][e] = 0.f;
#pragma unroll
        for (int kk = 0; kk < BKC / 16; kk++) {
            unsigned a[4];
            ldsm_x4_t(a, Ss + swz<SCH>(kk * 16 + (lane & 7) + ((lane >> 4) << 3), 2 * mq + ((lane >> 3) & 1)));
#pragma unroll
            for (int dp = 0; dp < D / 32; dp++) {
                unsigned bk[4];
                ldsm_x4_t(bk, Ks + swz<CH>(kk * 16 + (lane & 15), dh / 8 + 2 * dp + (lane >> 4)));
                mma<T>(dqa[2 * dp], a, bk[0], bk[1]);
                mma<T>(dqa[2 * dp + 1], a, bk[2], bk[3]);
            }
        }
#pragma unroll
        for (int r = 0; r < 2; r++) {
            int i = t * BQ + mq * 16 + (lane >> 2) + 8 * r;
            if (i >= nq) continue;
            float* dst = dq + ((long long)(q0 + i) * H + h) * D + dh + 2 * (lane & 3);
#pragma unroll
            for (int nt = 0; nt < D / 16; nt++) {
#if __CUDA_ARCH__ >= 900
                atomicAdd(reinterpret_cast<float2*>(dst + nt * 8), make_float2(dqa[nt][2 * r], dqa[nt][2 * r + 1]));
#else
                atomicAdd(dst + nt * 8, dqa[nt][2 * r]);
                atomicAdd(dst + nt * 8 + 1, dqa[nt][2 * r + 1]);
#endif
            }
        }
        cp_async_wait_all();  // the next query tile has landed ...
        __syncthreads();      // ... for all, and dS^T / this tile's buffers are free again
    }

    // dK (already scaled through dS) and dV
#pragma unroll
    for (int r = 0; r < 2; r++) {
        int j = kt0 + wk + (lane >> 2) + 8 * r;
        if (j >= nk) continue;
        long long row = ((long long)(k0 + j) * H + h) * D + 2 * (lane & 3);
#pragma unroll
        for (int dt = 0; dt < D / 8; dt++) {
            *reinterpret_cast<float2*>(dk + row + dt * 8) = make_float2(dka[dt][2 * r], dka[dt][2 * r + 1]);
            *reinterpret_cast<float2*>(dv + row + dt * 8) = make_float2(dva[dt][2 * r], dva[dt][2 * r + 1]);
        }
    }
}

// dO (f32) -> dO~ (T) and delta = rowsum(dO~ * O); one warp per row of D elements, E = D / 32 per lane.
template <typename T, int D>
__global__ void flash_bwd_prep(const float* __restrict__ dout, const float* __restrict__ out, T* __restrict__ dOh,
                               float* __restrict__ delta, long long rows) {
    constexpr int E = D / 32;
    long long row = blockIdx.x * (long long)(blockDim.x / 32) + (threadIdx.x >> 5);
    int lane = threadIdx.x & 31;
    if (row >= rows) return;
    const float* g = dout + row * D + lane * E;
    const float* o = out + row * D + lane * E;
    float acc = 0.f;
#pragma unroll
    for (int e = 0; e < E; e += 2) {
        float2 gv = E == 1 ? make_float2(g[0], 0.f) : *reinterpret_cast<const float2*>(g + e);
        float2 ov = E == 1 ? make_float2(o[0], 0.f) : *reinterpret_cast<const float2*>(o + e);
        unsigned p = pack2<T>(gv.x, gv.y);
        float2 r = unpack2<T>(p);
        acc += r.x * ov.x + r.y * ov.y;
        if (E == 1) reinterpret_cast<T*>(dOh + row * D + lane)[0] = reinterpret_cast<T*>(&p)[0];
        else *reinterpret_cast<unsigned*>(dOh + row * D + lane * E + e) = p;
    }
    acc = vf_warp_sum(acc);
    if (lane == 0) delta[row] = acc;
}

template <typename T, int D>
int launch(long long dout, long long q, long long k, long long v, long long out, long long lse, long long dq,
           long long dk, long long dv, long long dOh, long long delta, const VfAttnOffsets& off, int batch, int heads,
           long long nqTotal, int maxK, float scale, cudaStream_t st) {
    static unsigned long long ready = 0;
    long long rows = nqTotal * heads;
    if (rows > 0) {
        cudaError_t e = cudaMemsetAsync(VF_PTR(void, dq), 0, (size_t)rows * D * sizeof(float), st);
        if (e != cudaSuccess) return (int)e;
        flash_bwd_prep<T, D><<<vf_blocks(rows, 8, 1ll << 31), 256, 0, st>>>(
            VF_PTR(const float, dout), VF_PTR(const float, out), VF_PTR(T, dOh), VF_PTR(float, delta), rows);
        if (int err = vf_launch_status()) return err;
    }
    if (maxK == 0) return 0;
    constexpr size_t smem = bwd_smem<D>();
    int err = vf_smem_attribute((const void*)flash_bwd<T, D>, smem, ready);
    if (err) return err;
    dim3 grid((maxK + BKC - 1) / BKC, heads, batch);
    flash_bwd<T, D><<<grid, THREADS, smem, st>>>(VF_PTR(const T, q), VF_PTR(const T, k), VF_PTR(const T, v),
                                                 VF_PTR(const T, dOh), VF_PTR(const float, lse),
                                                 VF_PTR(const float, delta), VF_PTR(float, dq), VF_PTR(float, dk),
                                                 VF_PTR(float, dv), off, heads, scale, scale * LOG2E);
    return vf_launch_status();
}

}  // namespace

extern "C" {

int vf_flash_attention_backward(long long dout, long long q, long long k, long long v, int dtype, long long out,
                                long long lse, long long dq, long long dk, long long dv, long long doutHalf,
                                long long delta, const int* offsets, long long devOffsets, int batch, int heads, int d,
                                long long nqTotal, int maxK, float scale, long long stream) {
    if (batch == 0 || heads == 0) return 0;
    VfAttnOffsets off;
    int err = vf_attn_offsets(off, offsets, devOffsets, batch);
    if (err) return err;
    cudaStream_t st = VF_STREAM(stream);
#define VF_BWD(T, D) \
    return launch<T, D>(dout, q, k, v, out, lse, dq, dk, dv, doutHalf, delta, off, batch, heads, nqTotal, maxK, scale, st)
    if (dtype == VF_BF16) {
        if (d == 32) VF_BWD(__nv_bfloat16, 32);
        if (d == 64) VF_BWD(__nv_bfloat16, 64);
        if (d == 128) VF_BWD(__nv_bfloat16, 128);
    } else if (dtype == VF_F16) {
        if (d == 32) VF_BWD(__half, 32);
        if (d == 64) VF_BWD(__half, 64);
        if (d == 128) VF_BWD(__half, 128);
    }
#undef VF_BWD
    return (int)cudaErrorInvalidValue;
}

}  // extern "C"
