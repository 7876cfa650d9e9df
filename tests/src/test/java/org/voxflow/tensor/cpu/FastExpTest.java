package org.voxflow.tensor.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * FastExp against Math.exp over the whole finite range, the top band next to overflow included. The bound: 1e-6 for
 * the polynomial plus the rounding of y = x log2(e) to f32 (half an ulp of |y| <= 128, times ln 2), which grows with
 * |x|: 1e-6 + 6e-8 |x|.
 */
class FastExpTest {
    private static double bound(float x) { return 1e-6 + 6e-8 * Math.abs(x); }

    @Test void relativeErrorOverTheFiniteRange() {
        double worst = 0;
        for (float x = -87f; x <= 88.72f; x += 0.0137f) {
            double e = Math.exp(x), a = FastExp.exp(x);
            assertTrue(Double.isFinite(a), "exp(" + x + ") = " + a);
            worst = Math.max(worst, Math.abs(a - e) / e / bound(x));
        }
        assertTrue(worst <= 1, "worst relative error / bound " + worst);
    }

    @Test void theBandBelowOverflowStaysFinite() {
        for (float x : new float[] {88.38f, 88.4f, 88.5f, 88.6f, 88.7f, 88.72f, 88.722f}) {
            float a = FastExp.exp(x);
            assertTrue(Float.isFinite(a), "exp(" + x + ") = " + a);
            assertEquals(Math.exp(x), a, bound(x) * Math.exp(x), "exp(" + x + ")");
        }
        assertEquals(Float.POSITIVE_INFINITY, FastExp.exp(88.73f));
        assertEquals(Float.POSITIVE_INFINITY, FastExp.exp(Float.POSITIVE_INFINITY));
        assertEquals(0f, FastExp.exp(-100f));
        assertEquals(0f, FastExp.exp(Float.NEGATIVE_INFINITY));
    }
}
