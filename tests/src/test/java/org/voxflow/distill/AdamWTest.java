package org.voxflow.distill;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.voxflow.tensor.Backend;
import org.voxflow.tensor.Backends;
import org.voxflow.tensor.Tensor;

/** AdamW against a two-step example worked by hand (PyTorch's AdamW rule), state export/import, skipping. */
class AdamWTest {
    private final Backend be = Backends.cpu();

    private Tensor param(float... v) { return be.fromFloats(v, v.length).setRequiresGrad(true); }

    private Map<String, Tensor> one(Tensor p) {
        Map<String, Tensor> m = new LinkedHashMap<>();
        m.put("w", p);
        return m;
    }

    /*
     * lr 0.1, betas (0.9, 0.999), eps 1e-8, wd 0.01; p0 = [1, -2, 0.5].
     * Step 1, g = [0.5, -1, 0]: p <- 0.999 p; m = 0.1 g; v = 0.001 g^2; m_hat = g, v_hat = g^2, so the update is
     *   0.1 * g / (|g| + 1e-8): p1 = [0.999 - 0.1 * 0.5/(0.5+1e-8), -1.998 + 0.1 * 1/(1+1e-8), 0.4995]
     *                              = [0.899000002, -1.898000001, 0.4995]  (a zero grad only decays).
     * Step 2, g = [0.1, 0.3, -0.2]: m = 0.9 m + 0.1 g = [0.055, -0.06, -0.02];
     *   v = 0.999 v + 0.001 g^2 = [0.00025975, 0.001089, 0.00004];
     *   bias corrections 1 - 0.9^2 = 0.19, sqrt(1 - 0.999^2) = sqrt(0.001999);
     *   p2[0] = 0.999 * 0.899000002 - 0.1/0.19 * 0.055 / (sqrt(0.00025975)/sqrt(0.001999) + 1e-8)
     *         = 0.898101002 - 0.080304096 = 0.817796906, and likewise the others.
     */
    @Test
    void twoStepsMatchTheHandComputedExample() {
        Tensor p = param(1f, -2f, 0.5f);
        AdamW opt = new AdamW(one(p), new AdamWConfig(0.9, 0.999, 1e-8, 0.01));

        p.setGrad(be.fromFloats(new float[] {0.5f, -1f, 0f}, 3));
        opt.step(0.1);
        assertArrayEquals(new float[] {0.899000002f, -1.898000001f, 0.4995f}, p.toFloats(), 1e-6f);

        p.setGrad(be.fromFloats(new float[] {0.1f, 0.3f, -0.2f}, 3));
        opt.step(0.1);
        assertArrayEquals(new float[] {0.8177969063826517f, -1.8533171424282264f, 0.5734141770961723f}, p.toFloats(), 1e-6f);
        assertArrayEquals(new float[] {0.055f, -0.06f, -0.02f}, opt.stateTensors().get("exp_avg.w").toFloats(), 1e-7f);
        assertArrayEquals(new float[] {0.00025975f, 0.001089f, 0.00004f}, opt.stateTensors().get("exp_avg_sq.w").toFloats(), 1e-9f);
        assertEquals(2, opt.stepCount("w"));
    }

    @Test
    void parametersWithoutGradAreSkipped() {
        Tensor a = param(1f), b = param(2f);
        Map<String, Tensor> ps = new LinkedHashMap<>();
        ps.put("a", a);
        ps.put("b", b);
        AdamW opt = new AdamW(ps, AdamWConfig.defaults());
        a.setGrad(be.fromFloats(new float[] {1f}, 1));
        opt.step(0.01);
        assertEquals(1, opt.stepCount("a"));
        assertEquals(0, opt.stepCount("b"));
        assertEquals(2f, b.toFloats()[0]); // not even decayed: PyTorch skips params without grad entirely
    }

    @Test
    void exportedStateContinuesBitForBit() {
        float[] g1 = {0.3f, -0.7f}, g2 = {-0.2f, 0.05f}, g3 = {0.9f, 0.1f};
        Tensor p = param(0.4f, -0.1f);
        AdamW opt = new AdamW(one(p), AdamWConfig.defaults());
        p.setGrad(be.fromFloats(g1, 2));
        opt.step(1e-2);
        p.setGrad(be.fromFloats(g2, 2));
        opt.step(1e-2);

        Map<String, Tensor> state = new LinkedHashMap<>();
        opt.stateTensors().forEach((k, t) -> state.put(k, be.copy(t)));
        Tensor q = param(p.toFloats());
        AdamW restored = new AdamW(one(q), AdamWConfig.defaults());
        restored.loadState(state);

        p.setGrad(be.fromFloats(g3, 2));
        opt.step(1e-2);
        q.setGrad(be.fromFloats(g3, 2));
        restored.step(1e-2);
        assertArrayEquals(p.toFloats(), q.toFloats(), 0f);
        assertEquals(3, restored.stepCount("w"));
    }

    @Test
    void mismatchedStateIsRefusedNamingTheTensor() {
        Tensor p = param(1f, 2f);
        AdamW opt = new AdamW(one(p), AdamWConfig.defaults());
        Map<String, Tensor> state = new LinkedHashMap<>(opt.stateTensors());
        state.put("exp_avg.w", be.zeros(org.voxflow.tensor.DType.F32, 3));
        state.remove("step.w");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> opt.loadState(state));
        assertTrue(e.getMessage().contains("tensor 'exp_avg.w' has shape [3], expected [2]"), e.getMessage());
        assertTrue(e.getMessage().contains("missing tensor 'step.w'"), e.getMessage());
    }
}
