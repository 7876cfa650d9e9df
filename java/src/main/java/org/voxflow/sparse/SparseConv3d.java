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

    public SparseTensor forward(SparseTensor x) {
        int n = x.structure().rows();
        Tensor g = F.indexSelect(x.feats(), 0, x.structure().neighbourIndex(x.feats().backend()));
        Tensor y = F.linear(F.reshape(g, n, 27 * in), F.reshape(weight, out, 27 * in), bias);
        return x.withFeats(y);
    }
}
