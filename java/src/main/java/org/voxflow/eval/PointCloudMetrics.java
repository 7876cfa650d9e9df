package org.voxflow.eval;

/**
 * Distances between point clouds (flat x, y, z floats), two conventions:
 *
 * <ul>
 * <li><b>Chamfer-L1</b> (Occupancy Networks / TRELLIS reconstruction convention): with
 *     {@code d(p, S) = min_{s in S} ||p - s||_2} (Euclidean, not squared),
 *     {@code CD_L1(A, B) = 0.5 * (mean_{a in A} d(a, B) + mean_{b in B} d(b, A))}.
 *     "L1" refers to using unsquared distances.</li>
 * <li><b>F-score@tau</b> (Tatarchenko et al.): precision = fraction of predicted points with
 *     {@code d(p, GT) < tau}, recall = fraction of ground-truth points with {@code d(g, PRED) < tau},
 *     {@code F = 2 P R / (P + R)} (0 when both are 0). Default tau = 0.01 = 1% of the unit cube's side.</li>
 * <li><b>Chamfer (PointFlow)</b>, used by the generative metrics:
 *     {@code CD(A, B) = mean_{a} d(a, B)^2 + mean_{b} d(b, A)^2} (squared distances, the two
 *     means summed, not averaged).</li>
 * </ul>
 * Distances to an empty cloud are +infinity.
 */
public final class PointCloudMetrics {
    public static final double DEFAULT_TAU = 0.01;

    /** Chamfer-L1, F-score and its precision/recall at one threshold, from a single pair of NN passes. */
    public record Reconstruction(double chamferL1, double fScore, double precision, double recall, double tau) {}

    private PointCloudMetrics() {}

    /** Euclidean distance from every point of {@code from} to its nearest point in {@code to}. */
    public static double[] nearestDistances(float[] from, KdTree to) {
        int n = from.length / 3;
        double[] d = new double[n];
        for (int i = 0; i < n; i++) d[i] = Math.sqrt(to.nearestSquaredDistance(from[3 * i], from[3 * i + 1], from[3 * i + 2]));
        return d;
    }

    public static double chamferL1(float[] a, float[] b) {
        return reconstruction(a, b, DEFAULT_TAU).chamferL1();
    }

    public static double fScore(float[] pred, float[] gt, double tau) {
        return reconstruction(pred, gt, tau).fScore();
    }

    /** All reconstruction metrics of {@code pred} against {@code gt}. */
    public static Reconstruction reconstruction(float[] pred, float[] gt, double tau) {
        return reconstruction(pred, new KdTree(pred), gt, new KdTree(gt), tau);
    }

    static Reconstruction reconstruction(float[] pred, KdTree predTree, float[] gt, KdTree gtTree, double tau) {
        if (pred.length == 0 || gt.length == 0) return new Reconstruction(Double.POSITIVE_INFINITY, 0, 0, 0, tau);
        double[] dp = nearestDistances(pred, gtTree), dg = nearestDistances(gt, predTree);
        double precision = fractionBelow(dp, tau), recall = fractionBelow(dg, tau);
        double f = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0;
        return new Reconstruction(0.5 * (mean(dp) + mean(dg)), f, precision, recall, tau);
    }

    /** PointFlow Chamfer distance (squared NN distances, means summed). */
    public static double chamferSquared(float[] a, float[] b) {
        return chamferSquared(a, new KdTree(a), b, new KdTree(b));
    }

    static double chamferSquared(float[] a, KdTree aTree, float[] b, KdTree bTree) {
        if (a.length == 0 || b.length == 0) return Double.POSITIVE_INFINITY;
        return meanSquaredNearest(a, bTree) + meanSquaredNearest(b, aTree);
    }

    private static double meanSquaredNearest(float[] from, KdTree to) {
        int n = from.length / 3;
        double s = 0;
        for (int i = 0; i < n; i++) s += to.nearestSquaredDistance(from[3 * i], from[3 * i + 1], from[3 * i + 2]);
        return s / n;
    }

    private static double mean(double[] v) {
        double s = 0;
        for (double x : v) s += x;
        return s / v.length;
    }

    private static double fractionBelow(double[] v, double tau) {
        int c = 0;
        for (double x : v) if (x < tau) c++;
        return (double) c / v.length;
    }
}
