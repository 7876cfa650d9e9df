package org.voxflow.distill;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.voxflow.autograd.F;
import org.voxflow.autograd.Grad;
import org.voxflow.autograd.Gradcheck;
import org.voxflow.autograd.Jvp;
import org.voxflow.flow.Batching;
import org.voxflow.nn.RowLayout;
import org.voxflow.tensor.Backend;
import org.voxflow.tensor.Backends;
import org.voxflow.tensor.Rng;
import org.voxflow.tensor.Tensor;

/**
 * The fused MDT-dist loss term ({@link F#mdtVelocityLoss}, CPU) against the composed formula the objective used
 * before (per-sample norm through Batching, target, squared error, scale, mean): values and gradients for dense and
 * sparse batches, d_norm on and off, with and without VD's straight-through tensor; plus gradcheck and the errors.
 */
class FusedMdtLossTest {
    static final Backend CPU = Backends.cpu();
    static final float EPS = MdtDistObjective.D_NORM_EPS;

    /** The composed formula, as MdtDistObjective built it before the fusion. */
    static Tensor composed(Tensor pred, Tensor st, Tensor vT, Tensor g, Tensor t, Batching batching, boolean dNorm, float lambda) {
        Tensor gh = g;
        if (dNorm) {
            Tensor norm = F.sqrt(batching.perSampleSum(F.square(g)));
            gh = F.div(g, batching.broadcast(F.add(norm, EPS), g));
        }
        Tensor target = F.sub(vT, F.mul(batching.broadcast(t, pred), gh));
        Tensor diff = F.sub(pred, target);
        if (st != null) diff = F.add(diff, F.sub(st, F.detach(st)));
        return F.mean(F.mul(F.square(diff), lambda));
    }

    record Case(String name, int[] shape, Batching batching, int[] offsets) {}

    static Case dense(int b, int... rest) {
        int[] shape = new int[rest.length + 1];
        shape[0] = b;
        System.arraycopy(rest, 0, shape, 1, rest.length);
        Batching bt = Batching.dense(b);
        return new Case("dense " + Arrays.toString(shape), shape, bt, bt.rowOffsets());
    }

    static Case sparse(int channels, int... lengths) {
        int[] cu = new int[lengths.length + 1];
        for (int i = 0; i < lengths.length; i++) cu[i + 1] = cu[i] + lengths[i];
        return new Case("sparse " + Arrays.toString(lengths) + " x " + channels, new int[] {cu[lengths.length], channels},
                Batching.sparse(new RowLayout(cu)), cu);
    }

    static final Case[] CASES = {
            dense(3, 2, 3, 3, 3), dense(1, 5), dense(2, 8, 4, 4, 4), sparse(8, 30, 18), sparse(3, 0, 1, 5, 0, 3),
            sparse(1, 1), sparse(5, 7, 0)};

    /** Inputs with a different scale of g and a different t per sample, so a wrong segment shows. */
    static Tensor[] inputs(Case c, long seed) {
        Rng rng = new Rng(seed);
        int n = Arrays.stream(c.shape).reduce(1, (a, b) -> a * b);
        int samples = c.offsets.length - 1;
        float[] g = rng.normal(n);
        int row = c.shape[0] == 0 ? 0 : n / c.shape[0];
        for (int b = 0; b < samples; b++)
            for (int i = c.offsets[b] * row; i < c.offsets[b + 1] * row; i++) g[i] *= 1 + 3 * b;
        float[] t = new float[samples];
        for (int b = 0; b < samples; b++) t[b] = 0.1f + 0.8f * (float) rng.nextDouble();
        return new Tensor[] {CPU.fromFloats(rng.normal(n), c.shape), CPU.fromFloats(rng.normal(n), c.shape),
                CPU.fromFloats(g, c.shape), CPU.fromFloats(t, samples), CPU.fromFloats(rng.normal(n), c.shape)};
    }

    static double maxAbs(float[] v) {
        double m = 0;
        for (float x : v) m = Math.max(m, Math.abs(x));
        return m;
    }

    static double relErr(float[] got, float[] want) {
        assertEquals(want.length, got.length);
        double e = 0;
        for (int i = 0; i < got.length; i++) e = Math.max(e, Math.abs(got[i] - want[i]));
        double m = maxAbs(want);
        return m == 0 ? e : e / m;
    }

    /** {loss, grad of pred, grad of the straight-through tensor (or null)} from fused or composed. */
    static float[][] run(Case c, Tensor[] in, boolean useSt, boolean dNorm, float lambda, boolean fused) {
        Tensor pred = F.detach(in[0]).setRequiresGrad(!useSt);
        Tensor st = useSt ? F.detach(in[4]).setRequiresGrad(true) : null;
        Tensor loss;
        try (var on = Grad.enabledScope()) {
            loss = fused ? F.mdtVelocityLoss(pred, st, in[1], in[2], in[3], c.offsets, dNorm, EPS, lambda)
                    : composed(pred, st, in[1], in[2], in[3], c.batching, dNorm, lambda);
            Grad.backward(loss);
        }
        assertEquals(0, loss.dim(), "a scalar loss");
        Tensor gp = useSt ? null : pred.grad(), gs = useSt ? st.grad() : null;
        return new float[][] {{loss.item()}, gp == null ? null : gp.toFloats(), gs == null ? null : gs.toFloats()};
    }

    @Test void fusedEqualsComposedValuesAndGradients() {
        double worstLoss = 0, worstGrad = 0;
        for (Case c : CASES)
            for (boolean dNorm : new boolean[] {true, false})
                for (boolean useSt : new boolean[] {false, true}) {
                    Tensor[] in = inputs(c, 11);
                    float lambda = 0.75f;
                    float[][] f = run(c, in, useSt, dNorm, lambda, true), r = run(c, in, useSt, dNorm, lambda, false);
                    String what = c.name + " dNorm=" + dNorm + " straightThrough=" + useSt;
                    double le = Math.abs(f[0][0] - r[0][0]) / Math.abs(r[0][0]);
                    double ge = relErr(useSt ? f[2] : f[1], useSt ? r[2] : r[1]);
                    worstLoss = Math.max(worstLoss, le);
                    worstGrad = Math.max(worstGrad, ge);
                    // dense per-sample sums are the same double sums, so only sparse d_norm may differ (by the
                    // composed f32 scatter-add of per-row sums): a few ulps
                    double bar = dNorm && c.name.startsWith("sparse") ? 1e-6 : 0;
                    assertTrue(le <= bar, what + ": loss " + f[0][0] + " vs composed " + r[0][0]);
                    assertTrue(ge <= bar, what + ": gradient rel err " + ge);
                    assertTrue(f[0][0] > 0 && Double.isFinite(f[0][0]), what + ": loss " + f[0][0]);
                }
        System.out.printf("fused vs composed MDT loss: worst loss rel err %.3e, worst gradient rel err %.3e%n", worstLoss, worstGrad);
    }

    @Test void straightThroughTakesPredsGradientAndAddsNothing() {
        Case c = sparse(4, 3, 6);
        Tensor[] in = inputs(c, 3);
        Tensor pred = F.detach(in[0]).setRequiresGrad(true), st = F.detach(in[4]).setRequiresGrad(true);
        Tensor both;
        try (var on = Grad.enabledScope()) {
            both = F.mdtVelocityLoss(pred, st, in[1], in[2], in[3], c.offsets, true, EPS, 2f);
            Grad.backward(both);
        }
        float plain = F.mdtVelocityLoss(in[0], null, in[1], in[2], in[3], c.offsets, true, EPS, 2f).item();
        assertEquals(plain, both.item(), 0f, "s - sg(s) adds zero");
        assertTrue(Arrays.equals(pred.grad().toFloats(), st.grad().toFloats()), "the same gradient reaches both");
    }

    @Test void gradcheckAndJvpOfPred() {
        for (Case c : new Case[] {dense(2, 3, 2), sparse(3, 2, 0, 3), sparse(2, 1)})
            for (boolean dNorm : new boolean[] {true, false}) {
                Tensor[] in = inputs(c, 5);
                Gradcheck.Report r = Gradcheck.check(x -> F.mdtVelocityLoss(x[0], null, in[1], in[2], in[3], c.offsets, dNorm, EPS, 1.5f),
                        new Tensor[] {in[0]}, 1e-2, 7);
                assertTrue(r.maxRelError() < 2e-2, c.name + " dNorm=" + dNorm + ": " + r.maxRelError() + " at " + r.where());
            }
        // forward mode: the tangent is dL/dpred . direction
        Case c = sparse(3, 4, 2);
        Tensor[] in = inputs(c, 8);
        Tensor dir = new Rng(2).randn(CPU, c.shape);
        Jvp.Result jr = Jvp.jvp(x -> F.mdtVelocityLoss(x[0], null, in[1], in[2], in[3], c.offsets, true, EPS, 1f),
                new Tensor[] {in[0]}, new Tensor[] {dir});
        Tensor grad = CPU.mdtVelocityLoss(in[0], in[1], in[2], in[3], c.offsets, true, EPS, 1f, true)[1];
        float[] gv = grad.toFloats(), dv = dir.toFloats();
        double dot = 0;
        for (int i = 0; i < gv.length; i++) dot += (double) gv[i] * dv[i];
        assertEquals(dot, jr.tangent().item(), 1e-6 * Math.max(1, Math.abs(dot)));
    }

    @Test void backendPrimitiveSkipsTheGradientWhenNotWanted() {
        Case c = dense(2, 3);
        Tensor[] in = inputs(c, 4);
        Tensor[] with = CPU.mdtVelocityLoss(in[0], in[1], in[2], in[3], c.offsets, true, EPS, 1f, true);
        Tensor[] without = CPU.mdtVelocityLoss(in[0], in[1], in[2], in[3], c.offsets, true, EPS, 1f, false);
        assertNull(without[1]);
        assertEquals(with[0].item(), without[0].item(), 0f);
        // views read like dense tensors
        Tensor predT = CPU.copy(in[0].transpose(0, 1)).transpose(0, 1);
        assertEquals(with[0].item(), CPU.mdtVelocityLoss(predT, in[1], in[2], in[3], c.offsets, true, EPS, 1f, false)[0].item(), 0f);
    }

    @Test void refusesWhatItCannotDifferentiateOrSplit() {
        Case c = dense(2, 3);
        Tensor[] in = inputs(c, 4);
        Tensor vtGrad = F.detach(in[1]).setRequiresGrad(true);
        try (var on = Grad.enabledScope()) {
            assertThrows(IllegalArgumentException.class,
                    () -> F.mdtVelocityLoss(in[0], null, vtGrad, in[2], in[3], c.offsets, true, EPS, 1f), "vT with grad");
        }
        assertThrows(IllegalArgumentException.class,
                () -> F.mdtVelocityLoss(in[0], null, in[1], in[2], in[3], new int[] {0, 1}, true, EPS, 1f), "offsets not ending at 2");
        assertThrows(IllegalArgumentException.class,
                () -> F.mdtVelocityLoss(in[0], null, in[1], in[2], in[3], new int[] {0, 2, 1, 2}, true, EPS, 1f), "decreasing");
        assertThrows(IllegalArgumentException.class,
                () -> F.mdtVelocityLoss(in[0], null, in[1], in[2], CPU.fromFloats(new float[3], 3), c.offsets, true, EPS, 1f), "t length");
        assertThrows(IllegalArgumentException.class,
                () -> F.mdtVelocityLoss(in[0], null, in[1].reshape(3, 2), in[2], in[3], c.offsets, true, EPS, 1f), "shape");
    }
}
