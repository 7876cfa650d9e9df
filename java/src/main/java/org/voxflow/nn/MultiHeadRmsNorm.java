package org.voxflow.nn;

import org.voxflow.autograd.F;
import org.voxflow.tensor.Backend;
import org.voxflow.tensor.Tensor;

/**
 * TRELLIS's MultiHeadRMSNorm: F.normalize(x, dim=-1) * gamma * sqrt(head_dim) on [..., heads, head_dim], gamma
 * [heads, head_dim]. (An L2 normalization scaled back, equivalent to RMS norm up to its epsilon.)
 */
public final class MultiHeadRmsNorm extends Module {
    public final Tensor gamma;
    private final float scale;

    public MultiHeadRmsNorm(Backend be, int headDim, int heads) {
        super(be);
        this.gamma = param("gamma", heads, headDim);
        be.assign(gamma, be.full(1f, heads, headDim));
        this.scale = (float) Math.sqrt(headDim);
    }

    /** Two passes: the row normalization (reading a q/k slice in place) and one multiply by gamma sqrt(head_dim). */
    public Tensor forward(Tensor x) { return F.mul(F.l2Normalize(x, 1e-12f), F.mul(gamma, scale)); }
}
