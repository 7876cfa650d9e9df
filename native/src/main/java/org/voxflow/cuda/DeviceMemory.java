package org.voxflow.cuda;

import java.util.concurrent.atomic.AtomicLong;

/**
 * Device memory for one GPU and stream: cudaMallocAsync / cudaFreeAsync on the device's default memory pool, whose
 * release threshold is raised so freed blocks stay cached (the driver's size-bucketed caching allocator). A block
 * freed on our stream is reused by later work on the same stream without synchronizing, which is exactly the
 * lifetime a closed {@link CudaStorage} needs: kernels already queued may still read it, later ones may reuse it.
 */
final class DeviceMemory {
    private final int device;
    private final long stream;
    private final AtomicLong live = new AtomicLong();
    private final AtomicLong peak = new AtomicLong();

    DeviceMemory(int device, long stream) {
        this.device = device;
        this.stream = stream;
        CudaRuntime.check(VoxKernels.vf_pool_configure(device), "cudaMemPoolSetAttribute(ReleaseThreshold)");
    }

    long allocate(long bytes) {
        if (bytes == 0) return 0;
        long[] p = new long[1];
        int rc = VoxKernels.vf_malloc(p, bytes, stream);
        if (rc != 0) {
            long[] ft = new long[2];
            VoxKernels.vf_mem_info(ft);
            throw new CudaException("cudaMallocAsync(" + bytes + " bytes; " + live.get() + " live in tensors, "
                    + ft[0] + " of " + ft[1] + " free on the device)", rc, VoxKernels.vf_error_name(rc),
                    VoxKernels.vf_error_string(rc));
        }
        long now = live.addAndGet(bytes);
        peak.accumulateAndGet(now, Math::max);
        return p[0];
    }

    void free(long address, long bytes) {
        if (address == 0) return;
        live.addAndGet(-bytes);
        CudaRuntime.check(VoxKernels.vf_free(address, stream), "cudaFreeAsync");
    }

    /** Bytes held by live tensors. */
    long liveBytes() { return live.get(); }

    long peakBytes() { return peak.get(); }

    /** {reserved by the pool, in use} bytes. */
    long[] poolStats() {
        long[] s = new long[2];
        CudaRuntime.check(VoxKernels.vf_pool_stats(device, s), "cudaMemPoolGetAttribute");
        return s;
    }

    /** Returns cached blocks beyond keepBytes to the driver (after synchronizing the stream). */
    void trim(long keepBytes) {
        CudaRuntime.check(VoxKernels.vf_stream_sync(stream), "cudaStreamSynchronize");
        CudaRuntime.check(VoxKernels.vf_pool_trim(device, keepBytes), "cudaMemPoolTrimTo");
    }
}
