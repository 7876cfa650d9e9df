package org.voxflow.distill;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.voxflow.distill.ToyTraining.BE;
import static org.voxflow.distill.ToyTraining.samples;
import static org.voxflow.distill.ToyTraining.maxAbsDiff;
import static org.voxflow.distill.ToyTraining.snapshot;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.voxflow.autograd.F;
import org.voxflow.autograd.Grad;
import org.voxflow.autograd.GradHook;
import org.voxflow.nn.Linear;
import org.voxflow.nn.Module;
import org.voxflow.tensor.DType;
import org.voxflow.tensor.MemoryScope;
import org.voxflow.tensor.Rng;
import org.voxflow.tensor.Tensor;

/**
 * The all-reduce overlapped with backward ({@link GradientStream}) on the CPU, ranks as threads ({@link ThreadRanks}
 * with overlap: a rank launching buckets out of order fails the exchange): bucket order whatever the ready order,
 * launches as early as that order allows, missing and null gradients, reuse of the buckets over steps, plan
 * agreement, misuse, and the trainer on the overlapped path computing exactly what the plain path computes.
 */
class OverlappedAllReduceTest {
    @TempDir Path dir;

    /** Parameters of 3 floats (12 bytes): with ThreadRanks' 48-byte buckets, 4 to a bucket. */
    private static Map<String, Tensor> params(int n, int size) {
        Map<String, Tensor> p = new LinkedHashMap<>();
        for (int i = 0; i < n; i++) p.put("p" + i, BE.zeros(DType.F32, size).setRequiresGrad(true));
        return p;
    }

    private static float[] grad(int rank, int param, int step, int size) {
        float[] g = new float[size];
        for (int j = 0; j < size; j++) g[j] = 100 * step + 10 * rank + param + 0.25f * j;
        return g;
    }

    @Test
    void ranksLaunchBucketsInTheSameOrderWhateverOrderTheirGradientsComeIn() {
        int world = 3, n = 11, size = 3;
        List<Map<String, float[]>> out = ThreadRanks.run(world, true, (rank, sync) -> {
            Map<String, Tensor> params = params(n, size);
            params.put("frozen", BE.zeros(DType.F32, 2)); // does not require grad: not planned, left alone
            Map<String, float[]> seen = new LinkedHashMap<>();
            for (int step = 1; step <= 3; step++) {
                try (MemoryScope scope = MemoryScope.open()) {
                    sync.beginStep(params);
                    List<Integer> order = new ArrayList<>(IntStream.range(0, n).boxed().toList());
                    Collections.shuffle(order, new java.util.Random(31L * rank + step));
                    for (int i : order) {
                        if (i == 7) continue;                                    // never reported on any rank
                        if (i == 5 && rank == 2) continue;                       // not reported on rank 2
                        if (i == 3 && rank != 1) { sync.gradReady("p3", null); continue; } // a gradient on rank 1 only
                        if (i == 9) { sync.gradReady("p9", null); continue; }    // no gradient anywhere
                        sync.gradReady("p" + i, BE.fromFloats(grad(rank, i, step, size), size));
                    }
                    sync.finishStep();
                    for (int i = 0; i < n; i++) {
                        Tensor g = params.get("p" + i).grad();
                        seen.put(step + "/p" + i, g == null ? null : g.toFloats());
                    }
                    assertNull(params.get("frozen").grad());
                    for (Tensor p : params.values()) p.setGrad(null);
                }
            }
            ThreadRanks.Member m = (ThreadRanks.Member) sync;
            int k = m.stream().bucketCount();
            List<Integer> want = new ArrayList<>();
            for (int s = 0; s < 3; s++) for (int b = 0; b < k; b++) want.add(b);
            assertEquals(want, m.launches(), "rank " + rank + ": buckets 0..K-1 in order, every step");
            assertEquals(3, k, "11 parameters of 12 bytes in 48-byte buckets");
            return seen;
        });
        for (int step = 1; step <= 3; step++) {
            for (int i = 0; i < n; i++) {
                float[] want = new float[size];
                for (int r = 0; r < world; r++) {
                    boolean has = i != 7 && i != 9 && !(i == 5 && r == 2) && !(i == 3 && r != 1);
                    if (has) for (int j = 0; j < size; j++) want[j] += grad(r, i, step, size)[j];
                }
                for (int j = 0; j < size; j++) want[j] /= world;
                for (int r = 0; r < world; r++) {
                    float[] got = out.get(r).get(step + "/p" + i);
                    if (i == 7 || i == 9) assertNull(got, "p" + i + " has a gradient on no rank: none");
                    else assertArrayEquals(want, got, 1e-5f, "step " + step + ", p" + i + ", rank " + r);
                }
            }
        }
    }

    @Test
    void aBucketLeavesAsSoonAsItAndEveryBucketBeforeItAreFull() {
        ThreadRanks.run(1, true, (rank, sync) -> {
            ThreadRanks.Member m = (ThreadRanks.Member) sync;
            Map<String, Tensor> params = params(6, 12); // 48 bytes each: one bucket per parameter, p5 in bucket 0
            sync.beginStep(params);
            sync.gradReady("p5", BE.fromFloats(grad(0, 5, 1, 12), 12));
            assertEquals(List.of(0), m.launches(), "the last parameter's bucket leaves at once");
            sync.gradReady("p3", BE.fromFloats(grad(0, 3, 1, 12), 12));
            assertEquals(List.of(0), m.launches(), "bucket 2 (p3) is full but bucket 1 (p4) is not");
            sync.gradReady("p4", BE.fromFloats(grad(0, 4, 1, 12), 12));
            assertEquals(List.of(0, 1, 2), m.launches());
            sync.finishStep();
            assertEquals(List.of(0, 1, 2, 3, 4, 5), m.launches());
            assertArrayEquals(new long[] {1, 1, 3, 3}, m.stream().counters(), "steps, plans, launched during backward, at finish");
            assertArrayEquals(grad(0, 4, 1, 12), params.get("p4").grad().toFloats());
            assertNull(params.get("p0").grad(), "never reported, one rank: no gradient");
            return null;
        });
    }

    @Test
    void theGradHookFeedsTheStreamAndTheResultIsThePlainGradient() {
        ThreadRanks.run(1, true, (rank, sync) -> {
            Module m = new Lin2(7);
            Map<String, Tensor> params = m.namedParameters();
            Tensor x = new Rng(3).randn(BE, 6, 4);
            Grad.backward(((Lin2) m).loss(x));
            Map<String, float[]> plain = snapshot(gradsOf(params));
            for (Tensor p : params.values()) p.setGrad(null);
            GradHook hook = sync.beginStep(params);
            Grad.backward(((Lin2) m).loss(x), hook);
            ThreadRanks.Member member = (ThreadRanks.Member) sync;
            assertTrue(member.stream().counters()[0] == 0 && !member.launches().isEmpty(), "buckets left during backward");
            sync.finishStep();
            Map<String, float[]> streamed = snapshot(gradsOf(params));
            assertEquals(plain.keySet(), streamed.keySet());
            for (String k : plain.keySet()) assertArrayEquals(plain.get(k), streamed.get(k), 0f, k);
            return null;
        });
    }

    /** Two layers, the first used twice (a shared weight): 5 + 25 + 5 + 10 + 2 floats, several 48-byte buckets. */
    static final class Lin2 extends Module {
        final Linear a, b;

        Lin2(long seed) {
            super(BE);
            a = child("a", new Linear(BE, 5, 5));
            b = child("b", new Linear(BE, 5, 2));
            Rng r = new Rng(seed);
            for (Tensor p : namedParameters().values()) BE.assign(p, BE.fromFloats(r.normal((int) p.numel()), p.shape()));
        }

        Tensor forward(Tensor x4) {
            Tensor x = F.concat(new Tensor[] {x4, F.mul(F.sum(x4, new int[] {1}, true), 0.5f)}, 1);
            return b.forward(F.tanh(a.forward(F.tanh(a.forward(x)))));
        }

        Tensor loss(Tensor x) { return F.mean(F.square(forward(x))); }
    }

    private static Map<String, Tensor> gradsOf(Map<String, Tensor> params) {
        Map<String, Tensor> g = new LinkedHashMap<>();
        params.forEach((k, p) -> g.put(k, p.grad()));
        return g;
    }

    @Test
    void ranksWithDifferentParametersFailTogetherAtPlanning() {
        List<String> errors = ThreadRanks.run(2, true, (rank, sync) -> {
            Map<String, Tensor> params = params(3, rank == 0 ? 3 : 4);
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> sync.beginStep(params));
            return e.getMessage();
        });
        for (String e : errors) assertTrue(e.contains("planned different gradient buckets"), e);
    }

    @Test
    void misuseIsRefused() {
        ThreadRanks.run(1, true, (rank, sync) -> {
            Map<String, Tensor> params = params(2, 3);
            assertThrows(IllegalStateException.class, sync::finishStep, "no step open");
            GradHook hook = sync.beginStep(params);
            assertThrows(IllegalStateException.class, () -> sync.beginStep(params), "a step is open");
            assertThrows(IllegalArgumentException.class, () -> sync.gradReady("nope", null));
            assertThrows(IllegalStateException.class, () -> sync.gradReady("p0", BE.zeros(DType.F32, 4)), "wrong shape");
            sync.gradReady("p0", BE.fromFloats(new float[] {1, 2, 3}, 3));
            assertThrows(IllegalStateException.class, () -> sync.gradReady("p0", BE.zeros(DType.F32, 3)), "twice");
            assertThrows(IllegalStateException.class, () -> hook.gradReady(params.get("p0"), null), "twice, through the hook");
            hook.gradReady(BE.zeros(DType.F32, 1), null); // not a parameter: ignored
            sync.finishStep();
            assertThrows(IllegalStateException.class, () -> hook.gradReady(params.get("p1"), null), "the step is over");
            Tensor first = params.get("p0").grad();
            assertArrayEquals(new float[] {1, 2, 3}, first.toFloats());
            // a new parameter set (another model on the same sync) is planned afresh
            Map<String, Tensor> other = params(5, 3);
            sync.beginStep(other);
            sync.finishStep();
            assertEquals(2, ((ThreadRanks.Member) sync).stream().counters()[1], "planned twice");
            assertNotSame(first, other.get("p0").grad());
            return null;
        });
    }

    // ---- the trainer -----------------------------------------------------------------------------------------------

    private Map<String, float[]> train(int world, boolean overlap, int rank, GradientSync sync, String name, int accumulation,
                                       int perRank, Precision precision) {
        Lin2 m = new Lin2(1);
        TrainerConfig.Builder b = DataParallelTest.config(dir.resolve(name), 7, accumulation);
        if (precision == Precision.F16) b.precision(Precision.F16).lossScale(new LossScaleConfig(256, 2, 0.5, 3));
        Objective obj = (batch, rng) -> {
            Tensor x = F.add(batch.x0(), F.mul(rng.randn(BE, batch.x0().size(0), 4), 0.1f));
            Tensor loss = F.add(m.loss(x), F.mean(F.square(F.sub(F.mean(m.forward(x)), batch.cond()))));
            return new Losses(loss, Map.of("mse", loss.item()));
        };
        Trainer t = new Trainer(b.build(), m, obj, new InMemoryBatchSource(BE, samples(24), perRank, rank, world), sync);
        assertEquals(overlap, sync.overlapsBackward());
        assertTrue(t.train().completed());
        return snapshot(m.namedParameters());
    }


    @Test
    void theTrainerOnTheOverlappedPathComputesExactlyWhatThePlainPathComputes() {
        for (int accumulation : new int[] {1, 3}) {
            int acc = accumulation;
            List<Map<String, float[]>> plain = ThreadRanks.run(3, false, (r, s) -> train(3, false, r, s, "plain" + acc, acc, 2, Precision.F32));
            List<Map<String, float[]>> over = ThreadRanks.run(3, true, (r, s) -> {
                Map<String, float[]> p = train(3, true, r, s, "over" + acc, acc, 2, Precision.F32);
                ThreadRanks.Member m = (ThreadRanks.Member) s;
                long[] c = m.stream().counters();
                assertEquals(7, c[0], "one streamed step per optimizer step");
                assertTrue(c[2] > 0, "buckets left during backward");
                return p;
            });
            Map<String, float[]> init = snapshot(new Lin2(1).namedParameters());
            assertTrue(maxAbsDiff(init, plain.get(0)) > 1e-2, "training moved the parameters");
            for (int r = 0; r < 3; r++) {
                assertEquals(0.0, maxAbsDiff(plain.get(r), over.get(r)), "accumulation " + acc + ", rank " + r + ": overlapped == plain, bit for bit");
                assertEquals(0.0, maxAbsDiff(over.get(0), over.get(r)), "replicas identical");
            }
            // and one process with the whole global batch, as before
            Map<String, float[]> one = ThreadRanks.run(1, true, (r, s) -> train(1, true, r, s, "one" + acc, acc * 3, 2, Precision.F32)).get(0);
            assertTrue(maxAbsDiff(one, over.get(0)) < 1e-5, "3 ranks overlapped vs 1 rank x accumulation " + 3 * acc + ": " + maxAbsDiff(one, over.get(0)));
        }
    }

    @Test
    void aParameterTheLastBackwardDoesNotReachKeepsTheGradientOfEarlierMicroBatches() {
        ThreadRanks.run(1, true, (rank, sync) -> {
            Map<String, Tensor> params = params(3, 3);
            params.get("p1").setGrad(BE.fromFloats(new float[] {1, 2, 3}, 3)); // accumulated before the last backward
            sync.beginStep(params);
            sync.gradReady("p2", BE.fromFloats(new float[] {4, 5, 6}, 3));
            sync.finishStep();
            assertArrayEquals(new float[] {1, 2, 3}, params.get("p1").grad().toFloats());
            assertArrayEquals(new float[] {4, 5, 6}, params.get("p2").grad().toFloats());
            assertNull(params.get("p0").grad());
            return null;
        });
        // through the trainer: an extra parameter used only by the first of two micro-batches of every step
        List<Map<String, float[]>> runs = new ArrayList<>();
        for (boolean overlap : new boolean[] {false, true}) {
            runs.addAll(ThreadRanks.run(2, overlap, (rank, sync) -> {
                WithExtra m = new WithExtra();
                int[] calls = {0};
                Objective obj = (batch, rng) -> {
                    Tensor loss = m.net.loss(batch.x0());
                    if (calls[0]++ % 2 == 0) loss = F.add(loss, F.mean(F.square(F.sub(m.extra, F.mean(batch.x0())))));
                    return new Losses(loss, Map.of());
                };
                new Trainer(DataParallelTest.config(dir.resolve("extra" + overlap), 5, 2).build(), m, obj,
                        new InMemoryBatchSource(BE, samples(24), 2, rank, 2), sync).train();
                return snapshot(m.namedParameters());
            }));
        }
        assertTrue(Math.abs(runs.get(0).get("extra")[0] - 0.5f) > 1e-3, "the extra parameter trained");
        for (int r = 0; r < 2; r++) assertEquals(0.0, maxAbsDiff(runs.get(r), runs.get(2 + r)), "rank " + r + ": overlapped == plain");
    }

    static final class WithExtra extends Module {
        final Lin2 net;
        final Tensor extra;

        WithExtra() {
            super(BE);
            net = child("net", new Lin2(1));
            extra = param("extra", 3);
            BE.assign(extra, BE.full(0.5f, 3));
        }
    }

    @Test
    void aNonFiniteLossOnOneRankStillPairsTheCollectives() {
        // f16: a NaN on rank 1 in step 3 (its first micro-batch: it never streams that step) skips the step on both
        List<Map<String, float[]>> out = ThreadRanks.run(2, true, (rank, sync) -> {
            Lin2 m = new Lin2(1);
            TrainerConfig cfg = DataParallelTest.config(dir.resolve("f16"), 5, 2).precision(Precision.F16)
                    .lossScale(new LossScaleConfig(256, 2, 0.5, 3)).build();
            int[] calls = {0};
            Objective obj = (batch, rng) -> {
                calls[0]++;
                Tensor loss = m.loss(batch.x0());
                if (rank == 1 && calls[0] == 5) loss = F.mul(loss, Float.NaN);
                return new Losses(loss, Map.of("mse", loss.item()));
            };
            Trainer t = new Trainer(cfg, m, obj, new InMemoryBatchSource(BE, samples(24), 2, rank, 2), sync);
            TrainResult r = t.train();
            assertEquals(1, r.skippedSteps(), "rank " + rank);
            assertFalse(((ThreadRanks.Member) sync).stream().isOpen());
            return snapshot(m.namedParameters());
        });
        assertEquals(0.0, maxAbsDiff(out.get(0), out.get(1)));
        // f32: a NaN stops every rank at the same step
        List<Long> steps = ThreadRanks.run(2, true, (rank, sync) -> {
            Lin2 m = new Lin2(1);
            int[] calls = {0};
            Objective obj = (batch, rng) -> {
                Tensor loss = m.loss(batch.x0());
                return new Losses(rank == 0 && ++calls[0] == 3 ? F.mul(loss, Float.NaN) : loss, Map.of());
            };
            Trainer t = new Trainer(DataParallelTest.config(dir.resolve("nan"), 5, 1).build(), m, obj,
                    new InMemoryBatchSource(BE, samples(24), 2, rank, 2), sync);
            TrainingDivergedException e = assertThrows(TrainingDivergedException.class, t::train);
            return e.step();
        });
        assertEquals(List.of(3L, 3L), steps);
    }

    @Test
    void theLocalSyncDoesNotStream() {
        assertFalse(GradientSync.local().overlapsBackward());
        assertThrows(UnsupportedOperationException.class, () -> GradientSync.local().beginStep(Map.of()));
        assertSame(GradientSync.local(), GradientSync.local());
    }
}
