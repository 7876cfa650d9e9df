package org.voxflow.nn;

import org.voxflow.autograd.F;
import org.voxflow.tensor.Backend;
import org.voxflow.tensor.Tensor;

/** Layer norm over the last axis, computed in f32 (TRELLIS's LayerNorm32); affine parameters optional. */
public final class LayerNorm extends Module {
    public final Tensor weight, bias;
    private final float eps;

    public LayerNorm(Backend be, int channels, boolean affine, float eps) {
        super(be);
        this.eps = eps;
        this.weight = affine ? param("weight", channels) : null;
        this.bias = affine ? param("bias", channels) : null;
        if (affine) be.assign(weight, be.full(1f, channels));
    }

    public Tensor forward(Tensor x) { return F.layerNorm(x, weight, bias, eps); }
}
