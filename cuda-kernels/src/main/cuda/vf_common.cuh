// Shared device helpers: dtype loads/stores, strided index arithmetic, warp reductions, launch checks.
#pragma once
#include <cuda_runtime.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <stdint.h>
#include "voxflow_kernels.h"

enum VfType { VF_F32 = 0, VF_BF16 = 1, VF_F16 = 2, VF_I32 = 3, VF_I64 = 4 };

#define VF_STREAM(s) reinterpret_cast<cudaStream_t>(static_cast<intptr_t>(s))
#define VF_PTR(T, p) reinterpret_cast<T*>(static_cast<intptr_t>(p))

// A launch reports its own configuration errors at once; faults inside kernels surface at the next sync.
static inline int vf_launch_status() { return (int)cudaGetLastError(); }

// Strided layout passed by value to kernels (fits in the 4 KB parameter space).
struct VfLayout {
    int rank;
    int shape[VF_MAX_RANK];
    long long stride[3][VF_MAX_RANK];  // up to three operands besides the dense output
};

static inline bool vf_make_layout(VfLayout& L, int rank, const int* shape, const long long* s0, const long long* s1,
                                  const long long* s2) {
    if (rank < 0 || rank > VF_MAX_RANK) return false;
    L.rank = rank;
    for (int i = 0; i < rank; i++) {
        L.shape[i] = shape[i];
        L.stride[0][i] = s0 ? s0[i] : 0;
        L.stride[1][i] = s1 ? s1[i] : 0;
        L.stride[2][i] = s2 ? s2[i] : 0;
    }
    return true;
}

static inline long long vf_numel(int rank, const int* shape) {
    long long n = 1;
    for (int i = 0; i < rank; i++) n *= shape[i];
    return n;
}

// Element offsets of the logical (row-major) index i for NOPS operands, in index type I: 32-bit when every offset
// fits (vf_fits32), since 64-bit division dominates the arithmetic.
template <typename I, int NOPS>
__device__ __forceinline__ void vf_offsets_i(const VfLayout& L, I i, I (&off)[NOPS]) {
#pragma unroll
    for (int o = 0; o < NOPS; o++) off[o] = 0;
    for (int d = L.rank - 1; d >= 0; d--) {
        I n = (I)L.shape[d];
        I q = i / n, c = i - q * n;
        i = q;
#pragma unroll
        for (int o = 0; o < NOPS; o++) off[o] += c * (I)L.stride[o][d];
    }
}

// Whether n elements and every operand's largest offset fit in 31 bits (strides are non-negative).
static inline bool vf_fits32(const VfLayout& L, long long n, int nops) {
    if (n >= (1LL << 31)) return false;
    for (int o = 0; o < nops; o++) {
        long long far = 0;
        for (int d = 0; d < L.rank; d++) far += (long long)(L.shape[d] - 1) * L.stride[o][d];
        if (far >= (1LL << 31) || far < 0) return false;
    }
    return true;
}

template <typename T> __device__ __forceinline__ float vf_to_float(T v);
template <> __device__ __forceinline__ float vf_to_float<float>(float v) { return v; }
template <> __device__ __forceinline__ float vf_to_float<__nv_bfloat16>(__nv_bfloat16 v) { return __bfloat162float(v); }
template <> __device__ __forceinline__ float vf_to_float<__half>(__half v) { return __half2float(v); }

// f32 -> the element type, round to nearest even (the CPU reference's cast).
template <typename T> __device__ __forceinline__ T vf_from_float(float v);
template <> __device__ __forceinline__ float vf_from_float<float>(float v) { return v; }
template <> __device__ __forceinline__ __nv_bfloat16 vf_from_float<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }
template <> __device__ __forceinline__ __half vf_from_float<__half>(float v) { return __float2half_rn(v); }

__device__ __forceinline__ float vf_warp_sum(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ float vf_warp_max(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

static inline unsigned vf_blocks(long long n, int threads, long long cap = 1 << 20) {
    long long b = (n + threads - 1) / threads;
    if (b < 1) b = 1;
    return (unsigned)(b < cap ? b : cap);
}

// ---- Programmatic dependent launch (compute capability 9.0+) ----------------------------------------------------
// Kernels started with vf_launch may begin while the kernel before them in the stream is still finishing (its last
// CTAs, its memory flush), so their launch and prologue overlap it instead of following it. Such a kernel must call
// vf_pdl_wait() before its first global load or store: it returns once every earlier grid in the stream has
// completed and its writes are visible. vf_pdl_trigger() lets the next vf_launch'ed kernel start launching (it is
// also implied when a kernel exits). Kernels launched with <<<>>> (and cuBLAS's) keep the full serialization, so a
// kernel is converted by adding the wait and changing its launch; nothing else in the stream has to know.
__device__ __forceinline__ void vf_pdl_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.wait;\n" ::: "memory");
#endif
}
__device__ __forceinline__ void vf_pdl_trigger() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.launch_dependents;\n" :::);
#endif
}

// cudaDeviceGetAttribute(attr, dev), asked once per device for the attributes launchers consult on every launch (the
// SM count, the compute capability's major number; others are asked each time); 0 when the query fails.
int vf_device_attribute(cudaDeviceAttr attr, int dev);

// Whether launches on the current device ask for programmatic serialization: compute capability 9.0 or newer, and
// VOXFLOW_PDL is not "0" (the switch for A/B timing and for ruling it out when chasing a race).
bool vf_pdl_enabled();

// kernel<<<grid, block, smem, st>>>(args...) with programmatic serialization where vf_pdl_enabled(); returns the
// launch's status (0 or a cudaError_t).
template <typename... P, typename... A>
static inline int vf_launch(void (*kernel)(P...), dim3 grid, dim3 block, size_t smem, cudaStream_t st, A&&... args) {
    cudaLaunchAttribute attr[1];
    attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    attr[0].val.programmaticStreamSerializationAllowed = 1;
    cudaLaunchConfig_t cfg = {};
    cfg.gridDim = grid;
    cfg.blockDim = block;
    cfg.dynamicSmemBytes = smem;
    cfg.stream = st;
    cfg.attrs = attr;
    cfg.numAttrs = vf_pdl_enabled() ? 1 : 0;
    return (int)cudaLaunchKernelEx(&cfg, kernel, static_cast<A&&>(args)...);
}
