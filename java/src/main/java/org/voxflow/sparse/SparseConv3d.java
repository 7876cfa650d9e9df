package org.voxflow.sparse;

import org.voxflow.autograd.F;
import org.voxflow.nn.Module;
import org.voxflow.tensor.Backend;
import org.voxflow.tensor.Tensor;

/**
 * Submanifold 3x3x3 convolution, spconv weight layout [out, kx, ky, kz, in] under "conv.weight": gather the 27
 * neighbours of every active site (zeros where absent) into [N, 27 in] and multiply once by the weight viewed as
 * [out, 27 in]. A cross-correlation: output at p reads input at p + (k - 1).
 */
public final class SparseConv3d extends Module {
    private final Tensor weight, bias;
    private final int in, out;

    public SparseConv3d(Backend be, int in, int out) {
        super(be);
        this.in = in;
        this.out = out;
        Inner conv = child("conv", new Inner(be, in, out));
        this.weight = conv.weight;
        this.bias = conv.bias;
    }

    private static final class Inner extends Module {
        final Tensor weight, bias;
        Inner(Backend be, int in, int out) {
            super(be);
            weight = param("weight", out, 3, 3, 3, in);
            bias = param("bias", out);
        }
    }

    /** Above this many gathered values the conv runs offset by offset, so the gather never needs gigabytes. */
    static final long GATHER_LIMIT = 1L << 26;

    public SparseTensor forward(SparseTensor x) {
        int n = x.structure().rows();
        var be = x.feats().backend();
        if ((long) n * 27 * in <= GATHER_LIMIT) {
            Tensor g = F.indexSelect(x.feats(), 0, x.structure().neighbourIndex(be));
            return x.withFeats(F.linear(F.reshape(g, n, 27 * in), F.reshape(weight, out, 27 * in), bias));
        }
        // wide inputs at full resolution (TRELLIS-large's upsampling block reads 2048 channels on ~20k voxels):
        // sum over the 27 offsets of gather(x, offset) @ W[:, k, :]^T
        Tensor w = F.reshape(weight, out, 27, in);
        Tensor y = null;
        for (int k = 0; k < 27; k++) {
            Tensor g = F.indexSelect(x.feats(), 0, x.structure().neighbourIndex(be, k));
            Tensor wk = F.squeeze(F.slice(w, 1, k, k + 1), 1);
            Tensor term = F.matmul(g, wk, false, true);
            y = y == null ? term : F.add(y, term);
        }
        return x.withFeats(F.add(y, bias));
    }
}
