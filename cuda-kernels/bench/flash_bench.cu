// Standalone check and benchmark of the flash attention kernels (vf_flash.cu, vf_flash_bwd.cu) against the f32
// kernels (vf_attention.cu) on the same rounded inputs; no Java. Build and run:
//   nvcc -O3 -std=c++17 -gencode arch=compute_90,code=sm_90 -lineinfo -I../src/main/cuda -o flash_bench \
//        flash_bench.cu ../src/main/cuda/vf_flash.cu ../src/main/cuda/vf_flash_bwd.cu ../src/main/cuda/vf_attention.cu
//   ./flash_bench [--check-only] [--bench-only] [--small]
//
// Correctness: random bf16 / f16 inputs with awkward lengths (1, 17, 63, 65, 127, 129, 1000 tokens, an empty
// instance, cross lengths differing from query lengths, a batch beyond VF_ATTN_INLINE_BATCH), head dims 32, 64,
// 128. Each output is compared with the f32 kernels run on the rounded inputs, element by element against the
// error bound that tests/.../CudaAttentionParityTest uses (derived there; computed here in double on the host),
// and its relative RMS error is printed. Exit status 1 if any bound is exceeded.
//
// Benchmark: TFLOP/s of forward (4 Nq Nk H D flops per instance) and backward (10 Nq Nk H D, i.e. 2.5x forward,
// the FlashAttention-2 convention; the backward time includes dO's cast, delta and the dq zeroing) for
// self 2 x 4096 (H 16, D 64), cross 2 x (4096 queries, 1374 keys), self D 128, and a varlen batch.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>
#include "voxflow_kernels.h"
#include "attn_bench_common.cuh"

static float round_to(float x, int dtype) {
    return dtype == 1 ? __bfloat162float(__float2bfloat16_rn(x)) : __half2float(__float2half_rn(x));
}

struct Problem {
    int H, D, dtype;
    std::vector<int> cuQ, cuK, offs;
    int batch, nq, nk, maxQ, maxK;
    long long pairs;  // sum over instances of nq * nk
    Problem(int H_, int D_, int dtype_, const std::vector<int>& ql, const std::vector<int>& kl) : H(H_), D(D_), dtype(dtype_) {
        batch = (int)ql.size();
        cuQ.assign(batch + 1, 0);
        cuK.assign(batch + 1, 0);
        maxQ = maxK = 0;
        pairs = 0;
        for (int b = 0; b < batch; b++) {
            cuQ[b + 1] = cuQ[b] + ql[b];
            cuK[b + 1] = cuK[b] + kl[b];
            maxQ = std::max(maxQ, ql[b]);
            maxK = std::max(maxK, kl[b]);
            pairs += (long long)ql[b] * kl[b];
        }
        nq = cuQ[batch];
        nk = cuK[batch];
        offs = cuQ;
        offs.insert(offs.end(), cuK.begin(), cuK.end());
    }
};

struct Buffers {
    Dev dev;
    void *qh, *kh, *vh, *dOh;  // 16-bit
    float *qf, *kf, *vf, *dout, *out, *lse, *outR, *lseR, *dq, *dk, *dv, *dqR, *dkR, *dvR, *delta, *deltaR;
    int* devOffs;
    Buffers(const Problem& p) {
        size_t nqe = (size_t)p.nq * p.H * p.D, nke = (size_t)p.nk * p.H * p.D, nqr = (size_t)p.nq * p.H;
        qh = dev.alloc(nqe * 2); kh = dev.alloc(nke * 2); vh = dev.alloc(nke * 2); dOh = dev.alloc(nqe * 2);
        qf = (float*)dev.alloc(nqe * 4); kf = (float*)dev.alloc(nke * 4); vf = (float*)dev.alloc(nke * 4);
        dout = (float*)dev.alloc(nqe * 4); out = (float*)dev.alloc(nqe * 4); outR = (float*)dev.alloc(nqe * 4);
        lse = (float*)dev.alloc(nqr * 4); lseR = (float*)dev.alloc(nqr * 4);
        dq = (float*)dev.alloc(nqe * 4); dqR = (float*)dev.alloc(nqe * 4);
        dk = (float*)dev.alloc(nke * 4); dkR = (float*)dev.alloc(nke * 4);
        dv = (float*)dev.alloc(nke * 4); dvR = (float*)dev.alloc(nke * 4);
        delta = (float*)dev.alloc(nqr * 4); deltaR = (float*)dev.alloc(nqr * 4);
        devOffs = (int*)dev.alloc(p.offs.size() * 4);
        CK(cudaMemcpy(devOffs, p.offs.data(), p.offs.size() * 4, cudaMemcpyHostToDevice));
    }
};

// device copy of a host f32 array, rounded to the 16-bit type, as 16-bit and as f32
static void upload_rounded(const std::vector<float>& x, int dtype, void* h, float* f) {
    std::vector<unsigned short> bits(x.size());
    std::vector<float> r(x.size());
    for (size_t i = 0; i < x.size(); i++) {
        if (dtype == 1) {
            __nv_bfloat16 b = __float2bfloat16_rn(x[i]);
            memcpy(&bits[i], &b, 2);
            r[i] = __bfloat162float(b);
        } else {
            __half b = __float2half_rn(x[i]);
            memcpy(&bits[i], &b, 2);
            r[i] = __half2float(b);
        }
    }
    CK(cudaMemcpy(h, bits.data(), bits.size() * 2, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(f, r.data(), r.size() * 4, cudaMemcpyHostToDevice));
}

static std::vector<float> down(const float* d, size_t n) {
    std::vector<float> h(n);
    CK(cudaMemcpy(h.data(), d, n * 4, cudaMemcpyDeviceToHost));
    return h;
}

static const int* host_offs(const Problem& p) { return p.batch <= VF_ATTN_INLINE_BATCH ? p.offs.data() : nullptr; }
static long long dev_offs(const Problem& p, const Buffers& b) { return p.batch <= VF_ATTN_INLINE_BATCH ? 0 : A(b.devOffs); }

static void run_flash_fwd(const Problem& p, Buffers& b, float scale, cudaStream_t st = 0) {
    long long hd = (long long)p.H * p.D;  // dense token rows
    CKV(vf_flash_attention_forward(A(b.qh), hd, A(b.kh), hd, A(b.vh), hd, p.dtype, A(b.out), 0 /* out f32 */, A(b.lse), host_offs(p),
                                   dev_offs(p, b), p.batch, p.H, p.D, p.maxQ, scale, 0, 0, (long long)st));
}
static void run_flash_bwd(const Problem& p, Buffers& b, float scale, cudaStream_t st = 0) {
    CKV(vf_flash_attention_backward(A(b.dout), A(b.qh), A(b.kh), A(b.vh), p.dtype, A(b.out), A(b.lse), A(b.dq), A(b.dk),
                                    A(b.dv), A(b.dOh), A(b.delta), host_offs(p), dev_offs(p, b), p.batch, p.H, p.D,
                                    p.nq, p.maxK, scale, (long long)st));
}

// ---- error bounds (the ones tests/.../AttentionBounds.java holds the kernels to; derivation there) -------------
//
// Exact values in double from the inputs x the reference uses (the rounded ones, or for the autocast comparison the
// unrounded f32 ones, which the kernel saw rounded with unit roundoff uIn); u: the 16-bit type's unit roundoff
// (2^-8 bf16, 2^-11 f16); sub: absolute rounding error below the type's normal range (2^-25 f16, 0 bf16);
// F: f32 slack 2 N 2^-24 + 1e-6 (N the longest instance).
//   E_i = ((2 uIn + uIn^2) + 2 D 2^-24) max_j scale sum_c |q_ic||k_jc|,  rho_i = exp(2 E_i) - 1
//   out:  ((1+u)(1+rho)(1+uIn) - 1 + F) A_ic + sub sum_j |v_jc|,  A_ic = sum_j p_ij |v_jc|
//   lse:  E_i + F (1 + |lse_i|)
//   eps_ij = ((1+u)(1+uIn) - 1) a_ij + u b_i + (1+u) c_i + sub (sum_c |v_jc| + sum_c |o_ic|)
//            a_ij = sum_c |dO_ic||v_jc|, b_i = sum_c |dO_ic||o_ic|, c_i = sum_c |dO_ic| out_bound_ic
//   e_ij = scale ((1+rho) p eps + rho p |dP - delta|), e'_ij = e + u (|dS| + e) + sub
//   dk_jc: sum_i (e' (1+uIn) + (uIn + F) |dS|) |q_ic|;  dq_ic: sum_j (e' (1+uIn) + (uIn + F) |dS|) |k_jc|
//   dv_jc: sum_i ((1+u)^2 (1+rho) - 1 + F) p |dO_ic| + sub (|dO_ic| + p);  every bound + 1e-6
struct Bounds {
    std::vector<double> out, lse, dq, dk, dv;
};

static Bounds bounds(const Problem& p, float scale, const std::vector<float>& q, const std::vector<float>& k,
                     const std::vector<float>& v, const std::vector<float>& dO, double uIn) {
    const int H = p.H, D = p.D;
    const double u = p.dtype == 1 ? std::ldexp(1.0, -8) : std::ldexp(1.0, -11);
    const double sub = p.dtype == 1 ? 0.0 : std::ldexp(1.0, -25);
    const double F = 2.0 * std::max(p.maxQ, p.maxK) * std::ldexp(1.0, -24) + 1e-6;
    const double gam = 2.0 * D * std::ldexp(1.0, -24);
    Bounds bd;
    bd.out.assign((size_t)p.nq * H * D, 1e-6);
    bd.lse.assign((size_t)p.nq * H, 0);
    bd.dq.assign((size_t)p.nq * H * D, 1e-6);
    bd.dk.assign((size_t)p.nk * H * D, 1e-6);
    bd.dv.assign((size_t)p.nk * H * D, 1e-6);
    for (int b = 0; b < p.batch; b++) {
        int q0 = p.cuQ[b], nq = p.cuQ[b + 1] - q0, k0 = p.cuK[b], nk = p.cuK[b + 1] - k0;
        if (nq == 0 || nk == 0) continue;
        for (int h = 0; h < H; h++) {
            auto Q = [&](int i, int c) { return (double)q[((size_t)(q0 + i) * H + h) * D + c]; };
            auto K = [&](int j, int c) { return (double)k[((size_t)(k0 + j) * H + h) * D + c]; };
            auto V = [&](int j, int c) { return (double)v[((size_t)(k0 + j) * H + h) * D + c]; };
            auto G = [&](int i, int c) { return (double)dO[((size_t)(q0 + i) * H + h) * D + c]; };
            std::vector<double> vAbs(nk, 0), colAbsV((size_t)D, 0);
            for (int j = 0; j < nk; j++)
                for (int c = 0; c < D; c++) { vAbs[j] += std::fabs(V(j, c)); colAbsV[c] += std::fabs(V(j, c)); }
            std::vector<double> P(nk), O(D), Am(D), bout(D);
            for (int i = 0; i < nq; i++) {
                double m = -INFINITY, sAbsMax = 0;
                for (int j = 0; j < nk; j++) {
                    double s = 0, sa = 0;
                    for (int c = 0; c < D; c++) { s += Q(i, c) * K(j, c); sa += std::fabs(Q(i, c) * K(j, c)); }
                    P[j] = s * scale;
                    m = std::max(m, P[j]);
                    sAbsMax = std::max(sAbsMax, sa * scale);
                }
                double l = 0;
                for (int j = 0; j < nk; j++) l += std::exp(P[j] - m);
                double lse = m + std::log(l);
                double E = ((2 * uIn + uIn * uIn) + gam) * sAbsMax, rho = std::expm1(2 * E);
                bd.lse[(size_t)(q0 + i) * H + h] = E + F * (1 + std::fabs(lse));
                std::fill(O.begin(), O.end(), 0.0);
                std::fill(Am.begin(), Am.end(), 0.0);
                for (int j = 0; j < nk; j++) {
                    P[j] = std::exp(P[j] - lse);
                    for (int c = 0; c < D; c++) { Am[c] += P[j] * std::fabs(V(j, c)); O[c] += P[j] * V(j, c); }
                }
                double delta = 0, bsum = 0, csum = 0, oAbs = 0;
                for (int c = 0; c < D; c++) {
                    bout[c] = ((1 + u) * (1 + rho) * (1 + uIn) - 1 + F) * Am[c] + sub * colAbsV[c] + 1e-6;
                    bd.out[((size_t)(q0 + i) * H + h) * D + c] = bout[c];
                    delta += G(i, c) * O[c];
                    bsum += std::fabs(G(i, c)) * std::fabs(O[c]);
                    csum += std::fabs(G(i, c)) * bout[c];
                    oAbs += std::fabs(O[c]);
                }
                for (int j = 0; j < nk; j++) {
                    double dp = 0, a = 0, pij = P[j];
                    for (int c = 0; c < D; c++) { dp += G(i, c) * V(j, c); a += std::fabs(G(i, c)) * std::fabs(V(j, c)); }
                    double dpd = std::fabs(dp - delta);
                    double eps = ((1 + u) * (1 + uIn) - 1) * a + u * bsum + (1 + u) * csum + sub * (vAbs[j] + oAbs);
                    double e = scale * ((1 + rho) * pij * eps + rho * pij * dpd);
                    double ds = scale * pij * dpd;
                    double er = e + u * (ds + e) + sub;
                    double wk = er * (1 + uIn) + (uIn + F) * ds;
                    double wv = ((1 + u) * (1 + u) * (1 + rho) - 1 + F) * pij;
                    for (int c = 0; c < D; c++) {
                        bd.dk[((size_t)(k0 + j) * H + h) * D + c] += wk * std::fabs(Q(i, c));
                        bd.dq[((size_t)(q0 + i) * H + h) * D + c] += wk * std::fabs(K(j, c));
                        bd.dv[((size_t)(k0 + j) * H + h) * D + c] += wv * std::fabs(G(i, c)) + sub * (std::fabs(G(i, c)) + pij);
                    }
                }
            }
        }
    }
    return bd;
}

// autocast: the f32 reference runs on the unrounded inputs (as the f32 engine without autocast would), the flash
// kernels on the rounded ones, and the bound adds the input rounding (uIn = u).
static bool check_case(const char* name, int H, int D, int dtype, const std::vector<int>& ql, const std::vector<int>& kl,
                       unsigned seed, bool bounds_on, bool autocast = false) {
    Problem p(H, D, dtype, ql, kl);
    Buffers b(p);
    std::mt19937 rng(seed);
    std::normal_distribution<float> nd(0.f, 1.f);
    auto randn = [&](size_t n) {
        std::vector<float> x(n);
        for (auto& e : x) e = nd(rng);
        return x;
    };
    size_t nqe = (size_t)p.nq * H * D, nke = (size_t)p.nk * H * D;
    std::vector<float> q = randn(nqe), k = randn(nke), v = randn(nke), dout = randn(nqe);
    upload_rounded(q, dtype, b.qh, b.qf);
    upload_rounded(k, dtype, b.kh, b.kf);
    upload_rounded(v, dtype, b.vh, b.vf);
    if (autocast) {
        CK(cudaMemcpy(b.qf, q.data(), nqe * 4, cudaMemcpyHostToDevice));
        CK(cudaMemcpy(b.kf, k.data(), nke * 4, cudaMemcpyHostToDevice));
        CK(cudaMemcpy(b.vf, v.data(), nke * 4, cudaMemcpyHostToDevice));
    } else {
        for (auto& e : q) e = round_to(e, dtype);
        for (auto& e : k) e = round_to(e, dtype);
        for (auto& e : v) e = round_to(e, dtype);
    }
    CK(cudaMemcpy(b.dout, dout.data(), nqe * 4, cudaMemcpyHostToDevice));
    float scale = 1.f / std::sqrt((float)D);
    // poison the outputs: every element must be written
    CK(cudaMemset(b.out, 0xff, nqe * 4));
    CK(cudaMemset(b.dk, 0xff, nke * 4));
    CK(cudaMemset(b.dv, 0xff, nke * 4));
    CK(cudaMemset(b.dq, 0xff, nqe * 4));
    run_flash_fwd(p, b, scale);
    CKV(vf_attention_forward(A(b.qf), A(b.kf), A(b.vf), A(b.outR), A(b.lseR), host_offs(p), dev_offs(p, b), p.batch, H, D,
                             D, p.maxQ, scale, 0));
    run_flash_bwd(p, b, scale);
    CKV(vf_attention_backward(A(b.dout), A(b.qf), A(b.kf), A(b.vf), A(b.outR), A(b.lseR), A(b.dqR), A(b.dkR), A(b.dvR),
                              A(b.deltaR), host_offs(p), dev_offs(p, b), p.batch, H, D, D, p.nq, p.maxQ, p.maxK, scale, 0));
    CK(cudaDeviceSynchronize());
    std::vector<float> out = down(b.out, nqe), outR = down(b.outR, nqe), lse = down(b.lse, (size_t)p.nq * H),
                       lseR = down(b.lseR, (size_t)p.nq * H), dq = down(b.dq, nqe), dqR = down(b.dqR, nqe),
                       dk = down(b.dk, nke), dkR = down(b.dkR, nke), dv = down(b.dv, nke), dvR = down(b.dvR, nke);
    Bounds bd;
    if (bounds_on) {
        double u = dtype == 1 ? std::ldexp(1.0, -8) : std::ldexp(1.0, -11);
        bd = bounds(p, scale, q, k, v, dout, autocast ? u : 0.0);
    } else {  // big cases: only the RMS check, with a loose element bound of 0.05 max|ref|
        auto loose = [](const std::vector<float>& r) {
            double m = 0;
            for (float x : r)
                if (std::isfinite(x)) m = std::max(m, (double)std::fabs(x));
            return std::vector<double>(r.size(), 0.05 * m + 1e-6);
        };
        bd.out = loose(outR); bd.lse = loose(lseR); bd.dq = loose(dqR); bd.dk = loose(dkR); bd.dv = loose(dvR);
    }
    Cmp c[5] = {compare(out, outR, bd.out), compare(lse, lseR, bd.lse), compare(dq, dqR, bd.dq), compare(dk, dkR, bd.dk),
                compare(dv, dvR, bd.dv)};
    const char* names[5] = {"out", "lse", "dq", "dk", "dv"};
    // relative RMS limits (CudaAttentionParityTest): 2u for out and dv, 4u for dq and dk, 1e-5 for lse; under
    // autocast (CudaAutocastParityTest) 4u, 8u, 8u, 4u and 1e-3 for lse
    double u = dtype == 1 ? std::ldexp(1.0, -8) : std::ldexp(1.0, -11);
    double rmsLim[5] = {2 * u, 1e-5, 4 * u, 4 * u, 2 * u};
    if (autocast) { rmsLim[0] = 4 * u; rmsLim[1] = 1e-3; rmsLim[2] = 8 * u; rmsLim[3] = 8 * u; rmsLim[4] = 4 * u; }
    bool ok = true;
    printf("%-34s %s%s D=%3d H=%d nq=%6d nk=%6d |", name, dtype == 1 ? "bf16" : "f16 ", autocast ? "(autocast)" : "", D, H,
           p.nq, p.nk);
    for (int i = 0; i < 5; i++) {
        bool good = c[i].ok && c[i].rms <= rmsLim[i];
        ok &= good;
        printf(" %s err/bound %.3f rms %.1e%s |", names[i], c[i].worst, c[i].rms, good ? "" : " FAIL");
    }
    printf("\n");
    if (!ok)
        for (int i = 0; i < 5; i++)
            if (!c[i].ok && c[i].at >= 0) {
                const std::vector<float>& g = i == 0 ? out : i == 1 ? lse : i == 2 ? dq : i == 3 ? dk : dv;
                const std::vector<float>& r = i == 0 ? outR : i == 1 ? lseR : i == 2 ? dqR : i == 3 ? dkR : dvR;
                printf("    %s first worst at %lld: got %g ref %g\n", names[i], c[i].at, g[c[i].at], r[c[i].at]);
            }
    fflush(stdout);
    return ok;
}

// ---- benchmark -----------------------------------------------------------------------------------------------------

static void bench(const char* name, int H, int D, const std::vector<int>& ql, const std::vector<int>& kl, bool with_bwd) {
    Problem p(H, D, 1, ql, kl);
    Buffers b(p);
    size_t nqe = (size_t)p.nq * H * D, nke = (size_t)p.nk * H * D;
    std::mt19937 rng(7);
    std::normal_distribution<float> nd(0.f, 1.f);
    auto randn = [&](size_t n) {
        std::vector<float> x(n);
        for (auto& e : x) e = nd(rng);
        return x;
    };
    upload_rounded(randn(nqe), 1, b.qh, b.qf);
    upload_rounded(randn(nke), 1, b.kh, b.kf);
    upload_rounded(randn(nke), 1, b.vh, b.vf);
    std::vector<float> g = randn(nqe);
    CK(cudaMemcpy(b.dout, g.data(), nqe * 4, cudaMemcpyHostToDevice));
    float scale = 1.f / std::sqrt((float)D);
    cudaEvent_t e0, e1;
    CK(cudaEventCreate(&e0));
    CK(cudaEventCreate(&e1));
    auto timeit = [&](auto fn) {
        for (int i = 0; i < 3; i++) fn();
        CK(cudaDeviceSynchronize());
        const int iters = 20;
        CK(cudaEventRecord(e0));
        for (int i = 0; i < iters; i++) fn();
        CK(cudaEventRecord(e1));
        CK(cudaEventSynchronize(e1));
        float ms;
        CK(cudaEventElapsedTime(&ms, e0, e1));
        return ms / iters;
    };
    double fl = 4.0 * p.pairs * H * D;
    float tf = timeit([&] { run_flash_fwd(p, b, scale); });
    printf("BENCH %-28s fwd %8.3f ms %7.1f TFLOP/s", name, tf, fl / tf * 1e-9);
    if (with_bwd) {
        float tb = timeit([&] { run_flash_bwd(p, b, scale); });
        printf(" | bwd %8.3f ms %7.1f TFLOP/s | fwd+bwd %7.1f TFLOP/s", tb, 2.5 * fl / tb * 1e-9, 3.5 * fl / (tf + tb) * 1e-9);
    }
    printf("\n");
    fflush(stdout);
    CK(cudaEventDestroy(e0));
    CK(cudaEventDestroy(e1));
}

int main(int argc, char** argv) {
    bool check = true, run_bench = true, small = false, no_bwd = false;
    for (int i = 1; i < argc; i++) {
        std::string a = argv[i];
        if (a == "--check-only") run_bench = false;
        else if (a == "--bench-only") check = false;
        else if (a == "--small") small = true;
        else if (a == "--no-bwd") no_bwd = true;
    }
    cudaDeviceProp prop;
    CK(cudaGetDeviceProperties(&prop, 0));
    printf("device: %s, %d SMs\n", prop.name, prop.multiProcessorCount);
    bool ok = true;
    if (check) {
        if (small) {
            ok &= check_case("small ragged", 2, 64, 1, {1, 70, 0, 17}, {65, 3, 9, 0}, 1, true);
            ok &= check_case("small d128", 1, 128, 2, {130}, {33}, 2, true);
        } else {
            unsigned seed = 10;
            for (int dtype : {1, 2})
                for (int D : {64, 128, 32}) {
                    ok &= check_case("self awkward lengths", 2, D, dtype, {1, 17, 63, 65, 127, 129, 1000, 0},
                                     {1, 17, 63, 65, 127, 129, 1000, 0}, seed++, true);
                    ok &= check_case("cross, empty key / query sets", 2, D, dtype, {17, 129, 1, 0, 65, 300, 5},
                                     {63, 1000, 127, 40, 0, 1, 130}, seed++, true);
                }
            {  // more instances than fit in the kernel parameters: device offsets
                std::vector<int> ql, kl;
                for (int i = 0; i < 300; i++) { ql.push_back(i % 7 == 3 ? 0 : 1 + (i * 37) % 90); kl.push_back(1 + (i * 53) % 70); }
                ok &= check_case("300 instances (device offsets)", 1, 64, 1, ql, kl, seed++, true);
            }
            // autocast-style: the f32 reference on the unrounded inputs (CudaAutocastParityTest's comparison)
            ok &= check_case("autocast self ragged", 4, 64, 1, {100, 1, 257}, {100, 1, 257}, seed++, true, true);
            ok &= check_case("autocast cross", 2, 64, 1, {130, 70}, {77, 200}, seed++, true, true);
            ok &= check_case("autocast d128", 2, 128, 1, {150, 1000}, {150, 1000}, seed++, true, true);
            ok &= check_case("autocast d32", 2, 32, 1, {63, 129}, {65, 17}, seed++, true, true);
            ok &= check_case("2x4096 self (rms only)", 16, 64, 1, {4096, 4096}, {4096, 4096}, seed++, false);
            ok &= check_case("4096x1374 cross (rms only)", 16, 64, 1, {4096, 4096}, {1374, 1374}, seed++, false);
            ok &= check_case("2x2048 d128 (rms only)", 8, 128, 1, {2048, 2048}, {2048, 2048}, seed++, false);
        }
        printf("CHECK %s\n", ok ? "PASSED" : "FAILED");
    }
    if (run_bench) {
        bench("self 2x4096 H16 D64", 16, 64, {4096, 4096}, {4096, 4096}, !no_bwd);
        bench("cross 2x(4096x1374) H16 D64", 16, 64, {4096, 4096}, {1374, 1374}, !no_bwd);
        bench("self 2x4096 H16 D128", 16, 128, {4096, 4096}, {4096, 4096}, !no_bwd);
        bench("varlen 8 inst H16 D64", 16, 64, {4096, 1000, 2500, 333, 3000, 1374, 64, 1},
              {4096, 1000, 2500, 333, 3000, 1374, 64, 1}, !no_bwd);
    }
    return ok ? 0 : 1;
}
