package org.voxflow.tensor;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;

/**
 * Deterministic lifetimes: every storage allocated while a scope is open on this thread belongs to it and is
 * freed when it closes, except tensors passed to {@link #keep}, which move to the enclosing scope (or, at the
 * outermost level, to the garbage collector / their owner, e.g. a model's parameters).
 *
 * <pre>{@code
 * try (MemoryScope scope = MemoryScope.open()) {
 *     Tensor y = model.forward(x);
 *     return MemoryScope.keep(y);
 * }
 * }</pre>
 */
public final class MemoryScope implements AutoCloseable {
    private static final ThreadLocal<ArrayDeque<MemoryScope>> STACK = ThreadLocal.withInitial(ArrayDeque::new);

    private final List<Storage> owned = new ArrayList<>();
    private final Set<Storage> ownedSet = Collections.newSetFromMap(new IdentityHashMap<>());
    private final Set<Storage> kept = Collections.newSetFromMap(new IdentityHashMap<>());
    private final Thread thread = Thread.currentThread();
    private boolean closed;

    private MemoryScope() {}

    public static MemoryScope open() {
        MemoryScope s = new MemoryScope();
        STACK.get().push(s);
        return s;
    }

    private static final ThreadLocal<int[]> OUTSIDE = ThreadLocal.withInitial(() -> new int[1]);

    static void register(Storage storage) {
        if (OUTSIDE.get()[0] > 0) return;
        MemoryScope top = STACK.get().peek();
        if (top != null) top.own(storage);
    }

    private void own(Storage s) {
        owned.add(s);
        ownedSet.add(s);
    }

    /** Whether the storage was allocated while this scope was the innermost one (or handed to it by keep). */
    public boolean owns(Storage s) { return ownedSet.contains(s); }

    /**
     * Runs an allocation that must outlive every open scope (a cache kept by a long-lived object, such as a
     * sparse structure's neighbour map): its storage belongs to no scope and is freed by its owner or the GC.
     */
    public static <T> T outside(java.util.function.Supplier<T> allocation) {
        int[] d = OUTSIDE.get();
        d[0]++;
        try {
            return allocation.get();
        } finally {
            d[0]--;
        }
    }

    /** Moves the tensor's storage (and its grad's) out of the innermost scope into the enclosing one. */
    public static Tensor keep(Tensor t) {
        MemoryScope top = STACK.get().peek();
        if (top != null && t != null) {
            top.kept.add(t.storage());
            if (t.grad() != null) top.kept.add(t.grad().storage());
            if (t.tangent() != null) top.kept.add(t.tangent().storage());
        }
        return t;
    }

    @Override public void close() {
        if (closed) return;
        if (Thread.currentThread() != thread) throw new IllegalStateException("MemoryScope closed on another thread");
        ArrayDeque<MemoryScope> stack = STACK.get();
        if (stack.peek() != this) throw new IllegalStateException("MemoryScope closed out of order (an inner scope is still open)");
        stack.pop();
        closed = true;
        MemoryScope parent = stack.peek();
        for (Storage s : owned) {
            if (kept.contains(s)) {
                if (parent != null) parent.own(s);
            } else {
                s.close();
            }
        }
        owned.clear();
        ownedSet.clear();
    }
}
