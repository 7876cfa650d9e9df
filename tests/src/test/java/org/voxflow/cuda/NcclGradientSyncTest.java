package org.voxflow.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.voxflow.cuda.dist.DistEnv;
import org.voxflow.cuda.dist.NcclGradientSync;
import org.voxflow.distill.GradientSync;
import org.voxflow.tensor.Backends;
import org.voxflow.tensor.DType;
import org.voxflow.tensor.MemoryScope;
import org.voxflow.tensor.Tensor;

/**
 * NCCL with a world of one, in one process: the communicator comes up, sums and gradient averages are the identity
 * (through tiny buckets, so several of them), and training through it equals the plain single-process trainer up to
 * the GPU's run-to-run noise: the backward of the per-token modulation (indexSelect) sums with atomicAdd, so two
 * identical GPU runs already differ in the last bits (measured on an H100: 7.9e-6 max |diff| after 8 AdamW steps at
 * lr 1e-3), hence {@link DataParallelCheck}'s tolerance rather than bit equality.
 * Both gradient paths run: the all-reduce overlapped with backward (buckets on the communication stream, ordered by
 * CUDA events) and the one after backward.
 * Needs {@code NCCL_NVLS_ENABLE=0} in the environment (bin/voxflow-launch sets it; run the test through it). The
 * two-GPU check is {@link DataParallelCheck}, started by the launcher or by {@link DataParallelEquivalenceTest}.
 */
@Tag("gpu")
class NcclGradientSyncTest {
    static CudaBackend gpu;
    static NcclGradientSync sync;

    @BeforeAll
    static void open() {
        assumeTrue(Backends.gpuOrNull() != null, "no CUDA device: " + CudaRuntime.reason());
        assumeTrue("0".equals(System.getenv("NCCL_NVLS_ENABLE")), "NCCL_NVLS_ENABLE=0 is not set: run through bin/voxflow-launch");
        gpu = (CudaBackend) Backends.gpuOrNull();
        sync = NcclGradientSync.create(gpu, DistEnv.single(), 64, Duration.ofSeconds(30));
        System.out.println(sync + " on " + gpu.describe());
    }

    @AfterAll
    static void close() {
        if (sync != null) sync.close();
    }

    @Test
    void sumsAndAveragesAreTheIdentityWithOneRank() {
        assertEquals(0, sync.rank());
        assertEquals(1, sync.worldSize());
        assertTrue(sync.dataParallel());
        assertArrayEquals(new double[] {1.5, -2, 3e10, 0.1}, sync.allReduceSum(new double[] {1.5, -2, 3e10, 0.1}));
        double[] big = new double[1000];
        for (int i = 0; i < big.length; i++) big[i] = i * 0.5;
        assertArrayEquals(big, sync.allReduceSum(big), "a vector larger than the first scratch buffer");

        try (MemoryScope scope = MemoryScope.open()) {
            Map<String, Tensor> params = new LinkedHashMap<>();
            float[][] want = {{1, 2, 3, 4, 5, 6}, {7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21}, null};
            params.put("a", gpu.zeros(DType.F32, 2, 3).setRequiresGrad(true));
            params.put("b", gpu.zeros(DType.F32, 21).setRequiresGrad(true)); // 84 bytes: a bucket of its own
            params.put("c", gpu.zeros(DType.F32, 3).setRequiresGrad(true)); // no grad: stays null
            params.get("a").setGrad(gpu.fromFloats(want[0], 2, 3));
            params.get("b").setGrad(gpu.fromFloats(want[1], 21));
            Tensor before = params.get("a").grad();
            sync.allReduce(params);
            assertNotSame(before, params.get("a").grad(), "the grad is now a view of its bucket");
            assertArrayEquals(want[0], params.get("a").grad().toFloats());
            assertArrayEquals(want[1], params.get("b").grad().toFloats());
            assertArrayEquals(new int[] {2, 3}, params.get("a").grad().shape());
            assertNull(params.get("c").grad());
            sync.broadcast(params); // a no-op with one rank
            assertTrue(sync.stats().calls() >= 1);
        }
    }

    @Test
    void theOverlappedPathIsExactWithOneRankThroughManyBucketsAndSurvivesTheAllocator() {
        assertTrue(sync.overlapsBackward(), "overlap is the default on the CUDA backend");
        long before = sync.stats().overlappedSteps();
        String problem = DataParallelCheck.streamCheck(gpu, sync);
        assertNull(problem, problem);
        NcclGradientSync.Stats st = sync.stats();
        assertEquals(4, st.overlappedSteps() - before);
        assertTrue(st.bucketsDuringBackward() > 0 && st.bucketsAtFinish() > 0, st.toString());
        assertTrue(st.exposedSeconds() >= 0 && st.finishSeconds() > 0, st.toString());
        // misuse on the real sync
        assertThrows(IllegalStateException.class, sync::finishStep);
        sync.setOverlap(false);
        try {
            assertThrows(UnsupportedOperationException.class, () -> sync.beginStep(Map.of()));
        } finally {
            sync.setOverlap(true);
        }
    }

    @ParameterizedTest(name = "overlap {0}")
    @ValueSource(booleans = {true, false})
    void trainingThroughNcclWithOneRankEqualsThePlainTrainer(boolean overlap, @TempDir Path dir) {
        Map<String, float[]> init = DataParallelCheck.initial(gpu);
        Map<String, float[]> plain = DataParallelCheck.train(gpu, GradientSync.local(), dir.resolve("local"), null, 16, 1, null);
        sync.setOverlap(overlap);
        long streamed0 = sync.stats().overlappedSteps(), calls0 = sync.stats().calls();
        Map<String, float[]> nccl;
        try {
            nccl = DataParallelCheck.train(gpu, sync, dir.resolve("nccl"), null, 16, 1, null);
        } finally {
            sync.setOverlap(true);
        }
        assertEquals(overlap ? DataParallelCheck.STEPS : 0, sync.stats().overlappedSteps() - streamed0, "steps through the overlapped path");
        assertEquals(overlap ? 0 : DataParallelCheck.STEPS, sync.stats().calls() - calls0, "all-reduces after backward");
        double diff = 0, moved = 0, diff2 = 0, moved2 = 0;
        for (String k : plain.keySet()) {
            for (int i = 0; i < plain.get(k).length; i++) {
                double d = (double) plain.get(k)[i] - nccl.get(k)[i], m = (double) plain.get(k)[i] - init.get(k)[i];
                diff = Math.max(diff, Math.abs(d));
                moved = Math.max(moved, Math.abs(m));
                diff2 += d * d;
                moved2 += m * m;
            }
        }
        double rel = Math.sqrt(diff2 / moved2);
        System.out.printf("NCCL world of 1 (%s) vs the plain trainer, %d steps: max |diff| %.3g, ||diff||/||moved|| %.3g (params moved up to %.3g)%n",
                overlap ? "overlapped" : "after backward", DataParallelCheck.STEPS, diff, rel, moved);
        assertTrue(moved > 1e-3, "training moved the parameters");
        assertTrue(diff <= DataParallelCheck.ABS && rel <= DataParallelCheck.REL, "max |diff| " + diff + ", relative " + rel);
    }
}
