package org.voxflow.models.trellis;

import java.util.Map;
import org.voxflow.nn.Module;
import org.voxflow.tensor.Backend;
import org.voxflow.tensor.Rng;
import org.voxflow.tensor.Tensor;

/**
 * TRELLIS's initialize_weights for a model trained from scratch: Xavier-uniform linear weights with zero biases,
 * N(0, 0.02) timestep-MLP weights, zero adaLN modulation and output layer (so a new model predicts zero velocity
 * and every block starts as the identity), spconv-style uniform(+-1/sqrt(fan_in)) conv weights with the second
 * conv of each residual block zeroed (zero_module). Norm gains stay 1.
 */
public final class TrellisInit {
    private TrellisInit() {}

    public static void apply(Module model, long seed) {
        Rng rng = new Rng(seed);
        Backend be = model.backend();
        for (Map.Entry<String, Tensor> e : model.namedParameters().entrySet()) {
            String name = e.getKey();
            Tensor p = e.getValue();
            int[] s = p.shape();
            float[] v = null;
            if (name.contains("adaLN_modulation") || name.startsWith("out_layer.") || name.contains("conv2.conv.")) {
                v = new float[(int) p.numel()];
            } else if (name.endsWith(".bias")) {
                v = new float[(int) p.numel()];
            } else if (name.startsWith("t_embedder.mlp.") && name.endsWith(".weight")) {
                v = rng.normal((int) p.numel());
                for (int i = 0; i < v.length; i++) v[i] *= 0.02f;
            } else if (s.length == 2 && name.endsWith(".weight")) {
                double a = Math.sqrt(6.0 / (s[0] + s[1]));
                v = uniform(rng, (int) p.numel(), a);
            } else if (s.length == 5) {
                v = uniform(rng, (int) p.numel(), 1.0 / Math.sqrt(27.0 * s[4]));
            }
            if (v != null) be.assign(p, be.fromFloats(v, s));
        }
    }

    private static float[] uniform(Rng rng, int n, double a) {
        float[] v = rng.uniform(n);
        for (int i = 0; i < n; i++) v[i] = (float) ((2 * v[i] - 1) * a);
        return v;
    }
}
