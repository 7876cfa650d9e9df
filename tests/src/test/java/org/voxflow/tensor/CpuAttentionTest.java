package org.voxflow.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.voxflow.tensor.Oracle.assertClose;

import org.junit.jupiter.api.Test;

/**
 * Variable-length exact attention (forward, backward, JVP) against naive per-(instance, head, query) loops in double,
 * including empty instances, instances with no keys, 1-token instances, strided/offset/bf16 operands and the
 * query chunking the CPU kernel uses for long sequences.
 */
class CpuAttentionTest {
    private final Backend be = Backends.cpu();
    private final Rng rng = new Rng(77);

    /** Naive attention in double: returns {out [Nq*H*Dv], lse [Nq*H], P per (b,h) packed for the gradient oracles}. */
    private static final class Naive {
        final int nq, nk, h, d, dv;
        final float[] q, k, v;
        final int[] cuQ, cuK;
        final float scale;
        final double[] out, lse;

        Naive(float[] q, float[] k, float[] v, int nq, int nk, int h, int d, int dv, int[] cuQ, int[] cuK, float scale) {
            this.q = q; this.k = k; this.v = v; this.nq = nq; this.nk = nk; this.h = h; this.d = d; this.dv = dv;
            this.cuQ = cuQ; this.cuK = cuK; this.scale = scale;
            out = new double[nq * h * dv];
            lse = new double[nq * h];
            java.util.Arrays.fill(lse, Double.NEGATIVE_INFINITY);
            for (int b = 0; b + 1 < cuQ.length; b++)
                for (int hh = 0; hh < h; hh++)
                    for (int i = cuQ[b]; i < cuQ[b + 1]; i++) {
                        int lk = cuK[b + 1] - cuK[b];
                        if (lk == 0) continue;
                        double[] p = probs(b, hh, i);
                        double mx = Double.NEGATIVE_INFINITY;
                        double[] s = scores(b, hh, i);
                        for (double x : s) mx = Math.max(mx, x);
                        double sum = 0;
                        for (double x : s) sum += Math.exp(x - mx);
                        lse[i * h + hh] = mx + Math.log(sum);
                        for (int j = 0; j < lk; j++)
                            for (int c = 0; c < dv; c++) out[(i * h + hh) * dv + c] += p[j] * v[((cuK[b] + j) * h + hh) * dv + c];
                    }
        }

        double[] scores(int b, int hh, int i) {
            int lk = cuK[b + 1] - cuK[b];
            double[] s = new double[lk];
            for (int j = 0; j < lk; j++) {
                double acc = 0;
                for (int c = 0; c < d; c++) acc += (double) q[(i * h + hh) * d + c] * k[((cuK[b] + j) * h + hh) * d + c];
                s[j] = scale * acc;
            }
            return s;
        }

        double[] probs(int b, int hh, int i) {
            double[] s = scores(b, hh, i);
            double mx = Double.NEGATIVE_INFINITY;
            for (double x : s) mx = Math.max(mx, x);
            double sum = 0;
            for (int j = 0; j < s.length; j++) { s[j] = Math.exp(s[j] - mx); sum += s[j]; }
            for (int j = 0; j < s.length; j++) s[j] /= sum;
            return s;
        }

        /** Gradients {dq, dk, dv} of sum(dout * out). */
        double[][] backward(float[] dout) {
            double[] dq = new double[q.length], dk = new double[k.length], dV = new double[v.length];
            for (int b = 0; b + 1 < cuQ.length; b++)
                for (int hh = 0; hh < h; hh++)
                    for (int i = cuQ[b]; i < cuQ[b + 1]; i++) {
                        int lk = cuK[b + 1] - cuK[b];
                        if (lk == 0) continue;
                        double[] p = probs(b, hh, i);
                        double[] dp = new double[lk];
                        double delta = 0;
                        for (int j = 0; j < lk; j++) {
                            for (int c = 0; c < dv; c++) {
                                double g = dout[(i * h + hh) * dv + c];
                                dp[j] += g * v[((cuK[b] + j) * h + hh) * dv + c];
                                dV[((cuK[b] + j) * h + hh) * dv + c] += p[j] * g;
                            }
                            delta += p[j] * dp[j];
                        }
                        for (int j = 0; j < lk; j++) {
                            double ds = p[j] * (dp[j] - delta) * scale;
                            for (int c = 0; c < d; c++) {
                                dq[(i * h + hh) * d + c] += ds * k[((cuK[b] + j) * h + hh) * d + c];
                                dk[((cuK[b] + j) * h + hh) * d + c] += ds * q[(i * h + hh) * d + c];
                            }
                        }
                    }
            return new double[][] {dq, dk, dV};
        }

        /** Directional derivative of out along (tq, tk, tv); null tangents are zero. */
        double[] jvp(float[] tq, float[] tk, float[] tv) {
            double[] t = new double[out.length];
            for (int b = 0; b + 1 < cuQ.length; b++)
                for (int hh = 0; hh < h; hh++)
                    for (int i = cuQ[b]; i < cuQ[b + 1]; i++) {
                        int lk = cuK[b + 1] - cuK[b];
                        if (lk == 0) continue;
                        double[] p = probs(b, hh, i);
                        double[] ds = new double[lk];
                        double mean = 0;
                        for (int j = 0; j < lk; j++) {
                            double acc = 0;
                            for (int c = 0; c < d; c++) {
                                int qi = (i * h + hh) * d + c, ki = ((cuK[b] + j) * h + hh) * d + c;
                                if (tq != null) acc += (double) tq[qi] * k[ki];
                                if (tk != null) acc += (double) q[qi] * tk[ki];
                            }
                            ds[j] = scale * acc;
                            mean += p[j] * ds[j];
                        }
                        for (int j = 0; j < lk; j++)
                            for (int c = 0; c < dv; c++) {
                                int vi = ((cuK[b] + j) * h + hh) * dv + c;
                                double dpj = p[j] * (ds[j] - mean);
                                t[(i * h + hh) * dv + c] += dpj * v[vi] + (tv != null ? p[j] * tv[vi] : 0);
                            }
                    }
            return t;
        }
    }

    private float[] normal(int n) { return rng.normal(n); }

    // instances: (lq, lk) = (3,5), (0,2), (1,1), (5,0), (0,0), (2,3)
    private static final int[] CU_Q = {0, 3, 3, 4, 9, 9, 11};
    private static final int[] CU_K = {0, 5, 7, 8, 8, 8, 11};
    private static final int NQ = 11, NK = 11, H = 2, D = 4, DV = 3;
    private static final float SCALE = 0.5f;

    @Test void forwardVarlenWithEmptyAndSingleTokenInstances() {
        float[] q = normal(NQ * H * D), k = normal(NK * H * D), v = normal(NK * H * DV);
        Tensor[] r = be.attention(be.fromFloats(q, NQ, H, D), be.fromFloats(k, NK, H, D), be.fromFloats(v, NK, H, DV), CU_Q, CU_K, SCALE);
        assertArrayEquals(new int[] {NQ, H, DV}, r[0].shape());
        assertArrayEquals(new int[] {NQ, H}, r[1].shape());
        Naive ref = new Naive(q, k, v, NQ, NK, H, D, DV, CU_Q, CU_K, SCALE);
        assertClose(ref.out, r[0].toFloats(), 1e-5, 1e-5);
        float[] lse = r[1].toFloats();
        assertClose(ref.lse, lse, 1e-5, 1e-5);
        // queries of the instance with no keys: zero output, lse -inf
        float[] out = r[0].toFloats();
        for (int i = 4; i < 9; i++) {
            for (int hh = 0; hh < H; hh++) assertEquals(Float.NEGATIVE_INFINITY, lse[i * H + hh]);
            for (int c = 0; c < H * DV; c++) assertEquals(0f, out[i * H * DV + c]);
        }
        // the 1-query/1-key instance: softmax over one key is 1, output = that value row, lse = its score
        for (int hh = 0; hh < H; hh++) {
            for (int c = 0; c < DV; c++) assertEquals(v[(7 * H + hh) * DV + c], out[(3 * H + hh) * DV + c], 1e-6);
            double s = 0;
            for (int c = 0; c < D; c++) s += (double) q[(3 * H + hh) * D + c] * k[(7 * H + hh) * D + c];
            assertEquals(SCALE * s, lse[3 * H + hh], 1e-5);
        }
    }

    @Test void forwardReadsStridedOffsetAndBf16Operands() {
        float[] q = normal(NQ * H * D), k = normal(NK * H * D), v = normal(NK * H * DV);
        Naive ref = new Naive(q, k, v, NQ, NK, H, D, DV, CU_Q, CU_K, SCALE);
        // q stored head-major [H, NQ, D] and permuted to [NQ, H, D]
        float[] qh = new float[q.length];
        for (int i = 0; i < NQ; i++) for (int hh = 0; hh < H; hh++) for (int c = 0; c < D; c++) qh[(hh * NQ + i) * D + c] = q[(i * H + hh) * D + c];
        Tensor qv = be.fromFloats(qh, H, NQ, D).permute(1, 0, 2);
        // k as a token-range slice of a longer tensor (contiguous, nonzero offset)
        float[] kBig = new float[(NK + 3) * H * D];
        System.arraycopy(k, 0, kBig, 2 * H * D, k.length);
        Tensor kv = be.fromFloats(kBig, NK + 3, H, D).slice(0, 2, 2 + NK);
        // v as a slice of a fused [NK, H, 2*DV] buffer (strided rows)
        float[] fused = new float[NK * H * 2 * DV];
        for (int j = 0; j < NK * H; j++) System.arraycopy(v, j * DV, fused, j * 2 * DV + DV, DV);
        Tensor vv = be.fromFloats(fused, NK, H, 2 * DV).slice(2, DV, 2 * DV);
        Tensor[] r = be.attention(qv, kv, vv, CU_Q, CU_K, SCALE);
        assertClose(ref.out, r[0].toFloats(), 1e-5, 1e-5);
        assertClose(ref.lse, r[1].toFloats(), 1e-5, 1e-5);
        // q also offset: a slice of a larger query tensor
        float[] qBig = new float[(NQ + 1) * H * D];
        System.arraycopy(q, 0, qBig, H * D, q.length);
        Tensor[] r2 = be.attention(be.fromFloats(qBig, NQ + 1, H, D).slice(0, 1, NQ + 1), kv, be.fromFloats(v, NK, H, DV), CU_Q, CU_K, SCALE);
        assertClose(ref.out, r2[0].toFloats(), 1e-5, 1e-5);
        // bf16 operands give the attention of their rounded values
        float[] qb = be.cast(be.fromFloats(q, NQ, H, D), DType.BF16).toFloats();
        float[] kb = be.cast(be.fromFloats(k, NK, H, D), DType.BF16).toFloats();
        float[] vb = be.cast(be.fromFloats(v, NK, H, DV), DType.BF16).toFloats();
        Naive refB = new Naive(qb, kb, vb, NQ, NK, H, D, DV, CU_Q, CU_K, SCALE);
        Tensor[] rb = be.attention(be.cast(be.fromFloats(q, NQ, H, D), DType.BF16), be.cast(be.fromFloats(k, NK, H, D), DType.BF16),
                be.cast(be.fromFloats(v, NK, H, DV), DType.BF16), CU_Q, CU_K, SCALE);
        assertClose(refB.out, rb[0].toFloats(), 1e-5, 1e-5);
    }

    @Test void backwardMatchesTheNaiveGradient() {
        float[] q = normal(NQ * H * D), k = normal(NK * H * D), v = normal(NK * H * DV), g = normal(NQ * H * DV);
        Tensor tq = be.fromFloats(q, NQ, H, D), tk = be.fromFloats(k, NK, H, D), tv = be.fromFloats(v, NK, H, DV);
        Tensor[] fwd = be.attention(tq, tk, tv, CU_Q, CU_K, SCALE);
        Tensor[] grads = be.attentionBackward(be.fromFloats(g, NQ, H, DV), tq, tk, tv, fwd[0], fwd[1], CU_Q, CU_K, SCALE);
        double[][] ref = new Naive(q, k, v, NQ, NK, H, D, DV, CU_Q, CU_K, SCALE).backward(g);
        assertArrayEquals(new int[] {NQ, H, D}, grads[0].shape());
        assertArrayEquals(new int[] {NK, H, D}, grads[1].shape());
        assertArrayEquals(new int[] {NK, H, DV}, grads[2].shape());
        assertClose(ref[0], grads[0].toFloats(), 1e-5, 1e-4);
        assertClose(ref[1], grads[1].toFloats(), 1e-5, 1e-4);
        assertClose(ref[2], grads[2].toFloats(), 1e-5, 1e-4);
    }

    @Test void naiveGradientAgreesWithFiniteDifferences() {
        // checks the oracle itself on a tiny case: d/dx sum(w * out) by central differences
        int nq = 3, nk = 4, h = 1, d = 2, dv = 2;
        int[] cuQ = {0, 3}, cuK = {0, 4};
        float[] q = normal(nq * d), k = normal(nk * d), v = normal(nk * dv), w = normal(nq * dv);
        double[][] g = new Naive(q, k, v, nq, nk, h, d, dv, cuQ, cuK, 0.7f).backward(w);
        float[][] xs = {q, k, v};
        for (int which = 0; which < 3; which++)
            for (int i = 0; i < xs[which].length; i++) {
                float[] p = xs[which].clone(), m = xs[which].clone();
                p[i] += 1e-2f;
                m[i] -= 1e-2f;
                double lp = loss(which == 0 ? p : q, which == 1 ? p : k, which == 2 ? p : v, w, nq, nk, h, d, dv, cuQ, cuK);
                double lm = loss(which == 0 ? m : q, which == 1 ? m : k, which == 2 ? m : v, w, nq, nk, h, d, dv, cuQ, cuK);
                assertEquals((lp - lm) / ((double) p[i] - m[i]), g[which][i], 1e-4, "operand " + which + " element " + i);
            }
    }

    private static double loss(float[] q, float[] k, float[] v, float[] w, int nq, int nk, int h, int d, int dv, int[] cuQ, int[] cuK) {
        double[] o = new Naive(q, k, v, nq, nk, h, d, dv, cuQ, cuK, 0.7f).out;
        double l = 0;
        for (int i = 0; i < o.length; i++) l += w[i] * o[i];
        return l;
    }

    @Test void jvpMatchesTheNaiveDirectionalDerivative() {
        float[] q = normal(NQ * H * D), k = normal(NK * H * D), v = normal(NK * H * DV);
        float[] dq = normal(q.length), dk = normal(k.length), dv = normal(v.length);
        Tensor tq = be.fromFloats(q, NQ, H, D), tk = be.fromFloats(k, NK, H, D), tv = be.fromFloats(v, NK, H, DV);
        Tensor[] fwd = be.attention(tq, tk, tv, CU_Q, CU_K, SCALE);
        Naive ref = new Naive(q, k, v, NQ, NK, H, D, DV, CU_Q, CU_K, SCALE);
        Tensor eq = be.fromFloats(dq, NQ, H, D), ek = be.fromFloats(dk, NK, H, D), ev = be.fromFloats(dv, NK, H, DV);
        assertClose("all", Oracle.toFloat(ref.jvp(dq, dk, dv)),
                be.attentionJvp(tq, tk, tv, fwd[0], fwd[1], eq, ek, ev, CU_Q, CU_K, SCALE).toFloats(), 1e-5, 1e-4);
        assertClose("q only", Oracle.toFloat(ref.jvp(dq, null, null)),
                be.attentionJvp(tq, tk, tv, fwd[0], fwd[1], eq, null, null, CU_Q, CU_K, SCALE).toFloats(), 1e-5, 1e-4);
        assertClose("k only", Oracle.toFloat(ref.jvp(null, dk, null)),
                be.attentionJvp(tq, tk, tv, fwd[0], fwd[1], null, ek, null, CU_Q, CU_K, SCALE).toFloats(), 1e-5, 1e-4);
        assertClose("v only", Oracle.toFloat(ref.jvp(null, null, dv)),
                be.attentionJvp(tq, tk, tv, fwd[0], fwd[1], null, null, ev, CU_Q, CU_K, SCALE).toFloats(), 1e-5, 1e-4);
        assertClose("none", new float[NQ * H * DV],
                be.attentionJvp(tq, tk, tv, fwd[0], fwd[1], null, null, null, CU_Q, CU_K, SCALE).toFloats(), 0, 0);
    }

    /** 2050 queries x 4097 keys exceed the kernel's 4M-score block: queries are processed in chunks of 1023. */
    @Test void longSequencesAreChunkedCorrectly() {
        int nq = 2050, nk = 4097, h = 1, d = 2, dv = 2;
        int[] cuQ = {0, nq}, cuK = {0, nk};
        float[] q = normal(nq * d), k = normal(nk * d), v = normal(nk * dv), g = normal(nq * dv);
        Tensor tq = be.fromFloats(q, nq, h, d), tk = be.fromFloats(k, nk, h, d), tv = be.fromFloats(v, nk, h, dv);
        Tensor[] r = be.attention(tq, tk, tv, cuQ, cuK, 1f);
        Naive ref = new Naive(q, k, v, nq, nk, h, d, dv, cuQ, cuK, 1f);
        assertClose(ref.out, r[0].toFloats(), 1e-5, 1e-4);
        assertClose(ref.lse, r[1].toFloats(), 1e-5, 1e-5);
        Tensor[] grads = be.attentionBackward(be.fromFloats(g, nq, h, dv), tq, tk, tv, r[0], r[1], cuQ, cuK, 1f);
        double[][] gr = ref.backward(g);
        assertClose("dq", Oracle.toFloat(gr[0]), grads[0].toFloats(), 1e-4, 1e-3);
        assertClose("dk", Oracle.toFloat(gr[1]), grads[1].toFloats(), 1e-4, 1e-3);
        assertClose("dv", Oracle.toFloat(gr[2]), grads[2].toFloats(), 1e-4, 1e-3);
    }

    @Test void rejectsInconsistentShapesAndOffsets() {
        Tensor q = be.zeros(DType.F32, 4, 2, 3), k = be.zeros(DType.F32, 5, 2, 3), v = be.zeros(DType.F32, 5, 2, 3);
        assertThrows(IllegalArgumentException.class, () -> be.attention(q, k, v, new int[] {0, 3}, new int[] {0, 5}, 1f));
        assertThrows(IllegalArgumentException.class, () -> be.attention(q, k, v, new int[] {0, 3, 2, 4}, new int[] {0, 1, 2, 5}, 1f));
        assertThrows(IllegalArgumentException.class, () -> be.attention(q, k, v, new int[] {0, 4}, new int[] {0, 2, 5}, 1f));
        assertThrows(IllegalArgumentException.class, () -> be.attention(q, be.zeros(DType.F32, 5, 2, 2), v, new int[] {0, 4}, new int[] {0, 5}, 1f));
        assertThrows(IllegalArgumentException.class, () -> be.attention(q, k, be.zeros(DType.F32, 4, 2, 3), new int[] {0, 4}, new int[] {0, 5}, 1f));
        assertThrows(IllegalArgumentException.class, () -> be.attention(q.reshape(8, 3), k, v, new int[] {0, 8}, new int[] {0, 5}, 1f));
    }
}
