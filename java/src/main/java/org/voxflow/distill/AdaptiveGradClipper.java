package org.voxflow.distill;

import java.util.Arrays;
import java.util.Collection;
import org.voxflow.tensor.Tensor;

/**
 * TRELLIS's adaptive clipping: remember the last {@code bufferSize} finite pre-clip norms (f32, as TRELLIS keeps
 * them) and, once the buffer is full, clip at their {@code percentile}-th percentile (numpy's default linear
 * interpolation), capped by {@code maxNorm}. Until the buffer fills, clip at {@code maxNorm} (+inf: no clipping).
 * Each call clips with the threshold from the norms before it, then records its own norm. Non-finite norms are
 * not recorded (and clip nothing).
 */
public final class AdaptiveGradClipper implements GradClipper {
    private final double maxNorm;
    private final double percentile;
    private final float[] ring;
    private int next;     // where the next norm goes
    private int length;   // how many slots hold norms
    private double threshold;

    public AdaptiveGradClipper(double maxNorm, double percentile, int bufferSize) {
        if (!(maxNorm > 0)) throw new IllegalArgumentException("max grad norm must be > 0 (or +inf), got " + maxNorm);
        if (!(percentile >= 0 && percentile <= 100)) throw new IllegalArgumentException("clip percentile must be in [0, 100], got " + percentile);
        if (bufferSize < 1) throw new IllegalArgumentException("clip buffer size must be >= 1, got " + bufferSize);
        this.maxNorm = maxNorm;
        this.percentile = percentile;
        this.ring = new float[bufferSize];
        this.threshold = maxNorm;
    }

    /** TRELLIS's defaults: 95th percentile of the last 1000 norms. */
    public static AdaptiveGradClipper trellis(double maxNorm) { return new AdaptiveGradClipper(maxNorm, 95.0, 1000); }

    @Override public double clip(Collection<Tensor> params, double norm) {
        GradClipper.clipTo(params, norm, threshold);
        if (Double.isFinite(norm)) record((float) norm);
        return norm;
    }

    private void record(float norm) {
        ring[next] = norm;
        next = (next + 1) % ring.length;
        length = Math.min(length + 1, ring.length);
        if (length == ring.length) threshold = Math.min(percentile(ring, percentile), maxNorm);
    }

    @Override public double threshold() { return threshold; }

    public double maxNorm() { return maxNorm; }
    public double percentile() { return percentile; }
    public int bufferSize() { return ring.length; }

    /** The remembered norms, oldest first. */
    public float[] history() {
        float[] out = new float[length];
        int start = length < ring.length ? 0 : next;
        for (int i = 0; i < length; i++) out[i] = ring[(start + i) % ring.length];
        return out;
    }

    /** Puts back a history from {@link #history()} (oldest first) and the threshold that went with it. */
    public void restore(float[] history, double threshold) {
        if (history.length > ring.length)
            throw new IllegalArgumentException("clipper history of " + history.length + " norms does not fit a buffer of " + ring.length);
        Arrays.fill(ring, 0f);
        System.arraycopy(history, 0, ring, 0, history.length);
        length = history.length;
        next = history.length % ring.length;
        this.threshold = threshold;
    }

    /** numpy.percentile(values, q) with its default 'linear' method (and numpy's two-sided lerp). */
    static double percentile(float[] values, double q) {
        double[] s = new double[values.length];
        for (int i = 0; i < s.length; i++) s[i] = values[i];
        Arrays.sort(s);
        double pos = (s.length - 1) * (q / 100.0);
        int lo = (int) Math.floor(pos);
        int hi = Math.min(lo + 1, s.length - 1);
        double t = pos - lo, a = s[lo], b = s[hi], d = b - a;
        return t >= 0.5 ? b - d * (1 - t) : a + d * t;
    }
}
