package org.voxflow.nn;

import org.voxflow.autograd.F;
import org.voxflow.tensor.Backend;
import org.voxflow.tensor.Tensor;

/**
 * Which rows of a token matrix [N, C] belong to which instance: rows cu[b]..cu[b+1] are instance b. Dense
 * batches have equal lengths; sparse tensors have one length per instance.
 */
public final class RowLayout {
    private final int[] cu;
    private Tensor rowInstance;

    public RowLayout(int[] cu) {
        if (cu.length < 1 || cu[0] != 0) throw new IllegalArgumentException("offsets must start at 0");
        for (int i = 1; i < cu.length; i++) if (cu[i] < cu[i - 1]) throw new IllegalArgumentException("offsets decrease at " + i);
        this.cu = cu.clone();
    }

    public static RowLayout uniform(int batch, int len) { return new RowLayout(Attention.uniform(batch, len)); }

    public int[] offsets() { return cu.clone(); }

    public int batch() { return cu.length - 1; }

    public int rows() { return cu[cu.length - 1]; }

    public int start(int b) { return cu[b]; }

    public int length(int b) { return cu[b + 1] - cu[b]; }

    /** I32 [N]: the instance of every row. */
    public Tensor rowInstance(Backend be) {
        if (rowInstance == null || rowInstance.backend() != be) {
            int[] idx = new int[rows()];
            for (int b = 0; b < batch(); b++) java.util.Arrays.fill(idx, cu[b], cu[b + 1], b);
            rowInstance = org.voxflow.tensor.MemoryScope.outside(() -> be.fromInts(idx, idx.length));
        }
        return rowInstance;
    }

    /** Whether every instance has the same number of rows (dense batches). */
    public boolean uniform() {
        for (int b = 1; b < batch(); b++) if (length(b) != length(0)) return false;
        return true;
    }

    /**
     * Token rows x [N, C] in the shape against which per-instance values broadcast: [B, L, C] for uniform layouts (a
     * free view), x itself otherwise. {@link #broadcastable} gives the matching per-instance shape.
     */
    public Tensor byInstance(Tensor x) { return uniform() && batch() > 0 ? F.reshape(x, batch(), length(0), x.size(1)) : x; }

    /**
     * Per-instance values [B, C] shaped to broadcast against {@link #byInstance}: [B, 1, C] when uniform (nothing
     * materialised), else gathered per row, [N, C].
     */
    public Tensor broadcastable(Tensor perInstance) {
        return uniform() && batch() > 0 ? F.unsqueeze(perInstance, 1) : perRow(perInstance);
    }

    /** Per-instance rows [B, C] repeated for every token row: [N, C]. */
    public Tensor perRow(Tensor perInstance) { return F.indexSelect(perInstance, 0, rowInstance(perInstance.backend())); }
}
