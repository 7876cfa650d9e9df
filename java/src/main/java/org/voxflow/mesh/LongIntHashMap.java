package org.voxflow.mesh;

import java.util.Arrays;

/** Open-addressing map from non-negative long keys to ints, to avoid boxing in the mesher. */
final class LongIntHashMap {
    private static final long EMPTY = -1;
    private long[] keys;
    private int[] values;
    private int size;

    LongIntHashMap(int expected) {
        int cap = Integer.highestOneBit(Math.max(16, expected * 2 - 1)) << 1;
        keys = new long[cap];
        values = new int[cap];
        Arrays.fill(keys, EMPTY);
    }

    int size() { return size; }

    /** The value for {@code key}, or -1. */
    int get(long key) {
        int mask = keys.length - 1;
        for (int i = slot(key, mask); ; i = (i + 1) & mask) {
            if (keys[i] == key) return values[i];
            if (keys[i] == EMPTY) return -1;
        }
    }

    /** Stores {@code value} unless the key is present; returns the previous value or -1. */
    int putIfAbsent(long key, int value) {
        if (key < 0) throw new IllegalArgumentException("negative key");
        if (2 * (size + 1) > keys.length) grow();
        int mask = keys.length - 1;
        for (int i = slot(key, mask); ; i = (i + 1) & mask) {
            if (keys[i] == key) return values[i];
            if (keys[i] == EMPTY) {
                keys[i] = key;
                values[i] = value;
                size++;
                return -1;
            }
        }
    }

    private static int slot(long key, int mask) {
        long h = key * 0x9e3779b97f4a7c15L;
        return (int) (h ^ (h >>> 32)) & mask;
    }

    private void grow() {
        long[] oldK = keys;
        int[] oldV = values;
        keys = new long[oldK.length * 2];
        values = new int[oldK.length * 2];
        Arrays.fill(keys, EMPTY);
        size = 0;
        for (int i = 0; i < oldK.length; i++) if (oldK[i] != EMPTY) putIfAbsent(oldK[i], oldV[i]);
    }
}
