package org.voxflow.shapes;

import java.util.stream.IntStream;

/**
 * Stage-2 (structured) latent: for every active voxel, the signed distance at its 8 corners, in
 * voxel units (world distance x R), clamped to [-{@link #CLAMP}, {@link #CLAMP}].
 *
 * <p>Layout: {@code float[8N]}, voxel-major in the order of the coordinate list, corner
 * {@code k = dx * 4 + dy * 2 + dz} at lattice point (x + dx, y + dy, z + dz), i.e. world position
 * {@code -0.5 + (x + dx) / R} etc. (same bit order as the stage-1 channels).
 *
 * <p>CLAMP = 2: an active voxel's centre is within sqrt(3)/2 voxel of the surface and its corners a
 * further sqrt(3)/2 away, so for 1-Lipschitz SDFs every corner value already lies in
 * [-1.74, 1.74]; clamping only guards against generated or non-Lipschitz values, and keeps the
 * channel scale fixed for normalisation.
 */
public final class Stage2Latent {
    public static final int CHANNELS = 8;
    public static final float CLAMP = 2f;

    private Stage2Latent() {}

    /** Corner SDF values for the voxels {@code coords} (flat x,y,z triples) of an R^3 grid. */
    public static float[] cornerValues(Sdf sdf, int[] coords, int r) {
        if (coords.length % 3 != 0) throw new IllegalArgumentException("coords length not a multiple of 3");
        int n = coords.length / 3;
        float[] out = new float[CHANNELS * n];
        IntStream.range(0, n).parallel().forEach(i -> {
            int x = coords[3 * i], y = coords[3 * i + 1], z = coords[3 * i + 2];
            for (int k = 0; k < CHANNELS; k++) {
                double d = sdf.distance(
                        Voxelizer.latticePosition(x + ((k >> 2) & 1), r),
                        Voxelizer.latticePosition(y + ((k >> 1) & 1), r),
                        Voxelizer.latticePosition(z + (k & 1), r)) * r;
                out[CHANNELS * i + k] = (float) Math.max(-CLAMP, Math.min(CLAMP, d));
            }
        });
        return out;
    }
}
