package org.voxflow.distill;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.voxflow.distill.ToyTraining.Tiny;
import static org.voxflow.distill.ToyTraining.ToyObjective;
import static org.voxflow.distill.ToyTraining.snapshot;
import static org.voxflow.distill.ToyTraining.source;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.voxflow.tensor.Tensor;

/** The loop end to end on a one-Linear student: exact resume, stop requests, NaN handling, logging. */
class TrainerTest {
    @TempDir Path dir;

    static TrainerConfig.Builder config(Path out, long steps, Precision precision) {
        return TrainerConfig.builder(out, steps)
                .accumulation(2)
                .lr(LrSchedule.linearWarmup(2e-2, 3))
                .adamW(new AdamWConfig(0.9, 0.99, 1e-8, 0.01))
                .clip(ClipConfig.adaptive(1.0, 90, 4)) // the history fills mid-run, so resuming must restore it
                .emaRates(0.9, 0.5)
                .checkpointInterval(4)
                .keepCheckpoints(2)
                .logInterval(1)
                .precision(precision)
                .lossScale(new LossScaleConfig(256, 2, 0.5, 3)) // grows during the run, so its state matters
                .seed(1234)
                .teacherPath("teachers/ss_flow")
                .progress(false)
                .stopOnSigterm(false);
    }

    private static Trainer trainer(TrainerConfig cfg, Tiny m) { return new Trainer(cfg, m, new ToyObjective(m), source()); }

    private static void assertSameFloats(Map<String, float[]> want, Map<String, float[]> got, String what) {
        assertEquals(want.keySet(), got.keySet(), what);
        want.forEach((k, v) -> assertArrayEquals(v, got.get(k), 0f, what + " " + k + " differs"));
    }

    private static Map<String, float[]> floats(Map<String, Tensor> m) { return snapshot(m); }

    /** Everything that evolves must match exactly, not just the student. */
    private static void assertSameState(Trainer a, Trainer b) {
        assertEquals(a.step(), b.step());
        assertSameFloats(floats(a.ema().copy(0.9)), floats(b.ema().copy(0.9)), "EMA 0.9");
        assertSameFloats(floats(a.ema().copy(0.5)), floats(b.ema().copy(0.5)), "EMA 0.5");
        Map<String, float[]> oa = snapshot(a.optimizer().stateTensors()), ob = snapshot(b.optimizer().stateTensors());
        assertSameFloats(oa, ob, "optimizer");
        assertEquals(a.rng().draws(), b.rng().draws());
        assertArrayEquals(((AdaptiveGradClipper) a.clipper()).history(), ((AdaptiveGradClipper) b.clipper()).history());
        if (a.lossScaler() != null) assertEquals(a.lossScaler().scale(), b.lossScaler().scale());
    }

    @ParameterizedTest
    @EnumSource(value = Precision.class, names = {"F32", "F16"})
    void kStepsCheckpointResumeEqualsNStraightStepsBitForBit(Precision precision) throws IOException {
        int n = 11, k = 5;
        Tiny a = new Tiny(1);
        Trainer straight = trainer(config(dir.resolve("a"), n, precision).build(), a);
        TrainResult ra = straight.train();
        assertTrue(ra.completed());

        Tiny b = new Tiny(1);
        trainer(config(dir.resolve("b"), k, precision).build(), b).train();
        assertTrue(Files.exists(dir.resolve("b/checkpoints/step_00000005.safetensors")));

        // a fresh model with other weights, a fresh source and optimizer: everything must come from the checkpoint
        Tiny c = new Tiny(77);
        Trainer resumed = trainer(config(dir.resolve("b"), n, precision).build(), c).resume(dir.resolve("b"));
        assertEquals(k, resumed.step());
        TrainResult rc = resumed.train();
        assertEquals(n, rc.step());

        assertSameFloats(snapshot(a.namedParameters()), snapshot(c.namedParameters()), "student");
        assertSameState(straight, resumed);
        if (precision == Precision.F16) assertEquals(256.0 * 8, resumed.lossScaler().scale()); // grew at steps 3, 6, 9

        // the logs agree on every loss value, and the resumed log has each step once
        List<Map<String, Object>> la = TrainingLog.read(dir.resolve("a/log.jsonl")), lb = TrainingLog.read(dir.resolve("b/log.jsonl"));
        assertEquals(n, la.size());
        assertEquals(n, lb.size());
        for (int i = 0; i < n; i++) {
            assertEquals(((Number) la.get(i).get("step")).longValue(), ((Number) lb.get(i).get("step")).longValue());
            assertEquals(la.get(i).get("loss"), lb.get(i).get("loss"));
            assertEquals(la.get(i).get("terms"), lb.get(i).get("terms"));
            assertEquals(la.get(i).get("grad_norm"), lb.get(i).get("grad_norm"));
        }
        assertEquals(List.of("step_00000008.safetensors", "step_00000011.safetensors"),
                TrainingCheckpoint.list(dir.resolve("b/checkpoints")).stream().map(p -> p.getFileName().toString()).toList());
    }

    @Test
    void stopRequestCheckpointsAtTheNextStepBoundaryAndResumesExactly() {
        int n = 10;
        Tiny a = new Tiny(1);
        Trainer straight = trainer(config(dir.resolve("a"), n, Precision.F32).build(), a);
        straight.train();

        // the request arrives in the middle of step 7 (first micro-batch), as a SIGTERM would
        AtomicReference<Trainer> ref = new AtomicReference<>();
        int[] calls = {0};
        Tiny b = new Tiny(1);
        Trainer t = new Trainer(config(dir.resolve("b"), n, Precision.F32).build(), b,
                new ToyObjective(b, c -> false, () -> { if (++calls[0] == 13) ref.get().requestStop(); }), source());
        ref.set(t);
        TrainResult r = t.train();
        assertTrue(r.stopped());
        assertFalse(r.completed());
        assertEquals(7, r.step());
        assertEquals(dir.resolve("b/checkpoints/step_00000007.safetensors"), r.lastCheckpoint());

        Tiny c = new Tiny(3);
        Trainer resumed = trainer(config(dir.resolve("b"), n, Precision.F32).build(), c).resume(dir.resolve("b"));
        resumed.train();
        assertSameFloats(snapshot(a.namedParameters()), snapshot(c.namedParameters()), "student");
        assertSameState(straight, resumed);
    }

    /** A real SIGTERM to a training JVM: the shutdown hook makes it finish the step, checkpoint, and exit. */
    @Test
    void sigtermWritesACheckpointAtAStepBoundaryAndExits() throws Exception {
        Path out = dir.resolve("child");
        Path console = dir.resolve("child-console.txt");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"), TrainerSigtermChild.class.getName(), out.toString())
                .redirectErrorStream(true).redirectOutput(console.toFile()).start();
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (!(Files.exists(console) && Files.readString(console).contains("running"))) {
                assertTrue(p.isAlive() && System.nanoTime() < deadline, "the training JVM never started: " + Files.readString(console));
                Thread.sleep(20);
            }
            Thread.sleep(300); // a few steps
            p.destroy(); // SIGTERM on Linux and macOS
            assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the training JVM did not exit after SIGTERM");
        } finally {
            p.destroyForcibly();
        }
        String text = Files.readString(console);
        assertFalse(text.contains("Exception"), text);
        List<Path> ckpts = TrainingCheckpoint.list(out.resolve("checkpoints"));
        assertEquals(1, ckpts.size(), "one checkpoint, written on the way out");
        long step = TrainingCheckpoint.open(ckpts.get(0)).step();
        assertTrue(step >= 1);
        assertEquals(step, TrainingLog.read(out.resolve("log.jsonl")).size()); // every finished step logged, none half-done
        assertTrue(Files.exists(out.resolve("loss.svg")));
        Tiny m = new Tiny(2);
        assertEquals(step, trainer(config(out, step + 2, Precision.F32).build(), m).resume(out).step());
    }

    @Test
    void nanLossStopsNamingStepAndTermAndKeepsTheLastGoodCheckpoint() throws IOException {
        Path out = dir.resolve("run");
        Tiny m = new Tiny(1);
        // call 13 = step 7, first micro-batch (two micro-batches per step)
        Trainer t = new Trainer(config(out, 20, Precision.F32).build(), m, new ToyObjective(m, c -> c == 13, () -> {}), source());
        TrainingDivergedException e = assertThrows(TrainingDivergedException.class, t::train);
        assertEquals(7, e.step());
        assertEquals("mse", e.term());
        Path good = out.resolve("checkpoints/step_00000004.safetensors");
        assertEquals(good, e.lastCheckpoint());
        assertTrue(e.getMessage().contains("step 7 of 20"), e.getMessage());
        assertTrue(e.getMessage().contains("loss term 'mse' is NaN (micro-batch 1 of 2)"), e.getMessage());
        assertTrue(e.getMessage().contains(good.toString()), e.getMessage());
        assertEquals(List.of(good), TrainingCheckpoint.list(out.resolve("checkpoints")));

        // the last good checkpoint loads and holds what it says
        Tiny m2 = new Tiny(5);
        Trainer t2 = trainer(config(out, 20, Precision.F32).build(), m2).resume(out);
        assertEquals(4, t2.step());
        assertSameFloats(TrainingCheckpoint.open(good).student(), snapshot(m2.namedParameters()), "student");

        List<Map<String, Object>> log = TrainingLog.read(out.resolve("log.jsonl"));
        assertEquals(4, log.size()); // the resume trimmed the lines past step 4, the error line included
        assertTrue(Files.exists(out.resolve("loss.svg")));
    }

    @Test
    void nanLossUnderF16LossScalingSkipsTheStepAndBacksOff() throws IOException {
        Path out = dir.resolve("run");
        Tiny m = new Tiny(1);
        TrainerConfig cfg = config(out, 6, Precision.F16).lossScale(new LossScaleConfig(1024, 2, 0.5, 1000)).build();
        // call 5 = step 3, first micro-batch
        Trainer t = new Trainer(cfg, m, new ToyObjective(m, c -> c == 5, () -> {}), source());
        TrainResult r = t.train();
        assertTrue(r.completed());
        assertEquals(1, r.skippedSteps());
        assertEquals(5, t.optimizer().stepCount("lin.weight"));
        assertEquals(512.0, t.lossScaler().scale());
        Map<String, Object> line3 = TrainingLog.read(out.resolve("log.jsonl")).get(2);
        assertEquals(3L, line3.get("step"));
        assertEquals(Boolean.TRUE, line3.get("skipped"));
        assertTrue(String.valueOf(line3.get("reason")).contains("'mse' is NaN"), String.valueOf(line3.get("reason")));
        assertEquals(1024.0, line3.get("loss_scale"));
    }

    @Test
    void logLinesCarryEveryTermLrNormAndTime() throws IOException {
        Path out = dir.resolve("run");
        Tiny m = new Tiny(1);
        trainer(config(out, 3, Precision.F32).build(), m).train();
        List<Map<String, Object>> log = TrainingLog.read(out.resolve("log.jsonl"));
        assertEquals(3, log.size());
        Map<String, Object> first = log.get(0);
        assertEquals(1L, first.get("step"));
        assertEquals(2e-2 / 3, (Double) first.get("lr"), 1e-15); // warmup: lr * (0 + 1) / 3
        assertTrue(first.get("terms") instanceof Map<?, ?> terms && terms.containsKey("mse") && terms.containsKey("reg"));
        assertTrue(((Number) first.get("grad_norm")).doubleValue() > 0);
        assertTrue(((Number) first.get("step_time_s")).doubleValue() >= 0);
        assertEquals(1.0, first.get("clip_threshold")); // the adaptive clipper's max norm until its history fills
        double loss = ((Number) first.get("loss")).doubleValue();
        double mse = ((Number) ((Map<?, ?>) first.get("terms")).get("mse")).doubleValue();
        double reg = ((Number) ((Map<?, ?>) first.get("terms")).get("reg")).doubleValue();
        assertEquals(mse + reg, loss, 1e-5 * loss);
    }
}
