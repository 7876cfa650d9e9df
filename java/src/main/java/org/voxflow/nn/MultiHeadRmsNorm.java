package org.voxflow.nn;

import org.voxflow.autograd.F;
import org.voxflow.tensor.Backend;
import org.voxflow.tensor.DType;
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

    public Tensor forward(Tensor x) { return forward(x, DType.F32); }

    /** Rounded to out; one row kernel on GPUs (reading a q/k slice in place, gamma sqrt(head_dim) in the same pass). */
    public Tensor forward(Tensor x, DType out) { return F.l2Normalize(x, 1e-12f, F.mul(gamma, scale), out); }
}
