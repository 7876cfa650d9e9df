package org.voxflow.models.trellis;

import org.voxflow.autograd.F;
import org.voxflow.nn.LayerNorm;
import org.voxflow.nn.Linear;
import org.voxflow.nn.Module;
import org.voxflow.nn.Sequential;
import org.voxflow.sparse.SparseConv3d;
import org.voxflow.sparse.SparseTensor;
import org.voxflow.tensor.Backend;
import org.voxflow.tensor.Tensor;

/**
 * TRELLIS's SparseResBlock3d: optional down/upsampling first, then LayerNorm(affine) - SiLU - conv1 -
 * LayerNorm * (1 + scale) + shift from the timestep embedding - SiLU - conv2, plus the (linear when channels
 * change) skip of the resampled input.
 */
final class SparseResBlock3d extends Module {
    enum Resample { NONE, DOWN, UP }

    private final LayerNorm norm1, norm2;
    private final SparseConv3d conv1, conv2;
    private final Linear emb, skip;
    private final Resample resample;

    SparseResBlock3d(Backend be, int channels, int embChannels, int outChannels, Resample resample) {
        super(be);
        this.resample = resample;
        norm1 = child("norm1", new LayerNorm(be, channels, true, 1e-6f));
        norm2 = child("norm2", new LayerNorm(be, outChannels, false, 1e-6f));
        conv1 = child("conv1", new SparseConv3d(be, channels, outChannels));
        conv2 = child("conv2", new SparseConv3d(be, outChannels, outChannels));
        emb = child("emb_layers", new Sequential(be)).add("1", new Linear(be, embChannels, 2 * outChannels));
        skip = channels != outChannels ? child("skip_connection", new Linear(be, channels, outChannels)) : null;
    }

    /** forward, with temporaries freed on return when no graph is recorded (the structure may change: resampling). */
    SparseTensor forwardScoped(SparseTensor x, Tensor tEmb) {
        SparseTensor[] out = new SparseTensor[1];
        org.voxflow.nn.InferenceScope.run(() -> {
            out[0] = forward(x, tEmb);
            return out[0].feats();
        });
        return out[0];
    }

    SparseTensor forward(SparseTensor x, Tensor tEmb) {
        Tensor[] ss = F.chunk(emb.forward(F.silu(tEmb)), 2, 1);
        x = switch (resample) {
            case NONE -> x;
            case DOWN -> x.downsample();
            case UP -> x.upsample();
        };
        var layout = x.structure().layout();
        SparseTensor h = x.withFeats(F.silu(norm1.forward(x.feats())));
        h = conv1.forward(h);
        Tensor n = norm2.forward(h.feats());
        Tensor scale = layout.perRow(ss[0]), shift = layout.perRow(ss[1]);
        h = h.withFeats(F.silu(F.add(F.add(n, F.mul(n, scale)), shift)));
        h = conv2.forward(h);
        Tensor s = skip == null ? x.feats() : skip.forward(x.feats());
        return h.withFeats(F.add(h.feats(), s));
    }
}
