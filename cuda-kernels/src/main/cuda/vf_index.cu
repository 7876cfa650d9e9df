// Gathers and scatter-adds along one axis, seen as [outer, n, inner]. Index -1 means "no neighbour" (sparse
// convolution maps): a gather gives zeros there and a scatter skips it. Any other index outside [0, n) is an error,
// as on the CPU; stopping at once would cost a device-to-host round trip per op, so the kernel treats it like -1 and
// records the first one in `bad` (op code, index, n), which the host reads at its next synchronization and reports.
#include <climits>
#include "vf_common.cuh"

namespace {

constexpr int THREADS = 256;

// The first bad index of the stream's ops since the host last looked: bad[0] = op (1 select, 2 add), then j and n.
__device__ __forceinline__ void report_bad(int* bad, int op, long long j, long long n) {
    if (bad && atomicCAS(bad, 0, op) == 0) {
        bad[1] = (int)max(min(j, (long long)INT_MAX), (long long)INT_MIN);
        bad[2] = (int)min(n, (long long)INT_MAX);
    }
}

template <typename I>
__global__ void select_kernel(const float* x, const I* idx, float* out, long long outer, long long n, long long m,
                              long long inner, int* bad) {
    long long total = outer * m * inner;
    for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < total; e += (long long)gridDim.x * blockDim.x) {
        long long c = e % inner;
        long long r = e / inner;
        long long i = r % m;
        long long o = r / m;
        long long j = (long long)idx[i];
        out[e] = (j >= 0 && j < n) ? x[(o * n + j) * inner + c] : 0.f;
        if (j < -1 || j >= n) report_bad(bad, 1, j, n);
    }
}

template <typename I>
__global__ void add_kernel(const float* src, const I* idx, float* out, long long outer, long long m, long long size,
                           long long inner, int* bad) {
    long long total = outer * m * inner;
    for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < total; e += (long long)gridDim.x * blockDim.x) {
        long long c = e % inner;
        long long r = e / inner;
        long long i = r % m;
        long long o = r / m;
        long long j = (long long)idx[i];
        if (j >= 0 && j < size) atomicAdd(out + (o * size + j) * inner + c, src[e]);
        else if (j != -1) report_bad(bad, 2, j, size);
    }
}

}  // namespace

extern "C" {

int vf_index_select(long long x, long long idx, int idxType, long long out, long long outer, long long n, long long m,
                    long long inner, long long bad, long long stream) {
    long long total = outer * m * inner;
    if (total == 0) return 0;
    unsigned g = vf_blocks(total, THREADS);
    cudaStream_t st = VF_STREAM(stream);
    if (idxType == VF_I32)
        select_kernel<int><<<g, THREADS, 0, st>>>(VF_PTR(const float, x), VF_PTR(const int, idx), VF_PTR(float, out), outer, n, m, inner, VF_PTR(int, bad));
    else if (idxType == VF_I64)
        select_kernel<long long><<<g, THREADS, 0, st>>>(VF_PTR(const float, x), VF_PTR(const long long, idx), VF_PTR(float, out), outer, n, m, inner, VF_PTR(int, bad));
    else
        return (int)cudaErrorInvalidValue;
    return vf_launch_status();
}

int vf_index_add(long long src, long long idx, int idxType, long long out, long long outer, long long m,
                 long long size, long long inner, long long bad, long long stream) {
    long long total = outer * m * inner;
    if (total == 0) return 0;
    unsigned g = vf_blocks(total, THREADS);
    cudaStream_t st = VF_STREAM(stream);
    if (idxType == VF_I32)
        add_kernel<int><<<g, THREADS, 0, st>>>(VF_PTR(const float, src), VF_PTR(const int, idx), VF_PTR(float, out), outer, m, size, inner, VF_PTR(int, bad));
    else if (idxType == VF_I64)
        add_kernel<long long><<<g, THREADS, 0, st>>>(VF_PTR(const float, src), VF_PTR(const long long, idx), VF_PTR(float, out), outer, m, size, inner, VF_PTR(int, bad));
    else
        return (int)cudaErrorInvalidValue;
    return vf_launch_status();
}

}  // extern "C"
