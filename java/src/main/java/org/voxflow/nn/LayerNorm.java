package org.voxflow.nn;

import org.voxflow.autograd.F;
import org.voxflow.tensor.Backend;
import org.voxflow.tensor.DType;
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

    /**
     * The residual update x1 = x + h (gate null) or x + h * gate, then forward(x1) rounded to out, as one op: returns
     * {x1, normed}. Affine norms only.
     */
    public Tensor[] forwardResidual(Tensor x, Tensor h, Tensor gate, DType out) {
        if (weight == null || bias == null) throw new IllegalStateException("forwardResidual needs the affine parameters");
        return F.residualNormAffine(x, h, gate, eps, weight, bias, out);
    }

    /** The residual update, then forwardModulated(x1, onePlusScale, shift, out), as one op: {x1, normed}. */
    public Tensor[] forwardResidualModulated(Tensor x, Tensor h, Tensor gate, Tensor onePlusScale, Tensor shift, DType out) {
        if (weight != null || bias != null) throw new IllegalStateException("adaLN modulation follows a norm without affine parameters");
        return F.residualNormAffine(x, h, gate, eps, onePlusScale, shift, out);
    }

    /**
     * A non-affine norm followed by adaLN modulation, forward(x) * onePlusScale + shift rounded to out, as one op
     * (scale and shift broadcast against x).
     */
    public Tensor forwardModulated(Tensor x, Tensor onePlusScale, Tensor shift, DType out) {
        if (weight != null || bias != null) throw new IllegalStateException("adaLN modulation follows a norm without affine parameters");
        return F.normalizeAffine(x, eps, onePlusScale, shift, out);
    }
}
