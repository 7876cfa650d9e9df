// Shared pieces of the attention harnesses (flash_bench.cu, flash_sm90_bench.cu): error checks, device allocation,
// and the element-by-element comparison against a per-element error bound.
#pragma once
#include <cuda_runtime.h>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#define CK(x)                                                                                   \
    do {                                                                                        \
        cudaError_t e_ = (x);                                                                   \
        if (e_ != cudaSuccess) {                                                                \
            fprintf(stderr, "%s:%d %s: %s\n", __FILE__, __LINE__, #x, cudaGetErrorString(e_)); \
            exit(2);                                                                            \
        }                                                                                       \
    } while (0)
// For the C API's int results: 0, a cudaError_t, or -1 (a case the sm90 kernel refuses).
#define CKV(x)                                                                                                 \
    do {                                                                                                       \
        int e_ = (x);                                                                                          \
        if (e_) {                                                                                              \
            fprintf(stderr, "%s:%d %s: %d %s\n", __FILE__, __LINE__, #x, e_,                                   \
                    e_ > 0 ? cudaGetErrorString((cudaError_t)e_) : "(-1: case refused by the sm90 kernel)"); \
            exit(2);                                                                                           \
        }                                                                                                      \
    } while (0)

static long long A(const void* p) { return (long long)(intptr_t)p; }

// Device buffers freed together at scope exit.
struct Dev {
    std::vector<void*> ptrs;
    void* alloc(size_t bytes) {
        void* p = nullptr;
        CK(cudaMalloc(&p, std::max<size_t>(bytes, 16)));
        ptrs.push_back(p);
        return p;
    }
    ~Dev() {
        for (void* p : ptrs) cudaFree(p);
    }
};

struct Cmp {
    double worst = 0, rms = 0;  // worst |err| / bound, relative RMS error
    long long at = -1;
    bool ok = true;
};

// got against ref element by element: infinities must match, NaN fails, |err| <= bound[i] everywhere.
static Cmp compare(const std::vector<float>& got, const std::vector<float>& ref, const std::vector<double>& bound) {
    Cmp c;
    double num = 0, den = 0;
    for (size_t i = 0; i < got.size(); i++) {
        float g = got[i], r = ref[i];
        if (std::isinf(r) || std::isinf(g)) {
            if (g != r) { c.ok = false; c.worst = INFINITY; c.at = (long long)i; }
            continue;
        }
        if (std::isnan(g) || std::isnan(r)) { c.ok = false; c.worst = NAN; c.at = (long long)i; continue; }
        double e = std::fabs((double)g - r);
        num += e * e;
        den += (double)r * r;
        double ratio = e / bound[i];
        if (ratio > c.worst) { c.worst = ratio; c.at = (long long)i; }
    }
    if (!(c.worst <= 1)) c.ok = false;
    c.rms = std::sqrt(num / std::max(den, 1e-300));
    return c;
}
