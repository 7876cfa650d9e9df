package org.voxflow.cuda;

import org.junit.jupiter.api.Test;
import org.voxflow.tensor.Tensor;

/**
 * The tiled attention kernels against the CPU reference: forward (out, lse), backward (dq, dk, dv) and the JVP,
 * with ragged instances (1-token and empty ones), lengths that are not tile multiples and odd head dims.
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

    /** bf16/f16 inputs take the tensor-core kernel; its probabilities are rounded to the input type. */
    @Test
    void tensorCoreForwardForHalfInputs() {
        for (org.voxflow.tensor.DType type : new org.voxflow.tensor.DType[] {org.voxflow.tensor.DType.BF16, org.voxflow.tensor.DType.F16})
            for (int d : new int[] {64, 128}) {
                int[] cuQ = offsets(1, 130, 0, 64, 77), cuK = offsets(9, 200, 5, 0, 64);
                int nq = cuQ[cuQ.length - 1], nk = cuK[cuK.length - 1];
                float scale = (float) (1 / Math.sqrt(d));
                Tensor[] q = randnPair(nq, 3, d), k = randnPair(nk, 3, d), v = randnPair(nk, 3, d);
                Tensor[] c = cpu.attention(cpu.cast(q[0], type), cpu.cast(k[0], type), cpu.cast(v[0], type), cuQ, cuK, scale);
                Tensor[] g = gpu.attention(gpu.cast(q[1], type), gpu.cast(k[1], type), gpu.cast(v[1], type), cuQ, cuK, scale);
                double tol = type == org.voxflow.tensor.DType.BF16 ? 8e-3 : 2e-3;
                assertSame("tensor-core attention " + type + " d=" + d + " out", c[0], g[0], tol, tol);
                assertSame("tensor-core attention " + type + " d=" + d + " lse", c[1], g[1], tol, 1e-4);
            }
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
