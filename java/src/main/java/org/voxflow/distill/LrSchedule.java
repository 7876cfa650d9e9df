package org.voxflow.distill;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Learning rate as a function of the 0-based optimizer step about to be taken. Implementations are pure
 * functions of the step (no state), so a resumed run needs nothing but the step count to continue exactly.
 */
public interface LrSchedule {
    double lr(long step);

    /** A JSON-ready description (kind and arguments), recorded in checkpoints and logs. */
    Map<String, Object> describe();

    static LrSchedule constant(double lr) { return new Constant(lr); }

    static LrSchedule linearWarmup(double lr, long warmupSteps) { return new LinearWarmup(lr, warmupSteps); }

    /** The same rate at every step. */
    record Constant(double lr) implements LrSchedule {
        public Constant {
            if (!(lr >= 0) || Double.isInfinite(lr)) throw new IllegalArgumentException("learning rate must be finite and >= 0, got " + lr);
        }

        @Override public double lr(long step) { return lr; }

        @Override public Map<String, Object> describe() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("kind", "constant");
            m.put("lr", lr);
            return m;
        }
    }

    /**
     * TRELLIS's {@code LinearWarmupLRScheduler}: lr * (step + 1) / warmup for the first warmup steps, then lr.
     * (The "+ 1" is TRELLIS's: its LambdaLR is queried with the index of the step about to run, and the first
     * step already gets lr / warmup rather than zero.)
     */
    record LinearWarmup(double lr, long warmupSteps) implements LrSchedule {
        public LinearWarmup {
            if (!(lr >= 0) || Double.isInfinite(lr)) throw new IllegalArgumentException("learning rate must be finite and >= 0, got " + lr);
            if (warmupSteps < 0) throw new IllegalArgumentException("warmup steps must be >= 0, got " + warmupSteps);
        }

        @Override public double lr(long step) {
            if (step < warmupSteps) return lr * (double) (step + 1) / warmupSteps;
            return lr;
        }

        @Override public Map<String, Object> describe() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("kind", "linear_warmup");
            m.put("lr", lr);
            m.put("warmup_steps", warmupSteps);
            return m;
        }
    }
}
