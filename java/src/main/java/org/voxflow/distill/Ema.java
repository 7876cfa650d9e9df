package org.voxflow.distill;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.voxflow.nn.Module;
import org.voxflow.tensor.Backend;
import org.voxflow.tensor.BinaryOp;
import org.voxflow.tensor.MemoryScope;
import org.voxflow.tensor.Tensor;

/**
 * Exponential moving averages of every parameter, at one or several rates (TRELLIS keeps e.g. 0.9999 and
 * 0.999): after each optimizer step, {@code ema <- rate * ema + (1 - rate) * param}, as TRELLIS's
 * {@code update_ema}. The copies start equal to the parameters and live on the parameters' backend.
 *
 * <p>State: {@code <index>.<name>} for the rate at that index of {@link #rates()} (indices, not the printed rate,
 * so a name never depends on how a double is formatted).
 */
public final class Ema {
    private final double[] rates;
    private final List<Map<String, Tensor>> copies = new ArrayList<>();

    /** Copies the current parameter values; allocate outside any per-step {@link MemoryScope}. */
    public Ema(Map<String, Tensor> params, double... rates) {
        this.rates = rates.clone();
        for (double r : rates)
            if (!(r >= 0 && r <= 1)) throw new IllegalArgumentException("EMA rate must be in [0, 1], got " + r);
        for (int i = 0; i < rates.length; i++) {
            for (int j = 0; j < i; j++)
                if (rates[j] == rates[i]) throw new IllegalArgumentException("EMA rate " + rates[i] + " given twice");
            Map<String, Tensor> copy = new LinkedHashMap<>();
            params.forEach((n, p) -> copy.put(n, StateTensors.cloneF32(p)));
            copies.add(copy);
        }
    }

    public static Ema of(Module model, double... rates) { return new Ema(model.namedParameters(), rates); }

    public double[] rates() { return rates.clone(); }

    /** ema <- rate ema + (1 - rate) param for every rate and every parameter of the model. */
    public void update(Module model) { update(model.namedParameters()); }

    public void update(Map<String, Tensor> params) {
        for (int i = 0; i < rates.length; i++) {
            float keep = (float) rates[i], take = (float) (1.0 - rates[i]);
            for (Map.Entry<String, Tensor> e : copies.get(i).entrySet()) {
                Tensor p = params.get(e.getKey());
                if (p == null) throw new IllegalArgumentException("EMA: the model has no parameter '" + e.getKey() + "'");
                Tensor ema = e.getValue();
                Backend be = ema.backend();
                try (MemoryScope scope = MemoryScope.open()) {
                    be.assign(ema, be.binary(BinaryOp.ADD, be.affine(ema, keep, 0f), be.affine(p, take, 0f)));
                }
            }
        }
    }

    /** The averaged parameters at one rate, by name (live tensors: copy before modifying). */
    public Map<String, Tensor> copy(double rate) {
        return Collections.unmodifiableMap(copies.get(indexOf(rate)));
    }

    /** Overwrites the given parameters (e.g. of an evaluation model) with the average at one rate. */
    public void copyTo(Map<String, Tensor> dst, double rate) {
        for (Map.Entry<String, Tensor> e : copies.get(indexOf(rate)).entrySet()) {
            Tensor d = dst.get(e.getKey());
            if (d == null) throw new IllegalArgumentException("EMA copyTo: the target has no parameter '" + e.getKey() + "'");
            StateTensors.copyFloats(d, e.getValue());
        }
    }

    private int indexOf(double rate) {
        for (int i = 0; i < rates.length; i++) if (rates[i] == rate) return i;
        throw new IllegalArgumentException("no EMA at rate " + rate + " (rates: " + Arrays.toString(rates) + ")");
    }

    public Map<String, Tensor> stateTensors() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (int i = 0; i < rates.length; i++) {
            int idx = i;
            copies.get(i).forEach((n, t) -> out.put(idx + "." + n, t));
        }
        return out;
    }

    /** Every problem that would stop {@link #loadState}; empty when it would succeed. */
    public List<String> checkState(Map<String, Tensor> state) { return checkShapes(StateTensors.shapes(state)); }

    /** As {@link #checkState}, from the state's shapes alone. */
    public List<String> checkShapes(Map<String, int[]> state) {
        List<String> problems = new ArrayList<>();
        Set<String> known = new HashSet<>();
        for (int i = 0; i < rates.length; i++) {
            for (Map.Entry<String, Tensor> e : copies.get(i).entrySet()) {
                String k = i + "." + e.getKey();
                known.add(k);
                StateTensors.expect(state, k, e.getValue().shape(), problems);
            }
        }
        for (String k : state.keySet()) if (!known.contains(k)) problems.add("unexpected EMA tensor '" + k + "'");
        return problems;
    }

    /** Restores exported state; checks everything first and changes nothing when a check fails. */
    public void loadState(Map<String, Tensor> state) {
        List<String> problems = checkState(state);
        if (!problems.isEmpty()) throw new IllegalArgumentException("EMA state does not match the parameters:\n  - " + String.join("\n  - ", problems));
        for (int i = 0; i < rates.length; i++)
            for (Map.Entry<String, Tensor> e : copies.get(i).entrySet()) StateTensors.copyFloats(e.getValue(), state.get(i + "." + e.getKey()));
    }
}
