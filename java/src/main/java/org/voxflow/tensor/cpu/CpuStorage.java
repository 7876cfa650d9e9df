package org.voxflow.tensor.cpu;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
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

    private BytePointer pointer;
    private final ByteBuffer buffer;

    CpuStorage(DType dtype, long numel) {
        super(dtype, numel);
        long bytes = numel * dtype.bytes();
        if (bytes > MAX_BYTES)
            throw new IllegalArgumentException("a CPU tensor holds at most 2 GiB; asked for " + numel + " x " + dtype);
        this.pointer = new BytePointer(Math.max(bytes, 1));
        Pointer.memset(pointer, 0, Math.max(bytes, 1));
        this.buffer = pointer.limit(Math.max(bytes, 1)).asByteBuffer().order(ByteOrder.nativeOrder());
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
        if (pointer != null) pointer.deallocate();
        pointer = null;
    }
}
