package org.voxflow.shapes;

import java.util.stream.IntStream;

/**
 * Finds the active voxels of a solid: the voxels of an R^3 grid over [-0.5, 0.5]^3 whose closed
 * cube meets the surface (the zero set of the SDF).
 *
 * <p>Voxel (x, y, z) covers [-0.5 + x/R, -0.5 + (x+1)/R] along x (likewise y, z); dense grids
 * are indexed {@code (x * R + y) * R + z} and coordinate lists are flat {@code int[3N]} triples
 * sorted by (x, y, z), x-major, as TRELLIS orders its sparse voxels.
 *
 * <p>The test, for a 1-Lipschitz SDF f (|f| never exceeds the true distance to the surface):
 * a cube with centre c and half-diagonal h is rejected when |f(c)| > h (the surface is farther
 * than any point of the cube). Otherwise it is split into 8 sub-cubes; if two sub-cube centres
 * have opposite signs (or one is exactly 0), the surface crosses the segment between them, which
 * lies in the cube, so the voxel is accepted. Sub-cubes not rejected are refined the same way
 * down to {@link #REFINE_DEPTH} levels (1/4 of a voxel), where a surviving sub-cube accepts.
 * Hence every voxel that truly meets the surface is active, including every voxel with a sign
 * change between its corners (which sparse marching cubes needs for a watertight mesh), and
 * the false positives lie within about a quarter voxel's half-diagonal (0.22 voxel) of the surface.
 * The plain half-diagonal test alone would keep a band about 1.7 voxels wide around a plane.
 */
public final class Voxelizer {
    /** Subdivision levels below a voxel in the exactness refinement. */
    public static final int REFINE_DEPTH = 2;
    private static final double SQRT3 = Math.sqrt(3);
    private static final int BLOCK = 4;

    private Voxelizer() {}

    /** World coordinate of lattice plane {@code k} (0..R): -0.5 + k / R. */
    public static double latticePosition(int k, int r) { return -0.5 + (double) k / r; }

    /** World coordinate of the centre of voxel index {@code i}. */
    public static double voxelCenter(int i, int r) { return -0.5 + (i + 0.5) / r; }

    /** Dense active-voxel grid, {@code boolean[R^3]} indexed (x * R + y) * R + z. */
    public static boolean[] activeGrid(Sdf sdf, int r) {
        if (r <= 0) throw new IllegalArgumentException("resolution must be positive: " + r);
        boolean[] grid = new boolean[r * r * r];
        int nb = (r + BLOCK - 1) / BLOCK;
        double voxelHalf = 0.5 / r;
        // blocks are independent and write disjoint cells, so the parallel result is deterministic
        IntStream.range(0, nb * nb * nb).parallel().forEach(b -> {
            int bx = b / (nb * nb), by = (b / nb) % nb, bz = b % nb;
            int x0 = bx * BLOCK, y0 = by * BLOCK, z0 = bz * BLOCK;
            int x1 = Math.min(x0 + BLOCK, r), y1 = Math.min(y0 + BLOCK, r), z1 = Math.min(z0 + BLOCK, r);
            double cx = -0.5 + (x0 + x1) * 0.5 / r, cy = -0.5 + (y0 + y1) * 0.5 / r, cz = -0.5 + (z0 + z1) * 0.5 / r;
            double hx = (x1 - x0) * 0.5 / r, hy = (y1 - y0) * 0.5 / r, hz = (z1 - z0) * 0.5 / r;
            if (Math.abs(sdf.distance(cx, cy, cz)) > Math.sqrt(hx * hx + hy * hy + hz * hz)) return;
            for (int x = x0; x < x1; x++) {
                for (int y = y0; y < y1; y++) {
                    for (int z = z0; z < z1; z++) {
                        if (meetsSurface(sdf, voxelCenter(x, r), voxelCenter(y, r), voxelCenter(z, r), voxelHalf, REFINE_DEPTH)) {
                            grid[(x * r + y) * r + z] = true;
                        }
                    }
                }
            }
        });
        return grid;
    }

    /** Active voxels as flat (x, y, z) triples in x-major order. */
    public static int[] activeCoords(Sdf sdf, int r) {
        return gridToCoords(activeGrid(sdf, r), r);
    }

    /** Whether the cube of centre (x, y, z) and half side {@code half} meets the zero set (see class doc). */
    static boolean meetsSurface(Sdf sdf, double x, double y, double z, double half, int depth) {
        double d = sdf.distance(x, y, z);
        if (Math.abs(d) > half * SQRT3) return false;
        if (depth == 0) return true;
        double q = half / 2;
        double[] sub = new double[8];
        boolean neg = false, pos = false;
        for (int c = 0; c < 8; c++) {
            double v = sdf.distance(x + ((c & 4) != 0 ? q : -q), y + ((c & 2) != 0 ? q : -q), z + ((c & 1) != 0 ? q : -q));
            sub[c] = v;
            if (v == 0) return true;
            if (v < 0) neg = true; else pos = true;
        }
        if (neg && pos) return true;
        for (int c = 0; c < 8; c++) {
            if (Math.abs(sub[c]) > q * SQRT3) continue;
            if (meetsSurfaceKnown(sdf, x + ((c & 4) != 0 ? q : -q), y + ((c & 2) != 0 ? q : -q), z + ((c & 1) != 0 ? q : -q), q, depth - 1)) {
                return true;
            }
        }
        return false;
    }

    /** As {@link #meetsSurface}, for a cube whose centre was already found within its half-diagonal. */
    private static boolean meetsSurfaceKnown(Sdf sdf, double x, double y, double z, double half, int depth) {
        if (depth == 0) return true;
        return meetsSurface(sdf, x, y, z, half, depth);
    }

    public static int[] gridToCoords(boolean[] grid, int r) {
        checkGrid(grid, r);
        int n = 0;
        for (boolean b : grid) if (b) n++;
        int[] out = new int[3 * n];
        int k = 0;
        for (int i = 0; i < grid.length; i++) {
            if (!grid[i]) continue;
            out[k++] = i / (r * r);
            out[k++] = (i / r) % r;
            out[k++] = i % r;
        }
        return out;
    }

    public static boolean[] coordsToGrid(int[] coords, int r) {
        if (coords.length % 3 != 0) throw new IllegalArgumentException("coords length not a multiple of 3");
        boolean[] grid = new boolean[r * r * r];
        for (int i = 0; i < coords.length; i += 3) {
            int x = coords[i], y = coords[i + 1], z = coords[i + 2];
            if (x < 0 || y < 0 || z < 0 || x >= r || y >= r || z >= r) {
                throw new IllegalArgumentException("voxel (" + x + "," + y + "," + z + ") outside grid " + r);
            }
            grid[(x * r + y) * r + z] = true;
        }
        return grid;
    }

    static void checkGrid(boolean[] grid, int r) {
        if ((long) r * r * r != grid.length) throw new IllegalArgumentException("grid length " + grid.length + " != " + r + "^3");
    }
}
