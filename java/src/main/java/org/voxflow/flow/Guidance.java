package org.voxflow.flow;

/**
 * Classifier-free guidance inside an interval of t: v = (1 + w) v(cond) - w v(neg_cond) while lo <= t <= hi,
 * else v(cond). TRELLIS-image-large samples stage 1 with w = 5 on [0.5, 1].
 */
public record Guidance(double strength, double lo, double hi) {
    public static final Guidance NONE = new Guidance(0, 0, 0);

    public static Guidance always(double w) { return new Guidance(w, Double.NEGATIVE_INFINITY, Double.POSITIVE_INFINITY); }

    public boolean activeAt(double t) { return strength != 0 && lo <= t && t <= hi; }
}
