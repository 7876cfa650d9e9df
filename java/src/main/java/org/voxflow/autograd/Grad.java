package org.voxflow.autograd;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.voxflow.tensor.MemoryScope;
import org.voxflow.tensor.Storage;
import org.voxflow.tensor.Tensor;

/**
 * Reverse-mode autograd: ops record {@link Node}s while recording is on; {@link #backward} walks them in reverse
 * topological order and accumulates into the leaves' {@code grad} (so repeated calls accumulate, which is
 * gradient accumulation). Backward rules run with recording off.
 */
public final class Grad {
    private static final ThreadLocal<int[]> DISABLED = ThreadLocal.withInitial(() -> new int[1]);

    private Grad() {}

    public static boolean enabled() { return DISABLED.get()[0] == 0; }

    /** Turns recording off until closed: {@code try (var ng = Grad.noGrad()) { ... }}. */
    public static NoGrad noGrad() {
        DISABLED.get()[0]++;
        return new NoGrad();
    }

    /** Turns recording back on inside a no-grad region until closed (the previous state returns on close). */
    public static NoGrad enabledScope() {
        int[] d = DISABLED.get();
        int saved = d[0];
        d[0] = 0;
        return new NoGrad() {
            @Override public void close() { DISABLED.get()[0] = saved; }
        };
    }

    public static class NoGrad implements AutoCloseable {
        private boolean closed;
        NoGrad() {}
        @Override public void close() {
            if (!closed) { closed = true; DISABLED.get()[0]--; }
        }
    }

    /** d loss / d leaf for every leaf reachable from a scalar loss, accumulated into leaf.grad(). */
    public static void backward(Tensor loss) { backward(loss, (GradHook) null); }

    /**
     * {@link #backward(Tensor)} that tells {@code hook} about each leaf as soon as its gradient is final (see
     * {@link GradHook}); the gradients are the same as without a hook. Null hook: plain backward.
     */
    public static void backward(Tensor loss, GradHook hook) {
        if (loss.numel() != 1) throw new IllegalArgumentException("backward() needs a scalar loss, got " + loss);
        backward(loss, loss.backend().full(1f, loss.shape()), hook);
    }

    public static void backward(Tensor root, Tensor seed) { backward(root, seed, null); }

    /**
     * Vector-Jacobian product of root with seed, accumulated into the leaves' grads; with a hook, each reachable
     * leaf that requires grad is reported once, right after the backward rule of its last consumer ran.
     *
     * <p>How "last consumer" is known: before the walk, every leaf gets the number of edges from recorded ops to it
     * (an op that takes the leaf twice counts twice). The walk visits tensors in reverse topological order; each op
     * it passes, whether its rule runs or no gradient reached it, decrements the count of every leaf input, and the
     * leaf whose count reaches zero is final: nothing left in the walk can add to it. Shared weights, leaves used at
     * very different depths and ops whose rule gives some input no gradient are all handled by the count alone.
     */
    public static void backward(Tensor root, Tensor seed, GradHook hook) {
        if (!root.requiresGrad()) throw new IllegalStateException("the loss does not depend on any tensor that requires grad");
        List<Tensor> order = topoOrder(root);
        Map<Tensor, int[]> pending = hook == null ? null : consumerCounts(order);
        Map<Tensor, Tensor> grads = new IdentityHashMap<>();
        Frontier frontier = new Frontier();
        grads.put(root, seed);
        frontier.hold(seed);
        List<Tensor> leaves = new ArrayList<>();
        try (var ng = noGrad(); MemoryScope walk = MemoryScope.open()) {
            frontier.walk = walk;
            for (int i = order.size() - 1; i >= 0; i--) {
                Tensor t = order.get(i);
                Tensor g = grads.remove(t);
                Node n = (Node) t.gradFn();
                if (n == null) {
                    if (g != null) frontier.accumulateLeaf(t, g, leaves);
                    // a leaf with consumers was reported when its count reached zero; only a leaf root has none
                    if (hook != null && !pending.containsKey(t)) hook.gradReady(t, t.grad());
                    continue;
                }
                Tensor[] gi = null;
                if (g != null) {
                    try (MemoryScope rule = MemoryScope.open()) { // the rule's own temporaries die here
                        gi = n.rule.apply(g);
                        for (Tensor x : gi) MemoryScope.keep(x);
                    }
                }
                for (int j = 0; j < n.inputs.length; j++) {
                    Tensor in = n.inputs[j];
                    if (in == null || !in.requiresGrad()) continue;
                    if (gi != null && gi[j] != null) {
                        Tensor prev = grads.get(in);
                        if (prev == null) {
                            grads.put(in, gi[j]);
                            frontier.hold(gi[j]);
                        } else {
                            Tensor sum = F.add(prev, gi[j]);
                            grads.put(in, sum);
                            frontier.hold(sum);
                            frontier.release(prev);
                            frontier.dropIfFree(gi[j]);
                        }
                    }
                    if (hook != null && in.gradFn() == null && --pending.get(in)[0] == 0) {
                        Tensor acc = grads.remove(in);
                        if (acc != null) frontier.accumulateLeaf(in, acc, leaves);
                        hook.gradReady(in, in.grad());
                    }
                }
                if (g != null) frontier.release(g);
            }
            for (Tensor leaf : leaves) MemoryScope.keep(leaf.grad()); // the leaves' grads outlive the walk
        }
    }

    /**
     * The walk's pending gradients, counted by storage (a rule may hand back its incoming gradient or a view of it).
     * A gradient the walk created is freed as soon as no pending gradient or leaf grad shares its storage, so peak
     * memory is the forward's saved tensors plus the gradients in flight, not every gradient the walk ever made.
     */
    private static final class Frontier {
        MemoryScope walk;
        private final Map<Storage, int[]> refs = new IdentityHashMap<>();
        private final Set<Storage> leafGrads = Collections.newSetFromMap(new IdentityHashMap<>());

        void hold(Tensor g) { refs.computeIfAbsent(g.storage(), k -> new int[1])[0]++; }

        void release(Tensor g) {
            int[] c = refs.get(g.storage());
            if (c != null && --c[0] == 0) refs.remove(g.storage());
            dropIfFree(g);
        }

        /** Frees g's storage when the walk made it and nothing pending or kept refers to it. */
        void dropIfFree(Tensor g) {
            Storage s = g.storage();
            if (!refs.containsKey(s) && !leafGrads.contains(s) && walk.owns(s)) s.close();
        }

        void accumulateLeaf(Tensor leaf, Tensor g, List<Tensor> leaves) {
            Tensor sum = leaf.grad() == null ? g : F.add(leaf.grad(), g);
            leaf.setGrad(sum);
            leafGrads.add(sum.storage());
            leaves.add(leaf);
            release(g);
        }
    }

    /** For every leaf in order, the number of edges from recorded ops (in order) to it. */
    private static Map<Tensor, int[]> consumerCounts(List<Tensor> order) {
        Map<Tensor, int[]> pending = new IdentityHashMap<>();
        for (Tensor t : order) {
            Node n = (Node) t.gradFn();
            if (n == null) continue;
            for (Tensor in : n.inputs)
                if (in != null && in.requiresGrad() && in.gradFn() == null) pending.computeIfAbsent(in, k -> new int[1])[0]++;
        }
        return pending;
    }

    /** Tensors reachable from root through recorded nodes, inputs before outputs. */
    private static List<Tensor> topoOrder(Tensor root) {
        List<Tensor> order = new ArrayList<>();
        Set<Tensor> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        ArrayDeque<Object[]> stack = new ArrayDeque<>();
        stack.push(new Object[] {root, 0});
        seen.add(root);
        while (!stack.isEmpty()) {
            Object[] top = stack.peek();
            Tensor t = (Tensor) top[0];
            int next = (Integer) top[1];
            Node n = (Node) t.gradFn();
            if (n != null && next < n.inputs.length) {
                top[1] = next + 1;
                Tensor in = n.inputs[next];
                if (in != null && in.requiresGrad() && seen.add(in)) stack.push(new Object[] {in, 0});
            } else {
                stack.pop();
                order.add(t);
            }
        }
        return order;
    }
}
