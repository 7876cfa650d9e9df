// Standalone check and benchmark of the Hopper wgmma flash attention forward (vf_flash_sm90.cu) against the f32
// kernel (vf_attention.cu) on the same rounded inputs and, for speed, against the mma.sync kernel (vf_flash.cu); no
// Java. Build (run_sm90.sh does this):
//   nvcc -O3 -std=c++17 -gencode arch=compute_90a,code=sm_90a -I../src/main/cuda -c ../src/main/cuda/vf_flash_sm90.cu
//   nvcc -O3 -std=c++17 -gencode arch=compute_90,code=sm_90 -I../src/main/cuda -o flash_sm90_bench \
//        flash_sm90_bench.cu vf_flash_sm90.o ../src/main/cuda/vf_flash.cu ../src/main/cuda/vf_attention.cu
//   (with -DVF_BENCH_PREV and an object of the previous vf_flash_sm90.cu built with
//    -Dvf_flash_fwd_sm90=vf_flash_fwd_sm90_prev -Dvf_flash_fwd_sm90_workspace=vf_flash_fwd_sm90_workspace_prev, the
//    production benchmark also times that build: "prev sm90"; it must have this build's signature)
//   ./flash_sm90_bench [--check-only | --bench-only] [--small] [--probe] [--ncu] [--prod] [--d 64|128] [--reps N]
//   (--ncu: three calls on the production self 1x4096 shape and nothing else, for ncu --launch-skip 2)
//   Environment: VF_NO_SPLIT runs every sm90 call without the tail-split workspace (checks included);
//   VF_SPLIT_SWEEP adds the forced P = 2, 3, 4, 8 columns to the production benchmark.
//
// Correctness: random bf16 / f16 inputs, head dims 64 and 128, awkward lengths (1, 17, 63, 65, 127, 129, 1000
// tokens, an empty instance, cross lengths unlike the query lengths, 300 instances through device offsets), q, k, v
// as slices of a packed [N, 3, H, D] projection or with padded token strides, out f32 or the input type with a padded
// token stride, several full query tiles per instance and head, batch 1 with partial last tiles and without keys,
// and (loose) the production shapes. Outputs and lse are poisoned (all-ones bits) before every run; every element must be written and the
// padding between rows must stay untouched. Each element is held to the bound of flash_bench.cu (from
// tests/.../AttentionBounds.java, inputs already rounded so uIn = 0), plus the final rounding u (|ref| + bound) (+ 2^-25
// below f16's normal range) when out has the input type; relative RMS limits 2u (out f32), 3u (out rounded), 1e-5
// (lse). Exit status 1 if anything fails.
//
// Benchmark: first the production shapes (batch 1, H 16, D 64, bf16 from packed projections, out bf16; --prod: only
// these), then larger batches. Each sample: 10 back-to-back calls between two CUDA events (so the host's launch work
// overlaps the GPU's), per call; warm-up; median; TFLOP/s = 4 Nq Nk H D per instance / time.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>
#include "vf_attn_common.cuh"
#include "vf_flash_sm90.cuh"
#include "attn_bench_common.cuh"

static unsigned short to_bits(float x, int dtype) {
    unsigned short u;
    if (dtype == VF_BF16) {
        __nv_bfloat16 b = __float2bfloat16_rn(x);
        memcpy(&u, &b, 2);
    } else {
        __half b = __float2half_rn(x);
        memcpy(&u, &b, 2);
    }
    return u;
}
static float from_bits(unsigned short u, int dtype) {
    if (dtype == VF_BF16) {
        __nv_bfloat16 b;
        memcpy(&b, &u, 2);
        return __bfloat162float(b);
    }
    __half b;
    memcpy(&b, &u, 2);
    return __half2float(b);
}

// n standard-normal values rounded to dtype, on the device (benchmark inputs).
static void* upload_randn(Dev& dev, std::mt19937& rng, size_t n, int dtype) {
    std::normal_distribution<float> nd(0.f, 1.f);
    std::vector<unsigned short> b(n);
    for (auto& e : b) e = to_bits(nd(rng), dtype);
    void* d = dev.alloc(n * 2);
    CK(cudaMemcpy(d, b.data(), n * 2, cudaMemcpyHostToDevice));
    return d;
}

// Inputs and layouts of one case. Token rows: q row i of head h at qs * i + h * D (+ the slice offset when packed).
struct Case {
    std::string name;
    int H, D, dtype;
    std::vector<int> ql, kl;
    bool packed = false;  // q, k, v slices of one [N, 3, H, D] buffer (self attention: ql == kl)
    int qPad = 0, kvPad = 0, outPad = 0;
    bool outF32 = true;
    bool loose = false;  // big cases: relative RMS and a loose element bound (0.05 max |ref|) only
};

struct Offsets {
    std::vector<int> cuQ, cuK, host;
    int batch, nq, nk, maxQ, maxK;
    Offsets(const std::vector<int>& ql, const std::vector<int>& kl) {
        batch = (int)ql.size();
        cuQ.assign(batch + 1, 0);
        cuK.assign(batch + 1, 0);
        maxQ = maxK = 0;
        for (int b = 0; b < batch; b++) {
            cuQ[b + 1] = cuQ[b] + ql[b];
            cuK[b + 1] = cuK[b] + kl[b];
            maxQ = std::max(maxQ, ql[b]);
            maxK = std::max(maxK, kl[b]);
        }
        nq = cuQ[batch];
        nk = cuK[batch];
        host = cuQ;
        host.insert(host.end(), cuK.begin(), cuK.end());
    }
};

// Bounds for out and lse (flash_bench.cu's formulas with uIn = 0; derivation in tests/.../AttentionBounds.java):
//   E_i = 2 D 2^-24 max_j scale sum_c |q_ic||k_jc|, rho_i = exp(2 E_i) - 1, F = 2 N 2^-24 + 1e-6
//   out: ((1+u)(1+rho) - 1 + F) sum_j p_ij |v_jc| + sub sum_j |v_jc| + 1e-6;  lse: E_i + F (1 + |lse_i|)
static void bounds(const Case& c, const Offsets& o, float scale, const std::vector<float>& q, const std::vector<float>& k,
                   const std::vector<float>& v, std::vector<double>& bout, std::vector<double>& blse) {
    const int H = c.H, D = c.D;
    const double u = c.dtype == VF_BF16 ? std::ldexp(1.0, -8) : std::ldexp(1.0, -11);
    const double sub = c.dtype == VF_BF16 ? 0.0 : std::ldexp(1.0, -25);
    const double F = 2.0 * std::max(o.maxQ, o.maxK) * std::ldexp(1.0, -24) + 1e-6;
    const double gam = 2.0 * D * std::ldexp(1.0, -24);
    bout.assign((size_t)o.nq * H * D, 1e-6);
    blse.assign((size_t)o.nq * H, 0);
    for (int b = 0; b < o.batch; b++) {
        int q0 = o.cuQ[b], nq = o.cuQ[b + 1] - q0, k0 = o.cuK[b], nk = o.cuK[b + 1] - k0;
        if (nq == 0 || nk == 0) continue;
        for (int h = 0; h < H; h++) {
            auto Q = [&](int i, int e) { return (double)q[((size_t)(q0 + i) * H + h) * D + e]; };
            auto K = [&](int j, int e) { return (double)k[((size_t)(k0 + j) * H + h) * D + e]; };
            auto V = [&](int j, int e) { return (double)v[((size_t)(k0 + j) * H + h) * D + e]; };
            std::vector<double> colAbsV(D, 0), P(nk), Am(D);
            for (int j = 0; j < nk; j++)
                for (int e = 0; e < D; e++) colAbsV[e] += std::fabs(V(j, e));
            for (int i = 0; i < nq; i++) {
                double m = -INFINITY, sAbsMax = 0;
                for (int j = 0; j < nk; j++) {
                    double s = 0, sa = 0;
                    for (int e = 0; e < D; e++) {
                        s += Q(i, e) * K(j, e);
                        sa += std::fabs(Q(i, e) * K(j, e));
                    }
                    P[j] = s * scale;
                    m = std::max(m, P[j]);
                    sAbsMax = std::max(sAbsMax, sa * scale);
                }
                double l = 0;
                for (int j = 0; j < nk; j++) l += std::exp(P[j] - m);
                double lse = m + std::log(l);
                double E = gam * sAbsMax, rho = std::expm1(2 * E);
                blse[(size_t)(q0 + i) * H + h] = E + F * (1 + std::fabs(lse));
                std::fill(Am.begin(), Am.end(), 0.0);
                for (int j = 0; j < nk; j++) {
                    double p = std::exp(P[j] - lse);
                    for (int e = 0; e < D; e++) Am[e] += p * std::fabs(V(j, e));
                }
                for (int e = 0; e < D; e++)
                    bout[((size_t)(q0 + i) * H + h) * D + e] = ((1 + u) * (1 + rho) - 1 + F) * Am[e] + sub * colAbsV[e] + 1e-6;
            }
        }
    }
}


#ifdef VF_BENCH_PREV
// the previous build of vf_flash_sm90.cu (compiled with -Dvf_flash_fwd_sm90=vf_flash_fwd_sm90_prev), for timings
int vf_flash_fwd_sm90_prev(const void* q, long long qStride, const void* k, long long kStride, const void* v,
                           long long vStride, int dtype, void* out, long long outStride, int outIsF32, float* lse,
                           const VfAttnOffsets& off, int batch, int heads, int d, int maxQ, float scale, void* workspace,
                           long long workspaceBytes, cudaStream_t st, int forceParts);
#endif

// The split's workspace (vf_flash_fwd_sm90_workspace bytes, zeroed once in main); g_split = false runs without it.
static void* g_ws = nullptr;
static long long g_wsBytes = 0;
static bool g_split = true;
static int g_parts = 0;  // > 0: every split unit in that many parts (forceParts)

static int call_sm90(const void* q, long long qs, const void* k, long long ks, const void* v, long long vs, int dtype,
                     void* out, long long os, bool outF32, float* lse, const Offsets& o, const int* devOffs, int H, int D,
                     float scale, cudaStream_t st = 0) {
    VfAttnOffsets off;
    int e = vf_attn_offsets(off, o.batch <= VF_ATTN_INLINE_BATCH ? o.host.data() : nullptr, A(devOffs), o.batch);
    if (e) return e;
    return vf_flash_fwd_sm90(q, qs, k, ks, v, vs, dtype, out, os, outF32 ? 1 : 0, lse, off, o.batch, H, D, o.maxQ, scale,
                             g_split ? g_ws : nullptr, g_split ? g_wsBytes : 0, st, g_parts);
}

static bool check_case(const Case& c, unsigned seed) {
    const int H = c.H, D = c.D, HD = H * D;
    Offsets o(c.ql, c.kl);
    Dev dev;
    std::mt19937 rng(seed);
    std::normal_distribution<float> nd(0.f, 1.f);
    const size_t nqe = (size_t)o.nq * HD, nke = (size_t)o.nk * HD;
    // rounded inputs, dense [N, H, D] (the reference's layout)
    std::vector<float> q(nqe), k(nke), v(nke);
    for (auto* x : {&q, &k, &v})
        for (auto& e : *x) e = from_bits(to_bits(nd(rng), c.dtype), c.dtype);
    // the kernel's layout
    long long qs, ks, vs;
    void *qd, *kd, *vd;
    if (c.packed) {
        if (o.nq != o.nk) { printf("bad case %s\n", c.name.c_str()); return false; }
        qs = ks = vs = 3LL * HD + c.qPad;
        std::vector<unsigned short> buf((size_t)o.nq * qs, to_bits(NAN, c.dtype));
        for (int i = 0; i < o.nq; i++)
            for (int x = 0; x < HD; x++) {
                buf[i * qs + x] = to_bits(q[(size_t)i * HD + x], c.dtype);
                buf[i * qs + HD + x] = to_bits(k[(size_t)i * HD + x], c.dtype);
                buf[i * qs + 2 * HD + x] = to_bits(v[(size_t)i * HD + x], c.dtype);
            }
        unsigned short* d = (unsigned short*)dev.alloc(buf.size() * 2);
        CK(cudaMemcpy(d, buf.data(), buf.size() * 2, cudaMemcpyHostToDevice));
        qd = d;
        kd = d + HD;
        vd = d + 2 * HD;
    } else {
        qs = HD + c.qPad;
        ks = vs = HD + c.kvPad;
        auto up = [&](const std::vector<float>& x, int n, long long s) {
            std::vector<unsigned short> buf((size_t)n * s + 8, to_bits(NAN, c.dtype));  // NaN in the gaps
            for (int i = 0; i < n; i++)
                for (int e = 0; e < HD; e++) buf[i * s + e] = to_bits(x[(size_t)i * HD + e], c.dtype);
            void* d = dev.alloc(buf.size() * 2);
            CK(cudaMemcpy(d, buf.data(), buf.size() * 2, cudaMemcpyHostToDevice));
            return d;
        };
        qd = up(q, o.nq, qs);
        kd = up(k, o.nk, ks);
        vd = up(v, o.nk, vs);
    }
    float *qf = (float*)dev.alloc(nqe * 4), *kf = (float*)dev.alloc(nke * 4), *vf = (float*)dev.alloc(nke * 4);
    CK(cudaMemcpy(qf, q.data(), nqe * 4, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(kf, k.data(), nke * 4, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(vf, v.data(), nke * 4, cudaMemcpyHostToDevice));
    float *outR = (float*)dev.alloc(nqe * 4), *lseR = (float*)dev.alloc((size_t)o.nq * H * 4);
    int* devOffs = (int*)dev.alloc(o.host.size() * 4);
    CK(cudaMemcpy(devOffs, o.host.data(), o.host.size() * 4, cudaMemcpyHostToDevice));
    const bool big = o.batch > VF_ATTN_INLINE_BATCH;
    const float scale = 1.f / std::sqrt((float)D);
    CKV(vf_attention_forward(A(qf), A(kf), A(vf), A(outR), A(lseR), big ? nullptr : o.host.data(), big ? A(devOffs) : 0,
                             o.batch, H, D, D, o.maxQ, scale, 0));

    const long long os = HD + c.outPad;
    const size_t esz = c.outF32 ? 4 : 2, outElems = (size_t)std::max(o.nq, 1) * os;
    void* out = dev.alloc(outElems * esz);
    float* lse = (float*)dev.alloc((size_t)o.nq * H * 4);
    std::vector<float> outRh(nqe), lseRh((size_t)o.nq * H), lseh((size_t)o.nq * H), outh(nqe);
    CK(cudaMemcpy(outRh.data(), outR, nqe * 4, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(lseRh.data(), lseR, lseRh.size() * 4, cudaMemcpyDeviceToHost));

    std::vector<double> bout, blse;
    if (!c.loose) {
        bounds(c, o, scale, q, k, v, bout, blse);
        if (!c.outF32) {
            const double u = c.dtype == VF_BF16 ? std::ldexp(1.0, -8) : std::ldexp(1.0, -11);
            const double sub = c.dtype == VF_BF16 ? 0.0 : std::ldexp(1.0, -25);
            for (size_t i = 0; i < bout.size(); i++) bout[i] += u * (std::fabs(outRh[i]) + bout[i]) + sub;
        }
    } else {
        auto loose = [](const std::vector<float>& r) {
            double m = 0;
            for (float x : r)
                if (std::isfinite(x)) m = std::max(m, (double)std::fabs(x));
            return std::vector<double>(r.size(), 0.05 * m + 1e-6);
        };
        bout = loose(outRh);
        blse = loose(lseRh);
    }

    CK(cudaMemset(out, 0xff, outElems * esz));  // poison: NaN in either type
    CK(cudaMemset(lse, 0xff, (size_t)o.nq * H * 4));
    CKV(call_sm90(qd, qs, kd, ks, vd, vs, c.dtype, out, os, c.outF32, lse, o, devOffs, H, D, scale));
    CK(cudaDeviceSynchronize());
    CK(cudaMemcpy(lseh.data(), lse, lseh.size() * 4, cudaMemcpyDeviceToHost));
    std::vector<unsigned char> raw(outElems * esz);
    CK(cudaMemcpy(raw.data(), out, raw.size(), cudaMemcpyDeviceToHost));
    long long gapTouched = 0;
    for (int i = 0; i < o.nq; i++)
        for (long long e = 0; e < os; e++) {
            size_t at = ((size_t)i * os + e) * esz;
            if (e >= HD) {
                for (size_t bb = 0; bb < esz; bb++) gapTouched += raw[at + bb] != 0xff;
                continue;
            }
            float x;
            if (c.outF32) memcpy(&x, &raw[at], 4);
            else {
                unsigned short u;
                memcpy(&u, &raw[at], 2);
                x = from_bits(u, c.dtype);
            }
            outh[(size_t)i * HD + e] = x;
        }
    Cmp co = compare(outh, outRh, bout), cl = compare(lseh, lseRh, blse);
    const double u = c.dtype == VF_BF16 ? std::ldexp(1.0, -8) : std::ldexp(1.0, -11);
    const double limO = (c.outF32 ? 2 : 3) * u, limL = 1e-5;
    bool okO = co.ok && co.rms <= limO, okL = cl.ok && cl.rms <= limL, okG = gapTouched == 0;
    printf("%-30s %s D=%3d H=%d nq=%6d nk=%6d %s%s out=%s | out err/bound %.3f rms %.2e%s | lse err/bound %.3f rms %.2e%s%s\n",
           c.name.c_str(), c.dtype == VF_BF16 ? "bf16" : "f16 ", D, H, o.nq, o.nk,
           c.packed ? "packed" : "strided", big ? " devoffs" : "", c.outF32 ? "f32" : (c.dtype == VF_BF16 ? "bf16" : "f16"),
           co.worst, co.rms, okO ? "" : " FAIL", cl.worst, cl.rms, okL ? "" : " FAIL", okG ? "" : " GAP-WRITTEN FAIL");
    if (!okO && co.at >= 0) printf("    out worst at %lld: got %g ref %g bound %g\n", co.at, outh[co.at], outRh[co.at], bout[co.at]);
    if (!okL && cl.at >= 0) printf("    lse worst at %lld: got %g ref %g bound %g\n", cl.at, lseh[cl.at], lseRh[cl.at], blse[cl.at]);
    if (!okG) printf("    %lld bytes of the padding between output rows were written\n", gapTouched);
    fflush(stdout);
    return okO && okL && okG;
}

// ---- benchmark -----------------------------------------------------------------------------------------------------

static float median_ms(std::vector<float> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

// Each sample: `inner` back-to-back calls between two events (the host's launch work overlaps the GPU's), per call.
template <typename F> static std::vector<float> samples_ms(F fn, int reps, int inner = 10) {
    cudaEvent_t e0, e1;
    CK(cudaEventCreate(&e0));
    CK(cudaEventCreate(&e1));
    for (int i = 0; i < 2 * inner; i++) fn();
    CK(cudaDeviceSynchronize());
    std::vector<float> ms(reps);
    for (int i = 0; i < reps; i++) {
        CK(cudaEventRecord(e0));
        for (int j = 0; j < inner; j++) fn();
        CK(cudaEventRecord(e1));
        CK(cudaEventSynchronize(e1));
        CK(cudaEventElapsedTime(&ms[i], e0, e1));
        ms[i] /= inner;
    }
    CK(cudaEventDestroy(e0));
    CK(cudaEventDestroy(e1));
    return ms;
}
template <typename F> static float time_ms(F fn, int reps) { return median_ms(samples_ms(fn, reps)); }

static void bench(const char* name, int H, int D, const std::vector<int>& ql, const std::vector<int>& kl, int reps) {
    const int dtype = VF_BF16, HD = H * D;
    Offsets o(ql, kl);
    Dev dev;
    const size_t nqe = (size_t)o.nq * HD, nke = (size_t)o.nk * HD;
    std::mt19937 rng(7);
    auto upload = [&](size_t n) { return upload_randn(dev, rng, n, dtype); };
    void *q = upload(nqe), *k = upload(nke), *v = upload(nke);
    const bool self = o.nq == o.nk && ql == kl;
    void* qkv = self ? upload(3 * nqe) : nullptr;  // packed [N, 3, H, D] projection
    float *out = (float*)dev.alloc(nqe * 4), *lse = (float*)dev.alloc((size_t)o.nq * H * 4);
    void* outh = dev.alloc(nqe * 2);
    const float scale = 1.f / std::sqrt((float)D);
    double pairs = 0;
    for (int b = 0; b < o.batch; b++) pairs += (double)ql[b] * kl[b];
    const double fl = 4.0 * pairs * H * D;
    float tOld = time_ms([&] {
        CKV(vf_flash_attention_forward(A(q), HD, A(k), HD, A(v), HD, dtype, A(out), VF_F32, A(lse), o.host.data(), 0,
                                       o.batch, H, D, o.maxQ, scale, 0, 0, 0));
    }, reps);
    float tNew = time_ms([&] { CKV(call_sm90(q, HD, k, HD, v, HD, dtype, out, HD, true, lse, o, nullptr, H, D, scale)); }, reps);
    float tNewH = time_ms([&] { CKV(call_sm90(q, HD, k, HD, v, HD, dtype, outh, HD, false, lse, o, nullptr, H, D, scale)); }, reps);
    printf("BENCH %-28s old(mma.sync) %7.3f ms %6.1f TFLOP/s | sm90 out f32 %7.3f ms %6.1f TFLOP/s (x%.2f) | sm90 out bf16 %6.1f TFLOP/s",
           name, tOld, fl / tOld * 1e-9, tNew, fl / tNew * 1e-9, tOld / tNew, fl / tNewH * 1e-9);
    if (qkv) {
        unsigned short* p = (unsigned short*)qkv;
        float tP = time_ms([&] {
            CKV(call_sm90(p, 3 * HD, p + HD, 3 * HD, p + 2 * HD, 3 * HD, dtype, outh, HD, false, lse, o, nullptr, H, D, scale));
        }, reps);
        printf(" | sm90 packed qkv, out bf16 %6.1f TFLOP/s", fl / tP * 1e-9);
    }
    printf("\n");
    fflush(stdout);
}

// The production shapes: `batch` equal instances (1, or 2 as CFG runs them), H 16, D 64, bf16, out bf16; self
// attention from a packed [N, 3, H, D] projection, cross attention with dense q and k, v from a packed [Nk, 2, H, D]
// projection. Columns: the mma.sync kernel, the previous sm90 build (when linked in), this build without the tail
// split, with every split unit forced into 2, 3, 4, 8 parts (VF_SPLIT_SWEEP set), and as it chooses. Rounds of all
// columns, each starting one column later; each column's median over its samples.
static void bench_prod(const char* name, int nq1, int nk1, bool self, int reps, int batch = 1) {
    const int dtype = VF_BF16, H = 16, D = 64, HD = H * D;
    Offsets o(std::vector<int>(batch, nq1), std::vector<int>(batch, nk1));
    const int nq = nq1 * batch, nk = nk1 * batch;
    Dev dev;
    std::mt19937 rng(11);
    auto upload = [&](size_t n) { return upload_randn(dev, rng, n, dtype); };
    const unsigned short *q, *k, *v;
    long long qs, ks;
    if (self) {
        const unsigned short* p = (const unsigned short*)upload((size_t)nq * 3 * HD);
        q = p, k = p + HD, v = p + 2 * HD, qs = ks = 3LL * HD;
    } else {
        q = (const unsigned short*)upload((size_t)nq * HD);
        const unsigned short* p = (const unsigned short*)upload((size_t)nk * 2 * HD);
        k = p, v = p + HD, qs = HD, ks = 2LL * HD;
    }
    void* out = dev.alloc((size_t)nq * HD * 2);
    float* lse = (float*)dev.alloc((size_t)nq * H * 4);
    const float scale = 0.125f;
    const double fl = 4.0 * nq * nk * H * D;
    std::vector<std::function<void()>> fns;
    std::vector<const char*> names;
    fns.push_back([&] {
        CKV(vf_flash_attention_forward(A(q), qs, A(k), ks, A(v), ks, dtype, A(out), dtype, A(lse), o.host.data(), 0, batch,
                                       H, D, nq1, scale, 0, 0, 0));
    });
    names.push_back("old mma.sync");
#ifdef VF_BENCH_PREV
    fns.push_back([&] {
        VfAttnOffsets off;
        CKV(vf_attn_offsets(off, o.host.data(), 0, batch));
        CKV(vf_flash_fwd_sm90_prev(q, qs, k, ks, v, ks, dtype, out, HD, 0, lse, off, batch, H, D, nq1, scale, g_ws, g_wsBytes,
                                   0, 0));
    });
    names.push_back("prev sm90");
#endif
    fns.push_back([&] {
        g_split = false;
        CKV(call_sm90(q, qs, k, ks, v, ks, dtype, out, HD, false, lse, o, nullptr, H, D, scale));
        g_split = true;
    });
    names.push_back("sm90 no split");
    static const int forced[] = {2, 3, 4, 8};
    static const char* forcedNames[] = {"P=2", "P=3", "P=4", "P=8"};
    for (int i = 0; i < (getenv("VF_SPLIT_SWEEP") ? 4 : 0); i++) {
        const int p = forced[i];
        fns.push_back([&, p] {
            g_parts = p;
            CKV(call_sm90(q, qs, k, ks, v, ks, dtype, out, HD, false, lse, o, nullptr, H, D, scale));
            g_parts = 0;
        });
        names.push_back(forcedNames[i]);
    }
    fns.push_back([&] { CKV(call_sm90(q, qs, k, ks, v, ks, dtype, out, HD, false, lse, o, nullptr, H, D, scale)); });
    names.push_back("sm90 (this build)");
    std::vector<std::vector<float>> all(fns.size());
    // each round starts one column later, so no column always runs right after the same one (clocks and heat)
    const int rounds = (int)fns.size();
    for (int r = 0; r < rounds; r++)
        for (size_t i = 0; i < fns.size(); i++) {
            const size_t f = (i + r) % fns.size();
            auto x = samples_ms(fns[f], std::max(1, reps / 3));
            all[f].insert(all[f].end(), x.begin(), x.end());
        }
    printf("BENCHP %-24s", name);
    for (size_t f = 0; f < fns.size(); f++) {
        const float t = median_ms(all[f]);
        printf(" | %s %6.1f TFLOP/s (%.1f us)", names[f], fl / t * 1e-9, t * 1e3);
    }
    printf("\n");
    fflush(stdout);
}

int main(int argc, char** argv) {
    setenv("VOXFLOW_FLASH_SM90", "0", 1);  // vf_flash_attention_forward times the mma.sync kernel here
    bool check = true, run_bench = true, small = false, probe = false, prodOnly = false, ncu = false;
    int onlyD = 0, reps = 30;
    for (int i = 1; i < argc; i++) {
        std::string a = argv[i];
        if (a == "--check-only") run_bench = false;
        else if (a == "--bench-only") check = false;
        else if (a == "--small") small = true;
        else if (a == "--probe") probe = true;
        else if (a == "--ncu") ncu = true;
        else if (a == "--prod") prodOnly = true;
        else if (a == "--d" && i + 1 < argc) onlyD = atoi(argv[++i]);
        else if (a == "--reps" && i + 1 < argc) reps = atoi(argv[++i]);
    }
    cudaDeviceProp prop;
    CK(cudaGetDeviceProperties(&prop, 0));
    g_wsBytes = vf_flash_fwd_sm90_workspace();
    if (g_wsBytes > 0) {
        CK(cudaMalloc(&g_ws, g_wsBytes));
        CK(cudaMemset(g_ws, 0, g_wsBytes));
    }
    if (getenv("VF_NO_SPLIT")) g_split = false;
    printf("device: %s, %d SMs, cc %d.%d\n", prop.name, prop.multiProcessorCount, prop.major, prop.minor);
    if (probe) {  // does this build's sm90 path run here? (0 = yes, -1 = refused)
        Offsets o({8}, {8});
        Dev dev;
        void* x = dev.alloc(8 * 64 * 2);
        CK(cudaMemset(x, 0, 8 * 64 * 2));
        float *out = (float*)dev.alloc(8 * 64 * 4), *lse = (float*)dev.alloc(8 * 4);
        int r = call_sm90(x, 64, x, 64, x, 64, VF_BF16, out, 64, true, lse, o, nullptr, 1, 64, 0.125f);
        cudaError_t s = cudaDeviceSynchronize();
        printf("PROBE vf_flash_fwd_sm90 returned %d (%s), sync %s\n", r, r == 0 ? "runs" : "refused or failed",
               cudaGetErrorString(s));
        return r == 0 && s == cudaSuccess ? 0 : 1;
    }
    if (ncu) {
        Offsets o({4096}, {4096});
        Dev dev;
        std::mt19937 rng(11);
        unsigned short* p = (unsigned short*)upload_randn(dev, rng, (size_t)4096 * 3 * 1024, VF_BF16);
        void* y = dev.alloc((size_t)4096 * 1024 * 2);
        float* l = (float*)dev.alloc((size_t)4096 * 16 * 4);
        for (int i = 0; i < 3; i++) CKV(call_sm90(p, 3072, p + 1024, 3072, p + 2048, 3072, VF_BF16, y, 1024, false, l, o, nullptr, 16, 64, 0.125f));
        CK(cudaDeviceSynchronize());
        return 0;
    }
    bool ok = true;
    if (check) {
        std::vector<Case> cases;
        auto add = [&](Case c) {
            if (!onlyD || c.D == onlyD) cases.push_back(c);
        };
        const std::vector<int> awk = {1, 17, 63, 65, 127, 129, 1000, 0};
        const std::vector<int> cq = {17, 129, 1, 0, 65, 300, 5}, ck = {63, 1000, 127, 40, 0, 1, 130};
        if (small) {
            add({"small packed", 2, 64, VF_BF16, {1, 70, 0, 17}, {1, 70, 0, 17}, true, 0, 0, 0, false});
            add({"small cross", 2, 64, VF_F16, {1, 70, 0, 17}, {65, 3, 9, 0}, false, 8, 16, 8, true});
            add({"small d128", 1, 128, VF_BF16, {130}, {33}, false, 0, 8, 0, false});
        }
        // several full query tiles per instance and head (warpgroups taking turns, from one item into the next)
        add({"multi-tile", 2, 64, VF_BF16, {400, 192, 5}, {300, 1, 129}, false, 0, 8, 8, false});
        add({"multi-tile d128", 1, 128, VF_F16, {300, 128}, {200, 70}, false, 8, 0, 0, true});
        // batch 1: partial last tiles with rows for one and for every consumer warpgroup, an instance without keys
        add({"batch-1 self", 2, 64, VF_BF16, {1000}, {1000}, true, 8, 0, 8, false});
        add({"batch-1 cross, full partial", 3, 64, VF_F16, {550}, {77}, false, 0, 8, 0, true});
        add({"batch-1 no keys", 4, 64, VF_BF16, {500}, {0}, false, 0, 0, 8, false});
        add({"batch-1 d128", 2, 128, VF_BF16, {300}, {200}, false, 0, 0, 0, true});
        if (!small) {
            for (int dtype : {VF_BF16, VF_F16})
                for (int D : {64, 128}) {
                    add({"self awkward, packed qkv", 2, D, dtype, awk, awk, true, 0, 0, 0, true});
                    add({"self awkward, packed, out T", 2, D, dtype, awk, awk, true, 8, 0, 8, false});
                    add({"cross awkward, padded", 2, D, dtype, cq, ck, false, 8, 24, 0, true});
                    add({"cross awkward, out T", 3, D, dtype, cq, ck, false, 0, 0, 16, false});
                }
            std::vector<int> ql, kl;
            for (int i = 0; i < 300; i++) {
                ql.push_back(i % 7 == 3 ? 0 : 1 + (i * 37) % 90);
                kl.push_back(i % 11 == 5 ? 0 : 1 + (i * 53) % 140);
            }
            add({"300 instances (device offsets)", 1, 64, VF_BF16, ql, kl, false, 0, 0, 0, true});
            add({"300 instances, out T", 1, 128, VF_F16, ql, kl, false, 8, 8, 8, false});
            add({"2x4096 self packed (loose)", 16, 64, VF_BF16, {4096, 4096}, {4096, 4096}, true, 0, 0, 0, false, true});
            add({"4096x1374 cross (loose)", 16, 64, VF_BF16, {4096, 4096}, {1374, 1374}, false, 0, 0, 0, true, true});
            add({"2x2048 self d128 (loose)", 8, 128, VF_BF16, {2048, 2048}, {2048, 2048}, true, 0, 0, 0, true, true});
            // the production shapes (batch 1, H 16, D 64, out bf16)
            add({"1x4640 self packed (loose)", 16, 64, VF_BF16, {4640}, {4640}, true, 0, 0, 0, false, true});
            add({"1x(4640x1374) cross (loose)", 16, 64, VF_BF16, {4640}, {1374}, false, 0, 1024, 0, false, true});
        }
        unsigned seed = 100;
        for (auto& c : cases) ok &= check_case(c, seed++);
        // refusals: unsupported head dim, misaligned stride, non-positive scale (the caller falls back)
        {
            Offsets o({4}, {4});
            int r1 = call_sm90(nullptr, 96, nullptr, 96, nullptr, 96, VF_BF16, nullptr, 96, 1, nullptr, o, nullptr, 1, 96, 1.f);
            int r2 = call_sm90(nullptr, 68, nullptr, 64, nullptr, 64, VF_BF16, nullptr, 64, 1, nullptr, o, nullptr, 1, 64, 1.f);
            int r3 = call_sm90(nullptr, 64, nullptr, 64, nullptr, 64, VF_BF16, nullptr, 64, 1, nullptr, o, nullptr, 1, 64, 0.f);
            bool good = r1 == -1 && r2 == -1 && r3 == -1;
            printf("refusals (d 96, stride 68, scale 0): %d %d %d%s\n", r1, r2, r3, good ? "" : " FAIL");
            ok &= good;
        }
        printf("CHECK %s\n", ok ? "PASSED" : "FAILED");
        fflush(stdout);
    }
    if (run_bench) {
        if (!onlyD || onlyD == 64) {
            {  // clocks up before the first timing
                Offsets o({4096}, {4096});
                Dev dev;
                void* x = dev.alloc((size_t)4096 * 3 * 1024 * 2);
                CK(cudaMemset(x, 0, (size_t)4096 * 3 * 1024 * 2));
                void* y = dev.alloc((size_t)4096 * 1024 * 2);
                float* l = (float*)dev.alloc((size_t)4096 * 16 * 4);
                for (int i = 0; i < 1500; i++) CKV(call_sm90(x, 3072, (char*)x + 2048, 3072, (char*)x + 4096, 3072, VF_BF16, y, 1024, false, l, o, nullptr, 16, 64, 0.125f));
                CK(cudaDeviceSynchronize());
            }
            bench_prod("self 1x4096", 4096, 4096, true, reps);
            bench_prod("self 1x4640", 4640, 4640, true, reps);
            bench_prod("cross 1x(4096x1374)", 4096, 1374, false, reps);
            bench_prod("cross 1x(4640x1374)", 4640, 1374, false, reps);
            // 33 query tiles x 16 heads = 4 full waves of 132 SMs (1x4096 leaves the last of 3 waves two thirds full)
            bench_prod("self 1x6336 (whole waves)", 6336, 6336, true, reps);
            bench_prod("self 2x4096 (CFG batch)", 4096, 4096, true, reps, 2);
        }
        if (prodOnly) return ok ? 0 : 1;
        if (!onlyD || onlyD == 64) {
            bench("self 2x4096 H16 D64", 16, 64, {4096, 4096}, {4096, 4096}, reps);
            bench("cross 2x(4096x1374) H16 D64", 16, 64, {4096, 4096}, {1374, 1374}, reps);
        }
        if (!onlyD || onlyD == 128) bench("self 2x4096 H16 D128", 16, 128, {4096, 4096}, {4096, 4096}, reps);
        if (!onlyD || onlyD == 64)
            bench("varlen 8 inst H16 D64", 16, 64, {4096, 1000, 2500, 333, 3000, 1374, 64, 1},
                  {4096, 1000, 2500, 333, 3000, 1374, 64, 1}, reps);
    }
    return ok ? 0 : 1;
}
