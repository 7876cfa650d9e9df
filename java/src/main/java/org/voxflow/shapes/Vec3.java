package org.voxflow.shapes;

/** Immutable 3-vector used while building shapes (never on the per-point evaluation path). */
public record Vec3(double x, double y, double z) {
    public static final Vec3 ZERO = new Vec3(0, 0, 0);

    public static Vec3 of(double x, double y, double z) { return new Vec3(x, y, z); }

    public Vec3 plus(Vec3 o) { return new Vec3(x + o.x, y + o.y, z + o.z); }

    public Vec3 minus(Vec3 o) { return new Vec3(x - o.x, y - o.y, z - o.z); }

    public Vec3 times(double s) { return new Vec3(x * s, y * s, z * s); }

    public double dot(Vec3 o) { return x * o.x + y * o.y + z * o.z; }

    public double length() { return Math.sqrt(dot(this)); }
}
