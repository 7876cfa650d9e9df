package org.voxflow.shapes;

/**
 * Stage-1 (sparse structure) latent: the +1/-1 occupancy of an R^3 grid folded by space-to-depth
 * into 8 channels of (R/2)^3, e.g. 8 x 16^3 for R = 32. The map is a permutation, hence exactly
 * invertible: decoding takes sign > 0 as active.
 *
 * <p>Layout {@code [c][X][Y][Z]} (Z fastest), with channel {@code c = dx * 4 + dy * 2 + dz} holding
 * voxel {@code (2X + dx, 2Y + dy, 2Z + dz)} of the 2x2x2 block; the occupancy grid is indexed
 * {@code (x * R + y) * R + z}.
 */
public final class Stage1Latent {
    public static final int CHANNELS = 8;

    private Stage1Latent() {}

    public static float[] toStage1Latent(boolean[] occupancy, int r) {
        Voxelizer.checkGrid(occupancy, r);
        if (r % 2 != 0) throw new IllegalArgumentException("resolution must be even: " + r);
        int h = r / 2, h3 = h * h * h;
        float[] latent = new float[CHANNELS * h3];
        for (int c = 0; c < CHANNELS; c++) {
            int dx = (c >> 2) & 1, dy = (c >> 1) & 1, dz = c & 1;
            for (int x = 0; x < h; x++) {
                for (int y = 0; y < h; y++) {
                    for (int z = 0; z < h; z++) {
                        boolean on = occupancy[((2 * x + dx) * r + 2 * y + dy) * r + 2 * z + dz];
                        latent[c * h3 + (x * h + y) * h + z] = on ? 1f : -1f;
                    }
                }
            }
        }
        return latent;
    }

    /** Inverse of {@link #toStage1Latent}; the grid side R is inferred from the length 8 (R/2)^3. */
    public static boolean[] fromStage1Latent(float[] latent) {
        return fromStage1Latent(latent, resolutionOf(latent.length));
    }

    public static boolean[] fromStage1Latent(float[] latent, int r) {
        int h = r / 2, h3 = h * h * h;
        if (r % 2 != 0 || latent.length != CHANNELS * h3) {
            throw new IllegalArgumentException("latent length " + latent.length + " does not match resolution " + r);
        }
        boolean[] occ = new boolean[r * r * r];
        for (int c = 0; c < CHANNELS; c++) {
            int dx = (c >> 2) & 1, dy = (c >> 1) & 1, dz = c & 1;
            for (int x = 0; x < h; x++) {
                for (int y = 0; y < h; y++) {
                    for (int z = 0; z < h; z++) {
                        occ[((2 * x + dx) * r + 2 * y + dy) * r + 2 * z + dz] = latent[c * h3 + (x * h + y) * h + z] > 0;
                    }
                }
            }
        }
        return occ;
    }

    /** The grid side R for a latent of {@code length} floats. */
    public static int resolutionOf(int length) {
        if (length % CHANNELS != 0) throw new IllegalArgumentException("latent length " + length + " not a multiple of 8");
        int h3 = length / CHANNELS;
        int h = (int) Math.round(Math.cbrt(h3));
        if (h * h * h != h3) throw new IllegalArgumentException("latent length " + length + " is not 8 * n^3");
        return 2 * h;
    }
}
