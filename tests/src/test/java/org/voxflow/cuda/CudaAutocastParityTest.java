package org.voxflow.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import org.junit.jupiter.api.Test;
import org.voxflow.autograd.F;
import org.voxflow.autograd.Grad;
import org.voxflow.tensor.DType;
import org.voxflow.tensor.Tensor;
import org.voxflow.tensor.UnaryOp;

/**
 * bf16 autocast (-Dvoxflow.cuda.autocast=bf16) against the f32 CPU reference, on f32 inputs and outputs.
 *
 * <p>The bounds follow from bf16's unit roundoff u = 2^-8 (8 significant bits, round to nearest even):
 * <ul>
 * <li>GEMM: each input is rounded once, so a product a~ b~ = ab (1 + e) with |e| <= 2u + u^2, and the sum runs in f32.
 *     Element (i, j) is therefore within (2u + u^2) S_ij + 4 K 2^-24 S_ij of the exact value, S_ij = sum_k |a_ik| |b_kj|
 *     (the last term covers both sides' f32 accumulation, truncating or not). The test holds every element to that
 *     bound; it is a worst case (all roundings aligned): on an H100 the worst element reached 0.02 to 0.19 of it, and
 *     the relative RMS error was 2.3e-3 to 2.4e-3 (held below 1e-2).</li>
 * <li>Attention: q, k, v are rounded to bf16 (and the kernel rounds its probabilities to bf16 before P V). A score
 *     s_j = scale q.k_j moves by at most E_j = (2u + u^2) scale sum_i |q_i| |k_ji|; with E = max_j E_j the log-sum-exp
 *     moves by at most E (it is 1-Lipschitz in the max norm) and each normalized probability by a factor within
 *     exp(+-2E); rounding p (numerator and, if the kernel sums rounded values, the normalizer) and v adds at most
 *     (1 + u)^3 / (1 - u). So |out - ref| <= ((1 + u)^3 / (1 - u) exp(2E) - 1) sum_j p_j |v_j|
 *     and |lse - ref| <= E, per query row and head. The rigorous bound is loose (worst case again: on an H100 out
 *     reached 0.03 to 0.04 of it, lse 0.04 to 0.13); the relative RMS error, measured 3.0e-3 to 3.3e-3, is also held
 *     below 1e-2.</li>
 * </ul>
 * Each case also checks that autocast really ran in bf16: the result equals the GPU's own result on explicitly
 * bf16-cast inputs, and differs from the f32 result by more than f32 rounding could explain.
 */
class CudaAutocastParityTest extends GpuParityBase {
    static final double U = Math.scalb(1.0, -8);
    static final double PRODUCT = 2 * U + U * U;

    private static double[] abs(float[] x) {
        double[] a = new double[x.length];
        for (int i = 0; i < x.length; i++) a[i] = Math.abs(x[i]);
        return a;
    }

    /** Relative RMS difference of actual against expected. */
    static double relRms(float[] expected, float[] actual) {
        double num = 0, den = 0;
        for (int i = 0; i < expected.length; i++) {
            double d = actual[i] - expected[i];
            num += d * d;
            den += (double) expected[i] * expected[i];
        }
        return Math.sqrt(num / Math.max(den, 1e-300));
    }

    private void checkMatmul(String what, int[] sa, int[] sb, boolean ta, boolean tb) {
        Tensor[] a = randnPair(sa), b = randnPair(sb);
        int k = ta ? sa[sa.length - 2] : sa[sa.length - 1];
        float[] ref = cpu.matmul(a[0], b[0], ta, tb).toFloats();
        float[] s = cpu.matmul(cpu.unary(UnaryOp.ABS, a[0]), cpu.unary(UnaryOp.ABS, b[0]), ta, tb).toFloats();
        float[] f32 = gpu.matmul(a[1], b[1], ta, tb).toFloats();
        float[] auto, explicit;
        try (var ac = CudaAutocast.use("bf16")) {
            Tensor out = gpu.matmul(a[1], b[1], ta, tb);
            assertEquals(DType.F32, out.dtype(), what + ": autocast output dtype");
            auto = out.toFloats();
        }
        explicit = gpu.matmul(gpu.cast(a[1], DType.BF16), gpu.cast(b[1], DType.BF16), ta, tb).toFloats();
        double coef = PRODUCT + 4.0 * k * Math.scalb(1.0, -24);
        double worst = 0, diffF32 = 0;
        for (int i = 0; i < ref.length; i++) {
            double bound = coef * s[i] + 1e-6;
            double err = Math.abs(auto[i] - ref[i]);
            worst = Math.max(worst, err / bound);
            if (err > bound)
                fail(what + ": element " + i + " = " + auto[i] + ", reference " + ref[i] + ", |diff| " + err + " > bound " + bound);
            // autocast == explicit bf16 GEMM (same kernel, same inputs): f32-rounding-level differences at most
            if (Math.abs(auto[i] - explicit[i]) > 1e-5 * s[i] + 1e-6)
                fail(what + ": autocast " + auto[i] + " differs from the explicit bf16 GEMM " + explicit[i] + " at " + i);
            diffF32 = Math.max(diffF32, Math.abs(auto[i] - f32[i]) / (s[i] + 1e-30));
        }
        double rms = relRms(ref, auto);
        System.out.printf("autocast matmul %s: rel RMS %.2e, worst error / bound %.3f%n", what, rms, worst);
        assertTrue(diffF32 > 1e-4, what + ": autocast result is as close to f32 as an f32 GEMM; was it applied?");
        assertTrue(rms < 1e-2, what + ": rel RMS " + rms);
    }

    @Test
    void matmulWithinBf16Bound() {
        checkMatmul("linear x W^T", new int[] {300, 256}, new int[] {96, 256}, false, true);
        checkMatmul("shared weight", new int[] {2, 130, 300}, new int[] {300, 70}, false, false);
        checkMatmul("batched, transposed A", new int[] {3, 96, 64}, new int[] {3, 96, 50}, true, false);
        checkMatmul("long K", new int[] {64, 4096}, new int[] {4096, 48}, false, false);
    }

    @Test
    void offRestoresF32AndBadValuesAreRefused() {
        Tensor[] a = randnPair(40, 70), b = randnPair(70, 30);
        try (var on = CudaAutocast.use("bf16")) {
            assertTrue(CudaAutocast.enabled());
            try (var off = CudaAutocast.use("off")) {
                assertFalse(CudaAutocast.enabled());
                assertSame("autocast off inside on", cpu.matmul(a[0], b[0], false, false), gpu.matmul(a[1], b[1], false, false),
                        2e-5 * Math.sqrt(70) + 1e-5, 1e-4);
            }
            assertTrue(CudaAutocast.enabled(), "closing the inner scope restores bf16");
        }
        assertThrows(IllegalArgumentException.class, () -> CudaAutocast.use("f16"));
        // 16-bit inputs keep their own type: f16 x f16 is not turned into bf16
        try (var on = CudaAutocast.use("bf16")) {
            Tensor ca = cpu.cast(a[0], DType.F16), cb = cpu.cast(b[0], DType.F16);
            assertSame("f16 under autocast", cpu.matmul(ca, cb, false, false), gpu.matmul(gpu.copy(ca), gpu.copy(cb), false, false), 2e-4, 1e-4);
        }
    }

    private static int[] offsets(int... lengths) {
        int[] cu = new int[lengths.length + 1];
        for (int i = 0; i < lengths.length; i++) cu[i + 1] = cu[i] + lengths[i];
        return cu;
    }

    private void checkAttention(String what, int heads, int d, int[] qLens, int[] kLens) {
        int[] cuQ = offsets(qLens), cuK = offsets(kLens);
        int nq = cuQ[cuQ.length - 1], nk = cuK[cuK.length - 1];
        float scale = (float) (1 / Math.sqrt(d));
        Tensor[] q = randnPair(nq, heads, d), k = randnPair(nk, heads, d), v = randnPair(nk, heads, d);
        Tensor[] ref = cpu.attention(q[0], k[0], v[0], cuQ, cuK, scale);
        float[] out, lse, explicit;
        try (var ng = Grad.noGrad(); var ac = CudaAutocast.use("bf16")) {
            Tensor[] g = gpu.attention(q[1], k[1], v[1], cuQ, cuK, scale);
            assertEquals(DType.F32, g[0].dtype(), what + ": output dtype");
            out = g[0].toFloats();
            lse = g[1].toFloats();
        }
        explicit = gpu.attention(gpu.cast(q[1], DType.BF16), gpu.cast(k[1], DType.BF16), gpu.cast(v[1], DType.BF16), cuQ, cuK, scale)[0].toFloats();
        float[] ro = ref[0].toFloats(), rl = ref[1].toFloats();
        float[] hq = q[0].toFloats(), hk = k[0].toFloats(), hv = v[0].toFloats();
        double worstOut = 0, worstLse = 0, moved = 0;
        for (int b = 0; b + 1 < cuQ.length; b++)
            for (int i = cuQ[b]; i < cuQ[b + 1]; i++)
                for (int h = 0; h < heads; h++) {
                    // E = max_j (2u + u^2) scale sum_c |q_c| |k_jc|; the weights p_j = exp(s_j - lse) from the f32 reference
                    double e = 0;
                    double[] pv = new double[d];
                    for (int j = cuK[b]; j < cuK[b + 1]; j++) {
                        double sAbs = 0, s = 0;
                        for (int c = 0; c < d; c++) {
                            float qc = hq[(i * heads + h) * d + c], kc = hk[(j * heads + h) * d + c];
                            sAbs += Math.abs(qc * (double) kc);
                            s += qc * (double) kc;
                        }
                        e = Math.max(e, PRODUCT * scale * sAbs);
                        double p = Math.exp(scale * s - rl[i * heads + h]);
                        for (int c = 0; c < d; c++) pv[c] += p * Math.abs(hv[(j * heads + h) * d + c]);
                    }
                    double factor = Math.pow(1 + U, 3) / (1 - U) * Math.exp(2 * e) - 1;
                    int row = i * heads + h;
                    double lseErr = Math.abs(lse[row] - rl[row]);
                    if (lseErr > e + 1e-4) fail(what + ": lse at row " + i + " head " + h + " off by " + lseErr + " > " + (e + 1e-4));
                    worstLse = Math.max(worstLse, lseErr / (e + 1e-4));
                    for (int c = 0; c < d; c++) {
                        int at = row * d + c;
                        double bound = factor * pv[c] + 1e-5;
                        double err = Math.abs(out[at] - ro[at]);
                        if (err > bound) fail(what + ": out at row " + i + " head " + h + " dim " + c + " = " + out[at]
                                + ", reference " + ro[at] + ", |diff| " + err + " > bound " + bound);
                        worstOut = Math.max(worstOut, err / bound);
                        if (Math.abs(out[at] - explicit[at]) > 1e-6 + 1e-6 * Math.abs(explicit[at]))
                            fail(what + ": autocast " + out[at] + " differs from the explicit bf16 kernel " + explicit[at]);
                        moved = Math.max(moved, Math.abs(out[at] - ro[at]));
                    }
                }
        double rms = relRms(ro, out);
        System.out.printf("autocast attention %s: rel RMS %.2e, worst error / bound: out %.3f, lse %.3f%n", what, rms, worstOut, worstLse);
        assertTrue(moved > 1e-5, what + ": autocast output equals the f32 one; was it applied?");
        assertTrue(rms < 1e-2, what + ": rel RMS " + rms);
    }

    @Test
    void attentionWithinBf16Bound() {
        checkAttention("self d=64 ragged", 4, 64, new int[] {100, 1, 257}, new int[] {100, 1, 257});
        checkAttention("cross d=64", 2, 64, new int[] {130, 70}, new int[] {77, 200});
        checkAttention("self d=128", 2, 128, new int[] {150}, new int[] {150});
    }

    /** With a tangent on an input (forward mode: the JVP kernel is f32), or unsupported head dims, attention stays f32. */
    @Test
    void attentionStaysF32WhereAutocastDoesNotApply() {
        int[] cu = {0, 60, 100};
        float scale = 0.125f;
        Tensor[] q = randnPair(100, 2, 64), k = randnPair(100, 2, 64), v = randnPair(100, 2, 64);
        Tensor[] ref = cpu.attention(q[0], k[0], v[0], cu, cu, scale);
        try (var ng = Grad.noGrad(); var ac = CudaAutocast.use("bf16")) {
            q[1].setTangent(gpu.fromFloats(randn(100 * 2 * 64), 100, 2, 64));
            Tensor[] g = gpu.attention(q[1], k[1], v[1], cu, cu, scale);
            assertSame("attention with a tangent", ref[0], g[0], 2e-5, 1e-4);
        } finally {
            q[1].setTangent(null);
        }
        Tensor[] q2 = randnPair(100, 2, 40), k2 = randnPair(100, 2, 40), v2 = randnPair(100, 2, 40);
        try (var ng = Grad.noGrad(); var ac = CudaAutocast.use("bf16")) {
            assertSame("head dim 40", cpu.attention(q2[0], k2[0], v2[0], cu, cu, scale)[0],
                    gpu.attention(q2[1], k2[1], v2[1], cu, cu, scale)[0], 2e-5, 1e-4);
        }
    }

    /** {out, dq, dk, dv} of F.attention with autograd on fresh GPU leaves, seed g (a training step's backward). */
    private static float[][] trainStep(float[] q, float[] k, float[] v, float[] g, int[] shapeQ, int[] shapeK, int[] cuQ,
                                       int[] cuK, float scale, String autocastForward, String autocastBackward) {
        try (var on = Grad.enabledScope()) {
            Tensor tq = gpu.fromFloats(q, shapeQ).setRequiresGrad(true), tk = gpu.fromFloats(k, shapeK).setRequiresGrad(true);
            Tensor tv = gpu.fromFloats(v, shapeK).setRequiresGrad(true);
            Tensor out;
            try (var ac = CudaAutocast.use(autocastForward)) {
                out = F.attention(tq, tk, tv, cuQ, cuK, scale);
            }
            assertEquals(DType.F32, out.dtype());
            try (var ac = CudaAutocast.use(autocastBackward)) {
                Grad.backward(out, gpu.fromFloats(g, shapeQ));
            }
            return new float[][] {out.toFloats(), tq.grad().toFloats(), tk.grad().toFloats(), tv.grad().toFloats()};
        }
    }

    /** The same on explicitly bf16-cast inputs through the Backend API (the flash kernels, no autocast). */
    private static float[][] explicitBf16(Tensor q, Tensor k, Tensor v, Tensor g, int[] cuQ, int[] cuK, float scale) {
        Tensor qh = gpu.cast(q, DType.BF16), kh = gpu.cast(k, DType.BF16), vh = gpu.cast(v, DType.BF16);
        Tensor[] f = gpu.attention(qh, kh, vh, cuQ, cuK, scale);
        Tensor[] b = gpu.attentionBackward(g, qh, kh, vh, f[0], f[1], cuQ, cuK, scale);
        return new float[][] {f[0].toFloats(), b[0].toFloats(), b[1].toFloats(), b[2].toFloats()};
    }

    /** |a - b| <= tol (|b| + rms(b)) element-wise: equal up to f32 summation order (dq's atomics). */
    private static void assertSameRun(String what, float[] expected, float[] actual, double tol) {
        double ms = 0;
        for (float x : expected) ms += (double) x * x;
        double rms = Math.sqrt(ms / Math.max(1, expected.length));
        for (int i = 0; i < expected.length; i++)
            if (Math.abs(actual[i] - expected[i]) > tol * (Math.abs(expected[i]) + rms))
                fail(what + ": at " + i + " expected " + expected[i] + ", got " + actual[i]);
    }

    /**
     * A training step under autocast: the forward and the backward of F.attention on f32 leaves run the bf16 flash
     * kernels, and out, dq, dk, dv match the f32 reference (CPU, unrounded inputs) element-wise within
     * {@link AttentionBounds} with uIn = u (the inputs' rounding to bf16 on top of the kernels' own roundings; worst
     * cases), and in relative RMS error within 4u (out, dv) and 8u (dq, dk): twice the flash-only limits of
     * CudaAttentionParityTest, as the input rounding adds errors of the same size to the scores, dP and the final
     * products. Also: the result is the explicit bf16 kernels' (so autocast really ran in bf16), and differs from the
     * f32 kernels' by more than f32 rounding.
     */
    private void checkTraining(String what, int heads, int d, int[] qLens, int[] kLens) {
        int[] cuQ = offsets(qLens), cuK = offsets(kLens);
        int nq = cuQ[cuQ.length - 1], nk = cuK[cuK.length - 1];
        float scale = (float) (1 / Math.sqrt(d));
        int[] sq = {nq, heads, d}, sk = {nk, heads, d};
        float[] q = randn(nq * heads * d), k = randn(nk * heads * d), v = randn(nk * heads * d), g = randn(nq * heads * d);
        Tensor cq = cpu.fromFloats(q, sq), ck = cpu.fromFloats(k, sk), cv = cpu.fromFloats(v, sk), cg = cpu.fromFloats(g, sq);
        Tensor[] ref = cpu.attention(cq, ck, cv, cuQ, cuK, scale);
        Tensor[] refB = cpu.attentionBackward(cg, cq, ck, cv, ref[0], ref[1], cuQ, cuK, scale);
        float[][] want = {ref[0].toFloats(), refB[0].toFloats(), refB[1].toFloats(), refB[2].toFloats()};

        float[][] auto = trainStep(q, k, v, g, sq, sk, cuQ, cuK, scale, "bf16", "bf16");
        AttentionBounds bd = AttentionBounds.of(DType.BF16, q, k, v, g, cuQ, cuK, heads, d, scale, U);
        double[][] bounds = {bd.out, bd.dq, bd.dk, bd.dv};
        double[] rms = {4 * U, 8 * U, 8 * U, 4 * U};
        String[] names = {"out", "dq", "dk", "dv"};
        double[] worst = new double[4];
        for (int i = 0; i < 4; i++) worst[i] = AttentionBounds.check(what + " " + names[i], want[i], auto[i], bounds[i], rms[i]);

        float[][] bf16 = explicitBf16(gpu.fromFloats(q, sq), gpu.fromFloats(k, sk), gpu.fromFloats(v, sk), gpu.fromFloats(g, sq),
                cuQ, cuK, scale);
        float[][] f32 = trainStep(q, k, v, g, sq, sk, cuQ, cuK, scale, "off", "off");
        for (int i = 0; i < 4; i++) {
            assertSameRun(what + " " + names[i] + ": autocast vs explicit bf16", bf16[i], auto[i], 1e-5);
            assertTrue(relRms(f32[i], auto[i]) > 1e-4, what + " " + names[i] + ": autocast equals f32; was it applied?");
        }
        System.out.printf("autocast training %s: worst error / bound: out %.3f dq %.3f dk %.3f dv %.3f; rel RMS dq %.2e%n",
                what, worst[0], worst[1], worst[2], worst[3], relRms(want[1], auto[1]));
    }

    @Test
    void attentionTrainingStepUnderAutocast() {
        checkTraining("self d=64 ragged", 4, 64, new int[] {100, 1, 257}, new int[] {100, 1, 257});
        checkTraining("cross d=64", 2, 64, new int[] {130, 70}, new int[] {77, 200});
        checkTraining("self d=128", 2, 128, new int[] {150, 1000}, new int[] {150, 1000});
        checkTraining("cross d=32", 2, 32, new int[] {63, 129}, new int[] {65, 17});
    }

    /**
     * The backward runs in the forward's precision whatever the mode is by then: a bf16 forward (autocast on) gives the
     * bf16 gradients with autocast off at backward time, and an f32 forward gives the f32 gradients with autocast on.
     */
    @Test
    void backwardKeepsTheForwardsPrecision() {
        int[] cu = {0, 90, 160};
        int heads = 2, d = 64;
        float scale = 0.125f;
        int[] s = {160, heads, d};
        float[] q = randn(160 * heads * d), k = randn(160 * heads * d), v = randn(160 * heads * d), g = randn(160 * heads * d);
        float[][] bf16 = explicitBf16(gpu.fromFloats(q, s), gpu.fromFloats(k, s), gpu.fromFloats(v, s), gpu.fromFloats(g, s),
                cu, cu, scale);
        float[][] f32 = trainStep(q, k, v, g, s, s, cu, cu, scale, "off", "off");
        float[][] onOff = trainStep(q, k, v, g, s, s, cu, cu, scale, "bf16", "off");
        float[][] offOn = trainStep(q, k, v, g, s, s, cu, cu, scale, "off", "bf16");
        for (int i = 1; i < 4; i++) {
            assertSameRun("bf16 forward, backward with autocast off: grad " + i, bf16[i], onOff[i], 1e-5);
            assertSameRun("f32 forward, backward with autocast on: grad " + i, f32[i], offOn[i], 1e-5);
            assertTrue(relRms(f32[i], bf16[i]) > 1e-4, "bf16 and f32 gradients should differ measurably");
        }
    }
}
