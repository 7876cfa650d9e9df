package org.voxflow.nn;

import org.voxflow.autograd.F;
import org.voxflow.autograd.Grad;
import org.voxflow.tensor.Backend;
import org.voxflow.tensor.DType;
import org.voxflow.tensor.MemoryScope;
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

    /** gamma sqrt(head_dim) for sampling, reused until gamma is written in place (its storage version moves); it lives
     *  outside memory scopes, like gamma itself. */
    private Tensor gains;
    private long gainsVersion;

    public Tensor forward(Tensor x) { return forward(x, DType.F32); }

    /** Rounded to out; one row kernel on GPUs (reading a q/k slice in place, gamma sqrt(head_dim) in the same pass). */
    public Tensor forward(Tensor x, DType out) { return F.l2Normalize(x, 1e-12f, gains(x), out); }

    /** The pair's gains [2 heads, head_dim] (this norm's, then other's), kept while both norms keep theirs. */
    private Tensor pairGains, pairFirst, pairSecond;

    /**
     * This norm on qk[:, :heads] and other on qk[:, heads:] of qk [N, 2 heads, head_dim] (q and k next to each other in
     * a packed projection), in one row pass: out [N, 2 heads, head_dim] of type out, the same values as the two
     * forwards.
     */
    public Tensor forwardPair(MultiHeadRmsNorm other, Tensor qk, DType out) {
        Tensor a = gains(qk), b = other.gains(qk);
        boolean kept = a == gains && b == other.gains;
        if (!kept) return F.l2Normalize(qk, 1e-12f, F.concat(new Tensor[] {a, b}, 0), out);
        if (pairGains == null || pairGains.storage().isClosed() || pairFirst != a || pairSecond != b) {
            if (pairGains != null && !pairGains.storage().isClosed()) pairGains.close();
            pairGains = MemoryScope.outside(() -> F.concat(new Tensor[] {a, b}, 0));
            pairFirst = a;
            pairSecond = b;
        }
        return F.l2Normalize(qk, 1e-12f, pairGains, out);
    }

    /**
     * gamma sqrt(head_dim): recorded (so gamma gets its gradient) while a graph is being built or a tangent rides
     * along; otherwise the same values, computed once and kept, which spares every sampling forward one small kernel
     * per norm.
     */
    private Tensor gains(Tensor x) {
        if ((Grad.enabled() && gamma.requiresGrad()) || x.tangent() != null || gamma.tangent() != null) return F.mul(gamma, scale);
        long v = gamma.storage().version();
        if (gains == null || gains.storage().isClosed() || v != gainsVersion) {
            if (gains != null && !gains.storage().isClosed()) gains.close();
            gains = MemoryScope.outside(() -> F.mul(F.detach(gamma), scale));
            gainsVersion = v;
        }
        return gains;
    }
}
