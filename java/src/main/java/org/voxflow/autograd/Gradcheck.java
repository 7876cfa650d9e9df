package org.voxflow.autograd;

import java.util.function.Function;
import org.voxflow.tensor.Tensor;

/**
 * Compares autograd's gradients (reverse mode) and tangents (forward mode) with central finite differences of a
 * scalar function, in f32 with a relative tolerance suited to it.
 */
public final class Gradcheck {
    private Gradcheck() {}

    /** Largest relative disagreement found, with where. */
    public record Report(double maxRelError, String where) {}

    /**
     * Checks d sum(w * f(inputs)) / d input for every input (w a fixed random weight so every output matters), and
     * the JVP along random directions against (f(x + h v) - f(x - h v)) / 2h.
     */
    public static Report check(Function<Tensor[], Tensor> f, Tensor[] inputs, double h, long seed) {
        org.voxflow.tensor.Rng rng = new org.voxflow.tensor.Rng(seed);
        var be = inputs[0].backend();
        Tensor[] leaves = new Tensor[inputs.length];
        for (int i = 0; i < inputs.length; i++) leaves[i] = F.detach(inputs[i]).setRequiresGrad(true);
        Tensor y0 = f.apply(leaves);
        Tensor w = rng.randn(be, y0.shape());
        Grad.backward(F.sum(F.mul(y0, w)));
        double worst = 0;
        String where = "";
        for (int i = 0; i < inputs.length; i++) {
            float[] x = inputs[i].toFloats();
            float[] g = leaves[i].grad() == null ? new float[x.length] : leaves[i].grad().toFloats();
            double scale = 1e-3;
            for (float v : g) scale = Math.max(scale, Math.abs(v));
            for (int j = 0; j < x.length; j++) {
                double fd = (objective(f, inputs, i, j, x, h, w) - objective(f, inputs, i, j, x, -h, w)) / (2 * h);
                double err = Math.abs(fd - g[j]) / scale;
                if (err > worst) { worst = err; where = "grad of input " + i + " element " + j + ": autograd " + g[j] + " vs numeric " + fd; }
            }
        }
        // forward mode along one random direction per input
        Tensor[] dirs = new Tensor[inputs.length];
        for (int i = 0; i < inputs.length; i++) dirs[i] = rng.randn(be, inputs[i].shape());
        Jvp.Result r = Jvp.jvp(f, inputs, dirs);
        float[] t = r.tangent().toFloats();
        float[] plus = shifted(f, inputs, dirs, h), minus = shifted(f, inputs, dirs, -h);
        double scale = 1e-3;
        for (float v : t) scale = Math.max(scale, Math.abs(v));
        for (int j = 0; j < t.length; j++) {
            double fd = (plus[j] - minus[j]) / (2 * h);
            double err = Math.abs(fd - t[j]) / scale;
            if (err > worst) { worst = err; where = "jvp element " + j + ": forward mode " + t[j] + " vs numeric " + fd; }
        }
        return new Report(worst, where);
    }

    private static double objective(Function<Tensor[], Tensor> f, Tensor[] inputs, int i, int j, float[] x, double h, Tensor w) {
        float[] xp = x.clone();
        xp[j] += (float) h;
        Tensor[] in = inputs.clone();
        in[i] = inputs[i].backend().fromFloats(xp, inputs[i].shape());
        try (var ng = Grad.noGrad()) {
            float[] y = f.apply(in).toFloats();
            float[] wv = w.toFloats();
            double s = 0;
            for (int k = 0; k < y.length; k++) s += (double) y[k] * wv[k];
            return s;
        }
    }

    private static float[] shifted(Function<Tensor[], Tensor> f, Tensor[] inputs, Tensor[] dirs, double h) {
        Tensor[] in = new Tensor[inputs.length];
        for (int i = 0; i < inputs.length; i++) {
            float[] x = inputs[i].toFloats(), d = dirs[i].toFloats();
            for (int j = 0; j < x.length; j++) x[j] += (float) (h * d[j]);
            in[i] = inputs[i].backend().fromFloats(x, inputs[i].shape());
        }
        try (var ng = Grad.noGrad()) {
            return f.apply(in).toFloats();
        }
    }
}
