package org.voxflow.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.voxflow.autograd.F;
import org.voxflow.autograd.Grad;
import org.voxflow.distill.Batch;
import org.voxflow.distill.Losses;
import org.voxflow.distill.MdtDistObjective;
import org.voxflow.distill.MdtSettings;
import org.voxflow.models.trellis.FlowModel;
import org.voxflow.models.trellis.TrellisCheckpoint;
import org.voxflow.sparse.SparseFixtures;
import org.voxflow.sparse.SparseStructure;
import org.voxflow.tensor.Backend;
import org.voxflow.tensor.DType;
import org.voxflow.tensor.Rng;
import org.voxflow.tensor.Tensor;

/**
 * The fused flow step and MDT-dist loss (vf_flow.cu) against the CPU reference.
 * <ul>
 * <li>flowStep rounds every product and difference on its own on both sides, so it must match bit for bit (atol 0),
 *     at awkward sizes (1, odd, not multiples of 4: the float4 path's scalar tail), on views at odd offsets (the
 *     unaligned scalar path), non-contiguous and bf16 inputs, and sizes that need a grid-stride loop.</li>
 * <li>mdtVelocityLoss: without d_norm no sum enters the gradient, so it too must match bit for bit, which pins the
 *     per-element sample lookup (each sample has its own t); with d_norm the per-sample norms are sums in another
 *     order (f32 partials), a few ulps, so the gradient is held to 2e-6 of its largest value. Samples scale g
 *     differently (1 + 3b), so a norm taken over the wrong elements is off by a factor, not an ulp. The loss, a
 *     mean over all elements, is held to 1e-5 relative. Segments: dense and sparse, empty ones, length-1 ones,
 *     boundaries inside a float4, samples of several reduction chunks (8192 elements) starting unaligned.</li>
 * <li>End to end: MDT-dist's loss terms and every student gradient on a tiny sparse (stage-2) model, discrete and
 *     continuous, CPU vs GPU in f32 at the reference suite's bar 1e-4 (the dense cases run in
 *     GpuReferenceParityTest).</li>
 * </ul>
 */
class CudaFlowParityTest extends GpuParityBase {
    static final int[] SIZES = {1, 2, 3, 4, 5, 7, 8, 33, 1023, 1024, 1025, 4099, 65_539, (1 << 20) + 2, 3_000_001};

    private Tensor[] flowStep(Backend be, Tensor x, Tensor vc, Tensor vn) {
        return be.flowStep(x, vc, vn, 6f, 5f, 0.0371f, 0.99999f, 0.7312345f);
    }

    private void assertFlowStepEqual(String what, Tensor[] x, Tensor[] vc, Tensor[] vn) {
        Tensor[] c = flowStep(cpu, x[0], vc[0], vn == null ? null : vn[0]);
        Tensor[] g = flowStep(gpu, x[1], vc[1], vn == null ? null : vn[1]);
        assertSame(what + " x_prev", c[0], g[0], 0, 0);
        assertSame(what + " x0", c[1], g[1], 0, 0);
    }

    @Test
    void flowStepBitForBitAtAwkwardSizes() {
        for (int n : SIZES)
            for (boolean guided : new boolean[] {true, false})
                assertFlowStepEqual("flowStep n=" + n + " guided=" + guided, randnPair(n), randnPair(n), guided ? randnPair(n) : null);
        assertFlowStepEqual("flowStep 5-d state", randnPair(2, 8, 16, 16, 16), randnPair(2, 8, 16, 16, 16), randnPair(2, 8, 16, 16, 16));
        // a velocity that must not move x: v = 6 vc - 5 vn = 0 exactly where vc == vn
        Tensor[] v = randnPair(37);
        assertFlowStepEqual("flowStep vc == vn", randnPair(37), v, v);
    }

    /** The elements [1, n + 1) of a fresh n + 1 tensor: contiguous, but 4 bytes past an aligned address. */
    private Tensor[] shifted(int n) {
        Tensor[] p = randnPair(n + 1);
        return new Tensor[] {p[0].slice(0, 1, n + 1), p[1].slice(0, 1, n + 1)};
    }

    @Test
    void flowStepOnViewsAndOtherDtypes() {
        for (int n : new int[] {1, 6, 1027, 100_003}) {
            assertFlowStepEqual("flowStep unaligned x n=" + n, shifted(n), randnPair(n), randnPair(n));
            assertFlowStepEqual("flowStep unaligned vCond n=" + n, randnPair(n), shifted(n), randnPair(n));
            assertFlowStepEqual("flowStep unaligned vNeg n=" + n, randnPair(n), randnPair(n), shifted(n));
            assertFlowStepEqual("flowStep all unaligned n=" + n, shifted(n), shifted(n), null);
        }
        Tensor[] t = randnPair(40, 13);
        Tensor[] tr = {t[0].transpose(0, 1), t[1].transpose(0, 1)};
        assertFlowStepEqual("flowStep transposed vCond", randnPair(13, 40), tr, randnPair(13, 40));
        Tensor[] b = randnPair(3, 77);
        Tensor[] bf = {cpu.cast(b[0], DType.BF16), gpu.cast(b[1], DType.BF16)};
        assertFlowStepEqual("flowStep bf16 x", bf, randnPair(3, 77), randnPair(3, 77));
        Tensor[] empty = randnPair(0, 4);
        assertFlowStepEqual("flowStep empty", empty, randnPair(0, 4), randnPair(0, 4));
        assertThrows(IllegalArgumentException.class, () -> gpu.flowStep(gpu.zeros(DType.F32, 4), gpu.zeros(DType.F32, 5), null, 1, 0, 1, 1, 1));
    }

    // ---- MDT velocity loss ----------------------------------------------------------------------------------------

    /** A segment layout: rows per sample over a [rows, rowSize...] state. */
    private record Layout(String name, int[] shape, int[] offsets) {
        int n() { return Arrays.stream(shape).reduce(1, (a, b) -> a * b); }
    }

    private static Layout dense(int... shape) {
        int[] o = new int[shape[0] + 1];
        for (int i = 0; i <= shape[0]; i++) o[i] = i;
        return new Layout("dense " + Arrays.toString(shape), shape, o);
    }

    private static Layout sparse(int channels, int... lengths) {
        int[] cu = new int[lengths.length + 1];
        for (int i = 0; i < lengths.length; i++) cu[i + 1] = cu[i] + lengths[i];
        return new Layout("sparse " + Arrays.toString(lengths) + " x " + channels, new int[] {cu[lengths.length], channels}, cu);
    }

    static final Layout[] LAYOUTS = {
            dense(4, 8, 8, 8, 8), dense(2, 8, 32, 32, 32), dense(1, 1), dense(3, 1_000_003), dense(5, 3, 3, 3),
            sparse(3, 0, 1, 5, 0, 3), sparse(8, 30, 18), sparse(1, 1), sparse(5, 7, 0), sparse(3, 5000, 1, 6001, 0, 1234),
            sparse(1, 3, 2, 1, 4, 2, 1, 0, 5)};

    /** {pred, vT, g, t} on both backends; sample b's g scaled by 1 + 3b, t distinct per sample. */
    private Tensor[][] lossInputs(Layout l, boolean unaligned) {
        int n = l.n(), samples = l.offsets.length - 1, row = l.shape[0] == 0 ? 0 : n / l.shape[0];
        float[] g = randn(n);
        for (int b = 0; b < samples; b++)
            for (int i = l.offsets[b] * row; i < l.offsets[b + 1] * row; i++) g[i] *= 1 + 3 * b;
        float[] t = uniform(samples, 0.05f, 0.95f);
        Tensor[] pred = unaligned ? viewOf(randn(n), l.shape) : pair(randn(n), l.shape);
        Tensor[] gg = unaligned ? viewOf(g, l.shape) : pair(g, l.shape);
        return new Tensor[][] {pred, pair(randn(n), l.shape), gg, pair(t, samples)};
    }

    /** The values as a view at element offset 1 of a larger tensor (unaligned for float4). */
    private Tensor[] viewOf(float[] v, int[] shape) {
        float[] w = new float[v.length + 1];
        System.arraycopy(v, 0, w, 1, v.length);
        Tensor[] p = pair(w, w.length);
        return new Tensor[] {p[0].slice(0, 1, w.length).reshape(shape), p[1].slice(0, 1, w.length).reshape(shape)};
    }

    static double maxAbs(float[] v) {
        double m = 0;
        for (float x : v) m = Math.max(m, Math.abs(x));
        return m;
    }

    @Test
    void mdtLossMatchesOnEverySegmentLayout() {
        for (Layout l : LAYOUTS)
            for (boolean unaligned : new boolean[] {false, true})
                for (boolean dNorm : new boolean[] {true, false}) {
                    Tensor[][] in = lossInputs(l, unaligned);
                    String what = "mdtVelocityLoss " + l.name + (unaligned ? " unaligned" : "") + " dNorm=" + dNorm;
                    float lambda = 1.7f, eps = 0.1f;
                    Tensor[] c = cpu.mdtVelocityLoss(in[0][0], in[1][0], in[2][0], in[3][0], l.offsets, dNorm, eps, lambda, true);
                    Tensor[] g = gpu.mdtVelocityLoss(in[0][1], in[1][1], in[2][1], in[3][1], l.offsets, dNorm, eps, lambda, true);
                    assertEquals(0, g[0].dim(), what + ": a scalar loss");
                    assertSame(what + " loss", c[0], g[0], 0, 1e-5);
                    float[] cg = c[1].toFloats();
                    assertSame(what + " grad", c[1], g[1], dNorm ? 2e-6 * maxAbs(cg) : 0, dNorm ? 1e-6 : 0);
                    Tensor[] ng = gpu.mdtVelocityLoss(in[0][1], in[1][1], in[2][1], in[3][1], l.offsets, dNorm, eps, lambda, false);
                    assertNull(ng[1], what + ": no gradient asked for");
                    assertEquals(g[0].item(), ng[0].item(), 0f, what + ": the loss without the gradient pass");
                }
    }

    @Test
    void mdtLossThroughAutogradWithStraightThrough() {
        Layout l = sparse(3, 4, 0, 9, 1);
        Tensor[][] in = lossInputs(l, false);
        Tensor[] st = randnPair(l.shape);
        float[][] grads = new float[4][];
        float[] losses = new float[2];
        Backend[] bes = {cpu, gpu};
        for (int k = 0; k < 2; k++) {
            Tensor pred = F.detach(in[0][k]).setRequiresGrad(true), s = F.detach(st[k]).setRequiresGrad(true);
            try (var on = Grad.enabledScope()) {
                Tensor loss = F.mdtVelocityLoss(pred, s, in[1][k], in[2][k], in[3][k], l.offsets, true, 0.1f, 2f);
                Grad.backward(F.mul(loss, 3f)); // a loss scale reaches the gradient
                losses[k] = loss.item();
            }
            assertEquals(bes[k].device(), pred.grad().device());
            grads[2 * k] = pred.grad().toFloats();
            grads[2 * k + 1] = s.grad().toFloats();
        }
        assertEquals(losses[0], losses[1], 1e-5 * Math.abs(losses[0]));
        assertClose("autograd pred grad", grads[0], grads[2], 2e-6 * maxAbs(grads[0]), 1e-6);
        assertClose("autograd straight-through grad", grads[1], grads[3], 2e-6 * maxAbs(grads[1]), 1e-6);
        assertClose("straight-through gets pred's gradient", grads[2], grads[3], 0, 0);
    }

    @Test
    void mdtLossRefusesBadSegments() {
        Tensor x = gpu.zeros(DType.F32, 4, 2), t = gpu.zeros(DType.F32, 2);
        assertThrows(IllegalArgumentException.class, () -> gpu.mdtVelocityLoss(x, x, x, t, new int[] {0, 3}, true, 0.1f, 1f, true));
        assertThrows(IllegalArgumentException.class, () -> gpu.mdtVelocityLoss(x, x, x, t, new int[] {0, 3, 2, 4}, true, 0.1f, 1f, true));
        assertThrows(IllegalArgumentException.class, () -> gpu.mdtVelocityLoss(x, x, x, t, new int[] {0, 4}, true, 0.1f, 1f, true));
    }

    // ---- end to end ------------------------------------------------------------------------------------------------

    static Path fixtures() {
        String p = System.getProperty("voxflow.reference.dir");
        Path d = p == null || p.isBlank() || p.startsWith("${") ? Path.of("src/test/resources/trellis-ref") : Path.of(p);
        if (!Files.isDirectory(d)) d = Path.of("tests/src/test/resources/trellis-ref");
        assertTrue(Files.isDirectory(d), "reference fixtures not found: " + d.toAbsolutePath());
        return d;
    }

    /** {terms..., grad.<name>...} of one MDT-dist step on a backend. */
    private static Map<String, float[]> mdtStep(Backend be, MdtSettings.Mode mode, int[] coords, float[][] data) {
        Path dir = fixtures();
        FlowModel teacher = TrellisCheckpoint.load(dir.resolve("slat_flow_a"), be);
        FlowModel student = TrellisCheckpoint.load(dir.resolve("slat_flow_a"), be);
        MdtSettings s = new MdtSettings(mode, 0.01, 1e-5, new double[] {2}, new double[] {3}, 1, 0.5, true, 1, 1, 1);
        MdtDistObjective obj = new MdtDistObjective(teacher, student, s);
        int rows = coords.length / 4;
        SparseStructure st = new SparseStructure(coords, 2);
        Batch batch = Batch.sparse(st, be.fromFloats(data[0], rows, 8), be.fromFloats(data[3], 2, 5, 32));
        Map<String, float[]> out = new java.util.LinkedHashMap<>();
        Losses l;
        try (var on = Grad.enabledScope()) {
            l = obj.terms(batch, be.fromFloats(data[1], rows, 8), be.fromFloats(data[2], rows, 8), be.fromFloats(data[4], 2), 2, 3);
            Grad.backward(l.total());
        }
        l.terms().forEach((k, v) -> out.put(k, new float[] {v}));
        for (Map.Entry<String, Tensor> p : student.namedParameters().entrySet()) {
            Tensor g = p.getValue().grad();
            out.put("grad." + p.getKey(), g == null ? new float[(int) p.getValue().numel()] : g.toFloats());
        }
        return out;
    }

    @Test
    void sparseMdtLossAndStudentGradientsMatchTheCpu() {
        if (gpu instanceof CudaBackend cb) cb.setTf32(false);
        int na = 30, nb = 19;
        int[] coords = new int[(na + nb) * 4];
        System.arraycopy(SparseFixtures.instance(0, na, 1), 0, coords, 0, na * 4);
        System.arraycopy(SparseFixtures.instance(1, nb, 6), 0, coords, na * 4, nb * 4);
        Rng rng = new Rng(5);
        int n = (na + nb) * 8;
        float[][] data = {rng.normal(n), rng.normal(n), rng.normal(n), rng.normal(2 * 5 * 32), {0.7f, 0.35f}};
        List<String> failures = new ArrayList<>();
        try (var off = CudaAutocast.use("off")) {
            for (MdtSettings.Mode mode : new MdtSettings.Mode[] {MdtSettings.Mode.DISCRETE, MdtSettings.Mode.CONTINUOUS}) {
                Map<String, float[]> c = mdtStep(cpu, mode, coords, data), g = mdtStep(gpu, mode, coords, data);
                assertEquals(c.keySet(), g.keySet());
                double worst = 0;
                for (String k : c.keySet()) {
                    float[] want = c.get(k), got = g.get(k);
                    double err = 0, ref = maxAbs(want);
                    for (int i = 0; i < want.length; i++) err = Math.max(err, Math.abs(got[i] - want[i]));
                    double rel = ref == 0 ? err : err / ref;
                    if (!(rel <= 1e-4)) failures.add(mode + " " + k + ": " + rel);
                    worst = Math.max(worst, rel);
                }
                assertTrue(c.get("loss_vm")[0] > 0 && c.get("loss_vd")[0] > 0, mode + ": both terms present");
                System.out.printf("sparse MDT-dist %s CPU vs GPU: worst term/gradient max-rel-err %.3e over %d tensors%n", mode, worst, c.size());
            }
        }
        assertTrue(failures.isEmpty(), "over the 1e-4 bar: " + failures);
    }
}
