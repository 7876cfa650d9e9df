package org.voxflow.distill;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.voxflow.tensor.Backend;
import org.voxflow.tensor.Backends;
import org.voxflow.tensor.Tensor;

/** ema <- rate ema + (1 - rate) param, per rate, starting from the parameters. */
class EmaTest {
    private final Backend be = Backends.cpu();

    @Test
    void tracksEveryRate() {
        Tensor p = be.fromFloats(new float[] {1f, -2f}, 2).setRequiresGrad(true);
        Map<String, Tensor> ps = new LinkedHashMap<>();
        ps.put("w", p);
        Ema ema = new Ema(ps, 0.9, 0.5);
        assertArrayEquals(new float[] {1f, -2f}, ema.copy(0.9).get("w").toFloats());

        be.assign(p, be.fromFloats(new float[] {3f, 2f}, 2));
        ema.update(ps);
        // 0.9 * 1 + 0.1 * 3 = 1.2, 0.9 * -2 + 0.1 * 2 = -1.6; 0.5 * 1 + 0.5 * 3 = 2, 0.5 * -2 + 0.5 * 2 = 0
        assertArrayEquals(new float[] {1.2f, -1.6f}, ema.copy(0.9).get("w").toFloats(), 1e-6f);
        assertArrayEquals(new float[] {2f, 0f}, ema.copy(0.5).get("w").toFloats(), 1e-6f);

        ema.update(ps);
        // 0.9 * 1.2 + 0.3 = 1.38, 0.9 * -1.6 + 0.2 = -1.24; 0.5 * 2 + 1.5 = 2.5, 0 + 1 = 1
        assertArrayEquals(new float[] {1.38f, -1.24f}, ema.copy(0.9).get("w").toFloats(), 1e-6f);
        assertArrayEquals(new float[] {2.5f, 1f}, ema.copy(0.5).get("w").toFloats(), 1e-6f);
        assertArrayEquals(new float[] {3f, 2f}, p.toFloats()); // the parameters are not touched
    }

    @Test
    void stateRoundTripsAndCopiesOut() {
        Tensor p = be.fromFloats(new float[] {4f}, 1).setRequiresGrad(true);
        Map<String, Tensor> ps = Map.of("w", p);
        Ema a = new Ema(ps, 0.99);
        be.assign(p, be.fromFloats(new float[] {5f}, 1));
        a.update(ps);
        Ema b = new Ema(ps, 0.99);
        b.loadState(a.stateTensors());
        assertArrayEquals(a.copy(0.99).get("w").toFloats(), b.copy(0.99).get("w").toFloats(), 0f);

        Tensor target = be.zeros(org.voxflow.tensor.DType.F32, 1);
        b.copyTo(Map.of("w", target), 0.99);
        assertArrayEquals(new float[] {4.01f}, target.toFloats(), 1e-6f);
        assertThrows(IllegalArgumentException.class, () -> b.copy(0.5));
    }
}
