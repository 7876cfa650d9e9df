package org.voxflow.distill;

import java.util.Collection;
import org.voxflow.tensor.Tensor;

/**
 * Scales gradients down when their global L2 norm exceeds a threshold, as {@code torch.nn.utils.clip_grad_norm_}:
 * every grad is multiplied by {@code threshold / (norm + 1e-6)} when that is below 1. Returns the norm before
 * clipping. A non-finite norm is returned as is and leaves the grads untouched; the caller must act on it.
 */
public interface GradClipper {
    /** Clips given the pre-clip norm already computed (e.g. by the loss scaler's unscale); returns that norm. */
    double clip(Collection<Tensor> params, double norm);

    default double clip(Collection<Tensor> params) { return clip(params, GradNorm.globalL2(params)); }

    /** The threshold the next call clips at (+inf: no clipping). */
    double threshold();

    /** Never clips; still reports the norm (for logs and the non-finite check). */
    static GradClipper none() {
        return new GradClipper() {
            @Override public double clip(Collection<Tensor> params, double norm) { return norm; }
            @Override public double threshold() { return Double.POSITIVE_INFINITY; }
        };
    }

    /** The shared clipping rule: scale by threshold / (norm + 1e-6) when the norm is finite and that is below 1. */
    static void clipTo(Collection<Tensor> params, double norm, double threshold) {
        if (!Double.isFinite(norm) || Double.isInfinite(threshold)) return;
        double coef = threshold / (norm + 1e-6);
        if (coef < 1.0) GradNorm.scale(params, coef);
    }
}
