package org.voxflow.sparse;

import java.util.HashMap;
import java.util.Map;
import java.util.function.Function;
import org.voxflow.nn.RowLayout;
import org.voxflow.tensor.Backend;
import org.voxflow.tensor.Backends;
import org.voxflow.tensor.BinaryOp;
import org.voxflow.tensor.DType;
import org.voxflow.tensor.MemoryScope;
import org.voxflow.tensor.SparsePooling;
import org.voxflow.tensor.Tensor;

/**
 * The coordinates of a sparse tensor, [N, 4] as (batch, x, y, z) with rows grouped by batch, and what is derived
 * from them once and shared by every tensor on these coordinates: the per-instance row layout, the submanifold
 * 3x3x3 neighbour map, and (after a downsample) the finer structure and the inverse index that upsampling uses.
 *
 * <p>The maps are built by the backend that asks for them ({@link Backend#sparseNeighbours},
 * {@link Backend#sparseDownsample}), from the coordinates as a tensor of that backend, and cached per backend for
 * the structure's life: on a GPU nothing goes through the host but the coordinates' one upload and a downsample's
 * per-instance row counts. A structure made by a downsample on a GPU holds its coordinates there; the host copy
 * ({@link #coords()}, {@link #xyz()}) is downloaded once, on first use.
 */
public final class SparseStructure {
    private int[] coords;                 // host copy (lazy for structures born on a device)
    private final int n;
    private final RowLayout layout;
    private final SparseStructure finer;
    /** Where a downsample made this structure (null for structures made from host coordinates). */
    private final Backend home;
    private final Tensor homeToCoarse, homeCounts;
    private final Map<Backend, Tensor> coordTensors = new HashMap<>();
    private final Map<Backend, Tensor> neighbourTensors = new HashMap<>();
    private final Map<Backend, Tensor> toCoarseTensors = new HashMap<>();
    private final Map<Backend, Tensor> poolCountsTensors = new HashMap<>();
    private final Map<Backend, Tensor> poolScaleTensors = new HashMap<>();
    private final Map<String, Tensor> derived = new HashMap<>();
    private SparseStructure coarse;

    /** @param coords row-major [N, 4]; rows must be grouped by batch index 0..batch-1 (order inside free) */
    public SparseStructure(int[] coords, int batch) {
        if (coords.length % 4 != 0) throw new IllegalArgumentException("coords must be [N, 4], got " + coords.length + " values");
        if (batch < 0 || batch > 1 << 18) throw new IllegalArgumentException("batch " + batch + " outside [0, 2^18]");
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
        this.finer = null;
        this.home = null;
        this.homeToCoarse = null;
        this.homeCounts = null;
    }

    /** The coarse structure of a downsample made by `be` (its tensors allocated outside every memory scope). */
    private SparseStructure(SparsePooling p, SparseStructure finer, Backend be) {
        this.coords = null;
        this.n = p.rows();
        this.layout = new RowLayout(p.offsets());
        this.finer = finer;
        this.home = be;
        this.homeToCoarse = p.toCoarse();
        this.homeCounts = p.counts();
        coordTensors.put(be, p.coords());
    }

    public int rows() { return n; }
    public int batch() { return layout.batch(); }
    public RowLayout layout() { return layout; }
    public int[] coords() { return host().clone(); }

    /** The host coordinates, downloaded once where the structure was made on a device. */
    private int[] host() {
        if (coords == null) coords = coordTensors.get(home).toInts();
        return coords;
    }

    /** Spatial coordinates [N, 3] (batch column dropped). */
    public int[] xyz() {
        int[] c = host();
        int[] out = new int[n * 3];
        for (int i = 0; i < n; i++) System.arraycopy(c, i * 4 + 1, out, i * 3, 3);
        return out;
    }

    /** A tensor of `be`, made once: outside every memory scope, as the structure outlives them. */
    private static Tensor cached(Map<Backend, Tensor> cache, Backend be, Function<Backend, Tensor> make) {
        Tensor t = cache.get(be);
        if (t == null) {
            t = MemoryScope.outside(() -> make.apply(be));
            cache.put(be, t);
        }
        return t;
    }

    /** I32 [N, 4] (batch, x, y, z) on `be`: uploaded once, or the tensor a downsample on `be` produced. */
    public Tensor coordsTensor(Backend be) {
        return cached(coordTensors, be, b -> b.fromInts(host(), n, 4));
    }

    /**
     * I32 [N * 27]: for row i and kernel offset k = kx*9 + ky*3 + kz, the row at (x+kx-1, y+ky-1, z+kz-1) of the
     * same instance, or -1 (spconv's SubMConv3d: output sites = input sites). Built by `be` from the coordinates.
     */
    public Tensor neighbourIndex(Backend be) {
        return cached(neighbourTensors, be, b -> b.sparseNeighbours(coordsTensor(b)).reshape(n * 27));
    }

    /** I32 [N]: the neighbour rows of one kernel offset k (a column of {@link #neighbourIndex(Backend)}). */
    public Tensor neighbourIndex(Backend be, int k) {
        if (k < 0 || k >= 27) throw new IllegalArgumentException("kernel offset " + k + " outside 0..26");
        return derived("nbr" + k, be, () -> be.copy(neighbourIndex(be).reshape(n, 27).slice(1, k, k + 1)).reshape(n));
    }

    /** The neighbour map on the host (the CPU backend's). */
    int[] neighbours() { return neighbourIndex(Backends.cpu()).toInts(); }

    /**
     * A tensor derived from these coordinates alone (a position embedding, say), made once per backend and kept
     * for the structure's life: sampling calls the model dozens of times on the same coordinates.
     */
    public Tensor derived(String key, Backend be, java.util.function.Supplier<Tensor> make) {
        return derived.computeIfAbsent(key + "@" + be.device(), k -> MemoryScope.outside(make));
    }

    /** {@link #downsample2(Backend)} built on the host. */
    public SparseStructure downsample2() { return downsample2(Backends.cpu()); }

    /**
     * Coordinates halved (floor), unique rows sorted by (batch, x, y, z), remembering the way back. Built once, by
     * `be` (on a GPU: on the device, reading back only the per-instance row counts), and cached.
     */
    public SparseStructure downsample2(Backend be) {
        if (coarse == null) {
            SparsePooling p = MemoryScope.outside(() -> be.sparseDownsample(coordsTensor(be), batch(), 2));
            coarse = new SparseStructure(p, this, be);
        }
        return coarse;
    }

    /** The finer structure this one was downsampled from, or null. */
    public SparseStructure finer() { return finer; }

    /** I32 [N_finer]: the row of this structure each finer row pooled into. */
    public Tensor toCoarseIndex(Backend be) {
        if (finer == null) throw new IllegalStateException("this structure was not made by a downsample");
        return cached(toCoarseTensors, be, b -> b == home ? homeToCoarse : b.copy(homeToCoarse));
    }

    /** I32 [N]: how many finer rows pooled into each row of this structure. */
    public Tensor poolCounts(Backend be) {
        if (finer == null) throw new IllegalStateException("this structure was not made by a downsample");
        return cached(poolCountsTensors, be, b -> b == home ? homeCounts : b.copy(homeCounts));
    }

    /**
     * F32 [N, 1]: 1 / (k + 1) for the k finer rows of each row, TRELLIS's pooling divisor (see
     * {@link SparseTensor#downsample()}), made on `be` from {@link #poolCounts} (f32 division, as the host's
     * {@code 1f / (k + 1)}).
     */
    public Tensor poolScale(Backend be) {
        return cached(poolScaleTensors, be, b -> {
            Tensor f = b.cast(poolCounts(b), DType.F32).reshape(n, 1);
            Tensor d = b.affine(f, 1f, 1f), one = b.full(1f, n, 1);
            try {
                return b.binary(BinaryOp.DIV, one, d);
            } finally {
                f.close();
                d.close();
                one.close();
            }
        });
    }
}
