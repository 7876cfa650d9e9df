package org.voxflow.autograd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.voxflow.tensor.Backend;
import org.voxflow.tensor.Backends;
import org.voxflow.tensor.Rng;
import org.voxflow.tensor.Tensor;

/**
 * The per-leaf gradient-ready hook of {@link Grad#backward(Tensor, Tensor, GradHook)}: every reachable leaf that
 * requires grad is reported exactly once, only after every op consuming it ran its backward rule (checked on an event
 * log of instrumented nodes), with its final accumulated gradient, which is bit for bit the plain backward's.
 */
class GradHookTest {
    private static final Backend CPU = Backends.cpu();

    /** One entry of the event log: a backward rule ran (node, its inputs) or a leaf was reported (leaf, grad values). */
    private record Event(boolean ready, Tensor leaf, Tensor[] inputs, float[] grad, String op) {}

    // ---- the harness ----------------------------------------------------------------------------------------------

    /** Fresh leaves with the given values; requires[i] makes leaf i require grad. */
    private static List<Tensor> leaves(float[][] values, boolean[] requires) {
        List<Tensor> out = new ArrayList<>();
        for (int i = 0; i < values.length; i++) out.add(CPU.fromFloats(values[i], values[i].length).setRequiresGrad(requires[i]));
        return out;
    }

    /** Replaces every recorded node under root by one that logs its rule's runs (same inputs, same rule). */
    private static void instrument(Tensor root, List<Event> log) {
        Set<Tensor> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        ArrayDeque<Tensor> todo = new ArrayDeque<>();
        todo.push(root);
        while (!todo.isEmpty()) {
            Tensor t = todo.pop();
            if (!seen.add(t) || !(t.gradFn() instanceof Node n)) continue;
            t.setGradFn(new Node(n.op, n.inputs, g -> {
                log.add(new Event(false, null, n.inputs, null, n.op));
                return n.rule.apply(g);
            }));
            for (Tensor in : n.inputs) if (in != null && in.requiresGrad()) todo.push(in);
        }
    }

    /** Leaves requiring grad that root depends on through recorded nodes. */
    private static Set<Tensor> reachableLeaves(Tensor root) {
        Set<Tensor> seen = Collections.newSetFromMap(new IdentityHashMap<>()), out = Collections.newSetFromMap(new IdentityHashMap<>());
        ArrayDeque<Tensor> todo = new ArrayDeque<>();
        todo.push(root);
        while (!todo.isEmpty()) {
            Tensor t = todo.pop();
            if (!seen.add(t) || !t.requiresGrad()) continue;
            if (t.gradFn() == null) out.add(t);
            else for (Tensor in : ((Node) t.gradFn()).inputs) if (in != null) todo.push(in);
        }
        return out;
    }

    private static float[] values(Tensor t) { return t == null ? null : t.toFloats(); }

    /**
     * Builds the graph twice from the same leaf values: once backward with a hook (checked against the contract), once
     * plain; the gradients must be identical. {@code calls} backward calls accumulate. Returns the hooked run's log.
     */
    private static List<Event> check(float[][] values, boolean[] requires, Function<List<Tensor>, Tensor> build, int calls) {
        List<Tensor> hooked = leaves(values, requires), plain = leaves(values, requires);
        List<Event> log = new ArrayList<>();
        for (int c = 0; c < calls; c++) {
            Tensor root = build.apply(hooked);
            instrument(root, log);
            Set<Tensor> reachable = reachableLeaves(root);
            int start = log.size();
            Map<Tensor, Integer> fired = new IdentityHashMap<>();
            Grad.backward(root, (leaf, grad) -> {
                assertSame(leaf.grad(), grad, "the hook gets the leaf's accumulated grad");
                assertNull(leaf.gradFn(), "only leaves are reported");
                assertTrue(leaf.requiresGrad(), "only leaves that require grad are reported");
                fired.merge(leaf, 1, Integer::sum);
                log.add(new Event(true, leaf, null, values(grad), null));
            });
            Grad.backward(build.apply(plain));
            for (int i = 0; i < hooked.size(); i++) {
                Tensor leaf = hooked.get(i);
                if (reachable.contains(leaf)) assertEquals(1, fired.getOrDefault(leaf, 0), "call " + c + ": leaf " + i + " reported once");
                else assertEquals(0, fired.getOrDefault(leaf, 0), "call " + c + ": leaf " + i + " is not reachable: never reported");
                assertArrayEquals(values(plain.get(i).grad()), values(leaf.grad()), "call " + c + ": leaf " + i + ": the plain backward's gradient");
            }
            // reported after its last consumer: no rule taking the leaf runs after the report, and the reported values
            // are the final ones
            List<Event> call = log.subList(start, log.size());
            for (int p = 0; p < call.size(); p++) {
                Event e = call.get(p);
                if (!e.ready()) continue;
                for (int q = p + 1; q < call.size(); q++) {
                    Event later = call.get(q);
                    if (later.ready()) continue;
                    for (Tensor in : later.inputs())
                        if (in == e.leaf()) fail("call " + c + ": leaf " + hooked.indexOf(e.leaf()) + " was reported before op '" + later.op() + "' that consumes it ran");
                }
                assertArrayEquals(values(e.leaf().grad()), e.grad(), "reported values are the final ones");
            }
        }
        return log;
    }

    /** An op whose rule gives input b no gradient (as a non-differentiable argument would). */
    private static Tensor blockSecond(Tensor a, Tensor b) {
        Tensor out = CPU.binary(org.voxflow.tensor.BinaryOp.ADD, a, b);
        if (a.requiresGrad() || b.requiresGrad()) {
            out.setRequiresGrad(true);
            out.setGradFn(new Node("blockSecond", new Tensor[] {a, b}, g -> new Tensor[] {a.requiresGrad() ? F.sumTo(g, a.shape()) : null, null}));
        }
        return out;
    }

    private static float[][] randomValues(long seed, int n, int size) {
        Rng r = new Rng(seed);
        float[][] v = new float[n][];
        for (int i = 0; i < n; i++) v[i] = r.normal(size);
        return v;
    }

    // ---- the tests -------------------------------------------------------------------------------------------------

    @Test
    void sharedWeightsLeavesAtDifferentDepthsAndLeavesWithoutGradient() {
        // 0 W (shared: layers 1 and 3), 1 b1, 2 b3, 3 s (used at the start and right at the loss), 4 u (its only op
        // gives it no gradient), 5 v (under a subtree no gradient reaches), 6 x (input, no grad), 7 unused leaf
        float[][] vals = randomValues(1, 8, 4);
        boolean[] req = {true, true, true, true, true, true, false, true};
        List<Event> log = check(vals, req, l -> {
            Tensor W = l.get(0), b1 = l.get(1), b3 = l.get(2), s = l.get(3), u = l.get(4), v = l.get(5), x = l.get(6);
            Tensor h = F.tanh(F.add(F.mul(W, F.mul(x, s)), b1));      // layer 1: W and s deep down
            Tensor h2 = blockSecond(F.sigmoid(h), u);                  // u: no gradient
            Tensor dead = F.mul(v, F.exp(v));                          // v feeds only ...
            Tensor h3 = blockSecond(F.mul(W, h2), dead);               // ... a branch no gradient reaches
            Tensor y = F.add(F.mul(h3, h3), b3);                       // layer 3 reuses W (above); h3 twice
            return F.sum(F.add(F.mul(y, s), F.mul(F.sum(s), 0.5f)));   // s again, at the top
        }, 1);
        List<Event> ready = log.stream().filter(Event::ready).toList();
        assertEquals(6, ready.size(), "W, b1, b3, s, u, v: once each; x and the unused leaf never");
        Event u = ready.stream().filter(e -> e.grad() == null).findFirst().orElseThrow();
        assertEquals(2, ready.stream().filter(e -> e.grad() == null).count(), "u and v have no gradient: reported with null");
        assertNull(u.leaf().grad());
    }

    @Test
    void theLastLayersAreReportedFirst() {
        int layers = 5;
        float[][] vals = randomValues(2, 2 * layers + 1, 3);
        boolean[] req = new boolean[vals.length];
        java.util.Arrays.fill(req, true);
        req[2 * layers] = false; // the input
        List<Tensor>[] made = new List[1];
        List<Event> log = check(vals, req, l -> {
            if (made[0] == null) made[0] = l; // the first build is the hooked run's
            Tensor h = l.get(2 * layers);
            for (int i = 0; i < layers; i++) h = F.tanh(F.add(F.mul(l.get(2 * i), h), l.get(2 * i + 1)));
            return F.sum(F.square(h));
        }, 1);
        List<Integer> order = new ArrayList<>();
        for (Event e : log) if (e.ready()) order.add(made[0].indexOf(e.leaf()) / 2);
        for (int i = 1; i < order.size(); i++)
            assertTrue(order.get(i - 1) >= order.get(i), "layer order of the reports: " + order);
        assertEquals(layers - 1, order.get(0), "the last layer first");
        assertEquals(0, order.get(order.size() - 1), "the first layer last");
        // and each layer is reported before the rule of the layer below runs (early, not at the end of backward)
        int firstReport = -1, lastRun = -1;
        for (int i = 0; i < log.size(); i++) {
            if (log.get(i).ready() && firstReport < 0) firstReport = i;
            if (!log.get(i).ready()) lastRun = i;
        }
        assertTrue(firstReport < lastRun, "reports interleave with backward");
    }

    @Test
    void accumulatesOverCallsAndCountsRepeatedInputs() {
        float[][] vals = randomValues(3, 2, 5);
        boolean[] req = {true, true};
        // x * x (the same input twice), x at two depths, and three backward calls accumulating
        check(vals, req, l -> F.sum(F.add(F.mul(l.get(0), l.get(0)), F.mul(F.tanh(F.mul(l.get(0), l.get(1))), l.get(1)))), 3);
    }

    @Test
    void aLeafRootIsReportedWithTheSeed() {
        Tensor x = CPU.fromFloats(new float[] {1, 2}, 2).setRequiresGrad(true);
        List<Tensor> got = new ArrayList<>();
        Grad.backward(x, CPU.fromFloats(new float[] {3, 4}, 2), (leaf, grad) -> { assertSame(x, leaf); got.add(grad); });
        assertEquals(1, got.size());
        assertArrayEquals(new float[] {3, 4}, got.get(0).toFloats());
        assertThrows(IllegalStateException.class, () -> Grad.backward(CPU.zeros(org.voxflow.tensor.DType.F32, 1), (leaf, grad) -> {}));
    }

    @Test
    void randomGraphsFollowTheContract() {
        Rng r = new Rng(42);
        int graphs = 300;
        for (int gi = 0; gi < graphs; gi++) {
            int nLeaves = 2 + r.nextInt(6), nOps = 1 + r.nextInt(30), size = 1 + r.nextInt(3);
            float[][] vals = randomValues(1000 + gi, nLeaves, size);
            boolean[] req = new boolean[nLeaves];
            for (int i = 0; i < nLeaves; i++) req[i] = r.nextDouble() < 0.75;
            req[0] = true;
            long seed = r.nextInt(1 << 30);
            Function<List<Tensor>, Tensor> build = l -> {
                Rng g = new Rng(seed); // the same graph each time it is built
                List<Tensor> pool = new ArrayList<>(l);
                for (int k = 0; k < nOps; k++) {
                    Tensor a = pool.get(g.nextInt(pool.size())), b = pool.get(g.nextInt(pool.size()));
                    Tensor out = switch (g.nextInt(6)) {
                        case 0 -> F.add(a, b);
                        case 1 -> F.mul(a, b);
                        case 2 -> F.sub(a, F.tanh(b));
                        case 3 -> F.mul(a, 0.5f);
                        case 4 -> blockSecond(a, b);
                        default -> F.sigmoid(F.add(a, a));
                    };
                    pool.add(out);
                }
                Tensor root = F.mul(pool.get(pool.size() - 1), l.get(0)); // always depends on a leaf that requires grad
                for (int k = 0; k < 2; k++) root = F.add(root, pool.get(g.nextInt(pool.size())));
                return F.sum(root);
            };
            try {
                check(vals, req, build, 1 + r.nextInt(2));
            } catch (AssertionError e) {
                throw new AssertionError("random graph " + gi + ": " + e.getMessage(), e);
            }
        }
    }

    @Test
    void withoutAHookNothingChanges() {
        float[][] vals = randomValues(5, 3, 4);
        List<Tensor> a = leaves(vals, new boolean[] {true, true, true});
        Tensor root = F.sum(F.mul(F.add(a.get(0), a.get(1)), F.tanh(F.mul(a.get(2), a.get(0)))));
        Grad.backward(root, (GradHook) null);
        for (Tensor t : a) assertNotNull(t.grad());
    }
}
