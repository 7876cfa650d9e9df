package org.voxflow.eval;

import java.util.Arrays;
import java.util.SplittableRandom;
import org.voxflow.mesh.Mesh;

/** Uniform random points on a mesh surface. */
public final class SurfaceSampler {
    private SurfaceSampler() {}

    /**
     * {@code n} points (flat x, y, z) uniformly distributed over the surface area: a triangle is
     * picked with probability proportional to its area (binary search in the cumulative areas),
     * then a point in it with the square-root barycentric map
     * {@code (1 - sqrt(u)) a + sqrt(u) (1 - v) b + sqrt(u) v c}. Same mesh and seed, same points.
     * A mesh without area gives an empty array.
     */
    public static float[] sample(Mesh mesh, int n, long seed) {
        if (n < 0) throw new IllegalArgumentException("n < 0");
        float[] p = mesh.positions();
        int[] f = mesh.indices();
        int nt = f.length / 3;
        double[] cum = new double[nt];
        double total = 0;
        for (int t = 0; t < nt; t++) {
            int a = 3 * f[3 * t], b = 3 * f[3 * t + 1], c = 3 * f[3 * t + 2];
            double ux = p[b] - p[a], uy = p[b + 1] - p[a + 1], uz = p[b + 2] - p[a + 2];
            double vx = p[c] - p[a], vy = p[c + 1] - p[a + 1], vz = p[c + 2] - p[a + 2];
            double cx = uy * vz - uz * vy, cy = uz * vx - ux * vz, cz = ux * vy - uy * vx;
            total += 0.5 * Math.sqrt(cx * cx + cy * cy + cz * cz);
            cum[t] = total;
        }
        if (!(total > 0)) return new float[0];
        SplittableRandom rng = new SplittableRandom(seed);
        float[] out = new float[3 * n];
        for (int i = 0; i < n; i++) {
            double target = rng.nextDouble() * total;
            int t = Arrays.binarySearch(cum, target);
            t = t >= 0 ? t : Math.min(-t - 1, nt - 1);
            while (t > 0 && cum[t] == cum[t - 1]) t--; // never land on a zero-area triangle
            double su = Math.sqrt(rng.nextDouble()), v = rng.nextDouble();
            double wa = 1 - su, wb = su * (1 - v), wc = su * v;
            int a = 3 * f[3 * t], b = 3 * f[3 * t + 1], c = 3 * f[3 * t + 2];
            for (int k = 0; k < 3; k++) out[3 * i + k] = (float) (wa * p[a + k] + wb * p[b + k] + wc * p[c + k]);
        }
        return out;
    }
}
