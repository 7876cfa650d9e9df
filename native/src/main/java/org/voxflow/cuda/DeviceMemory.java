package org.voxflow.cuda;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Device memory for one GPU and stream: cudaMallocAsync / cudaFreeAsync on the device's default memory pool, whose
 * release threshold is raised so freed blocks stay cached (the driver's size-bucketed caching allocator). A block
 * freed on our stream is reused by later work on the same stream without synchronizing, which is exactly the
 * lifetime a closed {@link CudaStorage} needs: kernels already queued may still read it, later ones may reuse it.
 *
 * <p>While the stream is being recorded into a CUDA graph ({@link #beginCapture}), blocks allocated by the
 * recording thread become the graph's own memory and must be freed inside the recording; frees of any other block
 * (made before the recording, or by the Cleaner's thread) are held back until the recording ends, so they neither
 * enter the graph nor touch the capturing stream from another thread.
 */
final class DeviceMemory {
    private final int device;
    private final long stream;
    private final AtomicLong live = new AtomicLong();
    private final AtomicLong peak = new AtomicLong();

    private Thread capturer;
    private final Map<Long, Long> captured = new HashMap<>(); // address -> bytes, allocated during the capture
    private final List<long[]> deferred = new ArrayList<>();  // {address, bytes} freed during it, to free after

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
        synchronized (this) {
            if (capturer == Thread.currentThread()) captured.put(p[0], bytes);
        }
        return p[0];
    }

    void free(long address, long bytes) {
        if (address == 0) return;
        synchronized (this) {
            if (capturer != null && (capturer != Thread.currentThread() || captured.remove(address) == null)) {
                deferred.add(new long[] {address, bytes});
                return;
            }
        }
        live.addAndGet(-bytes);
        CudaRuntime.check(VoxKernels.vf_free(address, stream), "cudaFreeAsync");
    }

    /** The calling thread starts recording the stream (allocations it makes now belong to the graph). */
    synchronized void beginCapture() {
        if (capturer != null) throw new IllegalStateException("the stream is already being recorded by " + capturer.getName());
        capturer = Thread.currentThread();
        captured.clear();
    }

    /**
     * Ends the bookkeeping of a recording (after the stream capture ended) and frees the blocks held back meanwhile.
     * Returns {count, bytes} of blocks allocated during the recording and never freed in it (to be reported).
     */
    long[] endCapture() {
        List<long[]> toFree;
        long[] leaked;
        synchronized (this) {
            capturer = null;
            long bytes = 0;
            for (long b : captured.values()) bytes += b;
            leaked = new long[] {captured.size(), bytes};
            captured.clear();
            toFree = new ArrayList<>(deferred);
            deferred.clear();
        }
        for (long[] f : toFree) free(f[0], f[1]);
        return leaked;
    }

    /** Whether a thread is recording the stream into a CUDA graph (what it allocates now belongs to the graph). */
    synchronized boolean capturing() { return capturer != null; }

    /** Bytes held by live tensors. */
    long liveBytes() { return live.get(); }

    long peakBytes() { return peak.get(); }

    /** Starts a new peak from the bytes live now. */
    void resetPeak() { peak.set(live.get()); }

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
