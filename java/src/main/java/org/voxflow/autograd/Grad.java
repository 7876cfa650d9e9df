package org.voxflow.autograd;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
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
    public static void backward(Tensor loss) {
        if (loss.numel() != 1) throw new IllegalArgumentException("backward() needs a scalar loss, got " + loss);
        backward(loss, loss.backend().full(1f, loss.shape()));
    }

    public static void backward(Tensor root, Tensor seed) {
        if (!root.requiresGrad()) throw new IllegalStateException("the loss does not depend on any tensor that requires grad");
        List<Tensor> order = topoOrder(root);
        Map<Tensor, Tensor> grads = new IdentityHashMap<>();
        grads.put(root, seed);
        try (var ng = noGrad()) {
            for (int i = order.size() - 1; i >= 0; i--) {
                Tensor t = order.get(i);
                Tensor g = grads.remove(t);
                if (g == null) continue;
                Node n = (Node) t.gradFn();
                if (n == null) {
                    t.setGrad(t.grad() == null ? g : F.add(t.grad(), g));
                    continue;
                }
                Tensor[] gi = n.rule.apply(g);
                for (int j = 0; j < n.inputs.length; j++) {
                    Tensor in = n.inputs[j];
                    if (gi[j] == null || !in.requiresGrad()) continue;
                    Tensor prev = grads.get(in);
                    grads.put(in, prev == null ? gi[j] : F.add(prev, gi[j]));
                }
            }
        }
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
                if (in.requiresGrad() && seen.add(in)) stack.push(new Object[] {in, 0});
            } else {
                stack.pop();
                order.add(t);
            }
        }
        return order;
    }
}
