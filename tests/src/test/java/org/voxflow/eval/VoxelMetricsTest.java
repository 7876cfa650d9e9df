package org.voxflow.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;
import org.voxflow.shapes.ShapeFamily;
import org.voxflow.shapes.Voxelizer;

class VoxelMetricsTest {
    private static final int R = 4;

    private static boolean[] grid(int[][] voxels) {
        boolean[] g = new boolean[R * R * R];
        for (int[] v : voxels) g[(v[0] * R + v[1]) * R + v[2]] = true;
        return g;
    }

    @Test
    void identicalSetsHaveIouOne() {
        boolean[] g = Voxelizer.activeGrid(ShapeFamily.SOFA.sample(1L).sdf(), 32);
        assertEquals(1.0, VoxelMetrics.iou(g, g.clone()));
        int[] c = Voxelizer.gridToCoords(g, 32);
        assertEquals(1.0, VoxelMetrics.iou(c, c.clone()));
        assertEquals(1.0, VoxelMetrics.iou(new boolean[8], new boolean[8]));
    }

    @Test
    void oneVoxelShiftMatchesHandCount() {
        // an L of 4 voxels: (0,0,0) (1,0,0) (2,0,0) (2,1,0); shifted by +1 in x: (1,0,0) (2,0,0) (3,0,0) (3,1,0)
        // intersection {(1,0,0), (2,0,0)} = 2, union = 4 + 4 - 2 = 6
        int[][] a = {{0, 0, 0}, {1, 0, 0}, {2, 0, 0}, {2, 1, 0}};
        int[][] b = {{1, 0, 0}, {2, 0, 0}, {3, 0, 0}, {3, 1, 0}};
        assertEquals(2.0 / 6, VoxelMetrics.iou(grid(a), grid(b)), 1e-15);
        assertEquals(2.0 / 6, VoxelMetrics.iou(flat(a), flat(b)), 1e-15);
        // shift by +1 in y instead: (0,1,0) (1,1,0) (2,1,0) (2,2,0); intersection {(2,1,0)} = 1, union 7
        int[][] c = {{0, 1, 0}, {1, 1, 0}, {2, 1, 0}, {2, 2, 0}};
        assertEquals(1.0 / 7, VoxelMetrics.iou(grid(a), grid(c)), 1e-15);
    }

    private static int[] flat(int[][] v) {
        int[] out = new int[3 * v.length];
        for (int i = 0; i < v.length; i++) System.arraycopy(v[i], 0, out, 3 * i, 3);
        return out;
    }
}
