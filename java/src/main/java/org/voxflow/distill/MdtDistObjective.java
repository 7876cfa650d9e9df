package org.voxflow.distill;

import java.util.LinkedHashMap;
import java.util.Map;
import org.voxflow.autograd.F;
import org.voxflow.autograd.Grad;
import org.voxflow.autograd.Jvp;
import org.voxflow.flow.Batching;
import org.voxflow.flow.FlowSchedule;
import org.voxflow.flow.VelocityField;
import org.voxflow.models.trellis.FlowModel;
import org.voxflow.tensor.Backend;
import org.voxflow.tensor.DType;
import org.voxflow.tensor.Rng;
import org.voxflow.tensor.Tensor;

/**
 * MDT-dist's training loss (Velocity Matching + Velocity Distillation) and, from the same code, the
 * consistency-model baseline, exactly as the reference trainer computes them:
 * <ul>
 * <li>VM: x_t from (x0, eps, t); teacher v_T = (1 + w) v(x_t, c) - w v(x_t, 0); g = d u / d t along the
 *     teacher's flow (discrete: (sg u(x_t, t) - u(x_t - d v_T, t - d)) / d; continuous: JVP of u along
 *     (v_T, 1)); g / (||g|| + 0.1) per sample; target = v_T - t g; L = (u - target)^2.</li>
 * <li>VD: x_hat = eps' - u(eps', 1); the VM target recomputed at x0 := x_hat without grad (w_VD);
 *     L = (u_f - target_f + u(eps', 1) - sg u(eps', 1))^2, so the gradient flows through the 1-step sample.</li>
 * <li>CM: pred = x_t - (t - t_tgt) u; target = x'' - (t - d - t_tgt) sg u(x'', t - d), x'' one teacher step.</li>
 * </ul>
 * loss = lambda_VM mean(L_VM) + lambda_VD mean(L_VD), means over all elements. Sparse batches take per-voxel
 * noise and per-instance norms, and VD keeps the ground-truth coordinates. (The reference's sparse discrete branch
 * never computes g; here the dense semantics apply per instance.)
 *
 * <p>The VM and VD terms (normalization of g, target, squared error, mean and the gradient w.r.t. the
 * prediction) are one fused op, {@link F#mdtVelocityLoss}; the CM baseline stays composed.
 */
public final class MdtDistObjective implements Objective {
    private final FlowModel teacher, student;
    private final MdtSettings s;
    private final FlowSchedule schedule;
    private final java.util.function.UnaryOperator<Tensor> condition;

    public MdtDistObjective(FlowModel teacher, FlowModel student, MdtSettings settings) {
        this(teacher, student, settings, c -> c);
    }

    /** @param condition maps the batch's raw condition to tokens (the teacher's frozen family tokens, say) */
    public MdtDistObjective(FlowModel teacher, FlowModel student, MdtSettings settings,
                            java.util.function.UnaryOperator<Tensor> condition) {
        if (!teacher.className().equals(student.className()))
            throw new IllegalArgumentException("teacher is a " + teacher.className() + ", student a " + student.className());
        this.teacher = teacher;
        this.student = student;
        this.s = settings;
        this.schedule = new FlowSchedule(settings.sigmaMin());
        this.condition = condition;
    }

    @Override public Losses loss(Batch batch, Rng rng) {
        Backend be = batch.x0().backend();
        int b = batch.batchSize();
        Tensor noise = rng.randn(be, batch.x0().shape());
        float[] t = new float[b];
        for (int i = 0; i < b; i++) t[i] = shiftT((float) sigmoid(rng.nextGaussian() * s.tStd() + s.tMean()));
        Tensor noiseFake = rng.randn(be, batch.x0().shape());
        return terms(batch, noise, noiseFake, be.fromFloats(t, b), pick(s.cfgVm(), rng), pick(s.cfgVd(), rng));
    }

    private static double sigmoid(double x) { return 1 / (1 + Math.exp(-x)); }

    private static double pick(double[] choices, Rng rng) { return choices.length == 1 ? choices[0] : choices[rng.nextInt(choices.length)]; }

    /** The reference's t shift applied to a draw u in (0, 1), in f32 like the reference. */
    float shiftT(float u) {
        if (s.mode() == MdtSettings.Mode.CONTINUOUS) return (float) s.sigmaMin() + (float) (1 - s.sigmaMin()) * u;
        return (float) (s.sigmaMin() + s.interval()) + (float) (1 - (s.interval() + s.sigmaMin())) * u;
    }

    /** The loss for given draws: the deterministic core the reference cases check. */
    public Losses terms(Batch batch, Tensor noise, Tensor noiseFake, Tensor t, double wVm, double wVd) {
        Tensor x0 = batch.x0(), cond;
        try (var ng = Grad.noGrad()) {
            cond = F.detach(condition.apply(batch.cond()));
        }
        Backend be = x0.backend();
        int b = batch.batchSize();
        VelocityField teacherField = VelocityField.of(teacher, b, batch.structure());
        VelocityField studentField = VelocityField.of(student, b, batch.structure());
        Tensor negCond = be.zeros(DType.F32, cond.shape());
        Batching batching = studentField.batching();
        Tensor total = null;
        Map<String, Float> terms = new LinkedHashMap<>();
        if (s.lambdaVm() > 0) {
            Term vm = predTarget(teacherField, studentField, x0, noise, t, cond, negCond, wVm);
            Tensor lvm = loss(vm, null, t, batching, (float) s.lambdaVm());
            terms.put("loss_vm", lvm.item());
            total = lvm;
        }
        if (s.lambdaVd() > 0) {
            Tensor t1000 = be.full(1000f, b);
            Tensor vFake = studentField.velocity(noiseFake, t1000, cond);
            Tensor xFake = F.detach(F.sub(noiseFake, vFake));
            Term vd;
            try (var ng = Grad.noGrad()) {
                vd = predTarget(teacherField, studentField, xFake, noise, t, cond, negCond, wVd);
            }
            // (u_f - target_f + v_f - sg v_f)^2: v_f carries the gradient of the one-step sample
            Tensor lvd = loss(vd, vFake, t, batching, (float) s.lambdaVd());
            terms.put("loss_vd", lvd.item());
            total = total == null ? lvd : F.add(total, lvd);
        }
        if (total == null) throw new IllegalStateException("both lambda_vm and lambda_vd are zero: nothing to train");
        terms.put("loss", total.item());
        return new Losses(total, terms);
    }

    /**
     * The reference's get_v_pred_tgt output: the student's prediction (with grad when recording) and its target,
     * either VM's target = v_T - t g-hat, kept as (v_T, g) for the fused loss, or CM's composed target.
     */
    private record Term(Tensor pred, Tensor vT, Tensor g, Tensor target) {
        static Term velocity(Tensor pred, Tensor vT, Tensor g) { return new Term(pred, vT, g, null); }

        static Term composed(Tensor pred, Tensor target) { return new Term(pred, null, null, target); }
    }

    /**
     * lambda * mean((pred - target + s - sg s)^2), s (null: none) taking pred's gradient. VM-style terms run as one
     * fused op (d_norm's per-sample g / (||g||_2 + 0.1) included); CM's composed.
     */
    private Tensor loss(Term term, Tensor straightThrough, Tensor t, Batching batching, float lambda) {
        if (term.target() == null)
            return F.mdtVelocityLoss(term.pred(), straightThrough, term.vT(), term.g(), t, batching.rowOffsets(), s.dNorm(),
                    D_NORM_EPS, lambda);
        Tensor diff = F.sub(term.pred(), term.target());
        if (straightThrough != null) diff = F.add(diff, F.sub(straightThrough, F.detach(straightThrough)));
        return F.mean(F.mul(F.square(diff), lambda));
    }

    /** The reference's d_norm: g / (||g||_2 + 0.1) per sample. */
    static final float D_NORM_EPS = 0.1f;

    /** The reference's get_v_pred_tgt: the student's prediction (with grad when recording) and its target. */
    private Term predTarget(VelocityField teacherField, VelocityField studentField, Tensor x0, Tensor noise, Tensor t,
                            Tensor cond, Tensor negCond, double w) {
        Batching batching = studentField.batching();
        Tensor tb = batching.broadcast(t, x0);
        Tensor xt = schedule.noised(x0, noise, tb);
        Tensor t1000 = F.mul(t, 1000f);
        Tensor vT;
        try (var ng = Grad.noGrad()) {
            vT = teacherField.velocity(xt, t1000, cond);
            if (w > 0) vT = F.sub(F.mul(vT, (float) (1 + w)), F.mul(teacherField.velocity(xt, t1000, negCond), (float) w));
        }
        Tensor interval = x0.backend().full((float) s.interval(), 1);
        switch (s.mode()) {
            case CONTINUOUS -> {
                Tensor vPred = studentField.velocity(xt, t1000, cond);
                Tensor dv = Jvp.jvp(in -> studentField.velocity(in[0], F.mul(in[1], 1000f), cond),
                        new Tensor[] {xt, t}, new Tensor[] {vT, t.backend().full(1f, t.shape())}).tangent();
                return Term.velocity(vPred, vT, dv);
            }
            case DISCRETE -> {
                Tensor vPred = studentField.velocity(xt, t1000, cond);
                Tensor dv;
                try (var ng = Grad.noGrad()) {
                    Tensor tPrev = F.sub(t, interval);
                    Tensor xPrev = F.sub(xt, F.mul(batching.broadcast(F.sub(t, tPrev), xt), vT));
                    Tensor vPrev = studentField.velocity(xPrev, F.mul(tPrev, 1000f), cond);
                    dv = F.div(F.sub(F.detach(vPred), vPrev), interval);
                }
                return Term.velocity(vPred, vT, dv);
            }
            case CM -> {
                Tensor tTgt = targetT(t);
                Tensor tPrev = F.sub(t, interval);
                Tensor vPred = studentField.velocity(xt, t1000, cond);
                Tensor pred = F.sub(xt, F.mul(batching.broadcast(F.sub(t, tTgt), xt), vPred));
                Tensor target;
                try (var ng = Grad.noGrad()) {
                    Tensor xPrev = F.sub(xt, F.mul(batching.broadcast(F.sub(t, tPrev), xt), vT));
                    Tensor vPrev = studentField.velocity(xPrev, F.mul(tPrev, 1000f), cond);
                    target = F.sub(xPrev, F.mul(batching.broadcast(F.sub(tPrev, tTgt), xt), vPrev));
                }
                return Term.composed(pred, target);
            }
            default -> throw new AssertionError(s.mode());
        }
    }

    /**
     * The start of each sample's CM phase: phases begin at linspace(0, 1, multiphase, endpoint=False); the
     * reference picks argmax(t - d < targets) - 1 (index -1, the last phase, when no target exceeds t - d).
     */
    Tensor targetT(Tensor t) {
        float[] tv = t.toFloats();
        int m = s.multiphase();
        float[] targets = new float[m];
        for (int i = 0; i < m; i++) targets[i] = (float) ((double) i / m);
        float[] out = new float[tv.length];
        for (int i = 0; i < tv.length; i++) {
            if (m == 1) { out[i] = targets[0]; continue; }
            float shifted = tv[i] - (float) s.interval();
            int first = 0;
            for (int k = 0; k < m; k++) if (shifted < targets[k]) { first = k; break; }
            int idx = first - 1;
            out[i] = targets[idx < 0 ? idx + m : idx];
        }
        return t.backend().fromFloats(out, tv.length);
    }
}
