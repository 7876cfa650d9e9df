package org.voxflow.shapes;

/**
 * Signed distance in the meridian half-plane to a closed polygon, used for solids of revolution.
 *
 * <p>For a point at (radius, height) the nearest point of the revolved solid lies in the same
 * meridian half-plane, so the 2D distance is the exact 3D distance. Edges lying on the axis
 * (both ends at r = 0) are not surface in 3D: they take part in the inside test but not in the
 * distance, otherwise points near the axis would get a too-small |distance|.
 */
final class RevolvedProfile {
    private final double[] r;
    private final double[] h;
    private final boolean[] onAxis;

    RevolvedProfile(double[] r, double[] h) {
        if (r.length != h.length || r.length < 3) throw new IllegalArgumentException("profile needs >= 3 points");
        for (double v : r) if (v < 0) throw new IllegalArgumentException("profile radius must be >= 0");
        this.r = r.clone();
        this.h = h.clone();
        int n = r.length;
        onAxis = new boolean[n];
        for (int i = 0; i < n; i++) onAxis[i] = r[i] == 0 && r[(i + 1) % n] == 0;
    }

    double distance(double pr, double ph) {
        int n = r.length;
        double best = Double.POSITIVE_INFINITY;
        boolean inside = false;
        for (int i = 0, j = n - 1; i < n; j = i++) {
            // edge j -> i
            double ar = r[j], ah = h[j], br = r[i], bh = h[i];
            if ((ah > ph) != (bh > ph)) {
                double cross = ar + (ph - ah) / (bh - ah) * (br - ar);
                if (pr < cross) inside = !inside;
            }
            if (onAxis[j]) continue;
            double er = br - ar, eh = bh - ah;
            double wr = pr - ar, wh = ph - ah;
            double ee = er * er + eh * eh;
            double t = ee > 0 ? Math.min(Math.max((wr * er + wh * eh) / ee, 0), 1) : 0;
            double dr = wr - er * t, dh = wh - eh * t;
            best = Math.min(best, dr * dr + dh * dh);
        }
        double d = Math.sqrt(best);
        return inside ? -d : d;
    }
}
