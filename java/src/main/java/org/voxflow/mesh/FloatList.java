package org.voxflow.mesh;

import java.util.Arrays;

/** Growable float array (no boxing). */
final class FloatList {
    private float[] a;
    private int n;

    FloatList() { this(1024); }

    FloatList(int capacity) { a = new float[Math.max(16, capacity)]; }

    void add(float v) {
        if (n == a.length) a = Arrays.copyOf(a, 2 * n);
        a[n++] = v;
    }

    float get(int i) { return a[i]; }

    int size() { return n; }

    float[] toArray() { return Arrays.copyOf(a, n); }
}
