package org.voxflow.cuda.dist;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.cuda.global.nccl;
import org.bytedeco.cuda.nccl.ncclComm;
import org.bytedeco.cuda.nccl.ncclUniqueId;
import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerPointer;
import org.voxflow.autograd.GradHook;
import org.voxflow.cuda.CudaBackend;
import org.voxflow.cuda.CudaEvents;
import org.voxflow.distill.GradientBuckets;
import org.voxflow.distill.GradientStream;
import org.voxflow.distill.GradientSync;
import org.voxflow.tensor.DType;
import org.voxflow.tensor.Tensor;

/**
 * {@link GradientSync} over NCCL: one process per GPU, one communicator, one communication stream.
 *
 * <p>Start-up ({@link #create}): rank 0 asks NCCL for a unique id and hands it to the others over TCP
 * ({@link Rendezvous}, MASTER_ADDR:MASTER_PORT), then every rank joins the communicator with
 * {@code ncclCommInitRank}. The process's GPU is the backend's device (with {@code bin/voxflow-launch}, each process
 * sees only its own GPU, as device 0).
 *
 * <p>Gradient all-reduce overlapped with backward (the default on a {@link CudaBackend}; {@link #overlapsBackward},
 * {@code -Dvoxflow.dist.overlap=false} or {@link #setOverlap} turn it off): the trainer passes the hook of
 * {@link #beginStep} to the backward of each step's last micro-batch, and {@link GradientStream} copies each
 * parameter's final gradient into kept per-dtype buckets of {@code -Dvoxflow.dist.bucketMb} MiB (default 25),
 * planned in reverse parameter order and launched strictly in bucket order (so every rank issues the same
 * collectives in the same sequence, whatever order its backward finishes parameters in). Launching bucket k: an event
 * is recorded on the compute stream after the copies into it, the communication stream waits for that event
 * ({@code cudaStreamWaitEvent}, no host wait) and {@code ncclAllReduce(ncclAvg)} runs in place on the communication
 * stream while the compute stream goes on with backward. {@link #finishStep} launches what is left, records an event
 * on the communication stream and makes the compute stream wait for it, so the norm, clipping and optimizer read the
 * averages in stream order.
 *
 * <p>Memory safety across the two streams: the allocator is stream-ordered ({@code cudaMallocAsync} /
 * {@code cudaFreeAsync} on the compute stream only), so a block freed on the compute stream may be handed to later
 * compute work at once, with no regard for the communication stream. The communication stream therefore never
 * touches an autograd-owned tensor: gradients are copied into the buckets on the compute stream (the copy is ordered
 * before any later free of the gradient, and the event orders the collective after the copy). The buckets themselves
 * are allocated once, outside every memory scope, and freed only when the parameter set changes or this sync closes,
 * both after the compute stream has waited for every collective on them; the next step's copies into a bucket are
 * queued on the compute stream after that wait, so they never overwrite a bucket NCCL is still reducing.
 *
 * <p>Gradient all-reduce after backward ({@link #allReduce}, the trainer's path when overlap is off): gradients are
 * packed into flat per-dtype buckets by {@link GradientBuckets} on the compute stream, the compute stream is
 * synchronized, and the buckets are averaged in place in one NCCL group on the communication stream; the parameters'
 * gradients become views of the buckets.
 *
 * <p>NVLink multicast (NVLS) is refused: {@code NCCL_NVLS_ENABLE} must be {@code 0} in the environment (set by
 * {@code bin/voxflow-launch}), since a program using it can take a shared host's GPUs out of service.
 */
public final class NcclGradientSync implements GradientSync {
    private final DistEnv env;
    private final Runnable computeFence;
    private final int device;
    private final long bucketBytes;
    private final ncclComm comm;
    private final CUstream_st stream;
    /** The backend's compute stream (cudaStream_t), or 0 where this sync has no CudaBackend (no overlap then). */
    private final long computeStream;
    private final int ncclVersion;
    private boolean overlap = Boolean.parseBoolean(System.getProperty("voxflow.dist.overlap", "true"));
    private GradientStream gradStream;
    /** Events of the overlapped path: bucket ready (compute), reductions done (comm), wait start / end (compute, timed). */
    private long readyEvent, doneEvent, waitStart, waitEnd;
    private boolean waitTimed;
    private long overlapBytes, overlapSteps, finishNanos, exposedNanos;
    private long[] streamBase = new long[4];
    private Pointer scratch;
    private DoublePointer host;
    private long scratchCount;
    private boolean closed;
    private long reduceCalls, reduceBytes, reduceNanos, fenceNanos;

    private NcclGradientSync(DistEnv env, int device, Runnable computeFence, long computeStream, long bucketBytes, Duration timeout) {
        this.env = env;
        this.computeStream = computeStream;
        this.computeFence = computeFence;
        this.device = device;
        this.bucketBytes = bucketBytes;
        requireNvlsOff();
        this.ncclVersion = loadNccl();
        cuda(cudart.cudaSetDevice(device), "cudaSetDevice(" + device + ")");
        requireOwnGpu(env, device);
        byte[] id = Rendezvous.exchange(env, NcclGradientSync::newUniqueId, timeout);
        if (id.length != nccl.NCCL_UNIQUE_ID_BYTES)
            throw new IllegalStateException("NCCL unique id of " + id.length + " bytes, expected " + nccl.NCCL_UNIQUE_ID_BYTES);
        ncclUniqueId uid = new ncclUniqueId();
        for (int i = 0; i < id.length; i++) uid.internal(i, id[i]);
        try (PointerPointer<ncclComm> out = new PointerPointer<>(1)) {
            check(nccl.ncclCommInitRank(out, env.worldSize(), uid, env.rank()), "ncclCommInitRank(" + env + ")", null);
            this.comm = new ncclComm(out.get(0));
        }
        if (comm.isNull()) throw new IllegalStateException("ncclCommInitRank returned no communicator");
        CUstream_st s = new CUstream_st();
        cuda(cudart.cudaStreamCreateWithFlags(s, cudart.cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
        if (s.isNull()) throw new IllegalStateException("cudaStreamCreateWithFlags returned no stream");
        this.stream = s;
    }

    /** Joins the job described by the environment (a world of one when WORLD_SIZE is unset). Collective. */
    public static NcclGradientSync create(CudaBackend backend) {
        return create(backend, DistEnv.fromEnvironment());
    }

    public static NcclGradientSync create(CudaBackend backend, DistEnv env) {
        long mb = Long.getLong("voxflow.dist.bucketMb", GradientBuckets.DEFAULT_BUCKET_BYTES >> 20);
        long seconds = Long.getLong("voxflow.dist.timeoutSeconds", 300);
        return create(backend, env, mb << 20, Duration.ofSeconds(seconds));
    }

    /**
     * @param bucketBytes largest gradient bucket (a larger parameter gets a bucket of its own)
     * @param timeout     how long the TCP rendezvous waits for the other ranks
     */
    public static NcclGradientSync create(CudaBackend backend, DistEnv env, long bucketBytes, Duration timeout) {
        return new NcclGradientSync(env, backend.device().index(), backend::synchronize, CudaEvents.computeStream(backend), bucketBytes, timeout);
    }

    /**
     * For a backend other than {@link CudaBackend} whose tensors' {@code storage().address()} NCCL can use, and
     * whose queued work {@code computeFence} waits for (tests of the bindings against stub libraries).
     */
    static NcclGradientSync create(int device, Runnable computeFence, DistEnv env, long bucketBytes, Duration timeout) {
        return new NcclGradientSync(env, device, computeFence, 0, bucketBytes, timeout);
    }

    private static void requireNvlsOff() {
        if (Boolean.getBoolean("voxflow.nccl.allowNvls")) return;
        String v = System.getenv("NCCL_NVLS_ENABLE");
        if (!"0".equals(v == null ? null : v.trim()))
            throw new IllegalStateException("NCCL_NVLS_ENABLE is " + (v == null ? "unset" : "'" + v + "'") + "; it must be 0: NVLink multicast"
                    + " can put a shared host's GPUs out of service. bin/voxflow-launch sets it; or export NCCL_NVLS_ENABLE=0");
    }

    /** Ranks of one node on the same GPU would fail inside NCCL with a less helpful message. */
    private static void requireOwnGpu(DistEnv env, int device) {
        int[] count = new int[1];
        cuda(cudart.cudaGetDeviceCount(count), "cudaGetDeviceCount");
        if (env.localWorldSize() > 1 && count[0] > 1 && device != env.localRank())
            throw new IllegalStateException(env + " would use GPU " + device + " of the " + count[0] + " it sees; give each rank its"
                    + " own GPU with CUDA_VISIBLE_DEVICES=<local rank> (bin/voxflow-launch does)");
    }

    private static int loadNccl() {
        try {
            int[] v = new int[1];
            int rc = nccl.ncclGetVersion(v);
            if (rc != nccl.ncclSuccess) throw new IllegalStateException("ncclGetVersion returned " + rc);
            return v[0];
        } catch (Throwable t) {
            throw new IllegalStateException("NCCL is not usable: " + t + (t.getCause() != null ? " <- " + t.getCause() : "")
                    + ". libnccl.so.2 must be findable (ldconfig or LD_LIBRARY_PATH); bin/voxflow-launch looks in the"
                    + " system folders and in Python's nvidia/nccl/lib", t);
        }
    }

    private static byte[] newUniqueId() {
        ncclUniqueId u = new ncclUniqueId();
        check(nccl.ncclGetUniqueId(u), "ncclGetUniqueId", null);
        byte[] b = new byte[nccl.NCCL_UNIQUE_ID_BYTES];
        for (int i = 0; i < b.length; i++) b[i] = u.internal(i);
        return b;
    }

    // ---- GradientSync ------------------------------------------------------------------------------------------

    @Override public int rank() { return env.rank(); }
    @Override public int worldSize() { return env.worldSize(); }
    @Override public boolean dataParallel() { return true; }

    public DistEnv env() { return env; }

    @Override public void allReduce(Map<String, Tensor> params) {
        if (gradStream != null && gradStream.isOpen()) throw new IllegalStateException("allReduce inside an overlapped step (beginStep without finishStep)");
        GradientBuckets.allReduce(this, params, bucketBytes, this::averageBuckets);
    }

    // ---- the overlapped all-reduce --------------------------------------------------------------------------------

    /** Whether the trainer averages gradients during backward through this sync (needs the CUDA backend). */
    @Override public boolean overlapsBackward() { return overlap && computeStream != 0; }

    /**
     * Turns the overlapped path on or off (default {@code -Dvoxflow.dist.overlap}, true): off, the trainer calls
     * {@link #allReduce} after backward. Every rank must choose the same. Not inside a step.
     */
    public NcclGradientSync setOverlap(boolean on) {
        if (gradStream != null && gradStream.isOpen()) throw new IllegalStateException("cannot switch the overlap inside a step");
        overlap = on;
        return this;
    }

    @Override public GradHook beginStep(Map<String, Tensor> params) {
        ensureOpen();
        if (!overlapsBackward())
            throw new UnsupportedOperationException(this + (computeStream == 0 ? " has no compute stream to overlap with" : " has overlap off"));
        if (gradStream == null) {
            readyEvent = CudaEvents.create(false);
            doneEvent = CudaEvents.create(false);
            waitStart = CudaEvents.create(true);
            waitEnd = CudaEvents.create(true);
            gradStream = new GradientStream(this, bucketBytes, new GradientStream.Transport() {
                @Override public void launch(int index, Tensor bucket) { launchBucket(bucket); }
                @Override public void await() { awaitBuckets(); }
            });
        }
        collectWaitTime();
        return gradStream.beginStep(params);
    }

    @Override public void gradReady(String name, Tensor grad) {
        requireStep();
        gradStream.gradReady(name, grad);
    }

    @Override public void finishStep() {
        requireStep();
        long t0 = System.nanoTime();
        gradStream.finishStep();
        finishNanos += System.nanoTime() - t0;
        overlapSteps++;
    }

    private void requireStep() {
        ensureOpen();
        if (gradStream == null || !gradStream.isOpen()) throw new IllegalStateException("no overlapped step is open (beginStep)");
    }

    /** The bucket's copies are queued on the compute stream: the communication stream waits for them, then reduces. */
    private void launchBucket(Tensor bucket) {
        CudaEvents.record(readyEvent, computeStream);
        CudaEvents.streamWait(stream.address(), readyEvent);
        Pointer p = at(bucket);
        check(nccl.ncclAllReduce(p, p, bucket.numel(), type(bucket.dtype()), nccl.ncclAvg, comm, stream), "ncclAllReduce(bucket)", comm);
        overlapBytes += bucket.numel() * bucket.dtype().bytes();
    }

    /** Later compute work waits for every reduction; the compute stream's stall is timed (the exposed communication). */
    private void awaitBuckets() {
        CudaEvents.record(waitStart, computeStream);
        CudaEvents.record(doneEvent, stream.address());
        CudaEvents.streamWait(computeStream, doneEvent);
        CudaEvents.record(waitEnd, computeStream);
        waitTimed = true;
        int[] err = new int[1];
        check(nccl.ncclCommGetAsyncError(comm, err), "ncclCommGetAsyncError", comm);
        check(err[0], "overlapped gradient all-reduce (asynchronous error)", comm);
    }

    /** Adds the last step's compute-stream stall to the totals (its events finished long ago in a training loop). */
    private void collectWaitTime() {
        if (!waitTimed) return;
        CudaEvents.synchronize(waitEnd);
        exposedNanos += (long) (CudaEvents.elapsedMs(waitStart, waitEnd) * 1e6);
        waitTimed = false;
    }

    private void averageBuckets(List<Tensor> buckets) {
        ensureOpen();
        long t0 = System.nanoTime();
        computeFence.run(); // backward and the packing copies are done on the compute stream
        long t1 = System.nanoTime();
        long bytes = 0;
        check(nccl.ncclGroupStart(), "ncclGroupStart", comm);
        try {
            for (Tensor b : buckets) {
                Pointer p = at(b);
                check(nccl.ncclAllReduce(p, p, b.numel(), type(b.dtype()), nccl.ncclAvg, comm, stream), "ncclAllReduce", comm);
                bytes += b.numel() * b.dtype().bytes();
            }
        } finally {
            check(nccl.ncclGroupEnd(), "ncclGroupEnd", comm);
        }
        finish("gradient all-reduce");
        long t2 = System.nanoTime();
        fenceNanos += t1 - t0;
        reduceNanos += t2 - t1;
        reduceBytes += bytes;
        reduceCalls++;
    }

    @Override public double[] allReduceSum(double[] values) {
        ensureOpen();
        int n = values.length;
        if (n == 0) return new double[0];
        if (scratchCount < n) {
            if (scratchCount > 0) {
                cuda(cudart.cudaFree(scratch), "cudaFree");
                host.close();
            }
            long cap = Math.max(n, 256);
            try (PointerPointer<Pointer> out = new PointerPointer<>(1)) {
                cuda(cudart.cudaMalloc(out, cap * Double.BYTES), "cudaMalloc(" + cap * Double.BYTES + " bytes)");
                scratch = new Address(out.get(0).address());
            }
            host = new DoublePointer(cap);
            scratchCount = cap;
        }
        long bytes = (long) n * Double.BYTES;
        host.position(0).put(values, 0, n);
        cuda(cudart.cudaMemcpyAsync(scratch, host, bytes, cudart.cudaMemcpyHostToDevice, stream), "cudaMemcpyAsync(host->device)");
        check(nccl.ncclAllReduce(scratch, scratch, n, nccl.ncclFloat64, nccl.ncclSum, comm, stream), "ncclAllReduce(sum of " + n + " doubles)", comm);
        cuda(cudart.cudaMemcpyAsync(host, scratch, bytes, cudart.cudaMemcpyDeviceToHost, stream), "cudaMemcpyAsync(device->host)");
        finish("scalar all-reduce");
        double[] out = new double[n];
        host.position(0).get(out, 0, n);
        return out;
    }

    @Override public void broadcast(Map<String, Tensor> params) {
        ensureOpen();
        if (env.worldSize() == 1) return;
        for (Map.Entry<String, Tensor> e : params.entrySet())
            if (!e.getValue().isContiguous())
                throw new IllegalArgumentException("parameter '" + e.getKey() + "' is not contiguous; cannot broadcast it in place");
        computeFence.run();
        check(nccl.ncclGroupStart(), "ncclGroupStart", comm);
        try {
            for (Tensor p : params.values()) {
                p.storage().bumpVersion(); // written in place: cached casts of it are stale
                Pointer a = at(p);
                check(nccl.ncclBroadcast(a, a, p.numel(), type(p.dtype()), 0, comm, stream), "ncclBroadcast", comm);
            }
        } finally {
            check(nccl.ncclGroupEnd(), "ncclGroupEnd", comm);
        }
        finish("parameter broadcast");
    }

    /** Waits for the communication stream and surfaces asynchronous NCCL errors. */
    private void finish(String what) {
        cuda(cudart.cudaStreamSynchronize(stream), "cudaStreamSynchronize after the " + what);
        int[] err = new int[1];
        check(nccl.ncclCommGetAsyncError(comm, err), "ncclCommGetAsyncError", comm);
        check(err[0], what + " (asynchronous error)", comm);
    }

    /** Gradient all-reduces since the last {@link #resetStats}, both paths (see {@link Stats}). */
    public Stats stats() {
        if (!(gradStream != null && gradStream.isOpen())) collectWaitTime();
        long[] c = gradStream == null ? new long[4] : gradStream.counters();
        return new Stats(reduceCalls, reduceBytes, reduceNanos / 1e9, fenceNanos / 1e9, overlapSteps, c[2] - streamBase[2],
                c[3] - streamBase[3], overlapBytes, finishNanos / 1e9, exposedNanos / 1e9);
    }

    /**
     * @param calls                 all-reduces after backward ({@link #allReduce})
     * @param bytes                 bytes they reduced
     * @param commSeconds           host time in them, from the end of the compute fence to the end of the reduction
     * @param fenceSeconds          host time waiting for the compute stream before them
     * @param overlappedSteps       steps through the overlapped path ({@link #finishStep})
     * @param bucketsDuringBackward buckets launched while backward was still being queued
     * @param bucketsAtFinish       buckets launched by finishStep (their parameters were not final before)
     * @param overlappedBytes       bytes reduced by the overlapped path
     * @param finishSeconds         host time in finishStep
     * @param exposedSeconds        GPU time the compute stream waited for the reductions at finishStep (the
     *                              communication not hidden behind backward)
     */
    public record Stats(long calls, long bytes, double commSeconds, double fenceSeconds, long overlappedSteps,
                        long bucketsDuringBackward, long bucketsAtFinish, long overlappedBytes, double finishSeconds,
                        double exposedSeconds) {}

    public void resetStats() {
        if (!(gradStream != null && gradStream.isOpen())) collectWaitTime();
        reduceCalls = reduceBytes = reduceNanos = fenceNanos = 0;
        overlapBytes = overlapSteps = finishNanos = exposedNanos = 0;
        streamBase = gradStream == null ? new long[4] : gradStream.counters();
    }

    /** "NCCL 2.27.3", from ncclGetVersion. */
    public String ncclVersion() {
        int v = ncclVersion;
        return v >= 10000 ? "NCCL " + v / 10000 + "." + (v / 100) % 100 + "." + v % 100 : "NCCL " + v / 1000 + "." + (v / 100) % 10 + "." + v % 100;
    }

    @Override public void close() {
        if (closed) return;
        closed = true;
        if (gradStream != null) {
            // frees are stream-ordered after the compute stream's wait for the last reductions; a step left open
            // (an exception during backward) may still have reductions queued: its buckets are left to the process
            if (!gradStream.isOpen()) gradStream.close();
            for (long e : new long[] {readyEvent, doneEvent, waitStart, waitEnd}) CudaEvents.destroy(e);
        }
        check(nccl.ncclCommDestroy(comm), "ncclCommDestroy", null);
        cuda(cudart.cudaStreamDestroy(stream), "cudaStreamDestroy");
        if (scratchCount > 0) {
            cuda(cudart.cudaFree(scratch), "cudaFree");
            host.close();
        }
    }

    @Override public String toString() {
        return "NcclGradientSync[" + env + ", cuda:" + device + ", " + ncclVersion() + (overlapsBackward() ? ", overlapped" : "") + "]";
    }

    private void ensureOpen() {
        if (closed) throw new IllegalStateException("the NCCL communicator of " + env + " is closed");
    }

    // ---- helpers ------------------------------------------------------------------------------------------------

    /** A raw device address as the Pointer the presets take. */
    private static final class Address extends Pointer {
        Address(long a) { this.address = a; }
    }

    private static Pointer at(Tensor t) {
        return new Address(t.storage().address() + t.offset() * t.dtype().bytes());
    }

    static int type(DType t) {
        return switch (t) {
            case F32 -> nccl.ncclFloat32;
            case BF16 -> nccl.ncclBfloat16;
            case F16 -> nccl.ncclFloat16;
            case I32 -> nccl.ncclInt32;
            case I64 -> nccl.ncclInt64;
        };
    }

    private static void check(int rc, String call, ncclComm comm) {
        if (rc == nccl.ncclSuccess) return;
        String msg = call + " failed: " + nccl.ncclGetErrorString(rc).getString() + " (ncclResult " + rc + ")";
        try {
            String last = nccl.ncclGetLastError(comm).getString();
            if (last != null && !last.isBlank()) msg += ": " + last;
        } catch (RuntimeException | UnsatisfiedLinkError ignored) {
            // an older libnccl without ncclGetLastError
        }
        throw new IllegalStateException(msg);
    }

    private static void cuda(int rc, String call) {
        if (rc != 0) throw new IllegalStateException(call + " failed: " + cudart.cudaGetErrorString(rc).getString() + " (cudaError " + rc + ")");
    }
}
