package org.voxflow.distill;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.voxflow.tensor.Backend;
import org.voxflow.tensor.BinaryOp;
import org.voxflow.tensor.DType;
import org.voxflow.tensor.MemoryScope;
import org.voxflow.tensor.Tensor;
import org.voxflow.tensor.UnaryOp;

/**
 * AdamW with PyTorch's update rule (single-tensor path of {@code torch.optim.AdamW}), per parameter:
 * <pre>
 * p      <- p (1 - lr wd)                         decoupled weight decay
 * m      <- m + (1 - b1) (g - m)                  first moment (PyTorch's lerp)
 * v      <- b2 v + (1 - b2) g^2                   second moment
 * p      <- p - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 * </pre>
 * t counts the steps this parameter took; a parameter whose grad is null is skipped (its t does not advance),
 * as PyTorch skips params without grad. All tensor math runs through the parameters' own {@link Backend}, so the
 * state lives beside the weights (GPU or CPU), and the same inputs give the same bits every run.
 *
 * <p>State (exported by {@link #stateTensors()}, restored by {@link #loadState}): {@code exp_avg.<name>},
 * {@code exp_avg_sq.<name>} (f32, the parameter's shape) and {@code step.<name>} (i64 [1]).
 */
public final class AdamW {
    private final AdamWConfig cfg;
    private final Map<String, Tensor> params;
    private final Map<String, Tensor> expAvg = new LinkedHashMap<>();
    private final Map<String, Tensor> expAvgSq = new LinkedHashMap<>();
    private final Map<String, long[]> steps = new LinkedHashMap<>();

    /** State buffers are allocated here, eagerly: create the optimizer outside any per-step {@link MemoryScope}. */
    public AdamW(Map<String, Tensor> params, AdamWConfig cfg) {
        this.cfg = cfg;
        this.params = new LinkedHashMap<>(params);
        for (Map.Entry<String, Tensor> e : this.params.entrySet()) {
            Tensor p = e.getValue();
            StateTensors.requireUpdatable(e.getKey(), p);
            expAvg.put(e.getKey(), p.backend().zeros(DType.F32, p.shape()));
            expAvgSq.put(e.getKey(), p.backend().zeros(DType.F32, p.shape()));
            steps.put(e.getKey(), new long[1]);
        }
    }

    public AdamWConfig config() { return cfg; }

    /** Applies one update with learning rate lr to every parameter that has a gradient. */
    public void step(double lr) {
        for (Map.Entry<String, Tensor> e : params.entrySet()) {
            Tensor p = e.getValue();
            if (p.grad() == null) continue;
            // One scope per parameter: temporaries are freed before the next parameter, so the peak extra memory
            // is a few copies of the largest tensor, not of the whole model.
            try (MemoryScope scope = MemoryScope.open()) {
                update(e.getKey(), p, lr);
            }
        }
    }

    private void update(String name, Tensor p, double lr) {
        Backend be = p.backend();
        Tensor g = p.grad().dtype() == DType.F32 ? p.grad() : be.cast(p.grad(), DType.F32);
        Tensor m0 = expAvg.get(name), v0 = expAvgSq.get(name);
        long t = ++steps.get(name)[0];

        Tensor decayed = cfg.weightDecay() == 0 ? p : be.affine(p, (float) (1.0 - lr * cfg.weightDecay()), 0f);
        Tensor m = be.binary(BinaryOp.ADD, m0, be.affine(be.binary(BinaryOp.SUB, g, m0), (float) (1.0 - cfg.beta1()), 0f));
        Tensor v = be.binary(BinaryOp.ADD, be.affine(v0, (float) cfg.beta2(), 0f),
                be.affine(be.unary(UnaryOp.SQUARE, g), (float) (1.0 - cfg.beta2()), 0f));

        // Bias corrections in double, as PyTorch computes them on the host for the non-capturable path.
        double bc1 = 1.0 - Math.pow(cfg.beta1(), t);
        double bc2Sqrt = Math.sqrt(1.0 - Math.pow(cfg.beta2(), t));
        double stepSize = lr / bc1;
        Tensor denom = be.affine(be.unary(UnaryOp.SQRT, v), (float) (1.0 / bc2Sqrt), (float) cfg.eps());
        Tensor delta = be.affine(be.binary(BinaryOp.DIV, m, denom), (float) -stepSize, 0f);
        Tensor updated = be.binary(BinaryOp.ADD, decayed, delta);

        be.assign(m0, m);
        be.assign(v0, v);
        be.assign(p, updated);
    }

    /** Steps taken by one parameter (0 before its first update). */
    public long stepCount(String name) {
        long[] s = steps.get(name);
        if (s == null) throw new IllegalArgumentException("AdamW has no parameter '" + name + "'");
        return s[0];
    }

    /** The live state tensors by name (moments are the optimizer's own buffers: copy before modifying). */
    public Map<String, Tensor> stateTensors() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (String n : params.keySet()) {
            out.put("exp_avg." + n, expAvg.get(n));
            out.put("exp_avg_sq." + n, expAvgSq.get(n));
            out.put("step." + n, StateTensors.scalarLong(steps.get(n)[0]));
        }
        return out;
    }

    /** Every problem that would stop {@link #loadState} (missing tensors, wrong shapes); empty when it would succeed. */
    public List<String> checkState(Map<String, Tensor> state) { return checkShapes(StateTensors.shapes(state)); }

    /** As {@link #checkState}, from the state's shapes alone (checked before a checkpoint's tensors are read). */
    public List<String> checkShapes(Map<String, int[]> state) {
        List<String> problems = new ArrayList<>();
        for (Map.Entry<String, Tensor> e : params.entrySet()) {
            String n = e.getKey();
            int[] shape = e.getValue().shape();
            StateTensors.expect(state, "exp_avg." + n, shape, problems);
            StateTensors.expect(state, "exp_avg_sq." + n, shape, problems);
            StateTensors.expect(state, "step." + n, new int[] {1}, problems);
        }
        for (String k : state.keySet()) {
            int dot = k.indexOf('.');
            String kind = dot < 0 ? "" : k.substring(0, dot);
            boolean known = (kind.equals("exp_avg") || kind.equals("exp_avg_sq") || kind.equals("step"))
                    && params.containsKey(k.substring(dot + 1));
            if (!known) problems.add("unexpected optimizer tensor '" + k + "' (no such parameter or state kind)");
        }
        return problems;
    }

    /** Restores exported state; checks everything first and changes nothing when a check fails. */
    public void loadState(Map<String, Tensor> state) {
        List<String> problems = checkState(state);
        if (!problems.isEmpty()) throw new IllegalArgumentException("AdamW state does not match the parameters:\n  - " + String.join("\n  - ", problems));
        for (String n : params.keySet()) {
            StateTensors.copyFloats(expAvg.get(n), state.get("exp_avg." + n));
            StateTensors.copyFloats(expAvgSq.get(n), state.get("exp_avg_sq." + n));
            steps.get(n)[0] = state.get("step." + n).toLongs()[0];
        }
    }
}
