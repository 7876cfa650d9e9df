package org.voxflow.cuda;

import org.voxflow.tensor.DType;

/**
 * Element-wise error bounds for the flash attention kernels (bf16/f16 tensor cores, f32 accumulation) against an
 * exact f32 reference: forward (out, lse) and backward (dq, dk, dv). The same formulas are computed by
 * cuda-kernels/bench/flash_bench.cu, which checks them on the GPU against the f32 kernels.
 *
 * <p>Notation: x the inputs the reference uses (q, k, v f32 and the seed dO); the kernel sees them rounded to the
 * 16-bit type with relative error at most uIn (0 when the reference already gets the rounded values, the type's unit
 * roundoff under autocast). u is the type's unit roundoff (2^-8 bf16, 2^-11 f16: round to nearest, 8 or 11
 * significant bits); sub is the absolute rounding error below the type's normal range (2^-25 for f16, whose
 * subnormals are 2^-24 apart; bf16 shares f32's range: 0); F = 2 N 2^-24 + 1e-6 is f32 slack for sums of up to N
 * terms on either side (N the longest instance). p, dP, delta, o, dS are the exact values (computed here in double).
 * <ul>
 * <li>Scores: the kernel's scaled score differs from the reference's by at most
 *     E_i = ((2 uIn + uIn^2) + 2 D 2^-24) max_j scale sum_c |q_ic||k_jc| (input rounding of both factors, plus
 *     gamma_D for the f32 dot product on each side). The log-sum-exp is 1-Lipschitz in the max norm, so
 *     |lse~ - lse| <= E_i (+ F |lse| for its own f32 rounding), and each probability moves by a factor within
 *     exp(+-2 E_i): |p~ - p| <= rho_i p, rho_i = exp(2 E_i) - 1.</li>
 * <li>out = sum_j p~_ij v~_j with p~ rounded to the type once (the normalizer sums unrounded p~):
 *     |out~ - out| <= ((1+u)(1+rho)(1+uIn) - 1 + F) A_ic + sub sum_j |v_jc|, A_ic = sum_j p_ij |v_jc|.</li>
 * <li>dv = sum_i round(p~_ij) round(dO_ic): |dv~ - dv| <= sum_i ((1+u)^2 (1+rho) - 1 + F) p_ij |dO_ic|
 *     + sub (|dO_ic| + p_ij).</li>
 * <li>dS = scale p (dP - delta), dP_ij = dO_i . v_j, delta_i = dO_i . o_i. The kernel uses rounded dO and v~ in dP
 *     (error <= ((1+u)(1+uIn) - 1) a_ij, a_ij = sum_c |dO_ic||v_jc|), rounded dO and its own out in delta (error <=
 *     u b_i + (1+u) c_i, b_i = sum_c |dO_ic||o_ic|, c_i = sum_c |dO_ic| outBound_ic); with eps_ij the sum of those
 *     (plus sub (sum_c |v_jc| + sum_c |o_ic|)), |dS~ - dS| before dS's own rounding is at most
 *     e_ij = scale ((1+rho) p eps + rho p |dP - delta|), and after it e'_ij = e + u (|dS| + e) + sub.</li>
 * <li>dk_j = sum_i dS~_ij q~_i: |dk~ - dk| <= sum_i (e' (1+uIn) + (uIn + F) |dS|) |q_ic|; dq likewise with k.</li>
 * </ul>
 * Every bound gets + 1e-6. They are worst cases (all roundings aligned); on an H100 (flash_bench) the worst element
 * reached about 0.9 of the out and dv bounds in small instances (few keys: little averaging) and 0.02 to 0.2 of the
 * dq and dk bounds.
 */
final class AttentionBounds {
    final double[] out, lse, dq, dk, dv;

    private AttentionBounds(int nq, int nk, int heads, int d) {
        out = filled(nq * heads * d);
        lse = new double[nq * heads];
        dq = filled(nq * heads * d);
        dk = filled(nk * heads * d);
        dv = filled(nk * heads * d);
    }

    private static double[] filled(int n) {
        double[] a = new double[n];
        java.util.Arrays.fill(a, 1e-6);
        return a;
    }

    static double unitRoundoff(DType type) { return type == DType.BF16 ? Math.scalb(1.0, -8) : Math.scalb(1.0, -11); }

    /** q, k, v [N, H, D] and dO [Nq, H, D] as the reference sees them; uIn the kernel's input rounding (0 or u). */
    static AttentionBounds of(DType type, float[] q, float[] k, float[] v, float[] dO, int[] cuQ, int[] cuK, int heads,
                              int d, float scale, double uIn) {
        int batch = cuQ.length - 1, nqAll = cuQ[batch], nkAll = cuK[batch], longest = 0;
        for (int b = 0; b < batch; b++) longest = Math.max(longest, Math.max(cuQ[b + 1] - cuQ[b], cuK[b + 1] - cuK[b]));
        double u = unitRoundoff(type), sub = type == DType.F16 ? Math.scalb(1.0, -25) : 0;
        double f = 2.0 * longest * Math.scalb(1.0, -24) + 1e-6, gam = 2.0 * d * Math.scalb(1.0, -24);
        AttentionBounds bd = new AttentionBounds(nqAll, nkAll, heads, d);
        for (int b = 0; b < batch; b++) {
            int q0 = cuQ[b], nq = cuQ[b + 1] - q0, k0 = cuK[b], nk = cuK[b + 1] - k0;
            if (nq == 0 || nk == 0) continue;
            for (int h = 0; h < heads; h++) {
                double[] vAbs = new double[nk], colAbsV = new double[d];
                for (int j = 0; j < nk; j++)
                    for (int c = 0; c < d; c++) {
                        double a = Math.abs(v[((k0 + j) * heads + h) * d + c]);
                        vAbs[j] += a;
                        colAbsV[c] += a;
                    }
                double[] p = new double[nk], o = new double[d], am = new double[d], bout = new double[d];
                for (int i = 0; i < nq; i++) {
                    int qi = ((q0 + i) * heads + h) * d;
                    double m = Double.NEGATIVE_INFINITY, sAbsMax = 0;
                    for (int j = 0; j < nk; j++) {
                        int kj = ((k0 + j) * heads + h) * d;
                        double s = 0, sa = 0;
                        for (int c = 0; c < d; c++) {
                            double x = (double) q[qi + c] * k[kj + c];
                            s += x;
                            sa += Math.abs(x);
                        }
                        p[j] = s * scale;
                        m = Math.max(m, p[j]);
                        sAbsMax = Math.max(sAbsMax, sa * scale);
                    }
                    double l = 0;
                    for (int j = 0; j < nk; j++) l += Math.exp(p[j] - m);
                    double lse = m + Math.log(l);
                    double e = ((2 * uIn + uIn * uIn) + gam) * sAbsMax, rho = Math.expm1(2 * e);
                    bd.lse[(q0 + i) * heads + h] = e + f * (1 + Math.abs(lse));
                    java.util.Arrays.fill(o, 0);
                    java.util.Arrays.fill(am, 0);
                    for (int j = 0; j < nk; j++) {
                        p[j] = Math.exp(p[j] - lse);
                        int kj = ((k0 + j) * heads + h) * d;
                        for (int c = 0; c < d; c++) {
                            am[c] += p[j] * Math.abs(v[kj + c]);
                            o[c] += p[j] * v[kj + c];
                        }
                    }
                    double delta = 0, bsum = 0, csum = 0, oAbs = 0;
                    for (int c = 0; c < d; c++) {
                        bout[c] = ((1 + u) * (1 + rho) * (1 + uIn) - 1 + f) * am[c] + sub * colAbsV[c] + 1e-6;
                        bd.out[qi + c] = bout[c];
                        delta += dO[qi + c] * o[c];
                        bsum += Math.abs(dO[qi + c]) * Math.abs(o[c]);
                        csum += Math.abs(dO[qi + c]) * bout[c];
                        oAbs += Math.abs(o[c]);
                    }
                    for (int j = 0; j < nk; j++) {
                        int kj = ((k0 + j) * heads + h) * d;
                        double dp = 0, a = 0, pij = p[j];
                        for (int c = 0; c < d; c++) {
                            dp += (double) dO[qi + c] * v[kj + c];
                            a += Math.abs((double) dO[qi + c] * v[kj + c]);
                        }
                        double dpd = Math.abs(dp - delta);
                        double eps = ((1 + u) * (1 + uIn) - 1) * a + u * bsum + (1 + u) * csum + sub * (vAbs[j] + oAbs);
                        double err = scale * ((1 + rho) * pij * eps + rho * pij * dpd);
                        double ds = scale * pij * dpd;
                        double er = err + u * (ds + err) + sub;
                        double wk = er * (1 + uIn) + (uIn + f) * ds;
                        double wv = ((1 + u) * (1 + u) * (1 + rho) - 1 + f) * pij;
                        for (int c = 0; c < d; c++) {
                            bd.dk[kj + c] += wk * Math.abs(q[qi + c]);
                            bd.dq[qi + c] += wk * Math.abs(k[kj + c]);
                            double g = Math.abs(dO[qi + c]);
                            bd.dv[kj + c] += wv * g + sub * (g + pij);
                        }
                    }
                }
            }
        }
        return bd;
    }

    /**
     * Fails unless every |actual - expected| <= bound (infinities must match), and the relative RMS error stays at
     * most rmsLimit. Returns the worst error / bound, for the report.
     */
    static double check(String what, float[] expected, float[] actual, double[] bound, double rmsLimit) {
        org.junit.jupiter.api.Assertions.assertEquals(expected.length, actual.length, what + ": element count");
        double worst = 0, num = 0, den = 0;
        for (int i = 0; i < expected.length; i++) {
            float e = expected[i], a = actual[i];
            if (Float.isNaN(a) || Float.isNaN(e))
                org.junit.jupiter.api.Assertions.fail(what + ": NaN at " + i + " (expected " + e + ", got " + a + ")");
            if (Float.isInfinite(e) || Float.isInfinite(a)) {
                if (e != a) org.junit.jupiter.api.Assertions.fail(what + ": at " + i + " expected " + e + ", got " + a);
                continue;
            }
            double err = Math.abs((double) a - e);
            if (err > bound[i])
                org.junit.jupiter.api.Assertions.fail(what + ": at " + i + " expected " + e + ", got " + a + ", |diff| " + err
                        + " > bound " + bound[i]);
            worst = Math.max(worst, err / bound[i]);
            num += err * err;
            den += (double) e * e;
        }
        double rms = Math.sqrt(num / Math.max(den, 1e-300));
        if (rms > rmsLimit)
            org.junit.jupiter.api.Assertions.fail(what + ": relative RMS error " + rms + " > " + rmsLimit);
        return worst;
    }
}
