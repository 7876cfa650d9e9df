package org.voxflow.eval;

import java.util.List;
import java.util.stream.IntStream;

/**
 * Set-level generation metrics with the PointFlow protocol (Yang et al. 2019): every shape is a
 * cloud of (typically {@value #POINTS_PER_SHAPE}) surface points, compared with the PointFlow
 * Chamfer distance {@link PointCloudMetrics#chamferSquared} (squared NN distances, the two
 * directional means summed). Clouds are used as given: no re-centring or re-scaling here (the
 * shapes of this project are already normalised to the unit cube).
 *
 * <ul>
 * <li><b>MMD-CD</b> = mean over reference shapes Y of min over generated X of CD(X, Y): fidelity.</li>
 * <li><b>COV-CD</b> = |{argmin_Y CD(X, Y) : X generated}| / |reference|: the fraction of reference
 *     shapes that are the nearest reference of some generated shape.</li>
 * <li><b>1-NNA-CD</b>: pool the reference (label 1) and generated (label 0) shapes, classify each
 *     by the label of its nearest other member (leave-one-out 1-NN, self excluded), and report
 *     the accuracy; 0.5 is ideal. As in PointFlow's code the pool is ordered reference first, and
 *     ties here go to the lowest pool index.</li>
 * </ul>
 * All values are fractions (not percent). The distance matrices are computed in parallel; each
 * cell is written by one task and k-d trees are read-only, so results are deterministic.
 */
public final class GenerativeMetrics {
    public static final int POINTS_PER_SHAPE = 2048;

    public record Result(double mmdCd, double covCd, double oneNnaCd) {}

    private GenerativeMetrics() {}

    public static Result compute(List<float[]> generated, List<float[]> reference) {
        if (generated.isEmpty() || reference.isEmpty()) throw new IllegalArgumentException("need non-empty generated and reference sets");
        List<KdTree> gt = trees(generated), rt = trees(reference);
        double[][] gr = pairwise(generated, gt, reference, rt);
        double[][] rr = pairwiseSymmetric(reference, rt);
        double[][] gg = pairwiseSymmetric(generated, gt);
        return new Result(mmd(gr), coverage(gr), oneNna(rr, gr, gg));
    }

    /** CD matrix [i][j] = CD(a_i, b_j). */
    public static double[][] pairwiseChamfer(List<float[]> a, List<float[]> b) {
        return pairwise(a, trees(a), b, trees(b));
    }

    /** MMD from a generated x reference CD matrix. */
    public static double mmd(double[][] genRef) {
        int ng = genRef.length, nr = genRef[0].length;
        double sum = 0;
        for (int r = 0; r < nr; r++) {
            double best = Double.POSITIVE_INFINITY;
            for (int g = 0; g < ng; g++) best = Math.min(best, genRef[g][r]);
            sum += best;
        }
        return sum / nr;
    }

    /** COV from a generated x reference CD matrix (ties go to the lowest reference index). */
    public static double coverage(double[][] genRef) {
        int nr = genRef[0].length;
        boolean[] hit = new boolean[nr];
        for (double[] row : genRef) {
            int best = 0;
            for (int r = 1; r < nr; r++) if (row[r] < row[best]) best = r;
            hit[best] = true;
        }
        int c = 0;
        for (boolean h : hit) if (h) c++;
        return (double) c / nr;
    }

    /** 1-NN accuracy from the reference x reference, generated x reference and generated x generated CD matrices. */
    public static double oneNna(double[][] refRef, double[][] genRef, double[][] genGen) {
        int nr = refRef.length, ng = genGen.length, n = nr + ng;
        int correct = 0;
        for (int i = 0; i < n; i++) {
            boolean isRef = i < nr;
            double best = Double.POSITIVE_INFINITY;
            int bestJ = -1;
            for (int j = 0; j < n; j++) {
                if (j == i) continue;
                double d;
                if (isRef) d = j < nr ? refRef[i][j] : genRef[j - nr][i];
                else d = j < nr ? genRef[i - nr][j] : genGen[i - nr][j - nr];
                if (d < best || bestJ < 0) {
                    best = d;
                    bestJ = j;
                }
            }
            if ((bestJ < nr) == isRef) correct++;
        }
        return (double) correct / n;
    }

    private static List<KdTree> trees(List<float[]> clouds) {
        return clouds.parallelStream().map(KdTree::new).toList();
    }

    private static double[][] pairwise(List<float[]> a, List<KdTree> at, List<float[]> b, List<KdTree> bt) {
        int na = a.size(), nb = b.size();
        double[][] m = new double[na][nb];
        IntStream.range(0, na * nb).parallel().forEach(k -> {
            int i = k / nb, j = k % nb;
            m[i][j] = PointCloudMetrics.chamferSquared(a.get(i), at.get(i), b.get(j), bt.get(j));
        });
        return m;
    }

    private static double[][] pairwiseSymmetric(List<float[]> a, List<KdTree> at) {
        int n = a.size();
        double[][] m = new double[n][n];
        IntStream.range(0, n * n).parallel().forEach(k -> {
            int i = k / n, j = k % n;
            if (j <= i) return;
            double d = PointCloudMetrics.chamferSquared(a.get(i), at.get(i), a.get(j), at.get(j));
            m[i][j] = d;
            m[j][i] = d;
        });
        return m;
    }
}
