package org.voxflow.mesh;

/**
 * Perspective camera on a sphere around the origin, looking at the origin with y up.
 * Yaw turns around y (0 looks from +z, positive moves the camera towards +x), pitch raises it.
 */
public record Camera(double yawDeg, double pitchDeg, double distance, double fovDeg) {
    public Camera {
        if (!(distance > 0)) throw new IllegalArgumentException("camera distance must be positive");
        if (!(fovDeg > 0 && fovDeg < 180)) throw new IllegalArgumentException("fov must be in (0, 180)");
        if (Math.abs(pitchDeg) >= 90) throw new IllegalArgumentException("|pitch| must be < 90");
    }

    /** Three-quarter view from front-right and above. */
    public static Camera defaultView() { return new Camera(35, 25, 2.6, 30); }

    public Camera withYaw(double yaw) { return new Camera(yaw, pitchDeg, distance, fovDeg); }

    public Camera withPitch(double pitch) { return new Camera(yawDeg, pitch, distance, fovDeg); }

    /** Camera position in world space. */
    double[] eye() {
        double y = Math.toRadians(yawDeg), p = Math.toRadians(pitchDeg);
        return new double[] {distance * Math.cos(p) * Math.sin(y), distance * Math.sin(p), distance * Math.cos(p) * Math.cos(y)};
    }
}
