// Flow sampling and distillation losses, fused. The reference is org.voxflow.tensor.cpu.CpuBackend#flowStep and
// #mdtVelocityLoss; every product, quotient and difference below is rounded on its own (__fmul_rn, __fdiv_rn,
// __fsub_rn are never contracted into FMAs), as Java's float arithmetic, so the elementwise results are the CPU's
// bits and only the sums differ, in their order.
//
// Why fuse (n = elements of the state; each transfer is 4n bytes of HBM traffic):
// - flow step: guided velocity, x0 prediction and Euler update composed are 8 elementwise launches moving 19
//   state-sized tensors (11 reads, 8 writes; unguided 5 launches, 12 transfers); here one launch reads x, v_cond,
//   v_neg and writes x_prev, x0: 5 transfers (unguided 4).
// - MDT VM/VD loss: composed (square, per-sample sum, sqrt, +0.1, divide, times t, target, difference, square,
//   times lambda, mean; backward another 4 ops) are ~16 launches and ~26 transfers; here a segmented sum of
//   squares (1 read of g), one fused pass (reads pred, v_T, g; writes dL/dpred) and two tiny finishing kernels:
//   5 transfers, then one scaling pass in the backward rule.
#include <vector>
#include "vf_common.cuh"

namespace {

constexpr int THREADS = 256;
constexpr long long SUMSQ_CHUNK = 8192;  // elements per block of the per-sample sum of squares
constexpr unsigned MAX_LOSS_BLOCKS = 2048;

inline bool aligned16(long long p) { return (p & 15) == 0; }

// ---- flow step ---------------------------------------------------------------------------------------------------

struct FlowStep {
    float condWeight, negWeight, dt, x0Scale, x0VScale;

    template <bool GUIDED>
    __device__ __forceinline__ void apply(float x, float vc, float vn, float& xPrev, float& x0) const {
        float v = GUIDED ? __fsub_rn(__fmul_rn(condWeight, vc), __fmul_rn(negWeight, vn)) : vc;
        x0 = __fsub_rn(__fmul_rn(x0Scale, x), __fmul_rn(x0VScale, v));
        xPrev = __fsub_rn(x, __fmul_rn(dt, v));
    }
};

// VEC: every operand 16-byte aligned, float4 loads and stores for the first n & ~3 elements, scalar tail.
template <bool GUIDED, bool VEC>
__global__ void flow_step_kernel(FlowStep op, const float* __restrict__ x, const float* __restrict__ vc,
                                 const float* __restrict__ vn, float* __restrict__ xPrev, float* __restrict__ x0,
                                 long long n) {
    long long tid = blockIdx.x * (long long)blockDim.x + threadIdx.x;
    long long stride = (long long)gridDim.x * blockDim.x;
    long long scalarFrom = 0;
    if (VEC) {
        long long nv = n >> 2;
        const float4* x4 = reinterpret_cast<const float4*>(x);
        const float4* c4 = reinterpret_cast<const float4*>(vc);
        const float4* n4 = reinterpret_cast<const float4*>(vn);
        float4* p4 = reinterpret_cast<float4*>(xPrev);
        float4* z4 = reinterpret_cast<float4*>(x0);
        for (long long i = tid; i < nv; i += stride) {
            float4 a = x4[i], c = c4[i], m = GUIDED ? n4[i] : make_float4(0.f, 0.f, 0.f, 0.f);
            float4 p, z;
            op.apply<GUIDED>(a.x, c.x, m.x, p.x, z.x);
            op.apply<GUIDED>(a.y, c.y, m.y, p.y, z.y);
            op.apply<GUIDED>(a.z, c.z, m.z, p.z, z.z);
            op.apply<GUIDED>(a.w, c.w, m.w, p.w, z.w);
            p4[i] = p;
            z4[i] = z;
        }
        scalarFrom = nv << 2;
    }
    for (long long i = scalarFrom + tid; i < n; i += stride)
        op.apply<GUIDED>(x[i], vc[i], GUIDED ? vn[i] : 0.f, xPrev[i], x0[i]);
}

// ---- MDT velocity loss -------------------------------------------------------------------------------------------

// Sum over the block (blockDim.x == THREADS); the result is valid in thread 0. Called once per kernel.
__device__ __forceinline__ float block_sum(float v) {
    __shared__ float part[THREADS / 32];
    v = vf_warp_sum(v);
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    if (lane == 0) part[warp] = v;
    __syncthreads();
    if (warp == 0) {
        v = lane < THREADS / 32 ? part[lane] : 0.f;
        v = vf_warp_sum(v);
    }
    return v;
}

__device__ __forceinline__ double warp_sum_double(double v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

// The b with off[b] <= i < off[b+1] for 0 <= i < off[count] (off non-decreasing, off[0] == 0; empty ranges are
// skipped because the search keeps off[lo] <= i < off[hi]).
__device__ __forceinline__ int find_range(const long long* __restrict__ off, int count, long long i) {
    int lo = 0, hi = count;
    while (hi - lo > 1) {
        int mid = (lo + hi) >> 1;
        if (__ldg(off + mid) <= i) lo = mid; else hi = mid;
    }
    return lo;
}

__device__ __forceinline__ float sq(float e) { return __fmul_rn(e, e); }

// Block c sums g^2 over chunk c: chunk k of sample b covers elements seg[b] + k CHUNK .. min(seg[b+1], + CHUNK);
// chunk[b] is the index of sample b's first chunk. Scalar head up to a 16-byte boundary, float4 body, scalar tail.
__global__ void sumsq_chunks_kernel(const float* __restrict__ g, const long long* __restrict__ seg,
                                    const long long* __restrict__ chunk, int samples, float* __restrict__ partial) {
    long long c = blockIdx.x;
    int b = find_range(chunk, samples, c);
    long long begin = seg[b] + (c - chunk[b]) * SUMSQ_CHUNK;
    long long end = min(seg[b + 1], begin + SUMSQ_CHUNK);
    long long head = begin + (long long)((4 - ((reinterpret_cast<uintptr_t>(g + begin) >> 2) & 3)) & 3);
    if (head > end) head = end;
    float acc = 0.f;
    for (long long i = begin + threadIdx.x; i < head; i += blockDim.x) acc += sq(g[i]);
    long long nv = (end - head) >> 2;
    const float4* g4 = reinterpret_cast<const float4*>(g + head);
    for (long long k = threadIdx.x; k < nv; k += blockDim.x) {
        float4 e = g4[k];
        acc += (sq(e.x) + sq(e.y)) + (sq(e.z) + sq(e.w));
    }
    for (long long i = head + (nv << 2) + threadIdx.x; i < end; i += blockDim.x) acc += sq(g[i]);
    acc = block_sum(acc);
    if (threadIdx.x == 0) partial[c] = acc;
}

// One warp per sample: denom[b] = sqrt(sum of its chunk partials) + eps (the sum in f64, rounded to f32 first
// like the reference's per-sample sum).
__global__ void denominator_kernel(const float* __restrict__ partial, const long long* __restrict__ chunk, int samples,
                                   float eps, float* __restrict__ denom) {
    int b = (int)((blockIdx.x * (long long)blockDim.x + threadIdx.x) >> 5);
    int lane = threadIdx.x & 31;
    if (b >= samples) return;  // uniform across the warp
    double s = 0.0;
    for (long long k = chunk[b] + lane; k < chunk[b + 1]; k += 32) s += (double)partial[k];
    s = warp_sum_double(s);
    if (lane == 0) denom[b] = __fadd_rn(__fsqrt_rn((float)s), eps);
}

struct LossTerm {
    float lambda, gradScale;

    // lambda d^2 with d = pred - (vT - t gh), gh = g / denom (DNORM) or g; the gradient (lambda / n) (2 d).
    template <bool DNORM>
    __device__ __forceinline__ float apply(float p, float v, float g, float t, float denom, float& grad) const {
        float gh = DNORM ? __fdiv_rn(g, denom) : g;
        float d = __fsub_rn(p, __fsub_rn(v, __fmul_rn(t, gh)));
        grad = __fmul_rn(gradScale, __fmul_rn(2.f, d));
        return __fmul_rn(lambda, sq(d));
    }
};

template <bool DNORM, bool GRAD>
__device__ __forceinline__ float loss_element(const LossTerm& op, const float* __restrict__ pred,
                                              const float* __restrict__ vT, const float* __restrict__ g,
                                              const float* __restrict__ t, const float* __restrict__ denom,
                                              float* __restrict__ grad, long long i, int b) {
    float gr;
    float l = op.apply<DNORM>(pred[i], vT[i], g[i], __ldg(t + b), DNORM ? __ldg(denom + b) : 1.f, gr);
    if (GRAD) grad[i] = gr;
    return l;
}

// Fused target, squared error and gradient; each block leaves the sum of its lambda d^2 in partial[blockIdx.x].
template <bool DNORM, bool GRAD, bool VEC>
__global__ void mdt_loss_kernel(LossTerm op, const float* __restrict__ pred, const float* __restrict__ vT,
                                const float* __restrict__ g, const float* __restrict__ t,
                                const float* __restrict__ denom, const long long* __restrict__ seg, int samples,
                                float* __restrict__ grad, float* __restrict__ partial, long long n) {
    long long tid = blockIdx.x * (long long)blockDim.x + threadIdx.x;
    long long stride = (long long)gridDim.x * blockDim.x;
    float acc = 0.f;
    long long scalarFrom = 0;
    if (VEC) {
        long long nv = n >> 2;
        const float4* p4 = reinterpret_cast<const float4*>(pred);
        const float4* v4 = reinterpret_cast<const float4*>(vT);
        const float4* g4 = reinterpret_cast<const float4*>(g);
        float4* d4 = reinterpret_cast<float4*>(grad);
        for (long long k = tid; k < nv; k += stride) {
            long long base = k << 2;
            float4 p = p4[k], v = v4[k], gg = g4[k], gr;
            // the four elements may straddle sample boundaries (a sample need not start at a multiple of 4)
            int b0 = find_range(seg, samples, base), b1 = b0, b2, b3;
            while (base + 1 >= __ldg(seg + b1 + 1)) b1++;
            b2 = b1;
            while (base + 2 >= __ldg(seg + b2 + 1)) b2++;
            b3 = b2;
            while (base + 3 >= __ldg(seg + b3 + 1)) b3++;
            float tb0 = __ldg(t + b0), tb1 = __ldg(t + b1), tb2 = __ldg(t + b2), tb3 = __ldg(t + b3);
            float q0 = DNORM ? __ldg(denom + b0) : 1.f, q1 = DNORM ? __ldg(denom + b1) : 1.f;
            float q2 = DNORM ? __ldg(denom + b2) : 1.f, q3 = DNORM ? __ldg(denom + b3) : 1.f;
            float l0 = op.apply<DNORM>(p.x, v.x, gg.x, tb0, q0, gr.x);
            float l1 = op.apply<DNORM>(p.y, v.y, gg.y, tb1, q1, gr.y);
            float l2 = op.apply<DNORM>(p.z, v.z, gg.z, tb2, q2, gr.z);
            float l3 = op.apply<DNORM>(p.w, v.w, gg.w, tb3, q3, gr.w);
            acc += (l0 + l1) + (l2 + l3);
            if (GRAD) d4[k] = gr;
        }
        scalarFrom = nv << 2;
    }
    for (long long i = scalarFrom + tid; i < n; i += stride)
        acc += loss_element<DNORM, GRAD>(op, pred, vT, g, t, denom, grad, i, find_range(seg, samples, i));
    acc = block_sum(acc);
    if (threadIdx.x == 0) partial[blockIdx.x] = acc;
}

// One block: out = (sum of the partials in f64) / n, rounded to f32 (the reference's mean).
__global__ void finish_mean_kernel(const float* __restrict__ partial, int count, double n, float* __restrict__ out) {
    __shared__ double part[THREADS / 32];
    double s = 0.0;
    for (int k = threadIdx.x; k < count; k += blockDim.x) s += (double)partial[k];
    s = warp_sum_double(s);
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    if (lane == 0) part[warp] = s;
    __syncthreads();
    if (warp == 0) {
        s = lane < THREADS / 32 ? part[lane] : 0.0;
        s = warp_sum_double(s);
        if (lane == 0) *out = (float)(s / n);
    }
}

template <bool DNORM, bool GRAD>
void launch_loss(bool vec, unsigned blocks, cudaStream_t st, LossTerm op, const float* pred, const float* vT,
                 const float* g, const float* t, const float* denom, const long long* seg, int samples, float* grad,
                 float* partial, long long n) {
    if (vec) mdt_loss_kernel<DNORM, GRAD, true><<<blocks, THREADS, 0, st>>>(op, pred, vT, g, t, denom, seg, samples, grad, partial, n);
    else mdt_loss_kernel<DNORM, GRAD, false><<<blocks, THREADS, 0, st>>>(op, pred, vT, g, t, denom, seg, samples, grad, partial, n);
}

}  // namespace

extern "C" {

int vf_flow_step(long long x, long long vCond, long long vNeg, float condWeight, float negWeight, float dt,
                 float x0Scale, float x0VelocityScale, long long xPrev, long long x0, long long n, long long stream) {
    if (n <= 0) return 0;
    cudaStream_t st = VF_STREAM(stream);
    FlowStep op{condWeight, negWeight, dt, x0Scale, x0VelocityScale};
    bool guided = vNeg != 0;
    bool vec = aligned16(x) && aligned16(vCond) && (!guided || aligned16(vNeg)) && aligned16(xPrev) && aligned16(x0);
    unsigned blocks = vf_blocks(vec ? (n + 3) / 4 : n, THREADS);
    const float* px = VF_PTR(const float, x);
    const float* pc = VF_PTR(const float, vCond);
    const float* pn = VF_PTR(const float, vNeg);
    float* pp = VF_PTR(float, xPrev);
    float* pz = VF_PTR(float, x0);
    if (guided) {
        if (vec) flow_step_kernel<true, true><<<blocks, THREADS, 0, st>>>(op, px, pc, pn, pp, pz, n);
        else flow_step_kernel<true, false><<<blocks, THREADS, 0, st>>>(op, px, pc, pn, pp, pz, n);
    } else {
        if (vec) flow_step_kernel<false, true><<<blocks, THREADS, 0, st>>>(op, px, pc, pn, pp, pz, n);
        else flow_step_kernel<false, false><<<blocks, THREADS, 0, st>>>(op, px, pc, pn, pp, pz, n);
    }
    return vf_launch_status();
}

int vf_mdt_velocity_loss(long long pred, long long vT, long long g, long long t, const long long* segOffsets,
                         int samples, int dNorm, float normEps, float lambda, float gradScale, long long loss,
                         long long grad, long long n, long long stream) {
    if (n <= 0 || samples < 1 || segOffsets[0] != 0 || segOffsets[samples] != n) return (int)cudaErrorInvalidValue;
    for (int b = 0; b < samples; b++)
        if (segOffsets[b + 1] < segOffsets[b]) return (int)cudaErrorInvalidValue;
    cudaStream_t st = VF_STREAM(stream);

    // host side: sample offsets and each sample's first chunk, uploaded together
    std::vector<long long> offsets(2 * (size_t)(samples + 1));
    long long* seg = offsets.data();
    long long* chunk = seg + samples + 1;
    for (int b = 0; b <= samples; b++) seg[b] = segOffsets[b];
    chunk[0] = 0;
    for (int b = 0; b < samples; b++) chunk[b + 1] = chunk[b] + (seg[b + 1] - seg[b] + SUMSQ_CHUNK - 1) / SUMSQ_CHUNK;
    long long chunks = dNorm ? chunk[samples] : 0;
    if (chunks > 0x7fffffffLL) return (int)cudaErrorInvalidValue;

    bool withGrad = grad != 0;
    bool vec = aligned16(pred) && aligned16(vT) && aligned16(g) && (!withGrad || aligned16(grad));
    unsigned blocks = vf_blocks(vec ? (n + 3) / 4 : n, THREADS, MAX_LOSS_BLOCKS);

    // one stream-ordered scratch: [seg | chunk] (i64), chunk partials, denominators, loss partials (f32)
    size_t offBytes = sizeof(long long) * offsets.size();
    size_t bytes = offBytes + sizeof(float) * ((size_t)chunks + (size_t)samples + blocks);
    void* scratch = nullptr;
    cudaError_t e = cudaMallocAsync(&scratch, bytes, st);
    if (e != cudaSuccess) return (int)e;
    long long* dSeg = (long long*)scratch;
    long long* dChunk = dSeg + samples + 1;
    float* chunkPartial = (float*)((char*)scratch + offBytes);
    float* denom = chunkPartial + chunks;
    float* lossPartial = denom + samples;
    // From pageable memory: the call returns once the bytes are staged, so `offsets` may die right after.
    int err = (int)cudaMemcpyAsync(scratch, offsets.data(), offBytes, cudaMemcpyHostToDevice, st);
    if (!err && dNorm) {
        sumsq_chunks_kernel<<<(unsigned)chunks, THREADS, 0, st>>>(VF_PTR(const float, g), dSeg, dChunk, samples,
                                                                  chunkPartial);
        err = vf_launch_status();
        if (!err) {
            denominator_kernel<<<vf_blocks(32LL * samples, THREADS), THREADS, 0, st>>>(chunkPartial, dChunk, samples,
                                                                                     normEps, denom);
            err = vf_launch_status();
        }
    }
    if (!err) {
        LossTerm op{lambda, gradScale};
        const float* pp = VF_PTR(const float, pred);
        const float* pv = VF_PTR(const float, vT);
        const float* pg = VF_PTR(const float, g);
        const float* pt = VF_PTR(const float, t);
        float* pd = VF_PTR(float, grad);
        if (dNorm) {
            if (withGrad) launch_loss<true, true>(vec, blocks, st, op, pp, pv, pg, pt, denom, dSeg, samples, pd, lossPartial, n);
            else launch_loss<true, false>(vec, blocks, st, op, pp, pv, pg, pt, denom, dSeg, samples, pd, lossPartial, n);
        } else {
            if (withGrad) launch_loss<false, true>(vec, blocks, st, op, pp, pv, pg, pt, denom, dSeg, samples, pd, lossPartial, n);
            else launch_loss<false, false>(vec, blocks, st, op, pp, pv, pg, pt, denom, dSeg, samples, pd, lossPartial, n);
        }
        err = vf_launch_status();
    }
    if (!err) {
        finish_mean_kernel<<<1, THREADS, 0, st>>>(lossPartial, (int)blocks, (double)n, VF_PTR(float, loss));
        err = vf_launch_status();
    }
    cudaError_t f = cudaFreeAsync(scratch, st);
    return err ? err : (int)f;
}

}  // extern "C"
