package org.voxflow.tensor.cpu;

import java.util.Arrays;

/**
 * The host algorithms behind {@link CpuBackend#sparseNeighbours} and {@link CpuBackend#sparseDownsample}, the
 * reference for the CUDA kernels (cuda-kernels/src/main/cuda/vf_sparse.cu). Coordinates are row-major [N, 4] =
 * (batch, x, y, z) with 0 <= x, y, z < 2^15 and 0 <= batch < 2^18, packed into one long key
 * b << 45 | x << 30 | y << 15 | z whose natural order is (batch, x, y, z).
 */
public final class SparseMaps {
    private SparseMaps() {}

    public static final int COORD_LIMIT = 1 << 15;
    public static final int BATCH_LIMIT = 1 << 18;

    public static long key(int b, int x, int y, int z) {
        return (((long) b << 45) | ((long) x << 30) | ((long) y << 15) | z);
    }

    static void checkRow(int[] coords, int i) {
        if (coords[i * 4] < 0 || coords[i * 4] >= BATCH_LIMIT)
            throw new IllegalArgumentException("coords row " + i + " has batch " + coords[i * 4] + " outside [0, " + BATCH_LIMIT + ")");
        for (int a = 1; a < 4; a++)
            if (coords[i * 4 + a] < 0 || coords[i * 4 + a] >= COORD_LIMIT)
                throw new IllegalArgumentException("coords row " + i + " has coordinate " + coords[i * 4 + a] + " outside [0, " + COORD_LIMIT + ")");
    }

    /**
     * [N * 27]: for row i and kernel offset k = kx*9 + ky*3 + kz, the row at (x+kx-1, y+ky-1, z+kz-1) of the same
     * instance, or -1 (absent, or off [0, 2^15)). Where coordinates repeat, the last such row wins.
     */
    public static int[] neighbours(int[] coords) {
        int n = coords.length / 4;
        for (int i = 0; i < n; i++) checkRow(coords, i);
        // open addressing, linear probing, load factor <= 1/2; -1 is never a key (keys are non-negative)
        int cap = 64;
        while (cap < 2 * n) cap <<= 1;
        int mask = cap - 1;
        long[] keys = new long[cap];
        int[] rows = new int[cap];
        Arrays.fill(keys, -1L);
        for (int i = 0; i < n; i++) {
            long k = key(coords[i * 4], coords[i * 4 + 1], coords[i * 4 + 2], coords[i * 4 + 3]);
            int h = slot(k, mask);
            while (keys[h] != -1L && keys[h] != k) h = (h + 1) & mask;
            keys[h] = k;
            rows[h] = i;
        }
        int[] nb = new int[n * 27];
        for (int i = 0; i < n; i++) {
            int b = coords[i * 4], x = coords[i * 4 + 1], y = coords[i * 4 + 2], z = coords[i * 4 + 3];
            for (int k = 0; k < 27; k++) {
                int nx = x + k / 9 - 1, ny = y + (k / 3) % 3 - 1, nz = z + k % 3 - 1;
                int j = -1;
                if (nx >= 0 && ny >= 0 && nz >= 0 && nx < COORD_LIMIT && ny < COORD_LIMIT && nz < COORD_LIMIT) {
                    long key = key(b, nx, ny, nz);
                    for (int h = slot(key, mask); keys[h] != -1L; h = (h + 1) & mask)
                        if (keys[h] == key) { j = rows[h]; break; }
                }
                nb[i * 27 + k] = j;
            }
        }
        return nb;
    }

    private static int slot(long k, int mask) {
        k ^= k >>> 33;
        k *= 0xff51afd7ed558ccdL;
        k ^= k >>> 33;
        return (int) k & mask;
    }

    /** Host form of a downsample: coarse coords [M * 4], toCoarse [N], counts [M], offsets [batch + 1]. */
    public record Pooling(int[] coords, int[] toCoarse, int[] counts, int[] offsets) {}

    /**
     * Coordinates divided by factor (floor), unique rows sorted by (batch, x, y, z); each fine row's coarse row, the
     * fine rows per coarse row and the coarse rows per instance.
     */
    public static Pooling downsample(int[] coords, int batch, int factor) {
        if (factor < 1) throw new IllegalArgumentException("downsample factor " + factor);
        if (batch < 0 || batch > BATCH_LIMIT) throw new IllegalArgumentException("batch " + batch + " outside [0, " + BATCH_LIMIT + "]");
        int n = coords.length / 4;
        long[] keys = new long[n];
        for (int i = 0; i < n; i++) {
            checkRow(coords, i);
            if (coords[i * 4] >= batch) throw new IllegalArgumentException("coords row " + i + " has batch " + coords[i * 4] + " >= " + batch);
            keys[i] = key(coords[i * 4], coords[i * 4 + 1] / factor, coords[i * 4 + 2] / factor, coords[i * 4 + 3] / factor);
        }
        long[] sorted = keys.clone();
        Arrays.sort(sorted);
        int m = 0;
        for (int i = 0; i < n; i++) if (i == 0 || sorted[i] != sorted[i - 1]) sorted[m++] = sorted[i];
        long[] uniq = Arrays.copyOf(sorted, m);
        int[] idx = new int[n], counts = new int[m];
        for (int i = 0; i < n; i++) {
            idx[i] = Arrays.binarySearch(uniq, keys[i]);
            counts[idx[i]]++;
        }
        int[] c = new int[m * 4], offsets = new int[batch + 1];
        for (int i = 0; i < m; i++) {
            long k = uniq[i];
            c[i * 4] = (int) (k >>> 45);
            c[i * 4 + 1] = (int) ((k >>> 30) & 0x7fff);
            c[i * 4 + 2] = (int) ((k >>> 15) & 0x7fff);
            c[i * 4 + 3] = (int) (k & 0x7fff);
            offsets[c[i * 4] + 1]++;
        }
        for (int b = 0; b < batch; b++) offsets[b + 1] += offsets[b];
        return new Pooling(c, idx, counts, offsets);
    }
}
