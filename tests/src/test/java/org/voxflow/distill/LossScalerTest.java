package org.voxflow.distill;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.voxflow.tensor.Backend;
import org.voxflow.tensor.Backends;
import org.voxflow.tensor.DType;
import org.voxflow.tensor.Tensor;

/** Unscaling, overflow detection, backoff and growth. */
class LossScalerTest {
    private final Backend be = Backends.cpu();

    private Tensor withGrad(float... g) {
        Tensor p = be.zeros(DType.F32, g.length).setRequiresGrad(true);
        p.setGrad(be.fromFloats(g, g.length));
        return p;
    }

    @Test
    void unscalesAndGrowsAfterTheInterval() {
        LossScaler s = new LossScaler(new LossScaleConfig(1024, 2, 0.5, 2));
        Tensor p = withGrad(2048f, 1024f);
        double norm = s.unscale(List.of(p));
        assertArrayEquals(new float[] {2f, 1f}, p.grad().toFloats());
        assertEquals(Math.sqrt(5), norm, 1e-6);
        assertFalse(LossScaler.overflowed(norm));
        s.update(false);
        assertEquals(1024, s.scale());
        s.update(false);
        assertEquals(2048, s.scale()); // two clean steps in a row
        assertEquals(0, s.goodSteps());
    }

    @Test
    void overflowSkipsAndBacksOff() {
        LossScaler s = new LossScaler(new LossScaleConfig(1024, 2, 0.5, 2));
        s.update(false);
        Tensor p = withGrad(Float.POSITIVE_INFINITY, 1f);
        double norm = s.unscale(List.of(p));
        assertTrue(LossScaler.overflowed(norm));
        s.update(true);
        assertEquals(512, s.scale());
        assertEquals(0, s.goodSteps()); // the growth count restarts
        assertEquals(1, s.skippedSteps());
        assertTrue(LossScaler.overflowed(Double.NaN));
    }
}
