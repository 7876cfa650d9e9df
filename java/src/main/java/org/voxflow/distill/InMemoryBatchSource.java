package org.voxflow.distill;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.voxflow.sparse.SparseStructure;
import org.voxflow.tensor.Backend;
import org.voxflow.tensor.Rng;
import org.voxflow.tensor.Tensor;

/**
 * Batches from a list of samples held in memory: each epoch visits every sample once in an order shuffled
 * (Fisher-Yates) with draws from the training generator; a batch that runs past the end of an epoch takes its
 * remaining samples from the next one, so every batch has exactly batchSize samples.
 *
 * <p>Dense samples stack to x0 [B, ...shape] and cond [B, ...condShape]. Sparse samples concatenate their
 * coordinates with the batch index as the first column, [N, 4] grouped by instance, into a
 * {@link SparseStructure}, and their feats into [N, C].
 *
 * <p>Data-parallel sharding: built with a rank and a world size, each call walks the shared epoch order by one
 * global micro-batch of {@code worldSize * batchSize} samples and stacks only this rank's slice
 * {@code [rank * batchSize, (rank + 1) * batchSize)} of it. Every rank draws the same shuffles from the same
 * generator (the trainer's, which in data-parallel mode nothing else draws from), so the ranks' slices are disjoint
 * and together make up exactly the batch one process would draw with {@code worldSize * batchSize}. The state is
 * that global order and cursor, the same on every rank and independent of the world size: a checkpoint resumes with
 * any number of ranks.
 *
 * <p>State: {@code order} (this epoch's permutation), {@code cursor} (next position in it), {@code epoch}.
 */
public final class InMemoryBatchSource implements BatchSource {
    private final Backend backend;
    private final List<? extends Sample> samples;
    private final int batchSize;
    private final boolean sparse;
    private final int rank;
    private final int worldSize;
    private int[] order = new int[0];
    private int cursor;
    private long epoch;

    public InMemoryBatchSource(Backend backend, List<? extends Sample> samples, int batchSize) {
        this(backend, samples, batchSize, 0, 1);
    }

    /**
     * Rank {@code rank}'s shard of a data-parallel run: {@code batchSize} samples a call, out of global micro-batches
     * of {@code worldSize * batchSize}.
     */
    public InMemoryBatchSource(Backend backend, List<? extends Sample> samples, int batchSize, int rank, int worldSize) {
        if (samples.isEmpty()) throw new IllegalArgumentException("no training samples");
        if (batchSize < 1) throw new IllegalArgumentException("batch size must be >= 1, got " + batchSize);
        if (worldSize < 1 || rank < 0 || rank >= worldSize)
            throw new IllegalArgumentException("rank " + rank + " outside a world of " + worldSize);
        if ((long) batchSize * worldSize > Integer.MAX_VALUE)
            throw new IllegalArgumentException("global batch " + batchSize + " x " + worldSize + " is too large");
        this.backend = backend;
        this.samples = List.copyOf(samples);
        this.batchSize = batchSize;
        this.rank = rank;
        this.worldSize = worldSize;
        this.sparse = samples.get(0) instanceof Sample.Sparse;
        checkConsistent();
    }

    /** Every sample must be of one kind with the same shapes as the first (the sparse voxel count may vary). */
    private void checkConsistent() {
        Sample first = samples.get(0);
        for (int i = 1; i < samples.size(); i++) {
            Sample s = samples.get(i);
            String where = "training sample " + i;
            if (s.getClass() != first.getClass()) throw new IllegalArgumentException(where + " is " + s.getClass().getSimpleName()
                    + " but sample 0 is " + first.getClass().getSimpleName() + "; dense and sparse samples cannot share a batch");
            if (!Arrays.equals(s.condShape(), first.condShape())) throw new IllegalArgumentException(where + " has condition shape "
                    + Arrays.toString(s.condShape()) + ", sample 0 has " + Arrays.toString(first.condShape()));
            if (s instanceof Sample.Dense d && !Arrays.equals(d.shape(), ((Sample.Dense) first).shape()))
                throw new IllegalArgumentException(where + " has latent shape " + Arrays.toString(d.shape()) + ", sample 0 has "
                        + Arrays.toString(((Sample.Dense) first).shape()));
            if (s instanceof Sample.Sparse sp && sp.channels() != ((Sample.Sparse) first).channels())
                throw new IllegalArgumentException(where + " has " + sp.channels() + " feature channels, sample 0 has " + ((Sample.Sparse) first).channels());
        }
    }

    /** Samples per call (this rank's share of a global micro-batch). */
    public int batchSize() { return batchSize; }

    public int rank() { return rank; }

    public int worldSize() { return worldSize; }

    /** Samples per global micro-batch, over all ranks. */
    public int globalBatchSize() { return batchSize * worldSize; }

    public long epoch() { return epoch; }

    @Override public Batch next(Rng rng) {
        return stack(nextIndices(rng));
    }

    /** Indices (into the sample list) of this rank's slice of the next global micro-batch; advances the cursor. */
    int[] nextIndices(Rng rng) {
        int[] pick = new int[batchSize];
        int first = rank * batchSize;
        for (int b = 0; b < batchSize * worldSize; b++) {
            if (cursor >= order.length) reshuffle(rng);
            int s = order[cursor++];
            if (b >= first && b < first + batchSize) pick[b - first] = s;
        }
        return pick;
    }

    private Batch stack(int[] pick) {
        return sparse ? stackSparse(pick) : stackDense(pick);
    }

    private void reshuffle(Rng rng) {
        if (order.length > 0) epoch++;
        int n = samples.size();
        order = new int[n];
        for (int i = 0; i < n; i++) order[i] = i;
        for (int i = n - 1; i > 0; i--) {
            int j = rng.nextInt(i + 1);
            int t = order[i]; order[i] = order[j]; order[j] = t;
        }
        cursor = 0;
    }

    private Batch stackDense(int[] pick) {
        Sample.Dense first = (Sample.Dense) samples.get(pick[0]);
        int per = first.x0().length;
        float[] x = new float[per * pick.length];
        for (int b = 0; b < pick.length; b++) System.arraycopy(((Sample.Dense) samples.get(pick[b])).x0(), 0, x, b * per, per);
        return Batch.dense(backend.fromFloats(x, prepend(pick.length, first.shape())), stackCond(pick));
    }

    private Batch stackSparse(int[] pick) {
        int rows = 0;
        for (int i : pick) rows += ((Sample.Sparse) samples.get(i)).voxels();
        int channels = ((Sample.Sparse) samples.get(pick[0])).channels();
        int[] coords = new int[rows * 4];
        float[] feats = new float[rows * channels];
        int r = 0;
        for (int b = 0; b < pick.length; b++) {
            Sample.Sparse s = (Sample.Sparse) samples.get(pick[b]);
            int[] xyz = s.xyz();
            for (int v = 0; v < s.voxels(); v++) {
                coords[(r + v) * 4] = b;
                System.arraycopy(xyz, v * 3, coords, (r + v) * 4 + 1, 3);
            }
            System.arraycopy(s.feats(), 0, feats, r * channels, s.feats().length);
            r += s.voxels();
        }
        SparseStructure structure = new SparseStructure(coords, pick.length);
        Tensor f = backend.fromFloats(feats, rows, channels);
        return Batch.sparse(structure, f, stackCond(pick));
    }

    private Tensor stackCond(int[] pick) {
        Sample first = samples.get(pick[0]);
        int per = first.cond().length;
        float[] c = new float[per * pick.length];
        for (int b = 0; b < pick.length; b++) System.arraycopy(samples.get(pick[b]).cond(), 0, c, b * per, per);
        return backend.fromFloats(c, prepend(pick.length, first.condShape()));
    }

    private static int[] prepend(int n, int[] shape) {
        int[] s = new int[shape.length + 1];
        s[0] = n;
        System.arraycopy(shape, 0, s, 1, shape.length);
        return s;
    }

    @Override public Map<String, long[]> state() {
        Map<String, long[]> m = new LinkedHashMap<>();
        m.put("order", Arrays.stream(order).asLongStream().toArray());
        m.put("cursor", new long[] {cursor});
        m.put("epoch", new long[] {epoch});
        return m;
    }

    @Override public void restoreState(Map<String, long[]> state) {
        for (String k : List.of("order", "cursor", "epoch"))
            if (!state.containsKey(k)) throw new IllegalArgumentException("batch source state lacks '" + k + "' (has " + state.keySet() + ")");
        for (String k : state.keySet())
            if (!List.of("order", "cursor", "epoch").contains(k)) throw new IllegalArgumentException("unexpected batch source state '" + k + "'");
        for (String k : List.of("cursor", "epoch"))
            if (state.get(k).length != 1) throw new IllegalArgumentException("batch source state '" + k + "' must hold one value, has " + state.get(k).length);
        long[] o = state.get("order");
        if (o.length != 0 && o.length != samples.size())
            throw new IllegalArgumentException("batch source state holds an order of " + o.length + " samples, this source has " + samples.size());
        boolean[] seen = new boolean[o.length];
        for (long v : o) {
            if (v < 0 || v >= o.length || seen[(int) v]) throw new IllegalArgumentException("batch source state order is not a permutation of 0.." + (o.length - 1));
            seen[(int) v] = true;
        }
        long c = state.get("cursor")[0];
        if (c < 0 || c > o.length) throw new IllegalArgumentException("batch source cursor " + c + " outside 0.." + o.length);
        order = Arrays.stream(o).mapToInt(v -> (int) v).toArray();
        cursor = (int) c;
        epoch = state.get("epoch")[0];
    }
}
