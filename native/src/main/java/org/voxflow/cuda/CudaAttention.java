package org.voxflow.cuda;

import static org.voxflow.cuda.CudaRuntime.check;

import java.util.Arrays;
import org.voxflow.tensor.DType;
import org.voxflow.tensor.Tensor;

/**
 * Host side of the attention kernels (vf_attention.cu): validates shapes and offsets like the CPU reference,
 * makes dense f32 operands, uploads the per-instance offsets and launches. Head dims up to 256.
 */
final class CudaAttention {
    private CudaAttention() {}

    static final int MAX_HEAD_DIM = 256;

    private record Problem(int heads, int d, int dv, int batch, int maxQ, int maxK, Tensor offsets) {
        long cuQ() { return CudaBackend.addr(offsets); }
        long cuK() { return CudaBackend.addr(offsets) + 4L * (batch + 1); }
    }

    private static Problem problem(CudaBackend be, Tensor q, Tensor k, Tensor v, int[] cuQ, int[] cuK) {
        if (q.dim() != 3 || k.dim() != 3 || v.dim() != 3)
            throw new IllegalArgumentException("attention takes q [Nq,H,D], k [Nk,H,D], v [Nk,H,Dv]; got " + q + ", " + k + ", " + v);
        int h = q.size(1), d = q.size(2);
        if (k.size(1) != h || v.size(1) != h || k.size(2) != d || v.size(0) != k.size(0))
            throw new IllegalArgumentException("attention shapes disagree: q " + Arrays.toString(q.shape()) + " k "
                    + Arrays.toString(k.shape()) + " v " + Arrays.toString(v.shape()));
        checkOffsets("cuQ", cuQ, q.size(0));
        checkOffsets("cuK", cuK, k.size(0));
        if (cuQ.length != cuK.length) throw new IllegalArgumentException("cuQ and cuK name different batch sizes");
        int dv = v.size(2);
        if (d > MAX_HEAD_DIM || dv > MAX_HEAD_DIM)
            throw new IllegalArgumentException("CUDA attention supports head dims up to " + MAX_HEAD_DIM + ", got D=" + d + ", Dv=" + dv);
        int batch = cuQ.length - 1, maxQ = 0, maxK = 0;
        int[] both = new int[2 * cuQ.length];
        for (int b = 0; b < batch; b++) {
            maxQ = Math.max(maxQ, cuQ[b + 1] - cuQ[b]);
            maxK = Math.max(maxK, cuK[b + 1] - cuK[b]);
        }
        System.arraycopy(cuQ, 0, both, 0, cuQ.length);
        System.arraycopy(cuK, 0, both, cuQ.length, cuK.length);
        return new Problem(h, d, dv, batch, maxQ, maxK, be.fromInts(both, both.length));
    }

    private static void checkOffsets(String name, int[] cu, int n) {
        if (cu.length < 1 || cu[0] != 0 || cu[cu.length - 1] != n)
            throw new IllegalArgumentException(name + " must run from 0 to " + n + ": " + Arrays.toString(cu));
        for (int i = 1; i < cu.length; i++)
            if (cu[i] < cu[i - 1]) throw new IllegalArgumentException(name + " decreases at " + i + ": " + Arrays.toString(cu));
    }

    /** The tensor-core kernel for bf16/f16 inputs (-Dvoxflow.cuda.flash=false falls back to the f32 kernel). */
    static volatile boolean flash = !"false".equals(System.getProperty("voxflow.cuda.flash"));

    private static boolean flashApplies(Tensor q, Tensor k, Tensor v, Problem p) {
        DType t = q.dtype();
        return flash && (t == DType.BF16 || t == DType.F16) && k.dtype() == t && v.dtype() == t && p.d == p.dv
                && (p.d == 64 || p.d == 128);
    }

    /** Dense, 16-byte aligned 16-bit operand (a view at an odd offset is copied). */
    private static Tensor aligned(CudaBackend be, Tensor x, CudaBackend.Temps t) {
        Tensor d = t.track(be.denseOf(x, x.dtype()), x);
        if (CudaBackend.addr(d) % 16 == 0) return d;
        return t.track(be.copy(d), null);
    }

    static Tensor[] forward(CudaBackend be, Tensor q0, Tensor k0, Tensor v0, int[] cuQ, int[] cuK, float scale) {
        DType cast = q0.dim() == 3 && v0.dim() == 3 ? CudaAutocast.attentionType(q0, k0, v0, q0.size(2), v0.size(2)) : null;
        if (cast != null) { // autocast: f32 inputs cast to bf16 here, then the tensor-core kernel; out and lse stay f32
            try (CudaBackend.Temps t = new CudaBackend.Temps()) {
                return forward(be, t.track(be.denseOf(q0, cast), q0), t.track(be.denseOf(k0, cast), k0),
                        t.track(be.denseOf(v0, cast), v0), cuQ, cuK, scale);
            }
        }
        Problem p = problem(be, q0, k0, v0, cuQ, cuK);
        if (flashApplies(q0, k0, v0, p)) {
            try (CudaBackend.Temps t = new CudaBackend.Temps()) {
                Tensor q = aligned(be, q0, t), k = aligned(be, k0, t), v = aligned(be, v0, t);
                int nq = q.size(0);
                Tensor out = be.empty(DType.F32, nq, p.heads, p.dv);
                Tensor lse = be.empty(DType.F32, nq, p.heads);
                check(VoxKernels.vf_flash_attention_forward(CudaBackend.addr(q), CudaBackend.addr(k), CudaBackend.addr(v),
                        q.dtype().ordinal(), CudaBackend.addr(out), CudaBackend.addr(lse), p.cuQ(), p.cuK(), p.batch, p.heads,
                        p.d, p.maxQ, scale, be.stream()), "vf_flash_attention_forward(" + q.dtype() + ")");
                return new Tensor[] {out, lse};
            } finally {
                p.offsets.close();
            }
        }
        try (CudaBackend.Temps t = new CudaBackend.Temps()) {
            Tensor q = t.track(be.denseOf(q0, DType.F32), q0), k = t.track(be.denseOf(k0, DType.F32), k0);
            Tensor v = t.track(be.denseOf(v0, DType.F32), v0);
            int nq = q.size(0);
            Tensor out = be.empty(DType.F32, nq, p.heads, p.dv);
            Tensor lse = be.empty(DType.F32, nq, p.heads);
            check(VoxKernels.vf_attention_forward(CudaBackend.addr(q), CudaBackend.addr(k), CudaBackend.addr(v),
                    CudaBackend.addr(out), CudaBackend.addr(lse), p.cuQ(), p.cuK(), p.batch, p.heads, p.d, p.dv, p.maxQ,
                    scale, be.stream()), "vf_attention_forward");
            return new Tensor[] {out, lse};
        } finally {
            p.offsets.close();
        }
    }

    static Tensor[] backward(CudaBackend be, Tensor dout0, Tensor q0, Tensor k0, Tensor v0, Tensor out0, Tensor lse0,
                             int[] cuQ, int[] cuK, float scale) {
        Problem p = problem(be, q0, k0, v0, cuQ, cuK);
        try (CudaBackend.Temps t = new CudaBackend.Temps()) {
            Tensor q = t.track(be.denseOf(q0, DType.F32), q0), k = t.track(be.denseOf(k0, DType.F32), k0);
            Tensor v = t.track(be.denseOf(v0, DType.F32), v0), g = t.track(be.denseOf(dout0, DType.F32), dout0);
            Tensor o = t.track(be.denseOf(out0, DType.F32), out0), lse = t.track(be.denseOf(lse0, DType.F32), lse0);
            int nq = q.size(0), nk = k.size(0);
            Tensor delta = t.track(be.empty(DType.F32, nq, p.heads), null);
            Tensor dq = be.empty(DType.F32, nq, p.heads, p.d);
            Tensor dk = be.empty(DType.F32, nk, p.heads, p.d);
            Tensor dv = be.empty(DType.F32, nk, p.heads, p.dv);
            check(VoxKernels.vf_attention_backward(CudaBackend.addr(g), CudaBackend.addr(q), CudaBackend.addr(k),
                    CudaBackend.addr(v), CudaBackend.addr(o), CudaBackend.addr(lse), CudaBackend.addr(dq), CudaBackend.addr(dk),
                    CudaBackend.addr(dv), CudaBackend.addr(delta), p.cuQ(), p.cuK(), p.batch, p.heads, p.d, p.dv, nq, p.maxQ,
                    p.maxK, scale, be.stream()), "vf_attention_backward");
            return new Tensor[] {dq, dk, dv};
        } finally {
            p.offsets.close();
        }
    }

    static Tensor jvp(CudaBackend be, Tensor q0, Tensor k0, Tensor v0, Tensor out0, Tensor lse0, Tensor tq0, Tensor tk0,
                      Tensor tv0, int[] cuQ, int[] cuK, float scale) {
        Problem p = problem(be, q0, k0, v0, cuQ, cuK);
        try (CudaBackend.Temps t = new CudaBackend.Temps()) {
            Tensor q = t.track(be.denseOf(q0, DType.F32), q0), k = t.track(be.denseOf(k0, DType.F32), k0);
            Tensor v = t.track(be.denseOf(v0, DType.F32), v0);
            Tensor o = t.track(be.denseOf(out0, DType.F32), out0), lse = t.track(be.denseOf(lse0, DType.F32), lse0);
            long tq = tq0 == null ? 0 : CudaBackend.addr(t.track(be.denseOf(tq0, DType.F32), tq0));
            long tk = tk0 == null ? 0 : CudaBackend.addr(t.track(be.denseOf(tk0, DType.F32), tk0));
            long tv = tv0 == null ? 0 : CudaBackend.addr(t.track(be.denseOf(tv0, DType.F32), tv0));
            int nq = q.size(0);
            Tensor tout = be.empty(DType.F32, nq, p.heads, p.dv);
            check(VoxKernels.vf_attention_jvp(CudaBackend.addr(q), CudaBackend.addr(k), CudaBackend.addr(v), CudaBackend.addr(o),
                    CudaBackend.addr(lse), tq, tk, tv, CudaBackend.addr(tout), p.cuQ(), p.cuK(), p.batch, p.heads, p.d, p.dv,
                    p.maxQ, scale, be.stream()), "vf_attention_jvp");
            return tout;
        } finally {
            p.offsets.close();
        }
    }
}
