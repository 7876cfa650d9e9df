package org.voxflow.distill;

import java.util.Collection;
import org.voxflow.tensor.Tensor;

/** Clips the global gradient norm at a fixed maximum. */
public final class FixedNormClipper implements GradClipper {
    private final double maxNorm;

    public FixedNormClipper(double maxNorm) {
        if (!(maxNorm > 0)) throw new IllegalArgumentException("max grad norm must be > 0, got " + maxNorm);
        this.maxNorm = maxNorm;
    }

    @Override public double clip(Collection<Tensor> params, double norm) {
        GradClipper.clipTo(params, norm, maxNorm);
        return norm;
    }

    @Override public double threshold() { return maxNorm; }
}
