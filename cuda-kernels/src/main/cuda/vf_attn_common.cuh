// Shared pieces of the attention kernels (vf_attention.cu, vf_flash.cu, vf_flash_bwd.cu): the per-instance offsets
// passed as a kernel parameter, one-time launch attributes, and the sm_80+ PTX wrappers of the tensor-core kernels
// (cp.async, ldmatrix, mma.sync m16n8k16 with f32 accumulation) with the XOR-swizzled shared-memory tile layout.
#pragma once
#include "vf_common.cuh"

// Offsets of the instances, cuQ[0..B] then cuK[0..B], carried inside the kernel parameters (no upload, no host
// synchronization) when B <= VF_ATTN_INLINE_BATCH; larger batches pass a device copy in `dev`. __grid_constant__
// keeps the kernels reading the parameter in place (no per-thread copy of the array).
struct VfAttnOffsets {
    const int* dev;
    int batch;
    int cu[2 * (VF_ATTN_INLINE_BATCH + 1)];
    __device__ __forceinline__ int q(int b) const { return dev ? dev[b] : cu[b]; }
    __device__ __forceinline__ int k(int b) const { return dev ? dev[batch + 1 + b] : cu[batch + 1 + b]; }
};

// Fills the offsets from the C API's arguments: host (2 (B+1) ints) when the batch fits, else devOffsets.
static inline int vf_attn_offsets(VfAttnOffsets& o, const int* host, long long devOffsets, int batch) {
    o.batch = batch;
    o.dev = nullptr;
    if (batch <= VF_ATTN_INLINE_BATCH && host) {
        for (int i = 0; i < 2 * (batch + 1); i++) o.cu[i] = host[i];
        return 0;
    }
    if (!devOffsets) return (int)cudaErrorInvalidValue;
    o.dev = VF_PTR(const int, devOffsets);
    return 0;
}

// cudaFuncSetAttribute(MaxDynamicSharedMemorySize) once per kernel and device (the attribute belongs to the
// device's context): `done` is the caller's per-kernel static, one bit per device; later calls cost one
// cudaGetDevice. Racing first calls both set the same value: harmless.
static inline int vf_smem_attribute(const void* kernel, size_t bytes, unsigned long long& done) {
    if (bytes <= 48 * 1024) return 0;
    int dev = 0;
    cudaError_t e = cudaGetDevice(&dev);
    if (e != cudaSuccess) return (int)e;
    unsigned long long bit = dev < 64 ? 1ull << dev : 0;
    if (bit && (__atomic_load_n(&done, __ATOMIC_RELAXED) & bit)) return 0;
    e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)bytes);
    if (e != cudaSuccess) return (int)e;
    __atomic_fetch_or(&done, bit, __ATOMIC_RELAXED);
    return 0;
}

namespace vfa {

constexpr float LOG2E = 1.4426950408889634f;
constexpr float LN2 = 0.6931471805599453f;

__device__ __forceinline__ unsigned smem_u32(const void* p) { return (unsigned)__cvta_generic_to_shared(p); }

// 16-byte global -> shared copy; valid == false writes zeros (src-size 0, nothing is read).
__device__ __forceinline__ void cp_async16(void* dst, const void* src, bool valid) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_u32(dst)), "l"(src), "r"(valid ? 16 : 0));
}
__device__ __forceinline__ void cp_async4(void* dst, const void* src, bool valid) {
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(smem_u32(dst)), "l"(src), "r"(valid ? 4 : 0));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
__device__ __forceinline__ void cp_async_wait_all() { asm volatile("cp.async.wait_group 0;\n" ::: "memory"); }

__device__ __forceinline__ void ldsm_x4(unsigned (&r)[4], const void* p) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(smem_u32(p)));
}
__device__ __forceinline__ void ldsm_x4_t(unsigned (&r)[4], const void* p) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(smem_u32(p)));
}

// D (16x8 f32) += A (16x16, row) B (16x8, col), 16-bit inputs.
template <typename T> __device__ __forceinline__ void mma(float (&d)[4], const unsigned (&a)[4], unsigned b0, unsigned b1);
template <> __device__ __forceinline__ void mma<__nv_bfloat16>(float (&d)[4], const unsigned (&a)[4], unsigned b0, unsigned b1) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
template <> __device__ __forceinline__ void mma<__half>(float (&d)[4], const unsigned (&a)[4], unsigned b0, unsigned b1) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// Two floats rounded to the 16-bit type, the first in the low half (the lower column of a fragment pair).
template <typename T> __device__ __forceinline__ unsigned pack2(float lo, float hi);
template <> __device__ __forceinline__ unsigned pack2<__nv_bfloat16>(float lo, float hi) {
    __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
    return *reinterpret_cast<unsigned*>(&v);
}
template <> __device__ __forceinline__ unsigned pack2<__half>(float lo, float hi) {
    __half2 v = __floats2half2_rn(lo, hi);
    return *reinterpret_cast<unsigned*>(&v);
}
template <typename T> __device__ __forceinline__ float2 unpack2(unsigned u);
template <> __device__ __forceinline__ float2 unpack2<__nv_bfloat16>(unsigned u) {
    return __bfloat1622float2(*reinterpret_cast<__nv_bfloat162*>(&u));
}
template <> __device__ __forceinline__ float2 unpack2<__half>(unsigned u) { return __half22float2(*reinterpret_cast<__half2*>(&u)); }

__device__ __forceinline__ float ex2(float x) {  // 2^x, -inf -> 0
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
    return y;
}

// Shared tiles are rows of CH 16-byte chunks (8 elements each). Chunk c of row r lives at r * CH + (c ^ f(r)) so
// that the 8 row addresses of an ldmatrix (8 consecutive rows, same logical chunk) fall in 8 different 16-byte
// bank groups; with CH == 4 (64-byte rows, two per 128-byte line) the XOR uses rows / 2.
template <int CH>
__device__ __forceinline__ int swz(int r, int c) {
    static_assert(CH == 4 || CH % 8 == 0, "row width");
    if constexpr (CH == 4) return r * CH + (c ^ ((r >> 1) & 3));
    else return r * CH + (c ^ (r & 7));
}

// cp.async of rows [start, start + R) (n valid) of one head into a swizzled [R][CH] tile; rows past n are zeros.
// src points at row 0 of the instance for this head; rows are `stride` 16-byte units apart.
template <int R, int CH, int THREADS>
__device__ __forceinline__ void load_tile(uint4* tile, const uint4* src, long long stride, int start, int n) {
    static_assert((R * CH) % THREADS == 0, "tile split");
#pragma unroll
    for (int i = 0; i < R * CH / THREADS; i++) {
        int e = threadIdx.x + i * THREADS;
        int r = e / CH, c = e % CH;
        int row = start + r;
        bool ok = row < n;
        cp_async16(tile + swz<CH>(r, c), src + (ok ? row : 0) * stride + c, ok);
    }
}

}  // namespace vfa
