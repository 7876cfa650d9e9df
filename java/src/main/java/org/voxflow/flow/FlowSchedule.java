package org.voxflow.flow;

import org.voxflow.autograd.F;
import org.voxflow.tensor.Tensor;

/**
 * TRELLIS's rectified flow: x_t = (1 - t) x0 + (sigma_min + (1 - sigma_min) t) eps, target velocity
 * v = (1 - sigma_min) eps - x0, and the x0/eps recovered from a velocity.
 */
public record FlowSchedule(double sigmaMin) {
    public static final FlowSchedule TRELLIS = new FlowSchedule(1e-5);

    /** x_t for per-sample t already broadcast against x0 (tb), as the training code forms it. */
    public Tensor noised(Tensor x0, Tensor eps, Tensor tb) {
        Tensor a = F.rsub(tb, 1f);
        Tensor s = F.add(F.mul(tb, (float) (1 - sigmaMin)), (float) sigmaMin);
        return F.add(F.mul(a, x0), F.mul(s, eps));
    }

    public Tensor targetVelocity(Tensor x0, Tensor eps) {
        return F.sub(F.mul(eps, (float) (1 - sigmaMin)), x0);
    }

    /** x0 = (1 - sigma_min) x_t - (sigma_min + (1 - sigma_min) t) v, t a scalar time. */
    public Tensor x0FromVelocity(Tensor xt, double t, Tensor v) {
        return F.sub(F.mul(xt, x0Scale()), F.mul(v, x0VelocityScale(t)));
    }

    /** The f32 coefficient of x_t in {@link #x0FromVelocity}: 1 - sigma_min. */
    public float x0Scale() { return (float) (1 - sigmaMin); }

    /** The f32 coefficient of v in {@link #x0FromVelocity}: sigma_min + (1 - sigma_min) t. */
    public float x0VelocityScale(double t) { return (float) (sigmaMin + (1 - sigmaMin) * t); }
}
