package org.voxflow.sparse;

import org.voxflow.autograd.F;
import org.voxflow.nn.Module;
import org.voxflow.tensor.Backend;
import org.voxflow.tensor.Tensor;

/**
 * Submanifold 3x3x3 convolution, spconv weight layout [out, kx, ky, kz, in] under "conv.weight": gather the 27
 * neighbours of every active site (zeros where absent) into [N, 27 in] and multiply once by the weight viewed as
 * [out, 27 in]. A cross-correlation: output at p reads input at p + (k - 1).
 *
 * <p>GPU cost, estimated from memory traffic, not measured (CudaSparseParityTest.reportConvGatherCosts prints the
 * timings): under bf16 autocast the matmul casts the f32 gather to bf16, so each gathered value costs about 12-16
 * bytes of traffic (write f32, read it back, write bf16, GEMM reads bf16, plus the x reads when x does not fit in L2)
 * where a gather that wrote bf16 would cost 4-6. TRELLIS-large's stage 2 at ~20k voxels gathers about 1.6e9 values
 * per forward, 1.1e9 of them in the 2048-channel upsampling conv (offset by offset). That is roughly 5 ms per forward
 * on an H100, well short of the ~110 ms per call spent outside the trunk, so the gather stays f32. A bf16 gather would
 * need indexSelect to keep bf16 (the backends return f32 today); a bigger gain would be an implicit-GEMM conv that
 * gathers inside the GEMM tiles, as spconv does.
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
