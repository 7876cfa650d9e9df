package org.voxflow.tensor.cpu;

import static org.bytedeco.openblas.global.openblas.CblasNoTrans;
import static org.bytedeco.openblas.global.openblas.CblasRowMajor;
import static org.bytedeco.openblas.global.openblas.CblasTrans;
import static org.bytedeco.openblas.global.openblas.cblas_sgemm;

import java.nio.FloatBuffer;
import java.util.Arrays;
import org.bytedeco.javacpp.FloatPointer;
import org.voxflow.tensor.DType;
import org.voxflow.tensor.Shapes;
import org.voxflow.tensor.Tensor;

/**
 * Exact softmax attention per (instance, head), variable length: scores for a chunk of queries are formed by
 * GEMM straight from the [N, H, D] layouts (leading dimension H*D, no head transposes), softmaxed in Java, and
 * multiplied by V with a second GEMM. Query chunks bound the score buffer, so 20k-token instances fit.
 */
final class CpuAttention {
    private CpuAttention() {}

    private static final int MAX_SCORES = 1 << 22;

    /** Dense f32 operands and the problem sizes, validated once. */
    private record Problem(Tensor q, Tensor k, Tensor v, int heads, int d, int dv, int[] cuQ, int[] cuK) {
        FloatPointer ptr(Tensor t) { return new FloatPointer(HostData.storage(t).pointer()); }
    }

    private static Problem problem(CpuBackend be, Tensor q, Tensor k, Tensor v, int[] cuQ, int[] cuK) {
        Shapes.checkAttention(q, k, v, cuQ, cuK);
        int h = q.size(1), d = q.size(2);
        return new Problem(dense(be, q), dense(be, k), dense(be, v), h, d, v.size(2), cuQ, cuK);
    }

    /** A dense f32 tensor starting at storage element 0 (the BLAS pointers below index from the storage base). */
    static Tensor dense(CpuBackend be, Tensor t) {
        if (t.dtype() != DType.F32) return be.cast(t, DType.F32);
        return t.isContiguous() && t.offset() == 0 ? t : be.copy(t);
    }

    /** Scores scale * Q K^T for query rows [r0, r0+lq) of one (instance, head) into s (row-major lq x lk). */
    private static void scores(Problem p, FloatPointer q, FloatPointer k, int r0, int lq, int k0, int lk, int h, float scale,
                               FloatPointer s) {
        int ld = p.heads * p.d;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, lq, lk, p.d, scale,
                q.position((long) r0 * ld + (long) h * p.d), ld, k.position((long) k0 * ld + (long) h * p.d), ld, 0f,
                s.position(0), lk);
    }

    static Tensor[] forward(CpuBackend be, Tensor qIn, Tensor kIn, Tensor vIn, int[] cuQ, int[] cuK, float scale) {
        Problem p = problem(be, qIn, kIn, vIn, cuQ, cuK);
        int nq = p.q.size(0);
        Tensor out = be.zeros(DType.F32, nq, p.heads, p.dv);
        float[] lse = new float[nq * p.heads];
        Arrays.fill(lse, Float.NEGATIVE_INFINITY);
        FloatPointer q = p.ptr(p.q), k = p.ptr(p.k), v = p.ptr(p.v), o = p.ptr(out);
        forEachBlock(p, (b, h, r0, lq, k0, lk, s, buf, row) -> {
            scores(p, q, k, r0, lq, k0, lk, h, scale, s);
            buf.get(0, row, 0, lq * lk);
            for (int i = 0; i < lq; i++) {
                int base = i * lk;
                float max = Float.NEGATIVE_INFINITY;
                for (int j = 0; j < lk; j++) max = Math.max(max, row[base + j]);
                double sum = 0;
                for (int j = 0; j < lk; j++) { float e = FastExp.exp(row[base + j] - max); row[base + j] = e; sum += e; }
                float inv = (float) (1.0 / sum);
                for (int j = 0; j < lk; j++) row[base + j] *= inv;
                lse[(r0 + i) * p.heads + h] = (float) (max + Math.log(sum));
            }
            buf.put(0, row, 0, lq * lk);
            int ldv = p.heads * p.dv;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, lq, p.dv, lk, 1f, s.position(0), lk,
                    v.position((long) k0 * ldv + (long) h * p.dv), ldv, 0f, o.position((long) r0 * ldv + (long) h * p.dv), ldv);
        });
        return new Tensor[] {out, be.fromFloats(lse, nq, p.heads)};
    }

    /** Recomputes the probabilities P = exp(scale Q K^T - lse) of a block into s and row. */
    private static void probabilities(Problem p, FloatPointer q, FloatPointer k, float[] lse, int h, int r0, int lq, int k0,
                                      int lk, float scale, FloatPointer s, FloatBuffer buf, float[] row) {
        scores(p, q, k, r0, lq, k0, lk, h, scale, s);
        buf.get(0, row, 0, lq * lk);
        for (int i = 0; i < lq; i++) {
            float l = lse[(r0 + i) * p.heads + h];
            for (int j = 0; j < lk; j++) row[i * lk + j] = FastExp.exp(row[i * lk + j] - l);
        }
        buf.put(0, row, 0, lq * lk);
    }

    static Tensor[] backward(CpuBackend be, Tensor dout0, Tensor qIn, Tensor kIn, Tensor vIn, Tensor out0, Tensor lse0,
                             int[] cuQ, int[] cuK, float scale) {
        Problem p = problem(be, qIn, kIn, vIn, cuQ, cuK);
        Tensor dout = dense(be, dout0), out = dense(be, out0);
        float[] lse = be.toFloats(lse0);
        int nq = p.q.size(0), nk = p.k.size(0);
        Tensor dq = be.zeros(DType.F32, nq, p.heads, p.d);
        Tensor dk = be.zeros(DType.F32, nk, p.heads, p.d);
        Tensor dvT = be.zeros(DType.F32, nk, p.heads, p.dv);
        // delta_i = sum_c dO_ic O_ic per (row, head)
        float[] dO = be.toFloats(dout), o = be.toFloats(out);
        float[] delta = new float[nq * p.heads];
        for (int i = 0; i < delta.length; i++) {
            double acc = 0;
            for (int c = 0; c < p.dv; c++) acc += (double) dO[i * p.dv + c] * o[i * p.dv + c];
            delta[i] = (float) acc;
        }
        FloatPointer q = p.ptr(p.q), k = p.ptr(p.k), v = p.ptr(p.v), g = p.ptr(dout);
        FloatPointer pdq = p.ptr(dq), pdk = p.ptr(dk), pdv = p.ptr(dvT);
        int ld = p.heads * p.d, ldv = p.heads * p.dv;
        forEachBlock(p, (b, h, r0, lq, k0, lk, s, buf, row) -> {
            probabilities(p, q, k, lse, h, r0, lq, k0, lk, scale, s, buf, row);
            // dV += P^T dO
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, lk, p.dv, lq, 1f, s.position(0), lk,
                    g.position((long) r0 * ldv + (long) h * p.dv), ldv, 1f, pdv.position((long) k0 * ldv + (long) h * p.dv), ldv);
            // dP = dO V^T, then dS = P * (dP - delta), reusing the buffer
            float[] prob = row.clone();
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, lq, lk, p.dv, 1f,
                    g.position((long) r0 * ldv + (long) h * p.dv), ldv, v.position((long) k0 * ldv + (long) h * p.dv), ldv, 0f,
                    s.position(0), lk);
            buf.get(0, row, 0, lq * lk);
            for (int i = 0; i < lq; i++) {
                float dl = delta[(r0 + i) * p.heads + h];
                for (int j = 0; j < lk; j++) row[i * lk + j] = prob[i * lk + j] * (row[i * lk + j] - dl);
            }
            buf.put(0, row, 0, lq * lk);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, lq, p.d, lk, scale, s.position(0), lk,
                    k.position((long) k0 * ld + (long) h * p.d), ld, 0f, pdq.position((long) r0 * ld + (long) h * p.d), ld);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, lk, p.d, lq, scale, s.position(0), lk,
                    q.position((long) r0 * ld + (long) h * p.d), ld, 1f, pdk.position((long) k0 * ld + (long) h * p.d), ld);
        });
        return new Tensor[] {dq, dk, dvT};
    }

    static Tensor jvp(CpuBackend be, Tensor qIn, Tensor kIn, Tensor vIn, Tensor out0, Tensor lse0, Tensor tq0, Tensor tk0,
                      Tensor tv0, int[] cuQ, int[] cuK, float scale) {
        Problem p = problem(be, qIn, kIn, vIn, cuQ, cuK);
        float[] lse = be.toFloats(lse0);
        float[] o = be.toFloats(out0);
        int nq = p.q.size(0);
        Tensor tout = be.zeros(DType.F32, nq, p.heads, p.dv);
        FloatPointer q = p.ptr(p.q), k = p.ptr(p.k), v = p.ptr(p.v), po = p.ptr(tout);
        FloatPointer tq = tq0 == null ? null : p.ptr(dense(be, tq0));
        FloatPointer tk = tk0 == null ? null : p.ptr(dense(be, tk0));
        FloatPointer tv = tv0 == null ? null : p.ptr(dense(be, tv0));
        int ld = p.heads * p.d, ldv = p.heads * p.dv;
        float[] rowSum = new float[nq * p.heads];
        forEachBlock(p, (b, h, r0, lq, k0, lk, s, buf, row) -> {
            probabilities(p, q, k, lse, h, r0, lq, k0, lk, scale, s, buf, row);
            float[] prob = row.clone();
            if (tv != null) // P dV
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, lq, p.dv, lk, 1f, s.position(0), lk,
                        tv.position((long) k0 * ldv + (long) h * p.dv), ldv, 0f, po.position((long) r0 * ldv + (long) h * p.dv), ldv);
            // dS = scale (dQ K^T + Q dK^T)
            float beta = 0f;
            if (tq != null) { scores(p, tq, k, r0, lq, k0, lk, h, scale, s); beta = 1f; }
            if (tk != null) {
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, lq, lk, p.d, scale,
                        q.position((long) r0 * ld + (long) h * p.d), ld, tk.position((long) k0 * ld + (long) h * p.d), ld, beta,
                        s.position(0), lk);
                beta = 1f;
            }
            if (beta == 0f) return;
            buf.get(0, row, 0, lq * lk);
            for (int i = 0; i < lq; i++) {
                double acc = 0;
                for (int j = 0; j < lk; j++) { float a = prob[i * lk + j] * row[i * lk + j]; row[i * lk + j] = a; acc += a; }
                rowSum[(r0 + i) * p.heads + h] = (float) acc;
            }
            buf.put(0, row, 0, lq * lk);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, lq, p.dv, lk, 1f, s.position(0), lk,
                    v.position((long) k0 * ldv + (long) h * p.dv), ldv, tv != null ? 1f : 0f,
                    po.position((long) r0 * ldv + (long) h * p.dv), ldv);
        });
        float[] t = be.toFloats(tout);
        for (int i = 0; i < nq * p.heads; i++)
            for (int c = 0; c < p.dv; c++) t[i * p.dv + c] -= rowSum[i] * o[i * p.dv + c];
        return be.fromFloats(t, nq, p.heads, p.dv);
    }

    interface Block {
        void run(int b, int h, int r0, int lq, int k0, int lk, FloatPointer s, FloatBuffer buf, float[] row);
    }

    /** Visits every (instance, head, query chunk) with a scratch score matrix sized for the chunk. */
    private static void forEachBlock(Problem p, Block body) {
        int maxLk = 1;
        for (int b = 0; b + 1 < p.cuK.length; b++) maxLk = Math.max(maxLk, p.cuK[b + 1] - p.cuK[b]);
        int chunk = Math.max(1, MAX_SCORES / maxLk);
        long cap = (long) chunk * maxLk;
        int maxLq = 1;
        for (int b = 0; b + 1 < p.cuQ.length; b++) maxLq = Math.max(maxLq, p.cuQ[b + 1] - p.cuQ[b]);
        cap = Math.min(cap, (long) maxLq * maxLk);
        FloatPointer s = new FloatPointer(Math.max(cap, 1));
        try {
            FloatBuffer buf = s.asBuffer();
            float[] row = new float[(int) Math.max(cap, 1)];
            for (int b = 0; b + 1 < p.cuQ.length; b++) {
                int q0 = p.cuQ[b], lqAll = p.cuQ[b + 1] - q0, k0 = p.cuK[b], lk = p.cuK[b + 1] - k0;
                if (lqAll == 0 || lk == 0) continue; // no keys: output stays zero, lse -inf
                for (int h = 0; h < p.heads; h++)
                    for (int r = 0; r < lqAll; r += chunk) body.run(b, h, q0 + r, Math.min(chunk, lqAll - r), k0, lk, s, buf, row);
            }
        } finally {
            s.deallocate();
        }
    }
}
