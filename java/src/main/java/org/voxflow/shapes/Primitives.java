package org.voxflow.shapes;

/** Exact signed distance primitives, each with a tight bounding box. */
public final class Primitives {
    private Primitives() {}

    public static Shape sphere(Vec3 c, double r) {
        double cx = c.x(), cy = c.y(), cz = c.z();
        return new Shape((x, y, z) -> {
            double dx = x - cx, dy = y - cy, dz = z - cz;
            return Math.sqrt(dx * dx + dy * dy + dz * dz) - r;
        }, Aabb.around(c, r, r, r));
    }

    /** Box with centre {@code c} and half extents (hx, hy, hz). */
    public static Shape box(Vec3 c, double hx, double hy, double hz) {
        return roundBox(c, hx, hy, hz, 0);
    }

    /** Box of the same outer size as {@link #box} whose edges and corners are rounded with radius r. */
    public static Shape roundBox(Vec3 c, double hx, double hy, double hz, double r) {
        double rr = Math.min(r, Math.min(hx, Math.min(hy, hz)));
        double cx = c.x(), cy = c.y(), cz = c.z();
        double ix = hx - rr, iy = hy - rr, iz = hz - rr;
        return new Shape((x, y, z) -> {
            double qx = Math.abs(x - cx) - ix, qy = Math.abs(y - cy) - iy, qz = Math.abs(z - cz) - iz;
            double ox = Math.max(qx, 0), oy = Math.max(qy, 0), oz = Math.max(qz, 0);
            double outside = Math.sqrt(ox * ox + oy * oy + oz * oz);
            double inside = Math.min(Math.max(qx, Math.max(qy, qz)), 0);
            return outside + inside - rr;
        }, Aabb.around(c, hx, hy, hz));
    }

    /** Axis-aligned box given by its min and max corners. */
    public static Shape boxFromTo(double x0, double y0, double z0, double x1, double y1, double z1) {
        return box(Vec3.of((x0 + x1) / 2, (y0 + y1) / 2, (z0 + z1) / 2),
                Math.abs(x1 - x0) / 2, Math.abs(y1 - y0) / 2, Math.abs(z1 - z0) / 2);
    }

    /** Segment a-b swept by a ball of radius r. */
    public static Shape capsule(Vec3 a, Vec3 b, double r) {
        double ax = a.x(), ay = a.y(), az = a.z();
        double bx = b.x() - ax, by = b.y() - ay, bz = b.z() - az;
        double bb = bx * bx + by * by + bz * bz;
        return new Shape((x, y, z) -> {
            double px = x - ax, py = y - ay, pz = z - az;
            double t = bb > 0 ? Math.min(Math.max((px * bx + py * by + pz * bz) / bb, 0), 1) : 0;
            double dx = px - bx * t, dy = py - by * t, dz = pz - bz * t;
            return Math.sqrt(dx * dx + dy * dy + dz * dz) - r;
        }, Aabb.around(a, r, r, r).union(Aabb.around(b, r, r, r)));
    }

    /** Solid cylinder of radius r whose axis runs from a to b, with flat caps. */
    public static Shape cylinder(Vec3 a, Vec3 b, double r) {
        Vec3 ba = b.minus(a);
        double len = ba.length();
        if (!(len > 0)) throw new IllegalArgumentException("degenerate cylinder axis");
        double ux = ba.x() / len, uy = ba.y() / len, uz = ba.z() / len;
        double ax = a.x(), ay = a.y(), az = a.z(), half = len / 2;
        // cap disks extend r * sqrt(1 - u_i^2) along axis i
        double ex = r * Math.sqrt(Math.max(0, 1 - ux * ux));
        double ey = r * Math.sqrt(Math.max(0, 1 - uy * uy));
        double ez = r * Math.sqrt(Math.max(0, 1 - uz * uz));
        return new Shape((x, y, z) -> {
            double px = x - ax, py = y - ay, pz = z - az;
            double t = px * ux + py * uy + pz * uz;
            double rx = px - ux * t, ry = py - uy * t, rz = pz - uz * t;
            double dRadial = Math.sqrt(rx * rx + ry * ry + rz * rz) - r;
            double dAxial = Math.abs(t - half) - half;
            double ox = Math.max(dRadial, 0), oy = Math.max(dAxial, 0);
            return Math.sqrt(ox * ox + oy * oy) + Math.min(Math.max(dRadial, dAxial), 0);
        }, Aabb.around(a, ex, ey, ez).union(Aabb.around(b, ex, ey, ez)));
    }

    /** Torus around the y axis through {@code c}: ring radius {@code major}, tube radius {@code minor}. */
    public static Shape torus(Vec3 c, double major, double minor) {
        double cx = c.x(), cy = c.y(), cz = c.z();
        double e = major + minor;
        return new Shape((x, y, z) -> {
            double dx = x - cx, dy = y - cy, dz = z - cz;
            double q = Math.sqrt(dx * dx + dz * dz) - major;
            return Math.sqrt(q * q + dy * dy) - minor;
        }, Aabb.around(c, e, minor, e));
    }

    /** Half-space {@code dot(n, p) <= offset}; {@code n} is normalised here. Unbounded. */
    public static Shape halfSpace(Vec3 n, double offset) {
        double len = n.length();
        double nx = n.x() / len, ny = n.y() / len, nz = n.z() / len, d = offset / len;
        return new Shape((x, y, z) -> nx * x + ny * y + nz * z - d, Aabb.INFINITE);
    }

    /**
     * Solid of revolution about the y axis of the closed polygon with vertices (r[i], h[i]) in the
     * meridian half-plane (r >= 0 is the distance from the axis, h the height).
     */
    public static Shape revolve(double[] r, double[] h) {
        RevolvedProfile p = new RevolvedProfile(r, h);
        double rMax = 0, hMin = Double.POSITIVE_INFINITY, hMax = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < r.length; i++) {
            rMax = Math.max(rMax, r[i]);
            hMin = Math.min(hMin, h[i]);
            hMax = Math.max(hMax, h[i]);
        }
        return new Shape((x, y, z) -> p.distance(Math.sqrt(x * x + z * z), y),
                new Aabb(-rMax, hMin, -rMax, rMax, hMax, rMax));
    }
}
