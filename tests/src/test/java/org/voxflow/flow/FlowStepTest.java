package org.voxflow.flow;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;
import org.voxflow.autograd.F;
import org.voxflow.tensor.Backend;
import org.voxflow.tensor.Backends;
import org.voxflow.tensor.Rng;
import org.voxflow.tensor.Tensor;

/**
 * The fused Euler step ({@link Backend#flowStep}, CPU) reproduces the composed ops it replaced in EulerSampler
 * (guidance, FlowSchedule.x0FromVelocity, x - (t - t_prev) v) value for value, guided and not, on views too.
 */
class FlowStepTest {
    static final Backend CPU = Backends.cpu();

    /** The composition EulerSampler used before: {x_prev, x0}. */
    static Tensor[] composed(FlowSchedule s, Tensor x, Tensor vc, Tensor vn, double w, double t, double tPrev) {
        Tensor v = vn == null ? vc : F.sub(F.mul(vc, (float) (1 + w)), F.mul(vn, (float) w));
        return new Tensor[] {F.sub(x, F.mul(v, (float) (t - tPrev))), s.x0FromVelocity(x, t, v)};
    }

    static void assertValuesEqual(String what, float[] want, float[] got) {
        assertEquals(want.length, got.length, what);
        for (int i = 0; i < want.length; i++)
            if (!(want[i] == got[i])) throw new AssertionError(what + " at " + i + ": " + got[i] + " vs composed " + want[i]);
    }

    @Test void equalsTheComposedStepExactly() {
        FlowSchedule s = FlowSchedule.TRELLIS;
        double[] grid = TimeGrid.trellis(25, 3);
        Rng rng = new Rng(9);
        for (int[] shape : new int[][] {{1}, {7}, {2, 8, 4, 4, 4}, {3, 5, 3}})
            for (double w : new double[] {0, 5, 0.1, 40}) {
                Tensor x = rng.randn(CPU, shape), vc = rng.randn(CPU, shape), vn = w == 0 ? null : rng.randn(CPU, shape);
                for (int i : new int[] {0, 11, 24}) {
                    double t = grid[i], tPrev = grid[i + 1];
                    Tensor[] want = composed(s, x, vc, vn, w, t, tPrev);
                    Tensor[] got = CPU.flowStep(x, vc, vn, (float) (1 + w), (float) w, (float) (t - tPrev), s.x0Scale(),
                            s.x0VelocityScale(t));
                    String what = java.util.Arrays.toString(shape) + " w=" + w + " t=" + t;
                    assertArrayEquals(shape, got[0].shape(), what);
                    assertValuesEqual(what + " x_prev", want[0].toFloats(), got[0].toFloats());
                    assertValuesEqual(what + " x0", want[1].toFloats(), got[1].toFloats());
                }
            }
    }

    @Test void readsViewsAndRefusesMismatchedShapes() {
        Rng rng = new Rng(3);
        Tensor x = rng.randn(CPU, 4, 6), vc = rng.randn(CPU, 6, 4).transpose(0, 1), vn = rng.randn(CPU, 4, 6);
        Tensor[] got = CPU.flowStep(x, vc, vn, 3f, 2f, 0.25f, 0.5f, 0.75f);
        Tensor[] dense = CPU.flowStep(x, CPU.copy(vc), vn, 3f, 2f, 0.25f, 0.5f, 0.75f);
        assertValuesEqual("view x_prev", dense[0].toFloats(), got[0].toFloats());
        assertValuesEqual("view x0", dense[1].toFloats(), got[1].toFloats());
        // spot-check the formula
        float xv = x.toFloats()[5], c = vc.toFloats()[5], n = vn.toFloats()[5];
        float v = 3f * c - 2f * n;
        assertEquals(xv - 0.25f * v, got[0].toFloats()[5], 0f);
        assertEquals(0.5f * xv - 0.75f * v, got[1].toFloats()[5], 0f);
        assertThrows(IllegalArgumentException.class, () -> CPU.flowStep(x, rng.randn(CPU, 6, 4), null, 1f, 0f, 0.1f, 1f, 1f));
        assertThrows(IllegalArgumentException.class, () -> CPU.flowStep(x, vc, rng.randn(CPU, 4, 1), 1f, 0f, 0.1f, 1f, 1f));
    }
}
