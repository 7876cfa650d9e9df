package org.voxflow.distill;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.UnaryOperator;
import org.voxflow.autograd.F;
import org.voxflow.flow.FlowSchedule;
import org.voxflow.flow.VelocityField;
import org.voxflow.models.trellis.FlowModel;
import org.voxflow.tensor.Backend;
import org.voxflow.tensor.Rng;
import org.voxflow.tensor.Tensor;

/**
 * Teacher training as TRELLIS's FlowMatchingCFGTrainer does it: t = sigmoid(N(mean, std)) (logit-normal, TRELLIS
 * uses 1, 1), the condition replaced by zeros with probability p_uncond (so classifier-free guidance has an
 * unconditional model to push away from), x_t = (1 - t) x0 + (sigma_min + (1 - sigma_min) t) eps, and the mean
 * squared error against v = (1 - sigma_min) eps - x0.
 */
public final class FlowMatchingObjective implements Objective {
    private final FlowModel model;
    private final UnaryOperator<Tensor> condition;
    private final double pUncond, tMean, tStd;
    private final FlowSchedule schedule;

    /**
     * @param condition maps the batch's raw condition to the model's tokens (e.g. learned family tokens, with grad);
     *                  identity when the batch already holds tokens
     */
    public FlowMatchingObjective(FlowModel model, UnaryOperator<Tensor> condition, double pUncond, double tMean, double tStd,
                                 double sigmaMin) {
        if (pUncond < 0 || pUncond > 1) throw new IllegalArgumentException("p_uncond must be in [0, 1], got " + pUncond);
        this.model = model;
        this.condition = condition;
        this.pUncond = pUncond;
        this.tMean = tMean;
        this.tStd = tStd;
        this.schedule = new FlowSchedule(sigmaMin);
    }

    @Override public Losses loss(Batch batch, Rng rng) {
        Backend be = batch.x0().backend();
        int b = batch.batchSize();
        Tensor noise = rng.randn(be, batch.x0().shape());
        float[] t = new float[b], keep = new float[b];
        for (int i = 0; i < b; i++) {
            t[i] = (float) (1 / (1 + Math.exp(-(rng.nextGaussian() * tStd + tMean))));
            keep[i] = rng.nextDouble() < pUncond ? 0f : 1f;
        }
        Tensor cond = condition.apply(batch.cond());
        cond = F.mul(cond, be.fromFloats(keep, b, 1, 1));
        VelocityField field = VelocityField.of(model, b, batch.structure());
        Tensor tt = be.fromFloats(t, b);
        Tensor xt = schedule.noised(batch.x0(), noise, field.batching().broadcast(tt, batch.x0()));
        Tensor v = field.velocity(xt, F.mul(tt, 1000f), cond);
        Tensor loss = F.mean(F.square(F.sub(v, schedule.targetVelocity(batch.x0(), noise))));
        Map<String, Float> terms = new LinkedHashMap<>();
        terms.put("loss", loss.item());
        return new Losses(loss, terms);
    }
}
