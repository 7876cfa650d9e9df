package org.voxflow.distill;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntPredicate;
import org.voxflow.autograd.F;
import org.voxflow.nn.Linear;
import org.voxflow.nn.Module;
import org.voxflow.tensor.Backend;
import org.voxflow.tensor.Backends;
import org.voxflow.tensor.Rng;
import org.voxflow.tensor.Tensor;

/** A tiny student (one Linear), a toy regression objective that draws noise from the rng, and its data. */
final class ToyTraining {
    static final Backend BE = Backends.cpu();

    private ToyTraining() {}

    static final class Tiny extends Module {
        final Linear lin;

        Tiny(int out, long initSeed) {
            super(BE);
            lin = child("lin", new Linear(BE, 4, out));
            Rng r = new Rng(initSeed);
            BE.assign(lin.weight, BE.fromFloats(r.normal(out * 4), out, 4));
            BE.assign(lin.bias, BE.fromFloats(r.normal(out), out));
        }

        Tiny(long initSeed) { this(2, initSeed); }

        Tensor forward(Tensor x) { return lin.forward(x); }
    }

    /**
     * mse between the student on noisy inputs and a fixed linear map of the inputs plus the condition, and a small
     * weight penalty; the noise comes from the trainer's rng so resuming must restore it. {@code poison} makes the
     * mse NaN on the calls it selects (1-based call number).
     */
    static final class ToyObjective implements Objective {
        private final Tiny model;
        private final IntPredicate poison;
        private final Runnable onCall;
        private final Tensor target = BE.fromFloats(new float[] {0.5f, -1f, 0.25f, 2f, -0.3f, 0.8f, 1.5f, -0.7f}, 2, 4);
        int calls;

        ToyObjective(Tiny model, IntPredicate poison, Runnable onCall) {
            this.model = model;
            this.poison = poison;
            this.onCall = onCall;
        }

        ToyObjective(Tiny model) { this(model, c -> false, () -> {}); }

        @Override public Losses loss(Batch batch, Rng rng) {
            calls++;
            onCall.run();
            Tensor x = batch.x0();
            int b = x.size(0);
            Tensor noisy = F.add(x, F.mul(rng.randn(BE, b, 4), 0.1f));
            Tensor want = F.add(F.matmul(x, target, false, true), F.reshape(batch.cond(), b, 2));
            Tensor mse = F.mean(F.square(F.sub(model.forward(noisy), want)));
            if (poison.test(calls)) mse = F.mul(mse, Float.NaN);
            Tensor reg = F.mul(F.mean(F.square(model.lin.weight)), 1e-3f);
            Map<String, Float> terms = new LinkedHashMap<>();
            terms.put("mse", mse.item());
            terms.put("reg", reg.item());
            return new Losses(F.add(mse, reg), terms);
        }
    }

    static List<Sample> samples(int n) {
        Rng r = new Rng(99);
        List<Sample> out = new ArrayList<>();
        for (int i = 0; i < n; i++) out.add(new Sample.Dense(r.normal(4), new int[] {4}, r.normal(2), new int[] {1, 2}));
        return out;
    }

    static InMemoryBatchSource source() { return new InMemoryBatchSource(BE, samples(10), 3); }

    /** The largest |a - b| over all parameters of two snapshots (same names required). */
    static double maxAbsDiff(Map<String, float[]> a, Map<String, float[]> b) {
        org.junit.jupiter.api.Assertions.assertEquals(a.keySet(), b.keySet());
        double d = 0;
        for (String k : a.keySet()) for (int i = 0; i < a.get(k).length; i++) d = Math.max(d, Math.abs(a.get(k)[i] - b.get(k)[i]));
        return d;
    }

    /** Every parameter's floats, by name. */
    static Map<String, float[]> snapshot(Map<String, Tensor> params) {
        Map<String, float[]> m = new LinkedHashMap<>();
        params.forEach((k, t) -> m.put(k, t.toFloats()));
        return m;
    }
}
