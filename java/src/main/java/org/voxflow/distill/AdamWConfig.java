package org.voxflow.distill;

/**
 * AdamW hyper-parameters other than the learning rate (that comes from an {@link LrSchedule} each step).
 * Weight decay is decoupled as in PyTorch's {@code torch.optim.AdamW}: params are multiplied by
 * {@code 1 - lr * weightDecay} before the Adam update, never mixed into the gradient.
 */
public record AdamWConfig(double beta1, double beta2, double eps, double weightDecay) {
    public AdamWConfig {
        if (!(beta1 >= 0 && beta1 < 1)) throw new IllegalArgumentException("AdamW beta1 must be in [0, 1), got " + beta1);
        if (!(beta2 >= 0 && beta2 < 1)) throw new IllegalArgumentException("AdamW beta2 must be in [0, 1), got " + beta2);
        if (!(eps > 0)) throw new IllegalArgumentException("AdamW eps must be > 0, got " + eps);
        if (!(weightDecay >= 0)) throw new IllegalArgumentException("AdamW weight decay must be >= 0, got " + weightDecay);
    }

    /** PyTorch's defaults: betas (0.9, 0.999), eps 1e-8, weight decay 0.01. */
    public static AdamWConfig defaults() { return new AdamWConfig(0.9, 0.999, 1e-8, 0.01); }

    /** The same settings with another weight decay (TRELLIS's configs use 0). */
    public AdamWConfig withWeightDecay(double wd) { return new AdamWConfig(beta1, beta2, eps, wd); }
}
