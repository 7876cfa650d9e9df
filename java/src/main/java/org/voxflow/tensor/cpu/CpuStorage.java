package org.voxflow.tensor.cpu;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Pointer;
import org.voxflow.tensor.Backend;
import org.voxflow.tensor.DType;
import org.voxflow.tensor.Storage;

/**
 * Host memory outside the Java heap (JavaCPP-allocated, zero-filled), so OpenBLAS and JNI read it in place with
 * no copy. Java code reads it through a native-order ByteBuffer view; one storage holds at most 2 GiB because
 * that view is int-indexed.
 */
public final class CpuStorage extends Storage {
    static final long MAX_BYTES = Integer.MAX_VALUE - 8;

    /*
     * Reuse of large blocks. glibc serves allocations of 32 MiB and more (its largest mmap threshold) with a fresh
     * mmap and returns them with munmap, so every such tensor costs a page fault per 4 KiB on first touch: a
     * 4096 x 4096 f32 GEMM output spends about 40 ms faulting against about 200 ms of GEMM on two cores. Freed blocks
     * of at least POOL_MIN_BYTES are kept, by exact size, up to voxflow.cpu.poolBytes idle bytes (default 512 MiB,
     * 0 turns reuse off) and handed to the next storage of that size, zero-filled as always.
     */
    static final long POOL_MIN_BYTES = 32L << 20;
    static final long POOL_CAP_BYTES = Long.getLong("voxflow.cpu.poolBytes", 512L << 20);
    private static final Map<Long, ArrayDeque<BytePointer>> POOL = new HashMap<>();
    private static long pooledBytes;

    private BytePointer pointer;
    private final ByteBuffer buffer;
    private final long allocated;

    CpuStorage(DType dtype, long numel) {
        super(dtype, numel);
        long bytes = numel * dtype.bytes();
        if (bytes > MAX_BYTES)
            throw new IllegalArgumentException("a CPU tensor holds at most 2 GiB; asked for " + numel + " x " + dtype);
        allocated = Math.max(bytes, 1);
        BytePointer p = take(allocated);
        if (p == null) {
            try {
                p = new BytePointer(allocated);
            } catch (OutOfMemoryError e) { // JavaCPP's maxBytes: idle pooled blocks count against it
                if (drainPool() == 0) throw e;
                p = new BytePointer(allocated);
            }
        }
        this.pointer = p;
        Pointer.memset(pointer, 0, allocated);
        this.buffer = pointer.limit(allocated).asByteBuffer().order(ByteOrder.nativeOrder());
    }

    private static BytePointer take(long bytes) {
        if (bytes < POOL_MIN_BYTES || POOL_CAP_BYTES <= 0) return null;
        synchronized (POOL) {
            ArrayDeque<BytePointer> q = POOL.get(bytes);
            if (q == null || q.isEmpty()) return null;
            pooledBytes -= bytes;
            return q.pop();
        }
    }

    private static boolean give(BytePointer p, long bytes) {
        if (bytes < POOL_MIN_BYTES) return false;
        synchronized (POOL) {
            if (pooledBytes + bytes > POOL_CAP_BYTES) return false;
            POOL.computeIfAbsent(bytes, b -> new ArrayDeque<>()).push(p);
            pooledBytes += bytes;
            return true;
        }
    }

    /** Frees every idle pooled block; returns the bytes freed. */
    static long drainPool() {
        synchronized (POOL) {
            for (ArrayDeque<BytePointer> q : POOL.values()) for (BytePointer p : q) p.deallocate();
            POOL.clear();
            long freed = pooledBytes;
            pooledBytes = 0;
            return freed;
        }
    }

    @Override public Backend backend() { return CpuBackend.INSTANCE; }

    @Override public long address() {
        checkOpen();
        return pointer.address();
    }

    /** The JavaCPP pointer, for native calls (OpenBLAS). */
    public BytePointer pointer() {
        checkOpen();
        return pointer;
    }

    /** A native-order view of the bytes; do not keep it past the storage's life. */
    public ByteBuffer buffer() {
        checkOpen();
        return buffer;
    }

    @Override protected void release() {
        // null when the constructor failed (size check) after the scope had registered this storage
        if (pointer != null && !give(pointer, allocated)) pointer.deallocate();
        pointer = null;
    }
}
