package org.voxflow.tensor;

import java.util.Arrays;

/** Shape arithmetic shared by every backend. */
public final class Shapes {
    private Shapes() {}

    public static long numel(int[] shape) {
        long n = 1;
        for (int d : shape) {
            if (d < 0) throw new IllegalArgumentException("negative dimension in " + Arrays.toString(shape));
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    public static int numelInt(int[] shape) { return Math.toIntExact(numel(shape)); }

    public static long[] contiguousStrides(int[] shape) {
        long[] st = new long[shape.length];
        long s = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            st[i] = s;
            s *= Math.max(shape[i], 1);
        }
        return st;
    }

    /** Normalizes a possibly negative axis. */
    public static int axis(int axis, int rank) {
        int a = axis < 0 ? axis + rank : axis;
        if (a < 0 || a >= rank) throw new IllegalArgumentException("axis " + axis + " out of range for rank " + rank);
        return a;
    }

    public static int[] inferReshape(int[] target, long numel, int[] from) {
        int[] s = target.clone();
        int infer = -1;
        long known = 1;
        for (int i = 0; i < s.length; i++) {
            if (s[i] == -1) {
                if (infer >= 0) throw new IllegalArgumentException("reshape with two -1 dimensions");
                infer = i;
            } else known *= s[i];
        }
        if (infer >= 0) {
            if (known == 0 || numel % known != 0) throw new IllegalArgumentException("cannot reshape " + Arrays.toString(from) + " to " + Arrays.toString(target));
            s[infer] = (int) (numel / known);
        }
        if (numel(s) != numel) throw new IllegalArgumentException("cannot reshape " + Arrays.toString(from) + " (" + numel + " elements) to " + Arrays.toString(target));
        return s;
    }

    /** NumPy broadcasting of two shapes. */
    public static int[] broadcast(int[] a, int[] b) {
        int r = Math.max(a.length, b.length);
        int[] out = new int[r];
        for (int i = 0; i < r; i++) {
            int da = i - (r - a.length) >= 0 ? a[i - (r - a.length)] : 1;
            int db = i - (r - b.length) >= 0 ? b[i - (r - b.length)] : 1;
            if (da != db && da != 1 && db != 1)
                throw new IllegalArgumentException("shapes " + Arrays.toString(a) + " and " + Arrays.toString(b) + " do not broadcast");
            out[i] = da == 1 ? db : da;
        }
        return out;
    }

    public static int[] concat(int[] a, int... b) {
        int[] r = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }

    /**
     * The shape of xs concatenated along an axis (negative counts from the end), after checking that they agree in
     * rank, dtype and every other dimension: the validation every backend's concat shares.
     */
    public static int[] concatenated(Tensor[] xs, int axis) {
        if (xs.length == 0) throw new IllegalArgumentException("concat of nothing");
        int r = xs[0].dim();
        int ax = axis(axis, r);
        int[] shape = xs[0].shape();
        int total = 0;
        for (Tensor x : xs) {
            int[] s = x.shape();
            if (s.length != r) throw new IllegalArgumentException("concat of ranks " + r + " and " + s.length);
            for (int i = 0; i < r; i++)
                if (i != ax && s[i] != shape[i])
                    throw new IllegalArgumentException("concat along " + ax + ": shapes " + Arrays.toString(shape) + " and " + Arrays.toString(s));
            if (x.dtype() != xs[0].dtype()) throw new IllegalArgumentException("concat of " + xs[0].dtype() + " and " + x.dtype());
            total += s[ax];
        }
        shape[ax] = total;
        return shape;
    }

    /**
     * Checks that the named operands (null ones are absent and skipped) share the first one's shape and are float
     * tensors: the rule of the fused elementwise ops, which do not broadcast.
     */
    public static void sameFloatShapes(String op, String[] names, Tensor... xs) {
        int[] shape = xs[0].shape();
        for (int i = 0; i < xs.length; i++) {
            if (xs[i] == null) continue;
            if (!xs[i].dtype().isFloating()) throw new IllegalArgumentException(op + ": " + names[i] + " is " + xs[i].dtype() + ", not a float tensor");
            if (!Arrays.equals(xs[i].shape(), shape))
                throw new IllegalArgumentException(op + ": " + names[i] + " has shape " + Arrays.toString(xs[i].shape()) + ", "
                        + names[0] + " " + Arrays.toString(shape));
        }
    }

    /**
     * Element offsets of per-sample segments of x: sample b owns rows rowOffsets[b] .. rowOffsets[b+1] of axis 0,
     * that is elements rowOffsets[b] * rowSize .. rowOffsets[b+1] * rowSize of the row-major order. Checks that the
     * offsets run from 0 to x.size(0) without decreasing (empty samples are allowed).
     */
    public static long[] segmentOffsets(String op, int[] rowOffsets, Tensor x) {
        if (x.dim() < 1) throw new IllegalArgumentException(op + ": a scalar has no rows to split into samples");
        int rows = x.size(0);
        if (rowOffsets.length < 2 || rowOffsets[0] != 0 || rowOffsets[rowOffsets.length - 1] != rows)
            throw new IllegalArgumentException(op + ": sample offsets must run from 0 to " + rows + " (the rows of "
                    + Arrays.toString(x.shape()) + "), got " + Arrays.toString(rowOffsets));
        long rowSize = rows == 0 ? 0 : x.numel() / rows;
        long[] out = new long[rowOffsets.length];
        for (int b = 0; b < rowOffsets.length; b++) {
            if (b > 0 && rowOffsets[b] < rowOffsets[b - 1])
                throw new IllegalArgumentException(op + ": sample offsets decrease at " + b + ": " + Arrays.toString(rowOffsets));
            out[b] = rowOffsets[b] * rowSize;
        }
        return out;
    }

    /**
     * The argument checks of {@link Backend#mdtVelocityLoss}, shared by every backend: pred, vT and g of one float
     * shape, one float t per sample, a non-empty prediction. Returns the samples' element offsets.
     */
    public static long[] velocityLossSegments(Tensor pred, Tensor vT, Tensor g, Tensor t, int[] rowOffsets) {
        sameFloatShapes("mdtVelocityLoss", new String[] {"pred", "vT", "g"}, pred, vT, g);
        long[] seg = segmentOffsets("mdtVelocityLoss", rowOffsets, pred);
        int samples = rowOffsets.length - 1;
        if (t.numel() != samples)
            throw new IllegalArgumentException("mdtVelocityLoss: t has " + t.numel() + " values for " + samples + " samples");
        if (pred.numel() == 0) throw new IllegalArgumentException("mdtVelocityLoss: the mean of an empty prediction " + pred);
        if (!t.dtype().isFloating()) throw new IllegalArgumentException("mdtVelocityLoss: t is " + t.dtype() + ", not a float tensor");
        return seg;
    }

    /**
     * The argument checks of {@link Backend#attention} and its backward and JVP, shared by every backend: q [Nq,H,D],
     * k [Nk,H,D], v [Nk,H,Dv], and instance offsets cuQ, cuK that run from 0 to Nq and Nk without decreasing and name
     * the same number of instances.
     */
    public static void checkAttention(Tensor q, Tensor k, Tensor v, int[] cuQ, int[] cuK) {
        if (q.dim() != 3 || k.dim() != 3 || v.dim() != 3)
            throw new IllegalArgumentException("attention takes q [Nq,H,D], k [Nk,H,D], v [Nk,H,Dv]; got " + q + ", " + k + ", " + v);
        int h = q.size(1), d = q.size(2);
        if (k.size(1) != h || v.size(1) != h || k.size(2) != d || v.size(0) != k.size(0))
            throw new IllegalArgumentException("attention shapes disagree: q " + Arrays.toString(q.shape()) + " k "
                    + Arrays.toString(k.shape()) + " v " + Arrays.toString(v.shape()));
        checkOffsets("cuQ", cuQ, q.size(0));
        checkOffsets("cuK", cuK, k.size(0));
        if (cuQ.length != cuK.length) throw new IllegalArgumentException("cuQ and cuK name different batch sizes");
    }

    private static void checkOffsets(String name, int[] cu, int n) {
        if (cu.length < 1 || cu[0] != 0 || cu[cu.length - 1] != n)
            throw new IllegalArgumentException(name + " must run from 0 to " + n + ": " + Arrays.toString(cu));
        for (int i = 1; i < cu.length; i++)
            if (cu[i] < cu[i - 1]) throw new IllegalArgumentException(name + " decreases at " + i + ": " + Arrays.toString(cu));
    }

    public static String str(int[] shape) { return Arrays.toString(shape); }
}
