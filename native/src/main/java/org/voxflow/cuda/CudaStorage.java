package org.voxflow.cuda;

import java.lang.ref.Cleaner;
import org.voxflow.tensor.Backend;
import org.voxflow.tensor.DType;
import org.voxflow.tensor.Storage;

/**
 * Device memory for one tensor's elements. Closing (directly or through its MemoryScope) returns the block to the
 * stream-ordered pool at once; a Cleaner frees blocks whose owner forgot them, as a safety net only.
 */
final class CudaStorage extends Storage {
    private static final Cleaner CLEANER = Cleaner.create();

    private final CudaBackend backend;
    private final long address;
    private final Cleaner.Cleanable cleanable;

    CudaStorage(CudaBackend backend, DType dtype, long numel) {
        super(dtype, numel);
        this.backend = backend;
        long bytes = numel * dtype.bytes();
        this.address = backend.memory().allocate(bytes);
        this.cleanable = address == 0 ? null : CLEANER.register(this, new Free(backend.memory(), address, bytes));
    }

    /** Holds no reference to the storage, so the storage can become unreachable. */
    private record Free(DeviceMemory memory, long address, long bytes) implements Runnable {
        @Override public void run() {
            try {
                memory.free(address, bytes);
            } catch (RuntimeException e) {
                // a failing free during shutdown or after a device error: nothing sensible to do here
            }
        }
    }

    @Override public Backend backend() { return backend; }

    @Override public long address() {
        checkOpen();
        return address;
    }

    @Override protected void release() {
        if (cleanable != null) cleanable.clean();
    }
}
