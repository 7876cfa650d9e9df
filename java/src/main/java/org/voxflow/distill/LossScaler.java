package org.voxflow.distill;

import java.util.Collection;
import org.voxflow.tensor.Tensor;

/**
 * Dynamic loss scaling for f16 training, the protocol of PyTorch's GradScaler:
 * <ol>
 *   <li>backward of {@code loss * scale()} (small f16 gradients stay above the subnormal range);</li>
 *   <li>{@link #unscale}: grads *= 1 / scale, returning their global norm: non-finite means overflow;</li>
 *   <li>{@link #update}: on overflow the step must be skipped and the scale shrinks by the backoff factor; after
 *       growthInterval clean steps in a row it grows by the growth factor.</li>
 * </ol>
 */
public final class LossScaler {
    private final LossScaleConfig cfg;
    private double scale;
    private int goodSteps;
    private long skipped;

    public LossScaler(LossScaleConfig cfg) {
        this.cfg = cfg;
        this.scale = cfg.initScale();
    }

    public double scale() { return scale; }

    /** Clean steps since the last overflow or growth (the growth tracker). */
    public int goodSteps() { return goodSteps; }

    /** Steps skipped for overflow since this scaler was created or restored. */
    public long skippedSteps() { return skipped; }

    /** Divides every gradient by the current scale; returns the unscaled global L2 norm (non-finite = overflow). */
    public double unscale(Collection<Tensor> params) {
        GradNorm.scale(params, 1.0 / scale);
        return GradNorm.globalL2(params);
    }

    /** True when a norm (or loss) reports an overflow. */
    public static boolean overflowed(double normOrLoss) { return !Double.isFinite(normOrLoss); }

    /** Records the outcome of a step: backs off on overflow (the caller skips the update), else counts towards growth. */
    public void update(boolean overflow) {
        if (overflow) {
            scale *= cfg.backoffFactor();
            goodSteps = 0;
            skipped++;
        } else if (++goodSteps >= cfg.growthInterval()) {
            double grown = scale * cfg.growthFactor();
            if (Double.isFinite(grown)) scale = grown;
            goodSteps = 0;
        }
    }

    /** Puts back a saved (scale, growth tracker). */
    public void restore(double scale, int goodSteps) {
        if (!(scale > 0) || Double.isInfinite(scale)) throw new IllegalArgumentException("saved loss scale " + scale + " is not finite and > 0");
        this.scale = scale;
        this.goodSteps = goodSteps;
    }
}
