package org.voxflow.distill;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.voxflow.tensor.Backend;
import org.voxflow.tensor.Backends;
import org.voxflow.tensor.Tensor;

/** Fixed and adaptive (percentile) clipping, the global norm, and non-finite reporting. */
class AdaptiveGradClipperTest {
    private final Backend be = Backends.cpu();

    /** A parameter whose gradient has the given global norm (all of it in the first element). */
    private Tensor withGradNorm(double norm) {
        Tensor p = be.zeros(org.voxflow.tensor.DType.F32, 2).setRequiresGrad(true);
        p.setGrad(be.fromFloats(new float[] {(float) norm, 0f}, 2));
        return p;
    }

    @Test
    void fixedClipScalesToTheMaxNormAndReturnsThePreClipNorm() {
        Tensor a = be.zeros(org.voxflow.tensor.DType.F32, 1).setRequiresGrad(true);
        Tensor b = be.zeros(org.voxflow.tensor.DType.F32, 1).setRequiresGrad(true);
        a.setGrad(be.fromFloats(new float[] {3f}, 1));
        b.setGrad(be.fromFloats(new float[] {4f}, 1));
        double norm = new FixedNormClipper(1.0).clip(List.of(a, b));
        assertEquals(5.0, norm, 1e-12);
        float c = (float) (1.0 / (5.0 + 1e-6)); // torch's clip coefficient max_norm / (norm + 1e-6)
        assertEquals(3f * c, a.grad().toFloats()[0], 1e-7f);
        assertEquals(4f * c, b.grad().toFloats()[0], 1e-7f);
        assertEquals(1.0, GradNorm.globalL2(List.of(a, b)), 1e-6);

        Tensor small = withGradNorm(0.5);
        Tensor before = small.grad();
        assertEquals(0.5, new FixedNormClipper(1.0).clip(List.of(small)), 1e-7);
        assertSame(before, small.grad()); // under the threshold nothing is touched
    }

    @Test
    void adaptiveClipsAtThePercentileOfTheHistoryOnceFull() {
        AdaptiveGradClipper c = new AdaptiveGradClipper(10.0, 50.0, 4);
        for (double n : new double[] {1, 2, 3, 4}) {
            assertEquals(10.0, c.threshold()); // max_norm until the buffer is full
            c.clip(List.of(withGradNorm(n)));
        }
        assertEquals(2.5, c.threshold(), 1e-12); // median of 1, 2, 3, 4

        Tensor p = withGradNorm(5);
        assertEquals(5.0, c.clip(List.of(p)), 1e-6);
        assertEquals(2.5, GradNorm.globalL2(List.of(p)), 1e-5); // clipped with the threshold before this norm
        assertArrayEquals(new float[] {2f, 3f, 4f, 5f}, c.history()); // oldest dropped, oldest first
        assertEquals(3.5, c.threshold(), 1e-12);
    }

    @Test
    void maxNormCapsThePercentile() {
        AdaptiveGradClipper c = new AdaptiveGradClipper(3.0, 95.0, 4);
        for (double n : new double[] {10, 20, 30, 40}) c.clip(List.of(withGradNorm(n)));
        assertEquals(3.0, c.threshold());
    }

    @Test
    void percentileMatchesNumpyLinear() {
        // numpy.percentile([1, 2, 3, 4], 95) = 3.85; numpy.percentile(range(1, 11), 95) = 9.55
        assertEquals(3.85, AdaptiveGradClipper.percentile(new float[] {4, 1, 3, 2}, 95), 1e-12);
        assertEquals(9.55, AdaptiveGradClipper.percentile(new float[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 95), 1e-12);
        assertEquals(7.0, AdaptiveGradClipper.percentile(new float[] {7}, 95), 0);
    }

    @Test
    void nonFiniteNormIsReportedNotRecordedAndClipsNothing() {
        AdaptiveGradClipper c = new AdaptiveGradClipper(1.0, 95.0, 2);
        Tensor p = be.zeros(org.voxflow.tensor.DType.F32, 2).setRequiresGrad(true);
        p.setGrad(be.fromFloats(new float[] {Float.NaN, 1f}, 2));
        Tensor before = p.grad();
        assertTrue(Double.isNaN(c.clip(List.of(p))));
        assertSame(before, p.grad());
        assertEquals(0, c.history().length);
        assertEquals(List.of("w"), GradNorm.nonFinite(Map.of("w", p)));
    }

    @Test
    void restoredHistoryContinuesTheSameWay() {
        AdaptiveGradClipper a = new AdaptiveGradClipper(100.0, 90.0, 3);
        for (double n : new double[] {5, 1, 7, 2}) a.clip(List.of(withGradNorm(n)));
        AdaptiveGradClipper b = new AdaptiveGradClipper(100.0, 90.0, 3);
        b.restore(a.history(), a.threshold());
        for (double n : new double[] {9, 3}) {
            a.clip(List.of(withGradNorm(n)));
            b.clip(List.of(withGradNorm(n)));
            assertEquals(a.threshold(), b.threshold());
            assertArrayEquals(a.history(), b.history());
        }
    }
}
