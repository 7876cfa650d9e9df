package org.voxflow.cuda;

import java.util.Arrays;
import java.util.Map;
import java.util.WeakHashMap;
import org.voxflow.tensor.DType;
import org.voxflow.tensor.MemoryScope;
import org.voxflow.tensor.Storage;
import org.voxflow.tensor.Tensor;

/**
 * Autocast's cast copies of module parameters. Without it every bf16-autocast GEMM re-reads its f32 weight and
 * writes a bf16 copy (6 bytes per weight per use: 3.3 GB per TRELLIS-large stage-1 forward, plus a launch each);
 * with it the copy is made once and reused until the parameter is written in place (the storage's version moves:
 * an optimizer step, a checkpoint load, a broadcast). Only storages marked as parameters are cached, so activations
 * never fill it. Entries die with their parameter (weak keys) or when they go stale; copies live outside every
 * memory scope, like the weights they shadow.
 */
final class CastCache {
    private record Key(long offset, int[] shape, long[] strides, DType to) {
        @Override public boolean equals(Object o) {
            return o instanceof Key k && k.offset == offset && k.to == to && Arrays.equals(k.shape, shape)
                    && Arrays.equals(k.strides, strides);
        }

        @Override public int hashCode() { return Long.hashCode(offset) * 31 + Arrays.hashCode(shape) * 7 + to.hashCode(); }
    }

    private static final class Entry {
        final long version;
        final Tensor copy;

        Entry(long version, Tensor copy) { this.version = version; this.copy = copy; }
    }

    private final Map<Storage, Map<Key, Entry>> entries = new WeakHashMap<>();

    /**
     * A dense copy of t in type `to` that the caller must not close, or null when t is not a cacheable parameter
     * (the caller then casts as usual).
     */
    synchronized Tensor get(CudaBackend be, Tensor t, DType to) {
        Storage s = t.storage();
        if (!s.isParameter() || t.dtype() == to || s.backend() != be) return null;
        Key key = new Key(t.offset(), t.shape(), t.strides(), to);
        Map<Key, Entry> views = entries.computeIfAbsent(s, x -> new java.util.HashMap<>());
        Entry e = views.get(key);
        long version = s.version();
        if (e != null && e.version == version && !e.copy.storage().isClosed()) return e.copy;
        if (e != null) e.copy.close(); // stale: the parameter was written since
        Tensor copy = MemoryScope.outside(() -> be.cast(t, to));
        views.put(key, new Entry(version, copy));
        return copy;
    }

    /** Frees every cached copy (memory pressure, tests). */
    synchronized void clear() {
        for (Map<Key, Entry> views : entries.values()) for (Entry e : views.values()) e.copy.close();
        entries.clear();
    }
}
