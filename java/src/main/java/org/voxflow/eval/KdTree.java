package org.voxflow.eval;

/**
 * Static 3-d tree for exact nearest-neighbour queries on a point cloud (flat x, y, z floats).
 *
 * <p>The tree is implicit: points are reordered so that every index range is split at its middle
 * element along the axis of largest spread, down to leaves of at most {@value #LEAF} points.
 * Immutable after construction, so concurrent queries are safe.
 */
public final class KdTree {
    private static final int LEAF = 8;

    private final float[] xs, ys, zs;
    private final int[] original; // original index of each reordered point
    private final byte[] axis; // split axis of the node whose middle element is i

    public KdTree(float[] points) {
        if (points.length % 3 != 0) throw new IllegalArgumentException("points length not a multiple of 3");
        int n = points.length / 3;
        xs = new float[n];
        ys = new float[n];
        zs = new float[n];
        original = new int[n];
        axis = new byte[n];
        for (int i = 0; i < n; i++) {
            xs[i] = points[3 * i];
            ys[i] = points[3 * i + 1];
            zs[i] = points[3 * i + 2];
            original[i] = i;
        }
        build(0, n);
    }

    public int size() { return xs.length; }

    /** Squared distance from (x, y, z) to the nearest point; +infinity for an empty tree. */
    public double nearestSquaredDistance(double x, double y, double z) {
        Query q = new Query(x, y, z);
        search(0, xs.length, q);
        return q.best;
    }

    /** Index (in the input order) of the nearest point, or -1 for an empty tree. */
    public int nearestIndex(double x, double y, double z) {
        Query q = new Query(x, y, z);
        search(0, xs.length, q);
        return q.bestIndex < 0 ? -1 : original[q.bestIndex];
    }

    private static final class Query {
        final double x, y, z;
        double best = Double.POSITIVE_INFINITY;
        int bestIndex = -1;

        Query(double x, double y, double z) {
            this.x = x;
            this.y = y;
            this.z = z;
        }
    }

    private void search(int lo, int hi, Query q) {
        if (hi - lo <= LEAF) {
            for (int i = lo; i < hi; i++) visit(i, q);
            return;
        }
        int mid = (lo + hi) >>> 1;
        visit(mid, q);
        double diff = switch (axis[mid]) {
            case 0 -> q.x - xs[mid];
            case 1 -> q.y - ys[mid];
            default -> q.z - zs[mid];
        };
        if (diff < 0) {
            search(lo, mid, q);
            if (diff * diff < q.best) search(mid + 1, hi, q);
        } else {
            search(mid + 1, hi, q);
            if (diff * diff < q.best) search(lo, mid, q);
        }
    }

    private void visit(int i, Query q) {
        double dx = q.x - xs[i], dy = q.y - ys[i], dz = q.z - zs[i];
        double d = dx * dx + dy * dy + dz * dz;
        if (d < q.best) {
            q.best = d;
            q.bestIndex = i;
        }
    }

    private void build(int lo, int hi) {
        if (hi - lo <= LEAF) return;
        float[] lo3 = {Float.MAX_VALUE, Float.MAX_VALUE, Float.MAX_VALUE}, hi3 = {-Float.MAX_VALUE, -Float.MAX_VALUE, -Float.MAX_VALUE};
        for (int i = lo; i < hi; i++) {
            lo3[0] = Math.min(lo3[0], xs[i]);
            hi3[0] = Math.max(hi3[0], xs[i]);
            lo3[1] = Math.min(lo3[1], ys[i]);
            hi3[1] = Math.max(hi3[1], ys[i]);
            lo3[2] = Math.min(lo3[2], zs[i]);
            hi3[2] = Math.max(hi3[2], zs[i]);
        }
        int ax = 0;
        for (int k = 1; k < 3; k++) if (hi3[k] - lo3[k] > hi3[ax] - lo3[ax]) ax = k;
        int mid = (lo + hi) >>> 1;
        select(lo, hi - 1, mid, ax);
        axis[mid] = (byte) ax;
        build(lo, mid);
        build(mid + 1, hi);
    }

    private float coord(int i, int ax) { return ax == 0 ? xs[i] : ax == 1 ? ys[i] : zs[i]; }

    /** Quickselect: afterwards element k is in sorted position along {@code ax} within [left, right]. */
    private void select(int left, int right, int k, int ax) {
        while (right > left) {
            int m = (left + right) >>> 1;
            // median of three as pivot
            if (coord(m, ax) < coord(left, ax)) swap(m, left);
            if (coord(right, ax) < coord(left, ax)) swap(right, left);
            if (coord(right, ax) < coord(m, ax)) swap(right, m);
            float pivot = coord(m, ax);
            int i = left, j = right;
            while (i <= j) {
                while (coord(i, ax) < pivot) i++;
                while (coord(j, ax) > pivot) j--;
                if (i <= j) {
                    swap(i, j);
                    i++;
                    j--;
                }
            }
            if (k <= j) right = j;
            else if (k >= i) left = i;
            else return;
        }
    }

    private void swap(int a, int b) {
        float t = xs[a]; xs[a] = xs[b]; xs[b] = t;
        t = ys[a]; ys[a] = ys[b]; ys[b] = t;
        t = zs[a]; zs[a] = zs[b]; zs[b] = t;
        int o = original[a]; original[a] = original[b]; original[b] = o;
    }
}
