// Hopper (sm_90a) wgmma flash attention forward (vf_flash_sm90.cu). Host C++ (not part of the C API).
#pragma once
#include <cuda_runtime.h>

struct VfAttnOffsets;  // vf_attn_common.cuh

// q, k, v: bf16 (dtype VF_BF16) or f16 (VF_F16); row i of head h at base + i * stride + h * d elements (strides
// multiples of 8, bases 16-byte aligned). out: [Nq] rows of heads * d, f32 (outIsF32) or the input type, row i at
// out + i * outStride elements; lse f32 [Nq, heads], natural log. Instances, offsets and scale as in
// vf_flash_attention_forward. Returns 0, a cudaError_t, or -1 when this kernel cannot run the case (d not 64 or 128,
// misaligned strides or pointers, scale <= 0, a device other than compute capability 9.0, or a library without the
// sm_90a image): the caller then falls back to the mma.sync kernel. workspace (workspaceBytes, zeroed before its
// first use and left zeroed by every launch) lets the kernel split the key range of the units in a partly full last
// wave; null or too small: no split. One workspace serves launches that run one after another (one stream).
// forceParts > 0 imposes the number of parts a split unit is cut into (tuning; 0: the kernel's choice).
int vf_flash_fwd_sm90(const void* q, long long qStride, const void* k, long long kStride, const void* v,
                      long long vStride, int dtype, void* out, long long outStride, int outIsF32, float* lse,
                      const VfAttnOffsets& off, int batch, int heads, int d, int maxQ, float scale, void* workspace,
                      long long workspaceBytes, cudaStream_t st, int forceParts = 0);
// The workspace bytes the split can use on the current device (0: this kernel does not run there).
long long vf_flash_fwd_sm90_workspace();
