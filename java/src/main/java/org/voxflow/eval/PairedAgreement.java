package org.voxflow.eval;

import java.util.ArrayList;
import java.util.List;
import org.voxflow.mesh.Mesh;

/**
 * Teacher-student agreement on paired outputs (same noise, same condition): per pair the voxel
 * IoU of the two occupancy grids ({@link VoxelMetrics#iou(boolean[], boolean[])}) and the
 * Chamfer-L1 and F-score@1% of their surface samples ({@link PointCloudMetrics}, ONet
 * convention, with the student as prediction and the teacher as reference), and the means over
 * pairs.
 */
public final class PairedAgreement {
    /** One output: its occupancy grid and surface points (either may be null if not compared). */
    public record Sample(boolean[] occupancy, float[] points) {
        /** Occupancy plus {@code n} area-weighted surface samples of {@code mesh}. */
        public static Sample of(boolean[] occupancy, Mesh mesh, int n, long seed) {
            return new Sample(occupancy, SurfaceSampler.sample(mesh, n, seed));
        }
    }

    public record Pair(double iou, double chamferL1, double fScore) {}

    /** Per-pair values and their means (NaN when a metric was not computed). */
    public record Summary(List<Pair> pairs, double meanIou, double meanChamferL1, double meanFScore) {}

    private PairedAgreement() {}

    public static Summary compare(List<Sample> teacher, List<Sample> student) {
        if (teacher.size() != student.size()) throw new IllegalArgumentException("teacher and student lists differ in length");
        List<Pair> pairs = new ArrayList<>(teacher.size());
        double si = 0, sc = 0, sf = 0;
        for (int k = 0; k < teacher.size(); k++) {
            Sample t = teacher.get(k), s = student.get(k);
            double iou = t.occupancy() != null && s.occupancy() != null ? VoxelMetrics.iou(t.occupancy(), s.occupancy()) : Double.NaN;
            double cd = Double.NaN, f = Double.NaN;
            if (t.points() != null && s.points() != null) {
                PointCloudMetrics.Reconstruction r = PointCloudMetrics.reconstruction(s.points(), t.points(), PointCloudMetrics.DEFAULT_TAU);
                cd = r.chamferL1();
                f = r.fScore();
            }
            pairs.add(new Pair(iou, cd, f));
            si += iou;
            sc += cd;
            sf += f;
        }
        int n = pairs.size();
        if (n == 0) return new Summary(List.of(), Double.NaN, Double.NaN, Double.NaN);
        return new Summary(List.copyOf(pairs), si / n, sc / n, sf / n);
    }
}
