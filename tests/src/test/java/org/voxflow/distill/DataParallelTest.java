package org.voxflow.distill;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.voxflow.distill.ToyTraining.BE;
import static org.voxflow.distill.ToyTraining.Tiny;
import static org.voxflow.distill.ToyTraining.ToyObjective;
import static org.voxflow.distill.ToyTraining.samples;
import static org.voxflow.distill.ToyTraining.maxAbsDiff;
import static org.voxflow.distill.ToyTraining.snapshot;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.voxflow.autograd.F;
import org.voxflow.tensor.DType;
import org.voxflow.tensor.Rng;
import org.voxflow.tensor.Tensor;

/**
 * Data-parallel training on the CPU, ranks as threads ({@link ThreadRanks}): the sharded source, the gradient buckets,
 * and the trainer's hook (equivalence with one rank, root-only outputs, resume with another world size, collective
 * skip, stop and divergence).
 */
class DataParallelTest {
    @TempDir Path dir;

    // ---- sharding -----------------------------------------------------------------------------------------------

    @Test
    void ranksTakeDisjointSlicesThatMakeUpTheSingleProcessBatch() {
        int n = 10, b = 2, world = 3, calls = 12;
        InMemoryBatchSource single = new InMemoryBatchSource(BE, samples(n), b * world);
        Rng rs = new Rng(5);
        List<int[]> want = new ArrayList<>();
        for (int c = 0; c < calls; c++) want.add(single.nextIndices(rs));

        List<InMemoryBatchSource> shards = new ArrayList<>();
        List<Rng> rngs = new ArrayList<>();
        for (int r = 0; r < world; r++) {
            shards.add(new InMemoryBatchSource(BE, samples(n), b, r, world));
            rngs.add(new Rng(5));
        }
        for (int c = 0; c < calls; c++) {
            int[] global = new int[b * world];
            Set<Integer> positions = new HashSet<>();
            for (int r = 0; r < world; r++) {
                int[] mine = shards.get(r).nextIndices(rngs.get(r));
                assertEquals(b, mine.length);
                System.arraycopy(mine, 0, global, r * b, b);
                for (int i = 0; i < b; i++) positions.add(r * b + i);
            }
            assertEquals(b * world, positions.size());
            assertArrayEquals(want.get(c), global, "call " + c + ": the ranks' slices, in rank order, are the single-process batch");
            // within an epoch's part of a batch, the ranks never share a sample
            for (int r = 1; r < world; r++) assertEquals(shards.get(0).state().get("cursor")[0], shards.get(r).state().get("cursor")[0]);
        }
        for (int r = 0; r < world; r++) {
            assertArrayEquals(single.state().get("order"), shards.get(r).state().get("order"), "every rank keeps the global order");
            assertArrayEquals(single.state().get("cursor"), shards.get(r).state().get("cursor"));
            assertEquals(rs.draws(), rngs.get(r).draws(), "the ranks draw in lockstep with the single process");
        }
        assertEquals(b * world, shards.get(1).globalBatchSize());
        assertThrows(IllegalArgumentException.class, () -> new InMemoryBatchSource(BE, samples(4), 2, 2, 2));
    }

    @Test
    void shardedStateResumesWithAnotherWorldSize() {
        int n = 7, b = 2;
        // two ranks for 5 calls, then one process with the same global batch from the saved state
        InMemoryBatchSource r0 = new InMemoryBatchSource(BE, samples(n), b, 0, 2), r1 = new InMemoryBatchSource(BE, samples(n), b, 1, 2);
        Rng g0 = new Rng(3), g1 = new Rng(3);
        for (int c = 0; c < 5; c++) {
            r0.nextIndices(g0);
            r1.nextIndices(g1);
        }
        InMemoryBatchSource one = new InMemoryBatchSource(BE, samples(n), 2 * b);
        one.restoreState(r0.state());
        Rng g = Rng.restore(3, g0.draws());
        for (int c = 0; c < 6; c++) {
            int[] a = r0.nextIndices(g0), bb = r1.nextIndices(g1), s = one.nextIndices(g);
            assertArrayEquals(s, new int[] {a[0], a[1], bb[0], bb[1]}, "call " + c + " after the resume");
        }
    }

    // ---- buckets ------------------------------------------------------------------------------------------------

    @Test
    void bucketsRoundTripGradientsAndAgreeOnMissingOnes() {
        Map<String, Tensor> params = new LinkedHashMap<>();
        params.put("a", BE.zeros(DType.F32, 2, 3).setRequiresGrad(true));
        params.put("b", BE.zeros(DType.F32, 5).setRequiresGrad(true));
        params.put("c", BE.zeros(DType.F32, 4).setRequiresGrad(true));   // no grad anywhere: stays null
        params.put("d", BE.zeros(DType.F32, 20).setRequiresGrad(true)); // bigger than a bucket: a bucket of its own
        params.put("e", BE.zeros(DType.F32, 1).setRequiresGrad(true));   // no grad here, but on the other rank
        Rng rng = new Rng(1);
        Map<String, float[]> want = new LinkedHashMap<>();
        for (String k : List.of("a", "b", "d")) {
            Tensor p = params.get(k);
            float[] g = rng.normal((int) p.numel());
            // a strided gradient (a transposed view) must pack correctly too
            Tensor grad = k.equals("a") ? BE.fromFloats(transpose(g, 2, 3), 3, 2).transpose(0, 1) : BE.fromFloats(g, p.shape());
            p.setGrad(grad);
            want.put(k, g);
        }
        GradientBuckets b = GradientBuckets.pack(params, new boolean[] {true, true, false, true, true}, 48);
        assertTrue(b.buckets().size() >= 3, "48-byte buckets: a+b split, d alone, e; got " + b.buckets().size());
        long packed = 0;
        for (Tensor t : b.buckets()) packed += t.numel();
        assertEquals(6 + 5 + 20 + 1, packed);
        b.unpack();
        for (String k : want.keySet()) assertArrayEquals(want.get(k), params.get(k).grad().toFloats(), 0f, k);
        assertNull(params.get("c").grad());
        assertArrayEquals(new float[] {0f}, params.get("e").grad().toFloats());
        assertArrayEquals(new int[] {2, 3}, params.get("a").grad().shape());
    }

    private static float[] transpose(float[] v, int rows, int cols) {
        float[] t = new float[v.length];
        for (int i = 0; i < rows; i++) for (int j = 0; j < cols; j++) t[j * rows + i] = v[i * cols + j];
        return t;
    }

    @Test
    void allReduceAveragesOverRanksAndFillsGradientsMissingOnSomeRanks() {
        List<Map<String, float[]>> out = ThreadRanks.run(3, (rank, sync) -> {
            Map<String, Tensor> params = new LinkedHashMap<>();
            params.put("w", BE.zeros(DType.F32, 4).setRequiresGrad(true));
            params.put("only1", BE.zeros(DType.F32, 2).setRequiresGrad(true));
            params.put("none", BE.zeros(DType.F32, 3).setRequiresGrad(true));
            params.get("w").setGrad(BE.fromFloats(new float[] {rank, 2 * rank, 1, -rank}, 4));
            if (rank == 1) params.get("only1").setGrad(BE.fromFloats(new float[] {3, 6}, 2));
            sync.allReduce(params);
            assertNull(params.get("none").grad());
            Map<String, float[]> m = new LinkedHashMap<>();
            m.put("w", params.get("w").grad().toFloats());
            m.put("only1", params.get("only1").grad().toFloats());
            return m;
        });
        for (Map<String, float[]> m : out) {
            assertArrayEquals(new float[] {1, 2, 1, -1}, m.get("w"), 1e-6f);
            assertArrayEquals(new float[] {1, 2}, m.get("only1"), 1e-6f);
        }
    }

    @Test
    void localSyncIsTheIdentityAndMicroBatchGeneratorsArePureAndDistinct() {
        GradientSync local = GradientSync.local();
        assertEquals(0, local.rank());
        assertEquals(1, local.worldSize());
        assertTrue(local.isRoot());
        assertFalse(local.dataParallel());
        assertArrayEquals(new double[] {1.5, -2}, local.allReduceSum(new double[] {1.5, -2}));
        Tensor p = BE.zeros(DType.F32, 2).setRequiresGrad(true);
        Tensor g = BE.fromFloats(new float[] {1, 2}, 2);
        p.setGrad(g);
        local.allReduce(Map.of("p", p));
        assertSame(g, p.grad());

        double a = GradientSync.microBatchRng(7, 3, 1).nextDouble();
        assertEquals(a, GradientSync.microBatchRng(7, 3, 1).nextDouble());
        assertNotEquals(a, GradientSync.microBatchRng(7, 3, 0).nextDouble());
        assertNotEquals(a, GradientSync.microBatchRng(7, 4, 1).nextDouble());
        assertNotEquals(a, GradientSync.microBatchRng(8, 3, 1).nextDouble());
    }

    // ---- the trainer --------------------------------------------------------------------------------------------

    static TrainerConfig.Builder config(Path out, long steps, int accumulation) {
        return TrainerConfig.builder(out, steps)
                .accumulation(accumulation)
                .lr(LrSchedule.linearWarmup(2e-2, 3))
                .adamW(new AdamWConfig(0.9, 0.99, 1e-8, 0.01))
                .clip(ClipConfig.adaptive(1.0, 90, 4))
                .emaRates(0.9)
                .checkpointInterval(4)
                .keepCheckpoints(3)
                .logInterval(1)
                .seed(1234)
                .progress(false)
                .stopOnSigterm(false);
    }

    /** Trains one rank of a world: its own replica (same init), its shard of every global batch of world * b. */
    private static Map<String, float[]> trainRank(TrainerConfig cfg, int rank, GradientSync sync, int b, Path resumeFrom) {
        Tiny m = new Tiny(1);
        Trainer t = new Trainer(cfg, m, new ToyObjective(m), new InMemoryBatchSource(BE, samples(10), b, rank, sync.worldSize()), sync);
        if (resumeFrom != null) t.resume(resumeFrom);
        TrainResult r = t.train();
        assertTrue(r.completed());
        return snapshot(m.namedParameters());
    }


    private static double maxAbsChange(Map<String, float[]> from, Map<String, float[]> to) { return maxAbsDiff(from, to); }

    @ParameterizedTest(name = "overlap {0}")
    @ValueSource(booleans = {false, true})
    void twoRanksTakeTheStepOfOneRankWithTheSameGlobalBatch(boolean overlap) throws IOException {
        int steps = 9;
        // stochastic objective: W ranks x accumulation 1 == 1 rank x accumulation W (noise per global micro-batch)
        List<Map<String, float[]>> two = ThreadRanks.run(2, overlap, (rank, sync) ->
                trainRank(config(dir.resolve("w2"), steps, 1).build(), rank, sync, 3, null));
        List<Map<String, float[]>> one = ThreadRanks.run(1, overlap, (rank, sync) ->
                trainRank(config(dir.resolve("w1"), steps, 2).build(), rank, sync, 3, null));
        Map<String, float[]> init = snapshot(new Tiny(1).namedParameters());
        double diff = maxAbsDiff(one.get(0), two.get(0)), moved = maxAbsChange(init, one.get(0));
        System.out.printf("data-parallel CPU: 2 ranks vs 1 rank x accumulation 2 after %d steps: max |diff| %.3g (params moved up to %.3g)%n",
                steps, diff, moved);
        assertTrue(moved > 1e-2, "training moved the parameters");
        assertTrue(diff < 1e-5, "2 ranks vs 1: max |diff| " + diff);
        assertEquals(0.0, maxAbsDiff(two.get(0), two.get(1)), "the replicas stay identical");

        // root-only outputs; the logged loss is the global mean, the same as the single rank's
        assertTrue(Files.exists(dir.resolve("w2/log.jsonl")));
        assertEquals(3, TrainingCheckpoint.list(TrainingCheckpoint.directory(dir.resolve("w2"))).size());
        List<Map<String, Object>> l2 = TrainingLog.read(dir.resolve("w2/log.jsonl")), l1 = TrainingLog.read(dir.resolve("w1/log.jsonl"));
        assertEquals(steps, l2.size(), "one log line per step, written once");
        for (int i = 0; i < steps; i++)
            assertEquals(((Number) l1.get(i).get("loss")).doubleValue(), ((Number) l2.get(i).get("loss")).doubleValue(), 1e-5, "loss of step " + (i + 1));
    }

    @Test
    void deterministicObjectiveMatchesThePlainSingleProcessTrainerOnTheWholeBatch() {
        int steps = 6;
        Objective[] objective = new Objective[1];
        List<Map<String, float[]>> two = ThreadRanks.run(2, (rank, sync) -> {
            Tiny m = new Tiny(1);
            Trainer t = new Trainer(config(dir.resolve("d2"), steps, 1).build(), m, deterministic(m),
                    new InMemoryBatchSource(BE, samples(10), 3, rank, 2), sync);
            t.train();
            assertEquals(rank == 0, t.ema() != null, "EMA on the root only");
            return snapshot(m.namedParameters());
        });
        Tiny m = new Tiny(1);
        new Trainer(config(dir.resolve("d1"), steps, 1).build(), m, deterministic(m), new InMemoryBatchSource(BE, samples(10), 6)).train();
        double diff = maxAbsDiff(snapshot(m.namedParameters()), two.get(0));
        System.out.printf("data-parallel CPU: 2 ranks x 3 vs one process x 6 (deterministic loss): max |diff| %.3g%n", diff);
        assertTrue(diff < 1e-5, "max |diff| " + diff);
    }

    /** The toy regression without noise: the loss of a batch is the mean of its samples' losses. */
    private static Objective deterministic(Tiny model) {
        Tensor target = BE.fromFloats(new float[] {0.5f, -1f, 0.25f, 2f, -0.3f, 0.8f, 1.5f, -0.7f}, 2, 4);
        return (batch, rng) -> {
            Tensor x = batch.x0();
            int b = x.size(0);
            Tensor want = F.add(F.matmul(x, target, false, true), F.reshape(batch.cond(), b, 2));
            Tensor mse = F.mean(F.square(F.sub(model.forward(x), want)));
            return new Losses(mse, Map.of("mse", mse.item()));
        };
    }

    @ParameterizedTest(name = "overlap {0}")
    @ValueSource(booleans = {false, true})
    void aCheckpointOfTwoRanksResumesOnOneAndViceVersa(boolean overlap) {
        int k = 4, n = 9;
        List<Map<String, float[]>> straight = ThreadRanks.run(2, overlap, (rank, sync) ->
                trainRank(config(dir.resolve("s"), n, 1).build(), rank, sync, 3, null));
        ThreadRanks.run(2, overlap, (rank, sync) -> trainRank(config(dir.resolve("a"), k, 1).build(), rank, sync, 3, null));
        // 2 ranks -> 1 rank with accumulation 2 (same global batch)
        List<Map<String, float[]>> resumed = ThreadRanks.run(1, overlap, (rank, sync) ->
                trainRank(config(dir.resolve("a"), n, 2).build(), rank, sync, 3, dir.resolve("a")));
        double diff = maxAbsDiff(straight.get(0), resumed.get(0));
        assertTrue(diff < 1e-5, "2 ranks to step " + k + ", then 1 rank to " + n + ": max |diff| " + diff);
        // 1 rank -> 2 ranks
        ThreadRanks.run(1, overlap, (rank, sync) -> trainRank(config(dir.resolve("b"), k, 2).build(), rank, sync, 3, null));
        List<Map<String, float[]>> back = ThreadRanks.run(2, overlap, (rank, sync) ->
                trainRank(config(dir.resolve("b"), n, 1).build(), rank, sync, 3, dir.resolve("b")));
        assertTrue(maxAbsDiff(straight.get(0), back.get(0)) < 1e-5);
        assertEquals(0.0, maxAbsDiff(back.get(0), back.get(1)));
    }

    @ParameterizedTest(name = "overlap {0}")
    @ValueSource(booleans = {false, true})
    void aNonFiniteLossOnOneRankSkipsTheStepOnEveryRankUnderLossScaling(boolean overlap) throws IOException {
        List<Map<String, float[]>> out = ThreadRanks.run(2, overlap, (rank, sync) -> {
            Tiny m = new Tiny(1);
            TrainerConfig cfg = config(dir.resolve("f16"), 6, 1).precision(Precision.F16).lossScale(new LossScaleConfig(256, 2, 0.5, 3)).build();
            ToyObjective obj = new ToyObjective(m, c -> rank == 1 && c == 3, () -> {});
            Trainer t = new Trainer(cfg, m, obj, new InMemoryBatchSource(BE, samples(10), 3, rank, 2), sync);
            TrainResult r = t.train();
            assertEquals(1, r.skippedSteps(), "rank " + rank + " skipped step 3 too");
            Map<String, float[]> s = snapshot(m.namedParameters());
            s.put("loss scale", new float[] {(float) t.lossScaler().scale()});
            return s;
        });
        assertEquals(0.0, maxAbsDiff(out.get(0), out.get(1)), "replicas (and loss scales) stay identical through a skipped step");
        List<Map<String, Object>> log = TrainingLog.read(dir.resolve("f16/log.jsonl"));
        Map<String, Object> line = log.get(2);
        assertEquals(Boolean.TRUE, line.get("skipped"));
        assertEquals(128.0, ((Number) log.get(3).get("loss_scale")).doubleValue(), "backed off from 256");
        assertTrue(String.valueOf(line.get("reason")).contains("other rank"), String.valueOf(line.get("reason")));
    }

    @ParameterizedTest(name = "overlap {0}")
    @ValueSource(booleans = {false, true})
    void aNonFiniteLossOnOneRankStopsEveryRankInF32(boolean overlap) {
        List<Object> out = ThreadRanks.run(2, overlap, (rank, sync) -> {
            Tiny m = new Tiny(1);
            ToyObjective obj = new ToyObjective(m, c -> rank == 0 && c == 2, () -> {});
            Trainer t = new Trainer(config(dir.resolve("nan"), 6, 1).build(), m, obj, new InMemoryBatchSource(BE, samples(10), 3, rank, 2), sync);
            TrainingDivergedException e = assertThrows(TrainingDivergedException.class, t::train);
            assertEquals(2, e.step());
            return e;
        });
        assertInstanceOf(TrainingDivergedException.class, out.get(1));
    }

    @ParameterizedTest(name = "overlap {0}")
    @ValueSource(booleans = {false, true})
    void aStopRequestOnOneRankStopsAllAtTheSameStep(boolean overlap) {
        AtomicInteger calls = new AtomicInteger();
        List<Long> steps = ThreadRanks.run(2, overlap, (rank, sync) -> {
            Tiny m = new Tiny(1);
            Trainer[] ref = new Trainer[1];
            ToyObjective obj = new ToyObjective(m, c -> false, () -> { if (rank == 1 && calls.incrementAndGet() == 3) ref[0].requestStop(); });
            ref[0] = new Trainer(config(dir.resolve("stop"), 20, 1).build(), m, obj, new InMemoryBatchSource(BE, samples(10), 3, rank, 2), sync);
            TrainResult r = ref[0].train();
            assertTrue(r.stopped());
            if (rank == 0) assertNotNull(r.lastCheckpoint());
            else assertNull(r.lastCheckpoint());
            return ref[0].step();
        });
        assertEquals(3L, steps.get(0));
        assertEquals(steps.get(0), steps.get(1));
        assertTrue(Files.exists(dir.resolve("stop/checkpoints/" + TrainingCheckpoint.fileName(3))));
    }
}
