package org.voxflow.cuda;

import java.util.Arrays;
import java.util.Map;
import java.util.WeakHashMap;
import org.voxflow.tensor.DType;
import org.voxflow.tensor.MemoryScope;
import org.voxflow.tensor.Shapes;
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

    /**
     * A group of same-shape parameters stacked into one dense copy [G, ...] of type `to` (a strided-batched GEMM's
     * operand: every block's cross-attention K/V projection run as one call), made once and reused while every member
     * keeps its version. Null when some member is not a cacheable parameter. Like get's copies: not the caller's to
     * close. Groups live as long as their first member's storage; the others are held weakly.
     */
    synchronized Tensor group(CudaBackend be, Tensor[] members, DType to) {
        for (Tensor t : members)
            if (!t.storage().isParameter() || t.storage().backend() != be || !Arrays.equals(t.shape(), members[0].shape())) return null;
        GroupKey key = new GroupKey(members, to);
        java.util.List<Group> list = groups.computeIfAbsent(members[0].storage(), x -> new java.util.ArrayList<>());
        for (java.util.Iterator<Group> it = list.iterator(); it.hasNext(); ) {
            Group g = it.next();
            if (!g.key.equals(key)) continue;
            if (g.current(members)) return g.copy;
            g.copy.close(); // a member was written since
            it.remove();
        }
        int[] shape = Shapes.concat(new int[] {members.length}, members[0].shape());
        Tensor copy = MemoryScope.outside(() -> be.empty(to, shape));
        for (int i = 0; i < members.length; i++) {
            Tensor one = be.denseOf(members[i], to);
            be.assign(copy.slice(0, i, i + 1), one.reshape(Shapes.concat(new int[] {1}, members[i].shape())));
            if (one != members[i]) one.close();
        }
        list.add(new Group(key, versions(members), copy));
        return copy;
    }

    private static long[] versions(Tensor[] ts) {
        long[] v = new long[ts.length];
        for (int i = 0; i < ts.length; i++) v[i] = ts[i].storage().version();
        return v;
    }

    /** The members by identity (storage and offset) and the copy's type. */
    private static final class GroupKey {
        private final java.lang.ref.WeakReference<Storage>[] storages;
        private final long[] offsets;
        private final DType to;
        private final int hash;

        @SuppressWarnings("unchecked")
        GroupKey(Tensor[] members, DType to) {
            storages = new java.lang.ref.WeakReference[members.length];
            offsets = new long[members.length];
            int h = to.hashCode();
            for (int i = 0; i < members.length; i++) {
                storages[i] = new java.lang.ref.WeakReference<>(members[i].storage());
                offsets[i] = members[i].offset();
                h = h * 31 + System.identityHashCode(members[i].storage()) + Long.hashCode(offsets[i]);
            }
            this.to = to;
            this.hash = h;
        }

        @Override public boolean equals(Object o) {
            if (!(o instanceof GroupKey k) || k.hash != hash || k.to != to || k.storages.length != storages.length
                    || !Arrays.equals(k.offsets, offsets)) return false;
            for (int i = 0; i < storages.length; i++) {
                Storage s = storages[i].get();
                if (s == null || s != k.storages[i].get()) return false;
            }
            return true;
        }

        @Override public int hashCode() { return hash; }
    }

    private record Group(GroupKey key, long[] versions, Tensor copy) {
        boolean current(Tensor[] members) { return !copy.storage().isClosed() && Arrays.equals(versions, CastCache.versions(members)); }
    }

    private final Map<Storage, java.util.List<Group>> groups = new WeakHashMap<>();

    /** Frees every cached copy (memory pressure, tests). */
    synchronized void clear() {
        for (Map<Key, Entry> views : entries.values()) for (Entry e : views.values()) e.copy.close();
        entries.clear();
        for (java.util.List<Group> list : groups.values()) for (Group g : list) g.copy.close();
        groups.clear();
    }
}
