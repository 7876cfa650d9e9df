package org.voxflow.tensor;

/**
 * A flat block of elements owned by one backend. Views share a storage; closing it frees the memory at once
 * (device memory is never left to the garbage collector) and any later use fails with a clear message.
 */
public abstract class Storage implements AutoCloseable {
    private final DType dtype;
    private final long numel;
    private boolean closed;
    private volatile long version;
    private volatile boolean parameter;

    private static final java.util.concurrent.atomic.AtomicLong LIVE = new java.util.concurrent.atomic.AtomicLong();
    private static final java.util.concurrent.atomic.AtomicLong PEAK = new java.util.concurrent.atomic.AtomicLong();

    protected Storage(DType dtype, long numel) {
        this.dtype = dtype;
        this.numel = numel;
        PEAK.accumulateAndGet(LIVE.addAndGet(numel * dtype.bytes()), Math::max);
        MemoryScope.register(this);
    }

    /** Bytes of all storages (every backend) not yet closed: leaks show up here before the GC hides them. */
    public static long liveBytes() { return LIVE.get(); }

    /** The largest {@link #liveBytes} since the last {@link #resetPeak}. */
    public static long peakBytes() { return PEAK.get(); }

    public static void resetPeak() { PEAK.set(LIVE.get()); }

    public final DType dtype() { return dtype; }

    public final long numel() { return numel; }

    public final long bytes() { return numel * dtype.bytes(); }

    public abstract Backend backend();

    /** Address of element 0 (host or device), for native calls. */
    public abstract long address();

    public final boolean isClosed() { return closed; }

    /**
     * Bumped by every in-place write ({@link Backend#assign}, collective broadcasts): caches derived from this
     * storage's values (a backend's cast copy of a weight, say) compare it to know they are stale.
     */
    public final long version() { return version; }

    public final void bumpVersion() { version++; }

    /** Marks a module's parameter storage: long-lived and read by many ops, so derived copies are worth caching. */
    public final void markParameter() { parameter = true; }

    public final boolean isParameter() { return parameter; }

    /** Fails when this storage was already freed: a tensor used after its scope ended. */
    public final void checkOpen() {
        if (closed) throw new IllegalStateException("tensor storage (" + dtype + ", " + numel
                + " elements on " + backend().device() + ") was used after its memory scope closed; "
                + "keep it with MemoryScope.keep(t) or create it outside the scope");
    }

    @Override public final void close() {
        if (closed) return;
        closed = true;
        LIVE.addAndGet(-bytes());
        release();
    }

    /** Frees the memory; called once. */
    protected abstract void release();
}
