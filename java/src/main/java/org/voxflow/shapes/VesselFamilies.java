package org.voxflow.shapes;

import static org.voxflow.shapes.Primitives.capsule;
import static org.voxflow.shapes.Primitives.cylinder;
import static org.voxflow.shapes.Primitives.revolve;
import static org.voxflow.shapes.Primitives.torus;

import java.util.random.RandomGenerator;

/** Surfaces of revolution: mug, vase and bottle (height about 1, axis y). */
final class VesselFamilies {
    private VesselFamilies() {}

    static Shape mug(RandomGenerator rng) {
        double h = 1.0;
        double rBot = rng.nextDouble(0.3, 0.42), rTop = rBot * rng.nextDouble(0.95, 1.15);
        double wall = rng.nextDouble(0.05, 0.07), bottom = rng.nextDouble(0.06, 0.1);
        Shape body = revolve(new double[] {0, rBot, rTop, 0}, new double[] {0, 0, h, h});
        double slope = (rTop - rBot) / h;
        double top = h + 0.2;
        Shape cavity = revolve(
                new double[] {0, rBot - wall + slope * bottom, rTop - wall + slope * 0.2, 0},
                new double[] {bottom, bottom, top, top});
        Shape cup = body.subtract(cavity);
        double rMid = (rBot + rTop) / 2;
        double hr = rng.nextDouble(0.035, 0.055);
        Shape handle;
        if (rng.nextBoolean()) {
            double major = h * rng.nextDouble(0.2, 0.3);
            handle = torus(Vec3.ZERO, major, hr).rotateX(Math.PI / 2).translate(rMid, h * rng.nextDouble(0.45, 0.55), 0);
        } else {
            // D-shaped handle from three capsules
            double reach = rng.nextDouble(0.16, 0.26), y0 = h * rng.nextDouble(0.15, 0.3), y1 = h * rng.nextDouble(0.7, 0.85);
            Vec3 a = Vec3.of(rMid - 0.02, y1, 0), b = Vec3.of(rMid + reach, y1 - 0.05, 0);
            Vec3 c = Vec3.of(rMid + reach, y0 + 0.05, 0), e = Vec3.of(rMid - 0.02, y0, 0);
            handle = capsule(a, b, hr).smoothUnion(capsule(b, c, hr), 0.06).smoothUnion(capsule(c, e, hr), 0.06);
        }
        return cup.union(handle.subtract(body));
    }

    static Shape vase(RandomGenerator rng) {
        double h = 1.0;
        int controls = rng.nextInt(4, 7);
        double[] cr = new double[controls];
        for (int i = 0; i < controls; i++) cr[i] = rng.nextDouble(0.12, 0.38);
        cr[0] = rng.nextDouble(0.14, 0.28);
        double[] profile = smoothProfile(cr, 40);
        double wall = 0.05, bottom = 0.06;
        int n = profile.length;
        double[] r = new double[n + 2], y = new double[n + 2];
        for (int i = 0; i < n; i++) {
            r[i + 1] = profile[i];
            y[i + 1] = h * i / (n - 1);
        }
        r[0] = 0;
        y[0] = 0;
        r[n + 1] = 0;
        y[n + 1] = h;
        Shape solid = revolve(r, y);
        // uniform wall: the cavity is the solid eroded by the wall thickness, opened at the top by a
        // short cylinder no wider than the narrowest part of the neck's last stretch
        double mouth = Double.POSITIVE_INFINITY;
        for (int i = 0; i < n; i++) if (h * i / (n - 1) >= h - 3 * wall) mouth = Math.min(mouth, profile[i]);
        Shape cavity = solid.dilate(-wall).intersect(Primitives.halfSpace(Vec3.of(0, -1, 0), -bottom))
                .union(cylinder(Vec3.of(0, h - 3 * wall, 0), Vec3.of(0, h + 0.1, 0), Math.max(mouth - wall, 0.02)));
        return solid.subtract(cavity);
    }

    static Shape bottle(RandomGenerator rng) {
        double rb = rng.nextDouble(0.15, 0.28);
        double bodyH = rng.nextDouble(0.4, 0.62);
        double shoulderH = rng.nextDouble(0.08, 0.25);
        double rn = rng.nextDouble(0.05, 0.09);
        double capH = rng.nextDouble(0.05, 0.1);
        double neckTop = 1.0 - capH;
        int steps = 12;
        double[] r = new double[steps + 9], y = new double[steps + 9];
        int k = 0;
        r[k] = 0; y[k++] = 0;
        r[k] = rb - 0.03; y[k++] = 0;
        r[k] = rb; y[k++] = 0.03;
        r[k] = rb; y[k++] = bodyH;
        for (int i = 1; i <= steps; i++) {
            // cosine shoulder from the body radius down to the neck radius
            double t = (double) i / steps;
            r[k] = rn + (rb - rn) * 0.5 * (1 + StrictMath.cos(Math.PI * t));
            y[k++] = bodyH + shoulderH * t;
        }
        r[k] = rn; y[k++] = neckTop;
        r[k] = rn + 0.015; y[k++] = neckTop;
        r[k] = rn + 0.015; y[k++] = 1.0;
        r[k] = 0; y[k++] = 1.0;
        return revolve(java.util.Arrays.copyOf(r, k), java.util.Arrays.copyOf(y, k));
    }

    /** Catmull-Rom interpolation of equally spaced control radii into {@code samples} radii. */
    static double[] smoothProfile(double[] control, int samples) {
        int n = control.length;
        double[] out = new double[samples];
        for (int s = 0; s < samples; s++) {
            double u = (double) s / (samples - 1) * (n - 1);
            int i = Math.min((int) Math.floor(u), n - 2);
            double t = u - i;
            double p0 = control[Math.max(i - 1, 0)], p1 = control[i], p2 = control[i + 1], p3 = control[Math.min(i + 2, n - 1)];
            double t2 = t * t, t3 = t2 * t;
            double v = 0.5 * (2 * p1 + (-p0 + p2) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t2 + (-p0 + 3 * p1 - 3 * p2 + p3) * t3);
            out[s] = Math.max(v, 0.1);
        }
        return out;
    }
}
