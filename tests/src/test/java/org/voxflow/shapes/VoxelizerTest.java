package org.voxflow.shapes;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class VoxelizerTest {
    @Test
    void sphereVoxelsContainEveryIntersectedCubeWithFewExtras() {
        int r = 32;
        double cx = 0.013, cy = -0.02, cz = 0.004, rad = 0.31;
        boolean[] got = Voxelizer.activeGrid(Primitives.sphere(Vec3.of(cx, cy, cz), rad).sdf(), r);
        int exact = 0, extra = 0;
        double h = 1.0 / r;
        for (int x = 0; x < r; x++) {
            for (int y = 0; y < r; y++) {
                for (int z = 0; z < r; z++) {
                    double[] lo = {-0.5 + x * h - cx, -0.5 + y * h - cy, -0.5 + z * h - cz};
                    double near = 0, far = 0;
                    for (double l : lo) {
                        double u = l + h;
                        double n = l > 0 ? l : u < 0 ? -u : 0, f = Math.max(Math.abs(l), Math.abs(u));
                        near += n * n;
                        far += f * f;
                    }
                    boolean meets = Math.sqrt(near) <= rad && rad <= Math.sqrt(far);
                    boolean active = got[(x * r + y) * r + z];
                    if (meets) {
                        assertTrue(active, "missed voxel " + x + "," + y + "," + z);
                        exact++;
                    } else if (active) {
                        extra++;
                        // false positives stay within a quarter voxel's half-diagonal of the surface
                        double px = -0.5 + (x + 0.5) * h - cx, py = -0.5 + (y + 0.5) * h - cy, pz = -0.5 + (z + 0.5) * h - cz;
                        assertTrue(Math.abs(Math.sqrt(px * px + py * py + pz * pz) - rad) < 0.87 * h + 0.22 * h);
                    }
                }
            }
        }
        assertTrue(extra < 0.1 * exact, "too many extra voxels: " + extra + " vs " + exact);
    }

    @Test
    void everyCubeWithACornerSignChangeIsActive() {
        Shape s = ShapeFamily.CHAIR.sample(5L);
        int r = 32;
        boolean[] active = Voxelizer.activeGrid(s.sdf(), r);
        for (int x = 0; x < r; x++) {
            for (int y = 0; y < r; y++) {
                for (int z = 0; z < r; z++) {
                    boolean neg = false, pos = false;
                    for (int k = 0; k < 8; k++) {
                        double d = s.distance(Voxelizer.latticePosition(x + (k >> 2 & 1), r), Voxelizer.latticePosition(y + (k >> 1 & 1), r),
                                Voxelizer.latticePosition(z + (k & 1), r));
                        if (d < 0) neg = true; else pos = true;
                    }
                    if (neg && pos) assertTrue(active[(x * r + y) * r + z], "sign-change voxel inactive");
                }
            }
        }
    }

    @Test
    void coordsAreXMajorAndConvertBack() {
        int r = 16;
        boolean[] grid = Voxelizer.activeGrid(Primitives.torus(Vec3.ZERO, 0.3, 0.08).sdf(), r);
        int[] c = Voxelizer.gridToCoords(grid, r);
        for (int i = 3; i < c.length; i += 3) {
            long prev = ((long) c[i - 3] * r + c[i - 2]) * r + c[i - 1], cur = ((long) c[i] * r + c[i + 1]) * r + c[i + 2];
            assertTrue(cur > prev, "not sorted x-major");
        }
        assertArrayEquals(grid, Voxelizer.coordsToGrid(c, r));
        assertEquals(-0.5 + 0.5 / r, Voxelizer.voxelCenter(0, r));
    }
}
