// Devices, streams and memory. Allocation goes through the device's default stream-ordered memory pool with an
// unlimited release threshold, so freed blocks stay cached and are handed out again in stream order without
// any device synchronization (the caching-allocator behaviour, provided by the driver).
#include "vf_common.cuh"
#include <cuda_profiler_api.h>
#include <string.h>
#include <stdint.h>
#include <stdlib.h>

int vf_device_attribute(cudaDeviceAttr attr, int dev) {
    static const cudaDeviceAttr kCached[] = {cudaDevAttrMultiProcessorCount, cudaDevAttrComputeCapabilityMajor};
    static int cache[2][64];  // per attribute and device: 0 not asked yet
    const int slot = attr == kCached[0] ? 0 : attr == kCached[1] ? 1 : -1;
    int v = 0;
    if (slot < 0 || dev < 0 || dev >= 64) return cudaDeviceGetAttribute(&v, attr, dev) == cudaSuccess ? v : 0;
    v = __atomic_load_n(&cache[slot][dev], __ATOMIC_RELAXED);
    if (v == 0 && cudaDeviceGetAttribute(&v, attr, dev) == cudaSuccess) __atomic_store_n(&cache[slot][dev], v, __ATOMIC_RELAXED);
    return v;
}

bool vf_pdl_enabled() {
    static const bool allowed = [] { const char* e = getenv("VOXFLOW_PDL"); return !(e && e[0] == '0'); }();
    int dev = 0;
    return allowed && cudaGetDevice(&dev) == cudaSuccess && vf_device_attribute(cudaDevAttrComputeCapabilityMajor, dev) >= 9;
}

extern "C" {

const char* vf_error_string(int err) { return cudaGetErrorString((cudaError_t)err); }
const char* vf_error_name(int err) { return cudaGetErrorName((cudaError_t)err); }

int vf_device_count(int* count) { return (int)cudaGetDeviceCount(count); }

int vf_device_info(int device, char* name, int* info) {
    cudaDeviceProp p;
    cudaError_t e = cudaGetDeviceProperties(&p, device);
    if (e != cudaSuccess) return (int)e;
    strncpy(name, p.name, 63);
    name[63] = 0;
    info[0] = p.major;
    info[1] = p.minor;
    info[2] = p.multiProcessorCount;
    return 0;
}

int vf_set_device(int device) { return (int)cudaSetDevice(device); }

int vf_stream_create(long long* stream) {
    cudaStream_t s;
    cudaError_t e = cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking);
    *stream = (long long)(intptr_t)s;
    return (int)e;
}

int vf_stream_destroy(long long stream) { return (int)cudaStreamDestroy(VF_STREAM(stream)); }
int vf_stream_sync(long long stream) { return (int)cudaStreamSynchronize(VF_STREAM(stream)); }

int vf_pool_configure(int device) {
    cudaMemPool_t pool;
    cudaError_t e = cudaDeviceGetDefaultMemPool(&pool, device);
    if (e != cudaSuccess) return (int)e;
    uint64_t threshold = UINT64_MAX;
    return (int)cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &threshold);
}

int vf_pool_stats(int device, long long* stats) {
    cudaMemPool_t pool;
    cudaError_t e = cudaDeviceGetDefaultMemPool(&pool, device);
    if (e != cudaSuccess) return (int)e;
    uint64_t reserved = 0, used = 0;
    e = cudaMemPoolGetAttribute(pool, cudaMemPoolAttrReservedMemCurrent, &reserved);
    if (e == cudaSuccess) e = cudaMemPoolGetAttribute(pool, cudaMemPoolAttrUsedMemCurrent, &used);
    stats[0] = (long long)reserved;
    stats[1] = (long long)used;
    return (int)e;
}

int vf_pool_trim(int device, long long keepBytes) {
    cudaMemPool_t pool;
    cudaError_t e = cudaDeviceGetDefaultMemPool(&pool, device);
    if (e != cudaSuccess) return (int)e;
    return (int)cudaMemPoolTrimTo(pool, (size_t)keepBytes);
}

int vf_malloc(long long* ptr, long long bytes, long long stream) {
    void* p = nullptr;
    cudaError_t e = cudaMallocAsync(&p, (size_t)bytes, VF_STREAM(stream));
    *ptr = (long long)(intptr_t)p;
    return (int)e;
}

int vf_free(long long ptr, long long stream) { return (int)cudaFreeAsync(VF_PTR(void, ptr), VF_STREAM(stream)); }

int vf_mem_info(long long* freeTotal) {
    size_t f = 0, t = 0;
    cudaError_t e = cudaMemGetInfo(&f, &t);
    freeTotal[0] = (long long)f;
    freeTotal[1] = (long long)t;
    return (int)e;
}

int vf_memcpy_h2d(long long dst, const void* src, long long bytes, long long stream) {
    if (bytes == 0) return 0;
    cudaError_t e = cudaMemcpyAsync(VF_PTR(void, dst), src, (size_t)bytes, cudaMemcpyHostToDevice, VF_STREAM(stream));
    if (e != cudaSuccess) return (int)e;
    return (int)cudaStreamSynchronize(VF_STREAM(stream));
}

int vf_memcpy_d2h(void* dst, long long src, long long bytes, long long stream) {
    if (bytes == 0) return 0;
    cudaError_t e = cudaMemcpyAsync(dst, VF_PTR(void, src), (size_t)bytes, cudaMemcpyDeviceToHost, VF_STREAM(stream));
    if (e != cudaSuccess) return (int)e;
    return (int)cudaStreamSynchronize(VF_STREAM(stream));
}

int vf_memcpy_d2d(long long dst, long long src, long long bytes, long long stream) {
    if (bytes == 0) return 0;
    return (int)cudaMemcpyAsync(VF_PTR(void, dst), VF_PTR(void, src), (size_t)bytes, cudaMemcpyDeviceToDevice,
                                VF_STREAM(stream));
}

int vf_memset(long long dst, int value, long long bytes, long long stream) {
    if (bytes == 0) return 0;
    return (int)cudaMemsetAsync(VF_PTR(void, dst), value, (size_t)bytes, VF_STREAM(stream));
}

int vf_host_alloc(long long* ptr, long long bytes) {
    void* p = nullptr;
    cudaError_t e = cudaHostAlloc(&p, (size_t)bytes, cudaHostAllocDefault);
    *ptr = (long long)(intptr_t)p;
    return (int)e;
}

int vf_host_free(long long ptr) { return (int)cudaFreeHost(VF_PTR(void, ptr)); }

// Bounds the range that profilers started with "profile from start off" (ncu, nsys) record.
int vf_profiler(int on) { return (int)(on ? cudaProfilerStart() : cudaProfilerStop()); }

// ---- CUDA graphs ----
// Stream capture records every kernel, cuBLAS call, memset/copy and stream-ordered malloc/free issued on the stream
// into a graph; replaying it costs one launch instead of one host round trip (JNI, argument checks, launch) per op,
// which is what dominates a small model's step. Allocations made and freed inside the capture become graph memory
// nodes with fixed addresses, so the graph needs no allocator at replay time.
int vf_capture_begin(long long stream) {
    return (int)cudaStreamBeginCapture(VF_STREAM(stream), cudaStreamCaptureModeThreadLocal);
}

int vf_capture_end(long long stream, long long* exec, long long* nodes) {
    *exec = 0;
    *nodes = 0;
    cudaGraph_t graph = nullptr;
    cudaError_t e = cudaStreamEndCapture(VF_STREAM(stream), &graph);
    (void)cudaGetLastError();  // an operation refused during capture must not fail the next unrelated launch check
    if (e != cudaSuccess) {
        if (graph) cudaGraphDestroy(graph);
        return (int)e;
    }
    size_t n = 0;
    cudaGraphGetNodes(graph, nullptr, &n);
    cudaGraphExec_t x = nullptr;
    e = cudaGraphInstantiate(&x, graph, 0);
    cudaGraphDestroy(graph);
    if (e != cudaSuccess) return (int)e;
    *exec = (long long)(intptr_t)x;
    *nodes = (long long)n;
    return 0;
}

int vf_capture_status(long long stream, int* capturing) {
    cudaStreamCaptureStatus st = cudaStreamCaptureStatusNone;
    cudaError_t e = cudaStreamIsCapturing(VF_STREAM(stream), &st);
    *capturing = st == cudaStreamCaptureStatusNone ? 0 : 1;
    return (int)e;
}

int vf_graph_launch(long long exec, long long stream) {
    return (int)cudaGraphLaunch(reinterpret_cast<cudaGraphExec_t>(static_cast<intptr_t>(exec)), VF_STREAM(stream));
}

int vf_graph_destroy(long long exec) {
    if (exec == 0) return 0;
    return (int)cudaGraphExecDestroy(reinterpret_cast<cudaGraphExec_t>(static_cast<intptr_t>(exec)));
}

// ---- events and stream ordering ----

#define VF_EVENT(e) reinterpret_cast<cudaEvent_t>(static_cast<intptr_t>(e))

int vf_event_create(long long* event, int timing) {
    cudaEvent_t e;
    cudaError_t r = cudaEventCreateWithFlags(&e, timing ? cudaEventDefault : cudaEventDisableTiming);
    *event = r == cudaSuccess ? (long long)(intptr_t)e : 0;
    return (int)r;
}

int vf_event_destroy(long long event) { return (int)cudaEventDestroy(VF_EVENT(event)); }
int vf_event_record(long long event, long long stream) { return (int)cudaEventRecord(VF_EVENT(event), VF_STREAM(stream)); }
int vf_stream_wait_event(long long stream, long long event) {
    return (int)cudaStreamWaitEvent(VF_STREAM(stream), VF_EVENT(event), 0);
}
int vf_event_query(long long event) { return (int)cudaEventQuery(VF_EVENT(event)); }
int vf_event_sync(long long event) { return (int)cudaEventSynchronize(VF_EVENT(event)); }
int vf_event_elapsed_ms(float* ms, long long start, long long end) {
    return (int)cudaEventElapsedTime(ms, VF_EVENT(start), VF_EVENT(end));
}

}  // extern "C"
