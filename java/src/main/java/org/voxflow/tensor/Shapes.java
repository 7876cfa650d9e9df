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

    public static String str(int[] shape) { return Arrays.toString(shape); }
}
