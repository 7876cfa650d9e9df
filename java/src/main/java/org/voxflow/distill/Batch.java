package org.voxflow.distill;

import org.voxflow.sparse.SparseStructure;
import org.voxflow.tensor.Tensor;

/**
 * One training batch: clean latents x0 and condition tokens [B, L, C]. Dense (stage 1): x0 [B, 8, R, R, R] and
 * structure null. Sparse (stage 2): x0 = feats [N, C] on the given structure (coordinates of every instance).
 */
public record Batch(Tensor x0, Tensor cond, SparseStructure structure) {
    public static Batch dense(Tensor x0, Tensor cond) { return new Batch(x0, cond, null); }

    public static Batch sparse(SparseStructure s, Tensor feats, Tensor cond) { return new Batch(feats, cond, s); }

    public boolean isSparse() { return structure != null; }

    public int batchSize() { return cond.size(0); }
}
