package org.voxflow.sparse;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;

/**
 * Sparse voxel structures for the map tests (CPU and GPU), and the host algorithms exactly as SparseStructure had
 * them before the maps became backend primitives: the oracle the primitives must reproduce.
 */
public final class SparseFixtures {
    private SparseFixtures() {}

    /** A named coordinate set: row-major [N, 4] rows grouped by batch. */
    public record Case(String name, int[] coords, int batch) {
        public int rows() { return coords.length / 4; }
        @Override public String toString() { return name + " (" + rows() + " voxels, batch " + batch + ")"; }
    }

    /**
     * Random voxels: instance b gets counts[b] distinct cells of a res^3 grid (0 for an empty instance), always
     * including corners at 0 and res-1 when it has room, rows shuffled inside the instance (order is free there).
     */
    public static int[] random(Random r, int res, int... counts) {
        List<Integer> out = new ArrayList<>();
        for (int b = 0; b < counts.length; b++) {
            Set<Long> cells = new LinkedHashSet<>();
            int[][] corners = {{0, 0, 0}, {res - 1, res - 1, res - 1}, {0, res - 1, 0}, {res - 1, 0, res - 1}, {res - 1, 0, 0}};
            for (int[] c : corners) if (cells.size() < counts[b]) cells.add(cell(c[0], c[1], c[2]));
            long cap = (long) res * res * res;
            while (cells.size() < Math.min(counts[b], cap)) cells.add(cell(r.nextInt(res), r.nextInt(res), r.nextInt(res)));
            List<Long> list = new ArrayList<>(cells);
            java.util.Collections.shuffle(list, r);
            for (long c : list) { out.add(b); out.add((int) (c >> 30)); out.add((int) ((c >> 15) & 0x7fff)); out.add((int) (c & 0x7fff)); }
        }
        return out.stream().mapToInt(Integer::intValue).toArray();
    }

    private static long cell(int x, int y, int z) { return ((long) x << 30) | ((long) y << 15) | z; }

    /** n voxels of instance b in a compact block (x from offset, 5 x 5 cross-section), row-major: small sparse batches. */
    public static int[] instance(int b, int n, int offset) {
        int[] c = new int[n * 4];
        for (int i = 0; i < n; i++) {
            c[i * 4] = b;
            c[i * 4 + 1] = offset + i % 5;
            c[i * 4 + 2] = 3 + (i / 5) % 5;
            c[i * 4 + 3] = 2 + i / 25;
        }
        return c;
    }

    /** A spherical shell of the given thickness centred in a res^3 grid, per instance, in x-major scan order. */
    public static int[] shell(int res, double inner, double outer, int batch) {
        List<Integer> c = new ArrayList<>();
        double m = (res - 1) / 2.0;
        for (int b = 0; b < batch; b++)
            for (int x = 0; x < res; x++)
                for (int y = 0; y < res; y++)
                    for (int z = 0; z < res; z++) {
                        double d = Math.sqrt((x - m) * (x - m) + (y - m) * (y - m) + (z - m) * (z - m));
                        if (d > inner && d <= outer) { c.add(b); c.add(x); c.add(y); c.add(z); }
                    }
        return c.stream().mapToInt(Integer::intValue).toArray();
    }

    /** The structures every map test runs on (small ones first; the last is ~20k voxels at 64^3). */
    public static List<Case> cases(long seed) {
        Random r = new Random(seed);
        List<Case> cs = new ArrayList<>();
        cs.add(new Case("single voxel", new int[] {0, 3, 4, 5}, 1));
        cs.add(new Case("single voxel at the origin", new int[] {0, 0, 0, 0}, 1));
        cs.add(new Case("dense 2^3", random(r, 2, 8), 1));
        cs.add(new Case("dense 3^3, two instances", random(r, 3, 27, 27), 2));
        cs.add(new Case("half-full 8^3", random(r, 8, 256), 1));
        cs.add(new Case("three instances at 16^3", random(r, 16, 900, 40, 1500), 3));
        cs.add(new Case("empty middle instance", random(r, 16, 300, 0, 200), 3));
        cs.add(new Case("empty last instances", random(r, 12, 500, 0, 0), 3));
        cs.add(new Case("five instances, odd res 17", random(r, 17, 1, 2, 700, 3, 1200), 5));
        cs.add(new Case("sparse 32^3", random(r, 32, 2000, 3000), 2));
        cs.add(new Case("shell 32^3", shell(32, 12, 14.1, 1), 1));
        cs.add(new Case("shell 64^3, ~20k voxels", shell(64, 26, 28.1, 1), 1));
        cs.add(new Case("random 64^3, 20k voxels, two instances", random(r, 64, 12000, 8000), 2));
        return cs;
    }

    // ---- the host algorithms as SparseStructure had them (the oracle) ------------------------------------------

    public static long oldKey(int b, int x, int y, int z) {
        return (((long) b << 45) | ((long) x << 30) | ((long) y << 15) | z);
    }

    public static int[] oldNeighbours(int[] coords) {
        int n = coords.length / 4;
        Map<Long, Integer> rowOf = new HashMap<>(n * 2);
        for (int i = 0; i < n; i++) rowOf.put(oldKey(coords[i * 4], coords[i * 4 + 1], coords[i * 4 + 2], coords[i * 4 + 3]), i);
        int[] nb = new int[n * 27];
        for (int i = 0; i < n; i++) {
            int b = coords[i * 4], x = coords[i * 4 + 1], y = coords[i * 4 + 2], z = coords[i * 4 + 3];
            for (int k = 0; k < 27; k++) {
                int nx = x + k / 9 - 1, ny = y + (k / 3) % 3 - 1, nz = z + k % 3 - 1;
                Integer j = nx < 0 || ny < 0 || nz < 0 ? null : rowOf.get(oldKey(b, nx, ny, nz));
                nb[i * 27 + k] = j == null ? -1 : j;
            }
        }
        return nb;
    }

    /** {coarse coords [M * 4], toCoarse [N]} (the old code had factor 2 written in; here it is a parameter). */
    public static int[][] oldDownsample(int[] coords, int factor) {
        int n = coords.length / 4;
        long[] keys = new long[n];
        for (int i = 0; i < n; i++)
            keys[i] = oldKey(coords[i * 4], coords[i * 4 + 1] / factor, coords[i * 4 + 2] / factor, coords[i * 4 + 3] / factor);
        long[] uniq = Arrays.stream(keys).distinct().sorted().toArray();
        int[] idx = new int[n];
        for (int i = 0; i < n; i++) idx[i] = Arrays.binarySearch(uniq, keys[i]);
        int[] c = new int[uniq.length * 4];
        for (int i = 0; i < uniq.length; i++) {
            long k = uniq[i];
            c[i * 4] = (int) (k >>> 45);
            c[i * 4 + 1] = (int) ((k >>> 30) & 0x7fff);
            c[i * 4 + 2] = (int) ((k >>> 15) & 0x7fff);
            c[i * 4 + 3] = (int) (k & 0x7fff);
        }
        return new int[][] {c, idx};
    }

    /** Fine rows per coarse row, from a toCoarse map. */
    public static int[] counts(int[] toCoarse, int m) {
        int[] c = new int[m];
        for (int i : toCoarse) c[i]++;
        return c;
    }

    /** Coarse row offsets per instance, from coarse coords. */
    public static int[] offsets(int[] coarse, int batch) {
        int[] cu = new int[batch + 1];
        for (int i = 0; i < coarse.length / 4; i++) cu[coarse[i * 4] + 1]++;
        for (int b = 0; b < batch; b++) cu[b + 1] += cu[b];
        return cu;
    }

    /** How many entries of a neighbour map are present (tests check their cases are not trivially all -1). */
    public static int present(int[] nb) {
        int p = 0;
        for (int v : nb) if (v >= 0) p++;
        return p;
    }
}
