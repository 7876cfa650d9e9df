// Hopper (sm_90a) wgmma flash attention forward (vf_flash_sm90.cu). Host C++ (not part of the C API).
#pragma once
#include <cuda_runtime.h>

struct VfAttnOffsets;  // vf_attn_common.cuh

// q, k, v: bf16 (dtype VF_BF16) or f16 (VF_F16); row i of head h at base + i * stride + h * d elements (strides
// multiples of 8, bases 16-byte aligned). out: [Nq] rows of heads * d, f32 (outIsF32) or the input type, row i at
// out + i * outStride elements; lse f32 [Nq, heads], natural log. Instances, offsets and scale as in
// vf_flash_attention_forward. Returns 0, a cudaError_t, or -1 when this kernel cannot run the case (d not 64 or 128,
// misaligned strides or pointers, scale <= 0, a device other than compute capability 9.0, or a library without the
// sm_90a image): the caller then falls back to the mma.sync kernel.
int vf_flash_fwd_sm90(const void* q, long long qStride, const void* k, long long kStride, const void* v,
                      long long vStride, int dtype, void* out, long long outStride, int outIsF32, float* lse,
                      const VfAttnOffsets& off, int batch, int heads, int d, int maxQ, float scale, cudaStream_t st);
