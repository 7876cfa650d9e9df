package org.voxflow.sparse;

import java.util.Arrays;
import org.voxflow.autograd.F;
import org.voxflow.tensor.Tensor;

/** Features [N, C] on a {@link SparseStructure}. Ops that keep the coordinates share the structure. */
public record SparseTensor(SparseStructure structure, Tensor feats) {
    public SparseTensor {
        if (feats.dim() != 2 || feats.size(0) != structure.rows())
            throw new IllegalArgumentException("sparse feats " + Arrays.toString(feats.shape()) + " do not match " + structure.rows() + " coordinates");
    }

    public SparseTensor withFeats(Tensor f) { return new SparseTensor(structure, f); }

    public int channels() { return feats.size(1); }

    /**
     * Pooling by 2 as TRELLIS's SparseDownsample computes it: coarse rows sorted by (batch, x, y, z), each the
     * sum of its k fine rows divided by k + 1. (TRELLIS calls torch.scatter_reduce(zeros, ..., reduce="mean")
     * whose default include_self=True counts the zero it starts from; trained checkpoints expect this.) The maps
     * and the divisors are built once per structure, on the feats' backend, and stay there.
     */
    public SparseTensor downsample() {
        var be = feats.backend();
        SparseStructure coarse = structure.downsample2(be);
        Tensor f = F.mul(F.indexAdd(feats, 0, coarse.toCoarseIndex(be), coarse.rows()), coarse.poolScale(be));
        return new SparseTensor(coarse, f);
    }

    /** Nearest upsampling back to the structure this one was pooled from (TRELLIS SparseUpsample). */
    public SparseTensor upsample() {
        SparseStructure fine = structure.finer();
        if (fine == null) throw new IllegalStateException("upsample needs a tensor made by downsample (no cached finer coordinates)");
        return new SparseTensor(fine, F.indexSelect(feats, 0, structure.toCoarseIndex(feats.backend())));
    }
}
