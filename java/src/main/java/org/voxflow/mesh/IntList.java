package org.voxflow.mesh;

import java.util.Arrays;

/** Growable int array (no boxing). */
final class IntList {
    private int[] a;
    private int n;

    IntList() { this(1024); }

    IntList(int capacity) { a = new int[Math.max(16, capacity)]; }

    void add(int v) {
        if (n == a.length) a = Arrays.copyOf(a, 2 * n);
        a[n++] = v;
    }

    int get(int i) { return a[i]; }

    int size() { return n; }

    int[] toArray() { return Arrays.copyOf(a, n); }
}
