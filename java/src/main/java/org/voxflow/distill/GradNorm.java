package org.voxflow.distill;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import org.voxflow.tensor.Backend;
import org.voxflow.tensor.MemoryScope;
import org.voxflow.tensor.ReduceOp;
import org.voxflow.tensor.Tensor;
import org.voxflow.tensor.UnaryOp;

/**
 * Gradient arithmetic over a set of parameters (those whose grad is null are ignored, as PyTorch ignores them).
 * Gradients are treated as immutable values: scaling replaces {@code param.grad()} with a new tensor rather than
 * writing into it, because a grad left by backward may be a view shared with another tensor.
 */
public final class GradNorm {
    private GradNorm() {}

    /**
     * The L2 norm of all gradients as one vector. Non-finite when any element is NaN or infinite (the caller
     * decides what that means: a hard stop in f32 training, an overflow to skip under loss scaling).
     */
    public static double globalL2(Collection<Tensor> params) {
        double sum = 0;
        try (MemoryScope scope = MemoryScope.open()) {
            List<Tensor> parts = new ArrayList<>();
            Backend be = null;
            for (Tensor p : params) {
                Tensor g = p.grad();
                if (g == null) continue;
                be = g.backend();
                parts.add(be.reduce(ReduceOp.SUM, be.unary(UnaryOp.SQUARE, g), allAxes(g), false).reshape(1));
            }
            if (be == null) return 0;
            // One host transfer for all per-tensor sums; the sums themselves are accumulated in double here.
            for (float s : be.concat(parts.toArray(new Tensor[0]), 0).toFloats()) sum += s;
        }
        return Math.sqrt(sum);
    }

    /** Replaces every gradient g with factor * g. Allocates in the caller's scope (the new grads must outlive this call). */
    public static void scale(Collection<Tensor> params, double factor) {
        for (Tensor p : params) {
            Tensor g = p.grad();
            if (g != null) p.setGrad(g.backend().affine(g, (float) factor, 0f));
        }
    }

    /** Names of the parameters whose gradient holds a NaN or an infinity, for error messages. */
    public static List<String> nonFinite(Map<String, Tensor> params) {
        List<String> bad = new ArrayList<>();
        try (MemoryScope scope = MemoryScope.open()) {
            for (Map.Entry<String, Tensor> e : params.entrySet()) {
                Tensor g = e.getValue().grad();
                if (g == null) continue;
                Backend be = g.backend();
                // max |g| rather than the sum of squares, which overflows to inf for large but finite grads
                float m = be.reduce(ReduceOp.MAX, be.unary(UnaryOp.ABS, g), allAxes(g), false).item();
                if (!Float.isFinite(m)) bad.add(e.getKey());
            }
        }
        return bad;
    }

    static int[] allAxes(Tensor t) {
        int[] a = new int[t.dim()];
        for (int i = 0; i < a.length; i++) a[i] = i;
        return a;
    }
}
