package org.voxflow.distill;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.voxflow.autograd.F;
import org.voxflow.autograd.Grad;
import org.voxflow.io.Json;
import org.voxflow.io.JsonException;
import org.voxflow.nn.Module;
import org.voxflow.tensor.Backends;
import org.voxflow.tensor.MemoryScope;
import org.voxflow.tensor.Rng;
import org.voxflow.tensor.Tensor;

/**
 * The training loop. Each optimizer step:
 * <ol>
 *   <li>zero grads; for each of {@code accumulation} micro-batches: draw a batch, {@code objective.loss(batch, rng)},
 *       check every term is finite, backward of {@code total * lossScale / accumulation};</li>
 *   <li>f16: unscale, and on overflow skip the step (shrinking the scale); f32/bf16: a non-finite loss or gradient
 *       stops training with {@link TrainingDivergedException} naming the step and the term;</li>
 *   <li>clip (the pre-clip norm is logged), AdamW step at {@code lr.lr(stepIndex)}, EMA update;</li>
 *   <li>JSONL log line, progress bar, checkpoint when due.</li>
 * </ol>
 * Every random draw comes from one {@link Rng} (batches and objective alike) whose (seed, draws) is checkpointed
 * with everything else that evolves (params, EMA, moments, clipper history, loss scale, data cursor), so
 * K steps + checkpoint + resume + N-K steps reproduce N straight steps bit for bit.
 *
 * <p>Data-parallel training: constructed with a {@link GradientSync} of several ranks (one process per GPU, each
 * with its shard of the data), gradients are averaged over the ranks after backward and before the norm, so every
 * rank takes the same step (a sync that {@link GradientSync#overlapsBackward() overlaps backward} averages while the
 * last micro-batch's backward runs, the earlier micro-batches accumulating locally); EMA, checkpoints, the log, the
 * plot and the progress bar live on the root rank only.
 * See {@link GradientSync} for what is collective and how the objective's randomness is drawn.
 *
 * <p>Memory: every step runs in its own {@link MemoryScope}, so everything an objective creates during
 * {@code loss()} is freed when the step ends. Long-lived tensors (teacher weights, caches) must be created before
 * {@link #train()}, outside the step. Optimizer and EMA state are allocated by the constructor.
 */
public final class Trainer {
    /** How long a SIGTERM waits for the current step and the checkpoint before the JVM exits anyway. */
    private static final long STOP_GRACE_SECONDS = 900;

    private final TrainerConfig cfg;
    private final Module student;
    private final Map<String, Tensor> params;
    private final ModelFingerprint fingerprint;
    private final Objective objective;
    private final BatchSource source;
    private final AdamW optimizer;
    private final Ema ema;
    private final GradClipper clipper;
    private final LossScaler scaler;
    private final Path logFile;
    private final Path plotFile;
    private final Path checkpointDir;
    private final GradientSync sync;
    private Rng rng;
    private long step;
    private Path lastCheckpoint;
    private long lastCheckpointStep = -1;
    private long skippedThisRun;
    private volatile boolean stopRequested;
    /** With several ranks: a stop request seen by any rank, agreed at the end of a step (see runStep). */
    private boolean stopAgreed;

    /** Identifies the student by {@link ModelFingerprint#of(Object)} (class and args for TRELLIS models). */
    public Trainer(TrainerConfig cfg, Module student, Objective objective, BatchSource source) {
        this(cfg, student, ModelFingerprint.of(student), objective, source);
    }

    public Trainer(TrainerConfig cfg, Module student, ModelFingerprint fingerprint, Objective objective, BatchSource source) {
        this(cfg, student, fingerprint, objective, source, GradientSync.local());
    }

    /** One rank of a data-parallel run; {@code source} must give this rank its shard of every global batch. */
    public Trainer(TrainerConfig cfg, Module student, Objective objective, BatchSource source, GradientSync sync) {
        this(cfg, student, ModelFingerprint.of(student), objective, source, sync);
    }

    public Trainer(TrainerConfig cfg, Module student, ModelFingerprint fingerprint, Objective objective, BatchSource source,
                   GradientSync sync) {
        this.sync = Objects.requireNonNull(sync, "sync");
        this.cfg = Objects.requireNonNull(cfg, "cfg");
        this.student = Objects.requireNonNull(student, "student");
        this.fingerprint = Objects.requireNonNull(fingerprint, "fingerprint");
        this.objective = Objects.requireNonNull(objective, "objective");
        this.source = Objects.requireNonNull(source, "source");
        this.params = student.namedParameters();
        if (params.isEmpty()) throw new IllegalArgumentException("the student has no parameters to train");
        this.optimizer = new AdamW(params, cfg.adamW());
        this.ema = cfg.emaRates().length == 0 || !sync.isRoot() ? null : new Ema(params, cfg.emaRates());
        this.clipper = cfg.clip().create();
        this.scaler = cfg.precision().scalesLoss() ? new LossScaler(cfg.lossScale()) : null;
        this.rng = new Rng(cfg.seed());
        this.logFile = cfg.outputDir().resolve("log.jsonl");
        this.plotFile = cfg.outputDir().resolve("loss.svg");
        this.checkpointDir = TrainingCheckpoint.directory(cfg.outputDir());
    }

    public TrainerConfig config() { return cfg; }
    /** Optimizer steps completed. */
    public long step() { return step; }
    public Rng rng() { return rng; }
    public AdamW optimizer() { return optimizer; }
    /** The EMA copies, or null when the config has no EMA rates or this is not the root rank. */
    public Ema ema() { return ema; }
    public GradClipper clipper() { return clipper; }
    /** The loss scaler in f16 mode, else null. */
    public LossScaler lossScaler() { return scaler; }
    public GradientSync gradientSync() { return sync; }
    public Path lastCheckpoint() { return lastCheckpoint; }
    public Path logFile() { return logFile; }
    public Path plotFile() { return plotFile; }

    /** Asks the loop to write a checkpoint and return at the next step boundary (what SIGTERM does). */
    public void requestStop() { stopRequested = true; }

    // ---- the loop ------------------------------------------------------------------------------------------------

    /**
     * Trains up to {@code cfg.steps()}; writes log.jsonl, checkpoints and, however it ends, loss.svg (the root rank
     * only: the other ranks of a data-parallel run write nothing).
     */
    public TrainResult train() {
        boolean root = sync.isRoot();
        if (root) {
            try {
                Files.createDirectories(cfg.outputDir());
            } catch (IOException e) {
                throw new UncheckedIOException("cannot create the output directory " + cfg.outputDir() + ": " + e.getMessage(), e);
            }
        }
        ProgressBar bar = cfg.progress() && root ? new ProgressBar(System.err, step, cfg.steps()) : null;
        boolean stopped = false;
        try (TrainingLog log = root ? TrainingLog.append(logFile) : null;
             StopOnSignal signal = cfg.stopOnSigterm() ? new StopOnSignal(this::requestStop, STOP_GRACE_SECONDS) : null) {
            try {
                sync.broadcast(params);
                while (step < cfg.steps()) {
                    if (sync.worldSize() > 1 ? stopAgreed : stopRequested) { stopped = true; break; }
                    runStep(log, bar);
                    boolean due = step == cfg.steps() || (cfg.checkpointInterval() > 0 && step % cfg.checkpointInterval() == 0);
                    if (due) checkpoint();
                }
                if (stopped && lastCheckpointStep != step) checkpoint();
            } finally {
                // before the signal latch opens: a SIGTERM'd JVM exits as soon as it does
                if (bar != null) bar.finish();
                if (root) writePlot();
            }
        } catch (IOException e) {
            throw new UncheckedIOException("training log " + logFile + ": " + e.getMessage(), e);
        }
        return new TrainResult(step, step >= cfg.steps(), stopped, lastCheckpoint, skippedThisRun);
    }

    private void runStep(TrainingLog log, ProgressBar bar) throws IOException {
        long t0 = System.nanoTime();
        long number = step + 1; // 1-based number of this step, as logged and as checkpoints count
        double lr = cfg.lr().lr(step);
        int accum = cfg.accumulation();
        double lossScale = scaler == null ? 1.0 : scaler.scale();
        double threshold = clipper.threshold();
        Map<String, Double> termSums = new LinkedHashMap<>();
        double totalSum = 0;
        int summed = 0;
        double norm = Double.NaN;
        String skipReason = null;
        String badTerm = null;
        boolean distributed = sync.worldSize() > 1;
        // overlapped all-reduce: the last micro-batch's backward streams the accumulated gradients to the sync
        boolean overlap = sync.overlapsBackward();
        boolean begun = false;

        try (MemoryScope stepScope = MemoryScope.open()) {
            student.zeroGrad();
            for (int micro = 0; micro < accum; micro++) {
                try (MemoryScope microScope = MemoryScope.open()) {
                    Batch batch = source.next(rng);
                    Rng draws = sync.dataParallel()
                            ? GradientSync.microBatchRng(cfg.seed(), number, micro * sync.worldSize() + sync.rank()) : rng;
                    Losses l = objective.loss(batch, draws);
                    float total = l.total().item();
                    String bad = nonFiniteTerm(l, total);
                    if (bad != null) {
                        String what = "loss term '" + bad + "' is " + (bad.equals("total") ? total : l.terms().get(bad));
                        String where = accum > 1 ? " (micro-batch " + (micro + 1) + " of " + accum + ")" : "";
                        if (scaler == null && !distributed) throw diverged(log, number, bad, what + where);
                        skipReason = what + where;
                        badTerm = bad;
                        break;
                    }
                    totalSum += total;
                    l.terms().forEach((k, v) -> termSums.merge(k, (double) v, Double::sum));
                    summed++;
                    Tensor scaled = F.mul(l.total(), (float) (lossScale / accum));
                    if (overlap && micro == accum - 1) {
                        begun = true;
                        Grad.backward(scaled, sync.beginStep(params));
                    } else {
                        Grad.backward(scaled);
                    }
                    // the accumulated grads must outlive this micro-batch's scope
                    for (Tensor p : params.values()) MemoryScope.keep(p.grad());
                }
            }
            if (overlap) {
                // every rank begins and finishes the streamed all-reduce every step, before the step's other
                // collectives, even when its own loss was not finite (its buckets then carry what it has, or zeros):
                // the other ranks launched the same buckets and the collectives must pair up
                if (!begun) sync.beginStep(params);
                sync.finishStep();
            }
            if (distributed) {
                // every rank takes the same decision: a non-finite loss on any rank stops (f32/bf16) or skips (f16)
                // the step on all; a stop request on any rank stops all after this step
                double[] flags = sync.allReduceSum(new double[] {skipReason != null ? 1 : 0, stopRequested ? 1 : 0});
                if (flags[1] > 0) stopAgreed = true;
                if (flags[0] > 0 && skipReason == null) {
                    skipReason = "a non-finite loss on " + (int) flags[0] + " other rank(s)";
                    badTerm = "loss";
                }
                if (flags[0] > 0 && scaler == null) throw diverged(log, number, badTerm, skipReason);
            }
            if (skipReason == null) {
                if (!overlap) sync.allReduce(params);
                if (distributed) {
                    // the logged losses become means over the global batch
                    double[] v = new double[2 + termSums.size()];
                    v[0] = totalSum;
                    v[1] = summed;
                    int k = 2;
                    for (double t : termSums.values()) v[k++] = t;
                    double[] r = sync.allReduceSum(v);
                    totalSum = r[0];
                    summed = (int) Math.round(r[1]);
                    k = 2;
                    for (Map.Entry<String, Double> e : termSums.entrySet()) e.setValue(r[k++]);
                }
                if (scaler != null) {
                    norm = scaler.unscale(params.values());
                    if (LossScaler.overflowed(norm)) skipReason = "gradient overflow (norm " + norm + ") at loss scale " + lossScale;
                } else {
                    norm = GradNorm.globalL2(params.values());
                    if (!Double.isFinite(norm)) {
                        List<String> bad = GradNorm.nonFinite(params);
                        throw diverged(log, number, "grad", "the gradient norm is " + norm + " although every loss term is finite"
                                + " (non-finite gradient in " + summarize(bad) + ")");
                    }
                }
            }
            if (skipReason != null) {
                scaler.update(true);
                skippedThisRun++;
            } else {
                if (scaler != null) scaler.update(false);
                clipper.clip(params.values(), norm);
                optimizer.step(lr);
                if (ema != null) ema.update(params);
            }
            student.zeroGrad(); // the grads die with this scope
        }
        step = number;

        double seconds = (System.nanoTime() - t0) / 1e9;
        Map<String, Double> means = new LinkedHashMap<>();
        int n = summed;
        termSums.forEach((k, v) -> means.put(k, v / n));
        if (skipReason != null || number % cfg.logInterval() == 0 || number == cfg.steps()) {
            Map<String, Object> line = new LinkedHashMap<>();
            line.put("step", number);
            line.put("lr", lr);
            line.put("loss", summed > 0 ? finiteOrNull(totalSum / summed) : null);
            Map<String, Object> terms = new LinkedHashMap<>();
            means.forEach((k, v) -> terms.put(k, finiteOrNull(v)));
            line.put("terms", terms);
            line.put("grad_norm", finiteOrNull(norm));
            if (cfg.clip().kind() != ClipConfig.Kind.NONE) line.put("clip_threshold", finiteOrNull(threshold));
            line.put("step_time_s", seconds);
            if (scaler != null) line.put("loss_scale", lossScale);
            if (skipReason != null) {
                line.put("skipped", true);
                line.put("reason", skipReason);
            }
            if (log != null) log.write(line);
        }
        if (bar != null) {
            Map<String, Double> shown = new LinkedHashMap<>();
            if (summed > 0) shown.put("loss", totalSum / summed);
            shown.putAll(means);
            bar.update(number, shown, number == cfg.steps());
        }
    }

    /** The first non-finite term by name, "total" when only the sum is, else null. */
    private static String nonFiniteTerm(Losses l, float total) {
        for (Map.Entry<String, Float> e : l.terms().entrySet())
            if (e.getValue() == null || !Float.isFinite(e.getValue())) return e.getKey();
        return Float.isFinite(total) ? null : "total";
    }

    private TrainingDivergedException diverged(TrainingLog log, long number, String term, String what) throws IOException {
        String msg = "training diverged at step " + number + " of " + cfg.steps() + ": " + what + ". Stopped without writing a checkpoint for this step; "
                + (lastCheckpoint != null ? "the last good checkpoint is " + lastCheckpoint + " (step " + lastCheckpointStep + ")"
                                          : "no checkpoint had been written yet")
                + ". Lower the learning rate or enable clipping, or use f16 loss scaling to skip such steps.";
        Map<String, Object> line = new LinkedHashMap<>();
        line.put("step", number);
        line.put("error", msg);
        if (log != null) log.write(line);
        return new TrainingDivergedException(msg, number, term, lastCheckpoint);
    }

    private static String summarize(List<String> names) {
        if (names.isEmpty()) return "no single parameter (the sum of squares overflowed)";
        if (names.size() <= 5) return String.join(", ", names);
        return String.join(", ", names.subList(0, 5)) + " and " + (names.size() - 5) + " more";
    }

    private static Double finiteOrNull(double v) { return Double.isFinite(v) ? v : null; }

    private void writePlot() {
        try {
            LossPlot.fromLog(logFile, plotFile);
        } catch (IOException | RuntimeException e) {
            // a plot is a convenience: never let it hide the outcome of training (e.g. a divergence)
            System.err.println("voxflow: could not write " + plotFile + ": " + e);
        }
    }

    // ---- checkpoints ---------------------------------------------------------------------------------------------

    /**
     * Writes the full training state to {@code <out>/checkpoints/step_<step>.safetensors} (atomically), then
     * deletes checkpoints beyond the newest {@code keepCheckpoints}. On failure the previous checkpoints are intact.
     * Ranks other than the root write nothing and return null.
     */
    public Path checkpoint() {
        if (!sync.isRoot()) return null;
        Path file = checkpointDir.resolve(TrainingCheckpoint.fileName(step));
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("step", Long.toString(step));
        meta.put("rng_seed", Long.toString(rng.seed()));
        meta.put("rng_draws", Long.toString(rng.draws()));
        meta.put("model", Json.write(fingerprint.describe()));
        meta.put("teacher", Json.write(cfg.teacherPath()));
        meta.put("ema_rates", Json.write(cfg.emaRates()));
        meta.put("clip_kind", cfg.clip().kind().name().toLowerCase());
        meta.put("clip_threshold", Double.toString(clipper.threshold()));
        meta.put("precision", cfg.precision().name().toLowerCase());
        if (scaler != null) {
            meta.put("loss_scale", Double.toString(scaler.scale()));
            meta.put("loss_scale_good_steps", Integer.toString(scaler.goodSteps()));
        }
        meta.put("config", Json.write(cfg.describe()));
        try (MemoryScope scope = MemoryScope.open()) {
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            params.forEach((k, t) -> tensors.put("student." + k, t));
            if (ema != null) ema.stateTensors().forEach((k, t) -> tensors.put("ema." + k, t));
            optimizer.stateTensors().forEach((k, t) -> tensors.put("adamw." + k, t));
            if (clipper instanceof AdaptiveGradClipper a) {
                float[] h = a.history();
                tensors.put("clipper.history", Backends.cpu().fromFloats(h, h.length));
            }
            source.state().forEach((k, v) -> tensors.put("data." + k, Backends.cpu().fromLongs(v, v.length)));
            TrainingCheckpoint.write(file, meta, tensors);
        } catch (IOException | RuntimeException e) {
            throw new TrainingCheckpointException("cannot write checkpoint " + file + ": " + e
                    + (lastCheckpoint != null ? "; the previous checkpoint " + lastCheckpoint + " is intact" : ""), e);
        }
        lastCheckpoint = file;
        lastCheckpointStep = step;
        prune();
        return file;
    }

    /** Keeps the newest keepCheckpoints files up to the current step; files of later steps (another timeline) are left alone. */
    private void prune() {
        List<Path> older = new ArrayList<>();
        for (Path p : TrainingCheckpoint.list(checkpointDir)) if (TrainingCheckpoint.stepOf(p) <= step) older.add(p);
        for (int i = 0; i < older.size() - cfg.keepCheckpoints(); i++) {
            try {
                Files.deleteIfExists(older.get(i));
            } catch (IOException e) {
                System.err.println("voxflow: could not delete old checkpoint " + older.get(i) + ": " + e);
            }
        }
    }

    /**
     * Restores the training state from a checkpoint file, or the newest one in {@code dir/checkpoints/} (or
     * {@code dir}). Everything is checked before anything changes: the file's integrity, the model fingerprint,
     * the teacher path, the EMA rates, the clipper kind, and every tensor's presence and shape; any mismatch throws
     * {@link TrainingCheckpointException} listing every problem. Log lines past the restored step are dropped.
     */
    public Trainer resume(Path dirOrFile) {
        Path file = TrainingCheckpoint.latest(dirOrFile);
        try (TrainingCheckpoint ck = openNamingAlternatives(file)) {
            restore(ck);
        } catch (JsonException e) {
            // the tensors carry checksums, the metadata does not: a damaged value surfaces here
            throw new TrainingCheckpointException(file + ": corrupted checkpoint metadata: " + e.getMessage(), e);
        }
        try {
            if (sync.isRoot()) TrainingLog.truncateAfter(logFile, step);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot trim " + logFile + " to step " + step + ": " + e.getMessage(), e);
        }
        return this;
    }

    private static TrainingCheckpoint openNamingAlternatives(Path file) {
        try {
            return TrainingCheckpoint.open(file);
        } catch (TrainingCheckpointException e) {
            List<Path> others = new ArrayList<>(TrainingCheckpoint.list(file.toAbsolutePath().getParent()));
            others.removeIf(p -> p.getFileName().equals(file.getFileName()));
            if (others.isEmpty()) throw e;
            throw new TrainingCheckpointException(e.getMessage() + "\nOther checkpoints in that folder (pass one explicitly to resume from it): "
                    + others.stream().map(p -> p.getFileName().toString()).toList(), e);
        }
    }

    private void restore(TrainingCheckpoint ck) {
        Path file = ck.path();
        List<String> problems = new ArrayList<>();
        Map<String, Object> model = Json.asMap(ck.metaJson("model"), file + ": model");
        ModelFingerprint saved = ModelFingerprint.of(Json.asString(model.get("name"), file + ": model.name"),
                Json.asMap(model.get("args"), file + ": model.args"));
        problems.addAll(saved.differences(fingerprint));

        Object teacher = ck.metaJson("teacher");
        if (!Objects.equals(normalize(teacher == null ? null : teacher.toString()), normalize(cfg.teacherPath())))
            problems.add("teacher: the checkpoint was trained against " + (teacher == null ? "no teacher" : teacher)
                    + ", this run uses " + (cfg.teacherPath() == null ? "no teacher" : cfg.teacherPath()));

        List<Object> savedRates = Json.asList(ck.metaJson("ema_rates"), file + ": ema_rates");
        double[] rates = savedRates.stream().mapToDouble(r -> Json.asDouble(r, file + ": ema rate")).toArray();
        boolean ratesMatch = Arrays.equals(rates, cfg.emaRates());
        if (!ratesMatch) problems.add("EMA rates: the checkpoint has " + Arrays.toString(rates) + ", this run has " + Arrays.toString(cfg.emaRates()));

        Map<String, int[]> studentShapes = ck.shapes("student.");
        params.forEach((k, t) -> {
            List<String> p = new ArrayList<>();
            StateTensors.expect(studentShapes, k, t.shape(), p);
            p.forEach(s -> problems.add("student: " + s));
        });
        for (String k : studentShapes.keySet())
            if (!params.containsKey(k)) problems.add("student: unexpected tensor '" + k + "' (the model has no such parameter)");
        if (ema != null && ratesMatch) ema.checkShapes(ck.shapes("ema.")).forEach(s -> problems.add("EMA: " + s));
        optimizer.checkShapes(ck.shapes("adamw.")).forEach(s -> problems.add("optimizer: " + s));

        String clipKind = ck.meta("clip_kind");
        if (!clipKind.equals(cfg.clip().kind().name().toLowerCase()))
            problems.add("gradient clipping: the checkpoint used '" + clipKind + "', this run uses '" + cfg.clip().kind().name().toLowerCase() + "'");
        else if (clipper instanceof AdaptiveGradClipper a) {
            int[] h = ck.shapes("clipper.").get("history");
            if (h == null) problems.add("gradient clipping: missing tensor 'clipper.history'");
            else if (h.length != 1 || h[0] > a.bufferSize())
                problems.add("gradient clipping: the saved history " + Arrays.toString(h) + " does not fit this run's buffer of " + a.bufferSize() + " norms");
        }
        // scalars are parsed before anything changes, so a malformed value cannot leave a half-restored trainer
        double savedThreshold = ck.metaDouble("clip_threshold");
        boolean hasScale = scaler != null && ck.metadata().containsKey("loss_scale");
        double savedScale = hasScale ? ck.metaDouble("loss_scale") : 0;
        int savedGoodSteps = hasScale ? Math.toIntExact(ck.metaLong("loss_scale_good_steps")) : 0;
        long seed = ck.metaLong("rng_seed"), draws = ck.metaLong("rng_draws"), savedStep = ck.step();
        if (hasScale && !(savedScale > 0 && Double.isFinite(savedScale))) problems.add("loss scale: saved value " + savedScale + " is not finite and > 0");
        if (draws < 0 || savedStep < 0) problems.add("step " + savedStep + " / rng draws " + draws + ": negative counters");
        if (!problems.isEmpty())
            throw new TrainingCheckpointException(file + ": cannot resume this run from it (" + problems.size() + " problem(s)):\n  - "
                    + String.join("\n  - ", problems));

        // The data cursor goes first: it validates completely before changing anything, and nothing else has changed yet.
        try {
            source.restoreState(ck.longArrays("data."));
        } catch (IllegalArgumentException e) {
            throw new TrainingCheckpointException(file + ": cannot resume the batch source: " + e.getMessage(), e);
        }
        Map<String, Tensor> savedParams = ck.tensors("student.", Backends.cpu());
        params.forEach((k, t) -> StateTensors.copyFloats(t, savedParams.get(k)));
        if (ema != null) ema.loadState(ck.tensors("ema.", Backends.cpu()));
        optimizer.loadState(ck.tensors("adamw.", Backends.cpu()));
        if (clipper instanceof AdaptiveGradClipper a) a.restore(ck.floats("clipper.history"), savedThreshold);
        if (hasScale) scaler.restore(savedScale, savedGoodSteps);
        rng = Rng.restore(seed, draws);
        step = savedStep;
        lastCheckpoint = file;
        lastCheckpointStep = step;

        if (sync.isRoot()) warnAboutChangedSettings(ck);
    }

    private static String normalize(String path) {
        return path == null ? null : Path.of(path).toAbsolutePath().normalize().toString();
    }

    /** Training settings may change on resume (e.g. more steps, another lr); say so, since the curve will show it. */
    private void warnAboutChangedSettings(TrainingCheckpoint ck) {
        Map<String, Object> before = Json.asMap(ck.metaJson("config"), "config");
        Map<String, Object> now = Json.asMap(Json.parse(Json.write(cfg.describe())), "config");
        List<String> changed = new ArrayList<>();
        for (String k : now.keySet())
            if (!k.equals("steps") && !Objects.equals(before.get(k), now.get(k))) changed.add(k + ": " + Json.write(before.get(k)) + " -> " + Json.write(now.get(k)));
        if (!changed.isEmpty()) System.err.println("voxflow: resuming " + ck.path() + " with changed settings: " + String.join("; ", changed));
        for (Path p : TrainingCheckpoint.list(checkpointDir))
            if (TrainingCheckpoint.stepOf(p) > step)
                System.err.println("voxflow: " + p + " is from a later step than the resumed one; it will be overwritten if this run reaches its step");
    }
}
