package org.voxflow.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.Arrays;

/** Plain-Java reference math and comparison helpers for the tensor-layer tests (row-major arrays, double accumulation). */
final class Oracle {
    private Oracle() {}

    static float[] seq(int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = i;
        return v;
    }

    static int[] strides(int[] shape) {
        int[] st = new int[shape.length];
        int s = 1;
        for (int i = shape.length - 1; i >= 0; i--) { st[i] = s; s *= shape[i]; }
        return st;
    }

    static int numel(int[] shape) {
        int n = 1;
        for (int d : shape) n *= d;
        return n;
    }

    /** Multi-index of flat position i in a row-major shape. */
    static int[] unravel(int i, int[] shape) {
        int[] idx = new int[shape.length];
        for (int a = shape.length - 1; a >= 0; a--) {
            idx[a] = i % shape[a];
            i /= shape[a];
        }
        return idx;
    }

    /** Flat index into an array of `shape` for a (right-aligned, broadcast) multi-index of a larger output. */
    static int broadcastIndex(int[] outIdx, int[] shape) {
        int lead = outIdx.length - shape.length;
        int[] st = strides(shape);
        int f = 0;
        for (int a = 0; a < shape.length; a++) f += (shape[a] == 1 ? 0 : outIdx[a + lead]) * st[a];
        return f;
    }

    /** Row-major matrix product of dense [m,k] and [k,n] in double. */
    static double[] mm(float[] a, float[] b, int m, int k, int n) {
        double[] c = new double[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int p = 0; p < k; p++) s += (double) a[i * k + p] * b[p * n + j];
                c[i * n + j] = s;
            }
        return c;
    }

    /** Transpose of a dense row-major [r, c] matrix. */
    static float[] t(float[] a, int r, int c) {
        float[] o = new float[a.length];
        for (int i = 0; i < r; i++) for (int j = 0; j < c; j++) o[j * r + i] = a[i * c + j];
        return o;
    }

    static float[] toFloat(double[] d) {
        float[] f = new float[d.length];
        for (int i = 0; i < d.length; i++) f[i] = (float) d[i];
        return f;
    }

    static void assertClose(float[] expected, float[] actual, double atol, double rtol) {
        assertClose("", expected, actual, atol, rtol);
    }

    static void assertClose(String what, float[] expected, float[] actual, double atol, double rtol) {
        assertEquals(expected.length, actual.length, what + ": length");
        for (int i = 0; i < expected.length; i++) {
            float e = expected[i], a = actual[i];
            if (Float.isNaN(e) && Float.isNaN(a)) continue;
            if (e == a) continue; // infinities
            if (!(Math.abs(e - a) <= atol + rtol * Math.abs(e)))
                fail(what + ": element " + i + " expected " + e + " but was " + a + " (|diff| " + Math.abs(e - a) + ")"
                        + (expected.length <= 32 ? "\n expected " + Arrays.toString(expected) + "\n actual   " + Arrays.toString(actual) : ""));
        }
    }

    static void assertClose(double[] expected, float[] actual, double atol, double rtol) {
        assertClose("", toFloat(expected), actual, atol, rtol);
    }
}
