package org.voxflow.shapes;

import java.util.List;

/**
 * A solid as a signed distance function plus a conservative bounding box, with the CSG and rigid
 * transform operations the shape families are built from.
 *
 * <p>All operations keep the SDF 1-Lipschitz: union/intersection/subtraction use min/max, the smooth
 * union uses the polynomial smooth-min (a convex blend of gradients), transforms are rigid or
 * uniform scalings with the distance rescaled. Non-uniform scaling is deliberately not offered,
 * because it would break the distance bound the voxelizer depends on.
 */
public final class Shape {
    private final Sdf sdf;
    private final Aabb bounds;

    public Shape(Sdf sdf, Aabb bounds) {
        this.sdf = sdf;
        this.bounds = bounds;
    }

    public Sdf sdf() { return sdf; }

    public Aabb bounds() { return bounds; }

    public double distance(double x, double y, double z) { return sdf.distance(x, y, z); }

    public static Shape union(List<Shape> parts) {
        if (parts.isEmpty()) throw new IllegalArgumentException("union of no shapes");
        Shape acc = parts.get(0);
        for (int i = 1; i < parts.size(); i++) acc = acc.union(parts.get(i));
        return acc;
    }

    public static Shape union(Shape... parts) { return union(List.of(parts)); }

    public Shape union(Shape o) {
        Sdf a = sdf, b = o.sdf;
        return new Shape((x, y, z) -> Math.min(a.distance(x, y, z), b.distance(x, y, z)), bounds.union(o.bounds));
    }

    /**
     * Polynomial smooth union with blend radius {@code k}. It lowers the distance by at most k/4,
     * so the bounds grow by k/4.
     */
    public Shape smoothUnion(Shape o, double k) {
        if (k <= 0) return union(o);
        Sdf a = sdf, b = o.sdf;
        return new Shape((x, y, z) -> {
            double da = a.distance(x, y, z), db = b.distance(x, y, z);
            double h = Math.max(k - Math.abs(da - db), 0) / k;
            return Math.min(da, db) - h * h * k * 0.25;
        }, bounds.union(o.bounds).expand(k * 0.25));
    }

    /** This solid minus {@code o}. */
    public Shape subtract(Shape o) {
        Sdf a = sdf, b = o.sdf;
        return new Shape((x, y, z) -> Math.max(a.distance(x, y, z), -b.distance(x, y, z)), bounds);
    }

    public Shape intersect(Shape o) {
        Sdf a = sdf, b = o.sdf;
        return new Shape((x, y, z) -> Math.max(a.distance(x, y, z), b.distance(x, y, z)), bounds.intersect(o.bounds));
    }

    /** Hollow shell of half-thickness {@code t} centred on this surface. */
    public Shape shell(double t) {
        Sdf a = sdf;
        return new Shape((x, y, z) -> Math.abs(a.distance(x, y, z)) - t, bounds.expand(t));
    }

    /** Grows the solid by {@code r} (rounds convex edges). */
    public Shape dilate(double r) {
        Sdf a = sdf;
        return new Shape((x, y, z) -> a.distance(x, y, z) - r, bounds.expand(r));
    }

    public Shape translate(double dx, double dy, double dz) {
        Sdf a = sdf;
        return new Shape((x, y, z) -> a.distance(x - dx, y - dy, z - dz), bounds.translate(dx, dy, dz));
    }

    public Shape translate(Vec3 d) { return translate(d.x(), d.y(), d.z()); }

    /** Rotation about the x axis by {@code angle} radians (right-handed). */
    public Shape rotateX(double angle) {
        double c = StrictMath.cos(angle), s = StrictMath.sin(angle);
        return rotate(new double[] {1, 0, 0, 0, c, -s, 0, s, c});
    }

    public Shape rotateY(double angle) {
        double c = StrictMath.cos(angle), s = StrictMath.sin(angle);
        return rotate(new double[] {c, 0, s, 0, 1, 0, -s, 0, c});
    }

    public Shape rotateZ(double angle) {
        double c = StrictMath.cos(angle), s = StrictMath.sin(angle);
        return rotate(new double[] {c, -s, 0, s, c, 0, 0, 0, 1});
    }

    /** Rotation about the origin by the row-major orthonormal matrix {@code m}. */
    public Shape rotate(double[] m) {
        Sdf a = sdf;
        double m00 = m[0], m01 = m[1], m02 = m[2], m10 = m[3], m11 = m[4], m12 = m[5], m20 = m[6], m21 = m[7], m22 = m[8];
        // the solid moves by m, so a point is mapped back by the transpose
        return new Shape((x, y, z) -> a.distance(
                m00 * x + m10 * y + m20 * z,
                m01 * x + m11 * y + m21 * z,
                m02 * x + m12 * y + m22 * z), bounds.rotate(m));
    }

    /** Uniform scaling about the origin; distances scale with it. */
    public Shape scale(double s) {
        if (!(s > 0)) throw new IllegalArgumentException("scale must be positive: " + s);
        Sdf a = sdf;
        double inv = 1 / s;
        Aabb b = bounds;
        return new Shape((x, y, z) -> s * a.distance(x * inv, y * inv, z * inv),
                new Aabb(b.minX() * s, b.minY() * s, b.minZ() * s, b.maxX() * s, b.maxY() * s, b.maxZ() * s));
    }

    /**
     * Centres the bounding box at the origin and scales it uniformly so that its largest side is
     * {@code 1 - 2 * margin}: the solid then lies inside [-0.5 + margin, 0.5 - margin]^3.
     */
    public Shape normalized(double margin) {
        if (!bounds.isFinite()) throw new IllegalStateException("shape has unbounded extent");
        if (margin < 0 || margin >= 0.5) throw new IllegalArgumentException("margin " + margin);
        Vec3 c = bounds.center();
        return translate(-c.x(), -c.y(), -c.z()).scale((1 - 2 * margin) / bounds.maxExtent());
    }
}
