package org.voxflow.eval;

import java.util.HashSet;
import java.util.Set;

/** Overlap of voxel sets. */
public final class VoxelMetrics {
    private VoxelMetrics() {}

    /**
     * Intersection over union |A ∩ B| / |A ∪ B| of two dense occupancy grids of equal size;
     * defined as 1 when both are empty (identical empty sets).
     */
    public static double iou(boolean[] a, boolean[] b) {
        if (a.length != b.length) throw new IllegalArgumentException("grid sizes differ: " + a.length + " vs " + b.length);
        long inter = 0, union = 0;
        for (int i = 0; i < a.length; i++) {
            if (a[i] && b[i]) inter++;
            if (a[i] || b[i]) union++;
        }
        return union == 0 ? 1.0 : (double) inter / union;
    }

    /** IoU of two voxel sets given as flat (x, y, z) triples; duplicates count once. */
    public static double iou(int[] coordsA, int[] coordsB) {
        Set<Long> a = toSet(coordsA), b = toSet(coordsB);
        long inter = 0;
        for (Long k : a) if (b.contains(k)) inter++;
        long union = a.size() + b.size() - inter;
        return union == 0 ? 1.0 : (double) inter / union;
    }

    private static Set<Long> toSet(int[] coords) {
        if (coords.length % 3 != 0) throw new IllegalArgumentException("coords length not a multiple of 3");
        Set<Long> s = new HashSet<>(coords.length);
        for (int i = 0; i < coords.length; i += 3) {
            s.add(((long) coords[i] << 42) ^ ((long) (coords[i + 1] & 0x1FFFFF) << 21) ^ (coords[i + 2] & 0x1FFFFF));
        }
        return s;
    }
}
