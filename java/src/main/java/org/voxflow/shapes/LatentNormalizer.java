package org.voxflow.shapes;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Per-channel affine normalisation {@code (v - mean[c]) / std[c]} of channel-last latents
 * ({@code float[N * C]}, channel fastest, as in {@link Stage2Latent}).
 *
 * <p>Statistics are accumulated in double; std is the population standard deviation, floored at
 * {@link #MIN_STD} so constant channels do not blow up. {@link #toMap()} gives a JSON-ready
 * {@code {"mean": [..], "std": [..]}} and {@link #fromMap} reads it back.
 */
public final class LatentNormalizer {
    public static final double MIN_STD = 1e-6;

    private final double[] mean;
    private final double[] std;

    public LatentNormalizer(double[] mean, double[] std) {
        if (mean.length != std.length || mean.length == 0) throw new IllegalArgumentException("mean/std length mismatch");
        for (double s : std) if (!(s > 0)) throw new IllegalArgumentException("std must be positive");
        this.mean = mean.clone();
        this.std = std.clone();
    }

    public static LatentNormalizer fit(float[] data, int channels) {
        return fit(List.of(data), channels);
    }

    /** Fits mean and std over all rows of all arrays. */
    public static LatentNormalizer fit(List<float[]> data, int channels) {
        double[] sum = new double[channels], sq = new double[channels];
        long rows = 0;
        for (float[] a : data) {
            if (a.length % channels != 0) throw new IllegalArgumentException("length " + a.length + " not a multiple of " + channels);
            for (int i = 0; i < a.length; i++) sum[i % channels] += a[i];
            rows += a.length / channels;
        }
        if (rows == 0) throw new IllegalArgumentException("no data to fit");
        double[] mean = new double[channels];
        for (int c = 0; c < channels; c++) mean[c] = sum[c] / rows;
        // second pass around the mean: no cancellation trouble
        for (float[] a : data) {
            for (int i = 0; i < a.length; i++) {
                double d = a[i] - mean[i % channels];
                sq[i % channels] += d * d;
            }
        }
        double[] std = new double[channels];
        for (int c = 0; c < channels; c++) std[c] = Math.max(Math.sqrt(sq[c] / rows), MIN_STD);
        return new LatentNormalizer(mean, std);
    }

    public int channels() { return mean.length; }

    public double[] mean() { return mean.clone(); }

    public double[] std() { return std.clone(); }

    public float[] normalize(float[] data) {
        check(data);
        int c = mean.length;
        float[] out = new float[data.length];
        for (int i = 0; i < data.length; i++) out[i] = (float) ((data[i] - mean[i % c]) / std[i % c]);
        return out;
    }

    public float[] denormalize(float[] data) {
        check(data);
        int c = mean.length;
        float[] out = new float[data.length];
        for (int i = 0; i < data.length; i++) out[i] = (float) (data[i] * std[i % c] + mean[i % c]);
        return out;
    }

    /** {@code {"mean": [C doubles], "std": [C doubles]}}. */
    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("mean", toList(mean));
        m.put("std", toList(std));
        return m;
    }

    public static LatentNormalizer fromMap(Map<String, ?> map) {
        return new LatentNormalizer(toArray(map.get("mean"), "mean"), toArray(map.get("std"), "std"));
    }

    private void check(float[] data) {
        if (data.length % mean.length != 0) throw new IllegalArgumentException("length " + data.length + " not a multiple of " + mean.length);
    }

    private static List<Double> toList(double[] a) {
        List<Double> l = new ArrayList<>(a.length);
        for (double v : a) l.add(v);
        return l;
    }

    private static double[] toArray(Object o, String key) {
        if (!(o instanceof List<?> l)) throw new IllegalArgumentException("normalizer: '" + key + "' must be a list of numbers");
        double[] a = new double[l.size()];
        for (int i = 0; i < a.length; i++) {
            if (!(l.get(i) instanceof Number n)) throw new IllegalArgumentException("normalizer: '" + key + "'[" + i + "] is not a number");
            a[i] = n.doubleValue();
        }
        return a;
    }
}
