package org.voxflow.shapes;

/**
 * A signed distance function: negative inside the solid, positive outside, zero on the surface.
 *
 * <p>Every SDF built in this package is 1-Lipschitz ({@code |f(p) - f(q)| <= |p - q|}), i.e. an
 * exact distance or a lower bound of it. The voxelizer relies on that to skip empty space and to
 * guarantee that every voxel the surface passes through is found.
 * Implementations must be pure and thread-safe; they are evaluated from parallel streams.
 */
@FunctionalInterface
public interface Sdf {
    /** Signed distance at point (x, y, z). */
    double distance(double x, double y, double z);
}
