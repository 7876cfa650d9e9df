package org.voxflow.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;
import org.voxflow.tensor.DType;
import org.voxflow.tensor.Tensor;

/**
 * The attention kernels against the CPU reference: the f32 kernels' forward (out, lse), backward (dq, dk, dv) and JVP,
 * with ragged instances (1-token and empty ones), lengths that are not tile multiples and odd head dims; the flash
 * (tensor-core) forward and backward on bf16/f16 inputs within the error bounds of {@link AttentionBounds}.
 */
class CudaAttentionParityTest extends GpuParityBase {

    private static int[] offsets(int... lengths) {
        int[] cu = new int[lengths.length + 1];
        for (int i = 0; i < lengths.length; i++) cu[i + 1] = cu[i] + lengths[i];
        return cu;
    }

    private void check(String what, int heads, int d, int dv, int[] qLens, int[] kLens) {
        int[] cuQ = offsets(qLens), cuK = offsets(kLens);
        int nq = cuQ[cuQ.length - 1], nk = cuK[cuK.length - 1];
        float scale = (float) (1 / Math.sqrt(d));
        Tensor[] q = randnPair(nq, heads, d), k = randnPair(nk, heads, d), v = randnPair(nk, heads, dv);
        Tensor[] c = cpu.attention(q[0], k[0], v[0], cuQ, cuK, scale);
        Tensor[] g = gpu.attention(q[1], k[1], v[1], cuQ, cuK, scale);
        assertSame(what + " out", c[0], g[0], 2e-5, 1e-4);
        assertSame(what + " lse", c[1], g[1], 2e-5, 1e-5);

        Tensor[] dout = randnPair(nq, heads, dv);
        Tensor[] cb = cpu.attentionBackward(dout[0], q[0], k[0], v[0], c[0], c[1], cuQ, cuK, scale);
        Tensor[] gb = gpu.attentionBackward(dout[1], q[1], k[1], v[1], g[0], g[1], cuQ, cuK, scale);
        String[] names = {"dq", "dk", "dv"};
        for (int i = 0; i < 3; i++) assertSame(what + " " + names[i], cb[i], gb[i], 1e-4, 1e-3);

        Tensor[] tq = randnPair(nq, heads, d), tk = randnPair(nk, heads, d), tv = randnPair(nk, heads, dv);
        assertSame(what + " jvp", cpu.attentionJvp(q[0], k[0], v[0], c[0], c[1], tq[0], tk[0], tv[0], cuQ, cuK, scale),
                gpu.attentionJvp(q[1], k[1], v[1], g[0], g[1], tq[1], tk[1], tv[1], cuQ, cuK, scale), 1e-4, 1e-3);
        assertSame(what + " jvp (tv only)", cpu.attentionJvp(q[0], k[0], v[0], c[0], c[1], null, null, tv[0], cuQ, cuK, scale),
                gpu.attentionJvp(q[1], k[1], v[1], g[0], g[1], null, null, tv[1], cuQ, cuK, scale), 1e-4, 1e-3);
        assertSame(what + " jvp (tq, tk)", cpu.attentionJvp(q[0], k[0], v[0], c[0], c[1], tq[0], tk[0], null, cuQ, cuK, scale),
                gpu.attentionJvp(q[1], k[1], v[1], g[0], g[1], tq[1], tk[1], null, cuQ, cuK, scale), 1e-4, 1e-3);
    }

    @Test
    void denseBatch() { check("dense", 4, 64, 64, new int[] {100, 100}, new int[] {100, 100}); }

    @Test
    void raggedInstances() {
        check("ragged", 3, 32, 32, new int[] {1, 45, 0, 70, 33}, new int[] {5, 64, 3, 1, 97});
    }

    @Test
    void emptyKeySets() { check("no keys", 2, 16, 16, new int[] {3, 4}, new int[] {0, 7}); }

    @Test
    void crossAttentionAndOddHeadDims() {
        check("cross d=24 dv=40", 2, 24, 40, new int[] {17, 31}, new int[] {77, 5});
        check("d=80", 1, 80, 80, new int[] {40}, new int[] {65});
        check("d=1", 2, 1, 3, new int[] {9}, new int[] {9});
        check("d=128", 2, 128, 128, new int[] {50}, new int[] {70});
        check("d=256", 1, 256, 200, new int[] {33}, new int[] {40});
    }

    /** More instances than fit in the kernel parameters (CudaAttention.INLINE_BATCH): the offsets go by device copy. */
    @Test
    void batchBeyondInlineOffsets() {
        int n = CudaAttention.INLINE_BATCH + 45;
        int[] ql = new int[n], kl = new int[n];
        for (int i = 0; i < n; i++) {
            ql[i] = i % 7 == 3 ? 0 : 1 + (i * 37) % 9;
            kl[i] = 1 + (i * 53) % 11;
        }
        check("300 instances", 2, 16, 16, ql, kl);
    }

    // ---- flash (tensor-core) kernels: bf16/f16 inputs -------------------------------------------------------------

    /**
     * The flash forward and backward against the f32 CPU reference evaluated on the same rounded inputs, element by
     * element within {@link AttentionBounds} (derived there; worst cases, all roundings aligned), and in relative RMS
     * error within 2u (out, dv; their errors are single roundings of u-sized relative terms that average out) and 4u
     * (dq, dk: dS carries the roundings of dO, P and dS itself), lse within 1e-5 (no 16-bit rounding enters it). On an
     * H100 the RMS errors were 0.3 to 0.6 of these limits.
     */
    private void checkFlash(String what, DType type, int heads, int d, int[] qLens, int[] kLens) {
        int[] cuQ = offsets(qLens), cuK = offsets(kLens);
        int nq = cuQ[cuQ.length - 1], nk = cuK[cuK.length - 1];
        float scale = (float) (1 / Math.sqrt(d));
        Tensor[] q = randnPair(nq, heads, d), k = randnPair(nk, heads, d), v = randnPair(nk, heads, d), g = randnPair(nq, heads, d);
        // the reference gets the rounded values in f32; the GPU gets them in the 16-bit type (same rounding)
        Tensor qr = cpu.cast(cpu.cast(q[0], type), DType.F32), kr = cpu.cast(cpu.cast(k[0], type), DType.F32);
        Tensor vr = cpu.cast(cpu.cast(v[0], type), DType.F32);
        Tensor qh = gpu.cast(q[1], type), kh = gpu.cast(k[1], type), vh = gpu.cast(v[1], type);
        Tensor[] ref = cpu.attention(qr, kr, vr, cuQ, cuK, scale);
        Tensor[] got = gpu.attention(qh, kh, vh, cuQ, cuK, scale);
        Tensor[] refB = cpu.attentionBackward(g[0], qr, kr, vr, ref[0], ref[1], cuQ, cuK, scale);
        Tensor[] gotB = gpu.attentionBackward(g[1], qh, kh, vh, got[0], got[1], cuQ, cuK, scale);
        AttentionBounds bd = AttentionBounds.of(type, qr.toFloats(), kr.toFloats(), vr.toFloats(), g[0].toFloats(), cuQ, cuK,
                heads, d, scale, 0);
        double u = AttentionBounds.unitRoundoff(type);
        String tag = what + " " + type + " d=" + d;
        assertEquals(DType.F32, got[0].dtype(), tag + ": out dtype");
        double wo = AttentionBounds.check(tag + " out", ref[0].toFloats(), got[0].toFloats(), bd.out, 2 * u);
        double wl = AttentionBounds.check(tag + " lse", ref[1].toFloats(), got[1].toFloats(), bd.lse, 1e-5);
        double wq = AttentionBounds.check(tag + " dq", refB[0].toFloats(), gotB[0].toFloats(), bd.dq, 4 * u);
        double wk = AttentionBounds.check(tag + " dk", refB[1].toFloats(), gotB[1].toFloats(), bd.dk, 4 * u);
        double wv = AttentionBounds.check(tag + " dv", refB[2].toFloats(), gotB[2].toFloats(), bd.dv, 2 * u);
        System.out.printf("flash %s: worst error / bound: out %.3f lse %.3f dq %.3f dk %.3f dv %.3f%n", tag, wo, wl, wq, wk, wv);
    }

    @Test
    void flashSelfAwkwardLengths() {
        int[] lens = {1, 17, 63, 65, 127, 129, 1000, 0};
        for (DType type : new DType[] {DType.BF16, DType.F16})
            for (int d : new int[] {64, 128, 32}) checkFlash("self", type, 2, d, lens, lens);
    }

    @Test
    void flashCrossWithEmptyKeyAndQuerySets() {
        int[] ql = {17, 129, 1, 0, 65, 300, 5}, kl = {63, 1000, 127, 40, 0, 1, 130};
        for (DType type : new DType[] {DType.BF16, DType.F16})
            for (int d : new int[] {64, 128, 32}) checkFlash("cross", type, 2, d, ql, kl);
    }

    @Test
    void flashBatchBeyondInlineOffsets() {
        int n = CudaAttention.INLINE_BATCH + 45;
        int[] ql = new int[n], kl = new int[n];
        for (int i = 0; i < n; i++) {
            ql[i] = i % 7 == 3 ? 0 : 1 + (i * 37) % 90;
            kl[i] = 1 + (i * 53) % 70;
        }
        checkFlash(n + " instances", DType.BF16, 1, 64, ql, kl);
    }

    /**
     * One instance, 16 heads, as the TRELLIS flows run it, with and without the Hopper kernel's tail split. On an
     * H100 (132 SMs) the split cuts all 96 query-tile units of the D 64 case into 4 key ranges each, and the last 12 of
     * the 144 units of the D 128 case into 8 (elsewhere the kernel declines and the mma.sync kernel runs both).
     */
    @Test
    void flashTailSplit() {
        boolean before = CudaAttention.split;
        try {
            for (boolean split : new boolean[] {true, false}) {
                CudaAttention.split = split;
                checkFlash("1 instance, split " + split, DType.BF16, 16, 64, new int[] {1100}, new int[] {1100});
                checkFlash("1 instance cross, split " + split, DType.F16, 16, 128, new int[] {1100}, new int[] {700});
            }
        } finally {
            CudaAttention.split = before;
        }
    }

    /** Head dims the flash kernels do not cover (and d != dv) still work on 16-bit inputs, through the f32 kernels. */
    @Test
    void halfInputsOutsideTheFlashShapesUseF32() {
        int[] cu = {0, 30, 70};
        Tensor[] q = randnPair(70, 2, 40), k = randnPair(70, 2, 40), v = randnPair(70, 2, 24), g = randnPair(70, 2, 24);
        Tensor qr = cpu.cast(cpu.cast(q[0], DType.BF16), DType.F32), kr = cpu.cast(cpu.cast(k[0], DType.BF16), DType.F32);
        Tensor vr = cpu.cast(cpu.cast(v[0], DType.BF16), DType.F32);
        Tensor qh = gpu.cast(q[1], DType.BF16), kh = gpu.cast(k[1], DType.BF16), vh = gpu.cast(v[1], DType.BF16);
        Tensor[] ref = cpu.attention(qr, kr, vr, cu, cu, 0.2f), got = gpu.attention(qh, kh, vh, cu, cu, 0.2f);
        assertSame("d=40 dv=24 bf16 out", ref[0], got[0], 2e-5, 1e-4);
        Tensor[] refB = cpu.attentionBackward(g[0], qr, kr, vr, ref[0], ref[1], cu, cu, 0.2f);
        Tensor[] gotB = gpu.attentionBackward(g[1], qh, kh, vh, got[0], got[1], cu, cu, 0.2f);
        for (int i = 0; i < 3; i++) assertSame("d=40 dv=24 bf16 grad " + i, refB[i], gotB[i], 1e-4, 1e-3);
    }

    @Test
    void viewsAsInputs() {
        int[] cu = {0, 20, 50};
        Tensor[] qkv = randnPair(50, 3, 2, 16); // packed q, k, v as one tensor, as a fused projection gives
        Tensor[] c = cpu.attention(qkv[0].slice(1, 0, 1).squeeze(1), qkv[0].slice(1, 1, 2).squeeze(1), qkv[0].slice(1, 2, 3).squeeze(1), cu, cu, 0.25f);
        Tensor[] g = gpu.attention(qkv[1].slice(1, 0, 1).squeeze(1), qkv[1].slice(1, 1, 2).squeeze(1), qkv[1].slice(1, 2, 3).squeeze(1), cu, cu, 0.25f);
        assertSame("packed qkv out", c[0], g[0], 2e-5, 1e-4);
    }
}
