package org.voxflow.distill;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * Everything a training run is configured with. Build with {@link #builder(Path, long)}; every setting has a
 * default except the output directory and the step count.
 *
 * @param steps              total optimizer steps (a resumed run continues up to this count)
 * @param accumulation       micro-batches per optimizer step; each loss is scaled by 1 / accumulation
 * @param lr                 learning rate schedule, queried with the 0-based index of the step about to run
 * @param adamW              AdamW settings other than the learning rate
 * @param clip               gradient clipping
 * @param emaRates           rates of the EMA copies (empty: none)
 * @param checkpointInterval write a checkpoint every this many steps (and always after the last); 0: only at the end
 * @param keepCheckpoints    how many of the newest checkpoints to keep (older ones are deleted after a newer one is
 *                           safely written)
 * @param logInterval        write a JSONL log line every this many steps (overflow-skipped steps are always logged)
 * @param outputDir          receives log.jsonl, loss.svg and checkpoints/
 * @param precision          numerics policy (see {@link Precision})
 * @param lossScale          dynamic loss scaling, used in {@link Precision#F16} only
 * @param seed               seed of the training generator (batches, noise, t)
 * @param teacherPath        the teacher checkpoint the objective uses, recorded (not copied) and checked on resume; null if none
 * @param progress           draw a progress bar on stderr
 * @param stopOnSigterm      on SIGTERM (JVM shutdown), finish the current step, write a checkpoint and return
 */
public record TrainerConfig(long steps, int accumulation, LrSchedule lr, AdamWConfig adamW, ClipConfig clip,
                            double[] emaRates, long checkpointInterval, int keepCheckpoints, long logInterval,
                            Path outputDir, Precision precision, LossScaleConfig lossScale, long seed,
                            String teacherPath, boolean progress, boolean stopOnSigterm) {
    public TrainerConfig {
        if (steps < 0) throw new IllegalArgumentException("steps must be >= 0, got " + steps);
        if (accumulation < 1) throw new IllegalArgumentException("accumulation must be >= 1, got " + accumulation);
        Objects.requireNonNull(lr, "lr schedule");
        Objects.requireNonNull(adamW, "adamW");
        Objects.requireNonNull(clip, "clip");
        Objects.requireNonNull(outputDir, "outputDir");
        Objects.requireNonNull(precision, "precision");
        Objects.requireNonNull(lossScale, "lossScale");
        emaRates = emaRates == null ? new double[0] : emaRates.clone();
        if (checkpointInterval < 0) throw new IllegalArgumentException("checkpoint interval must be >= 0, got " + checkpointInterval);
        if (keepCheckpoints < 1) throw new IllegalArgumentException("keepCheckpoints must be >= 1, got " + keepCheckpoints);
        if (logInterval < 1) throw new IllegalArgumentException("log interval must be >= 1, got " + logInterval);
    }

    @Override public double[] emaRates() { return emaRates.clone(); }

    public static Builder builder(Path outputDir, long steps) { return new Builder(outputDir, steps); }

    /** A builder preset from this config (e.g. to extend the step count of a resumed run). */
    public Builder toBuilder() {
        Builder b = new Builder(outputDir, steps);
        b.accumulation = accumulation; b.lr = lr; b.adamW = adamW; b.clip = clip; b.emaRates = emaRates.clone();
        b.checkpointInterval = checkpointInterval; b.keepCheckpoints = keepCheckpoints; b.logInterval = logInterval;
        b.precision = precision; b.lossScale = lossScale; b.seed = seed; b.teacherPath = teacherPath;
        b.progress = progress; b.stopOnSigterm = stopOnSigterm;
        return b;
    }

    /** JSON-ready description, stored in every checkpoint for reference. */
    public Map<String, Object> describe() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("steps", steps);
        m.put("accumulation", accumulation);
        m.put("lr", lr.describe());
        Map<String, Object> a = new LinkedHashMap<>();
        a.put("beta1", adamW.beta1());
        a.put("beta2", adamW.beta2());
        a.put("eps", adamW.eps());
        a.put("weight_decay", adamW.weightDecay());
        m.put("adamw", a);
        m.put("clip", clip.describe());
        m.put("ema_rates", emaRates.clone());
        m.put("checkpoint_interval", checkpointInterval);
        m.put("keep_checkpoints", keepCheckpoints);
        m.put("log_interval", logInterval);
        m.put("precision", precision.name().toLowerCase());
        if (precision.scalesLoss()) m.put("loss_scale", lossScale.describe());
        m.put("seed", seed);
        if (teacherPath != null) m.put("teacher", teacherPath);
        return m;
    }

    public static final class Builder {
        private Path outputDir;
        private long steps;
        private int accumulation = 1;
        private LrSchedule lr = LrSchedule.constant(1e-4);
        private AdamWConfig adamW = AdamWConfig.defaults();
        private ClipConfig clip = ClipConfig.none();
        private double[] emaRates = new double[0];
        private long checkpointInterval = 1000;
        private int keepCheckpoints = 3;
        private long logInterval = 1;
        private Precision precision = Precision.F32;
        private LossScaleConfig lossScale = LossScaleConfig.defaults();
        private long seed = 0;
        private String teacherPath;
        private boolean progress = true;
        private boolean stopOnSigterm = true;

        private Builder(Path outputDir, long steps) {
            this.outputDir = outputDir;
            this.steps = steps;
        }

        public Builder accumulation(int v) { accumulation = v; return this; }
        public Builder lr(LrSchedule v) { lr = v; return this; }
        public Builder adamW(AdamWConfig v) { adamW = v; return this; }
        public Builder clip(ClipConfig v) { clip = v; return this; }
        public Builder emaRates(double... v) { emaRates = v.clone(); return this; }
        public Builder checkpointInterval(long v) { checkpointInterval = v; return this; }
        public Builder keepCheckpoints(int v) { keepCheckpoints = v; return this; }
        public Builder logInterval(long v) { logInterval = v; return this; }
        public Builder precision(Precision v) { precision = v; return this; }
        public Builder lossScale(LossScaleConfig v) { lossScale = v; return this; }
        public Builder seed(long v) { seed = v; return this; }
        public Builder teacherPath(String v) { teacherPath = v; return this; }
        public Builder progress(boolean v) { progress = v; return this; }
        public Builder stopOnSigterm(boolean v) { stopOnSigterm = v; return this; }

        public Builder steps(long v) { steps = v; return this; }
        public Builder outputDir(Path v) { outputDir = v; return this; }

        public TrainerConfig build() {
            return new TrainerConfig(steps, accumulation, lr, adamW, clip, emaRates, checkpointInterval, keepCheckpoints,
                    logInterval, outputDir, precision, lossScale, seed, teacherPath, progress, stopOnSigterm);
        }
    }
}
