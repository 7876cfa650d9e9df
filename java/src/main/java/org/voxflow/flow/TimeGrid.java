package org.voxflow.flow;

import java.util.Arrays;

/** Time grids from t = 1 (noise) down to 0 (data), in double precision as TRELLIS's numpy code forms them. */
public final class TimeGrid {
    private TimeGrid() {}

    /** linspace(1, 0, steps + 1) rescaled by t' = r t / (1 + (r - 1) t). */
    public static double[] trellis(int steps, double rescaleT) {
        if (steps < 1) throw new IllegalArgumentException("steps must be >= 1, got " + steps);
        double[] t = new double[steps + 1];
        for (int i = 0; i <= steps; i++) {
            double u = i == steps ? 0.0 : 1.0 - (double) i / steps;
            t[i] = rescaleT * u / (1 + (rescaleT - 1) * u);
        }
        return t;
    }

    /** A custom grid; must start at 1... or any value, decrease strictly and end at 0. */
    public static double[] of(double... t) {
        if (t.length < 2) throw new IllegalArgumentException("a time grid needs at least two points");
        for (int i = 1; i < t.length; i++)
            if (!(t[i] < t[i - 1])) throw new IllegalArgumentException("time grid must decrease: " + Arrays.toString(t));
        if (t[t.length - 1] != 0) throw new IllegalArgumentException("time grid must end at 0: " + Arrays.toString(t));
        return t.clone();
    }
}
