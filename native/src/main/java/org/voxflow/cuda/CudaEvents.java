package org.voxflow.cuda;

import static org.voxflow.cuda.CudaRuntime.check;

/**
 * CUDA events and cross-stream ordering for code outside this package (the overlapped NCCL gradient all-reduce):
 * handles are raw {@code cudaEvent_t} / {@code cudaStream_t} values as longs, every failure a {@link CudaException}
 * naming the call. See voxflow_kernels.h, "events and stream ordering".
 */
public final class CudaEvents {
    private static final int NOT_READY = 600; // cudaErrorNotReady

    private CudaEvents() {}

    /** The stream every op of {@code backend} is queued on (the compute stream). */
    public static long computeStream(CudaBackend backend) { return backend.stream(); }

    /** A new event; {@code timing} false makes the cheapest kind (cudaEventDisableTiming), true one {@link #elapsedMs} can read. */
    public static long create(boolean timing) {
        long[] e = new long[1];
        check(VoxKernels.vf_event_create(e, timing ? 1 : 0), "cudaEventCreateWithFlags");
        return e[0];
    }

    public static void destroy(long event) { check(VoxKernels.vf_event_destroy(event), "cudaEventDestroy"); }

    /** Captures the work queued on {@code stream} so far. */
    public static void record(long event, long stream) { check(VoxKernels.vf_event_record(event, stream), "cudaEventRecord"); }

    /** Work queued on {@code stream} from now on starts after the event's last record finished (the host does not wait). */
    public static void streamWait(long stream, long event) {
        check(VoxKernels.vf_stream_wait_event(stream, event), "cudaStreamWaitEvent");
    }

    /** Whether the event's last record finished (never blocks). */
    public static boolean done(long event) {
        int rc = VoxKernels.vf_event_query(event);
        if (rc == NOT_READY) return false;
        check(rc, "cudaEventQuery");
        return true;
    }

    /** Blocks the host until the event's last record finished. */
    public static void synchronize(long event) { check(VoxKernels.vf_event_sync(event), "cudaEventSynchronize"); }

    /** Milliseconds between the finished records of two timed events. */
    public static float elapsedMs(long start, long end) {
        float[] ms = new float[1];
        check(VoxKernels.vf_event_elapsed_ms(ms, start, end), "cudaEventElapsedTime");
        return ms[0];
    }
}
