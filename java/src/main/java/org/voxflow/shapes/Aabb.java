package org.voxflow.shapes;

/**
 * Axis-aligned box that conservatively contains a solid (the solid may be smaller, never larger).
 * Infinite extents are allowed for half-spaces and only become finite through intersection.
 */
public record Aabb(double minX, double minY, double minZ, double maxX, double maxY, double maxZ) {
    public static final Aabb INFINITE = new Aabb(
            Double.NEGATIVE_INFINITY, Double.NEGATIVE_INFINITY, Double.NEGATIVE_INFINITY,
            Double.POSITIVE_INFINITY, Double.POSITIVE_INFINITY, Double.POSITIVE_INFINITY);

    public static Aabb around(Vec3 center, double hx, double hy, double hz) {
        return new Aabb(center.x() - hx, center.y() - hy, center.z() - hz,
                center.x() + hx, center.y() + hy, center.z() + hz);
    }

    public Aabb union(Aabb o) {
        return new Aabb(Math.min(minX, o.minX), Math.min(minY, o.minY), Math.min(minZ, o.minZ),
                Math.max(maxX, o.maxX), Math.max(maxY, o.maxY), Math.max(maxZ, o.maxZ));
    }

    public Aabb intersect(Aabb o) {
        return new Aabb(Math.max(minX, o.minX), Math.max(minY, o.minY), Math.max(minZ, o.minZ),
                Math.min(maxX, o.maxX), Math.min(maxY, o.maxY), Math.min(maxZ, o.maxZ));
    }

    public Aabb expand(double d) {
        return new Aabb(minX - d, minY - d, minZ - d, maxX + d, maxY + d, maxZ + d);
    }

    public Aabb translate(double dx, double dy, double dz) {
        return new Aabb(minX + dx, minY + dy, minZ + dz, maxX + dx, maxY + dy, maxZ + dz);
    }

    public boolean isFinite() {
        return Double.isFinite(minX) && Double.isFinite(minY) && Double.isFinite(minZ)
                && Double.isFinite(maxX) && Double.isFinite(maxY) && Double.isFinite(maxZ);
    }

    public Vec3 center() { return new Vec3((minX + maxX) / 2, (minY + maxY) / 2, (minZ + maxZ) / 2); }

    public double maxExtent() { return Math.max(maxX - minX, Math.max(maxY - minY, maxZ - minZ)); }

    /** The AABB of this box's 8 corners mapped by the row-major 3x3 matrix {@code m}. */
    public Aabb rotate(double[] m) {
        if (!isFinite()) return INFINITE;
        double[] lo = {Double.POSITIVE_INFINITY, Double.POSITIVE_INFINITY, Double.POSITIVE_INFINITY};
        double[] hi = {Double.NEGATIVE_INFINITY, Double.NEGATIVE_INFINITY, Double.NEGATIVE_INFINITY};
        for (int c = 0; c < 8; c++) {
            double x = (c & 4) != 0 ? maxX : minX, y = (c & 2) != 0 ? maxY : minY, z = (c & 1) != 0 ? maxZ : minZ;
            for (int r = 0; r < 3; r++) {
                double v = m[3 * r] * x + m[3 * r + 1] * y + m[3 * r + 2] * z;
                lo[r] = Math.min(lo[r], v);
                hi[r] = Math.max(hi[r], v);
            }
        }
        return new Aabb(lo[0], lo[1], lo[2], hi[0], hi[1], hi[2]);
    }
}
