package org.voxflow.sparse;

import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import org.voxflow.nn.RowLayout;
import org.voxflow.tensor.Backend;
import org.voxflow.tensor.MemoryScope;
import org.voxflow.tensor.Tensor;

/**
 * The coordinates of a sparse tensor, [N, 4] as (batch, x, y, z) with rows grouped by batch, and what is derived
 * from them once and shared by every tensor on these coordinates: the per-instance row layout, the submanifold
 * 3x3x3 neighbour map, and (after a downsample) the finer structure and the inverse index that upsampling uses.
 */
public final class SparseStructure {
    private final int[] coords;
    private final int n;
    private final RowLayout layout;
    private final SparseStructure finer;
    private final int[] toCoarse;
    private int[] neighbours;
    private final Map<Backend, Tensor> neighbourTensors = new HashMap<>();
    private final Map<Backend, Tensor> toCoarseTensors = new HashMap<>();
    private final Map<String, Tensor> derived = new HashMap<>();
    private SparseStructure coarse;

    /** @param coords row-major [N, 4]; rows must be grouped by batch index 0..batch-1 (order inside free) */
    public SparseStructure(int[] coords, int batch) { this(coords, batch, null, null); }

    private SparseStructure(int[] coords, int batch, SparseStructure finer, int[] toCoarse) {
        if (coords.length % 4 != 0) throw new IllegalArgumentException("coords must be [N, 4], got " + coords.length + " values");
        this.coords = coords.clone();
        this.n = coords.length / 4;
        int[] cu = new int[batch + 1];
        int prev = 0;
        for (int i = 0; i < n; i++) {
            int b = coords[i * 4];
            if (b < prev || b >= batch)
                throw new IllegalArgumentException("coords row " + i + " has batch " + b + ": rows must be grouped by batch in 0.." + (batch - 1));
            for (int a = 1; a < 4; a++)
                if (coords[i * 4 + a] < 0 || coords[i * 4 + a] >= 1 << 15)
                    throw new IllegalArgumentException("coords row " + i + " has coordinate " + coords[i * 4 + a] + " outside [0, 32768)");
            prev = b;
            cu[b + 1]++;
        }
        for (int b = 0; b < batch; b++) cu[b + 1] += cu[b];
        this.layout = new RowLayout(cu);
        this.finer = finer;
        this.toCoarse = toCoarse;
    }

    public int rows() { return n; }
    public int batch() { return layout.batch(); }
    public RowLayout layout() { return layout; }
    public int[] coords() { return coords.clone(); }

    /** Spatial coordinates [N, 3] (batch column dropped). */
    public int[] xyz() {
        int[] out = new int[n * 3];
        for (int i = 0; i < n; i++) System.arraycopy(coords, i * 4 + 1, out, i * 3, 3);
        return out;
    }

    static long key(int b, int x, int y, int z) {
        return (((long) b << 45) | ((long) x << 30) | ((long) y << 15) | z);
    }

    /**
     * I32 [N * 27]: for row i and kernel offset k = kx*9 + ky*3 + kz, the row at (x+kx-1, y+ky-1, z+kz-1) of the
     * same instance, or -1 (spconv's SubMConv3d: output sites = input sites).
     */
    public Tensor neighbourIndex(Backend be) {
        return neighbourTensors.computeIfAbsent(be, b -> MemoryScope.outside(() -> b.fromInts(neighbours(), n * 27)));
    }

    /** I32 [N]: the neighbour rows of one kernel offset k (a column of {@link #neighbourIndex(Backend)}). */
    public Tensor neighbourIndex(Backend be, int k) {
        return derived("nbr" + k, be, () -> {
            int[] nb = neighbours(), col = new int[n];
            for (int i = 0; i < n; i++) col[i] = nb[i * 27 + k];
            return be.fromInts(col, n);
        });
    }

    int[] neighbours() {
        if (neighbours == null) {
            Map<Long, Integer> rowOf = new HashMap<>(n * 2);
            for (int i = 0; i < n; i++) rowOf.put(key(coords[i * 4], coords[i * 4 + 1], coords[i * 4 + 2], coords[i * 4 + 3]), i);
            int[] nb = new int[n * 27];
            for (int i = 0; i < n; i++) {
                int b = coords[i * 4], x = coords[i * 4 + 1], y = coords[i * 4 + 2], z = coords[i * 4 + 3];
                for (int k = 0; k < 27; k++) {
                    int nx = x + k / 9 - 1, ny = y + (k / 3) % 3 - 1, nz = z + k % 3 - 1;
                    Integer j = nx < 0 || ny < 0 || nz < 0 ? null : rowOf.get(key(b, nx, ny, nz));
                    nb[i * 27 + k] = j == null ? -1 : j;
                }
            }
            neighbours = nb;
        }
        return neighbours;
    }

    /**
     * A tensor derived from these coordinates alone (a position embedding, say), made once per backend and kept
     * for the structure's life: sampling calls the model dozens of times on the same coordinates.
     */
    public Tensor derived(String key, Backend be, java.util.function.Supplier<Tensor> make) {
        return derived.computeIfAbsent(key + "@" + be.device(), k -> MemoryScope.outside(make));
    }

    /** Coordinates halved (floor), unique rows sorted by (batch, x, y, z), remembering the way back (cached). */
    public SparseStructure downsample2() {
        if (coarse == null) coarse = computeDownsample2();
        return coarse;
    }

    private SparseStructure computeDownsample2() {
        long[] keys = new long[n];
        for (int i = 0; i < n; i++)
            keys[i] = key(coords[i * 4], coords[i * 4 + 1] / 2, coords[i * 4 + 2] / 2, coords[i * 4 + 3] / 2);
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
        return new SparseStructure(c, batch(), this, idx);
    }

    /** The finer structure this one was downsampled from, or null. */
    public SparseStructure finer() { return finer; }

    /** I32 [N_finer]: the row of this structure each finer row pooled into. */
    public Tensor toCoarseIndex(Backend be) {
        if (toCoarse == null) throw new IllegalStateException("this structure was not made by a downsample");
        return toCoarseTensors.computeIfAbsent(be, b -> MemoryScope.outside(() -> b.fromInts(toCoarse, toCoarse.length)));
    }
}
