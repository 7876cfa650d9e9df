package org.voxflow.cuda;

import org.junit.jupiter.api.Test;
import org.voxflow.autograd.F;
import org.voxflow.autograd.Grad;
import org.voxflow.tensor.DType;
import org.voxflow.tensor.Tensor;

/**
 * The fused Linear (cuBLASLt with bias / GELU-bias epilogues) against the CPU composite on the same bf16-rounded
 * operands. bf16 x bf16 products are exact in f32, so the only difference is the f32 summation order: well under
 * 1e-5 of the output scale. The GELU case keeps outputs in [-3, 3], where the tanh approximation and the exact erf
 * GELU differ by up to ~5e-4, so the test also pins down which GELU the epilogue computes.
 */
class CudaLinearParityTest extends GpuParityBase {

    private Tensor[] bf16Pair(int m, int k, float scale) {
        float[] v = randn(m * k);
        for (int i = 0; i < v.length; i++) v[i] *= scale;
        Tensor g = gpu.cast(gpu.fromFloats(v, m, k), DType.BF16);
        return new Tensor[] {cpu.fromFloats(g.toFloats(), m, k), g};
    }

    private void check(int m, int n, int k, boolean bias, boolean gelu) {
        Tensor[] x = bf16Pair(m, k, 1f), w = bf16Pair(n, k, (float) (1.0 / Math.sqrt(k)));
        Tensor[] b = bias ? randnPair(n) : new Tensor[2];
        Tensor expected = cpu.linear(x[0], w[0], b[0], gelu);
        Tensor actual = gpu.linear(x[1], w[1], b[1], gelu);
        assertSame("linear m=" + m + " n=" + n + " k=" + k + " bias=" + bias + " gelu=" + gelu, expected, actual, 2e-5, 1e-5);
    }

    @Test void bf16Epilogues() {
        for (boolean bias : new boolean[] {true, false})
            for (boolean gelu : new boolean[] {false, true}) {
                check(4096, 1024, 1024, bias, gelu);
                check(37, 64, 128, bias, gelu);
                check(1, 8, 8, bias, gelu);
            }
    }

    /**
     * A few rows (the skinny kernel, vf_skinny_linear.cu): each padded row count, k across several of a lane's chunk
     * passes and not a multiple of 256, n odd (a warp's second row of W missing), the most x it stages (8 x 1536), and
     * one row beyond it (cuBLASLt again); the f16 and bf16-output forms against the same product through cuBLASLt.
     */
    @Test void fewRows() {
        for (boolean bias : new boolean[] {true, false}) {
            check(1, 6144, 1024, bias, false);
            check(2, 1001, 520, bias, false);
            check(3, 64, 3000, bias, false);
            check(8, 40, 1536, bias, false);
            check(5, 33, 2048, bias, false);   // 8 x 2048 staged values: too many, cuBLASLt
        }
        CudaBackend be = (CudaBackend) gpu;
        for (DType type : new DType[] {DType.BF16, DType.F16})
            for (DType out : new DType[] {DType.F32, type}) {
                Tensor x = gpu.cast(gpu.fromFloats(randn(3 * 1024), 3, 1024), type);
                Tensor w = gpu.cast(gpu.fromFloats(randn(776 * 1024), 776, 1024), type);
                Tensor b = gpu.cast(gpu.fromFloats(randn(776), 776), out);
                Tensor skinny = CudaMatmul.linear(be, be.lt(), x, w, b, false, out);
                CudaMatmul.skinny = false;
                Tensor lt;
                try {
                    lt = CudaMatmul.linear(be, be.lt(), x, w, b, false, out);
                } finally {
                    CudaMatmul.skinny = true;
                }
                org.junit.jupiter.api.Assertions.assertNotNull(skinny, type + " -> " + out);
                org.junit.jupiter.api.Assertions.assertEquals(out, skinny.dtype());
                // the same f32 sums in another order, then the same one rounding to out (|y| ~ 30: 2^-8 relative for bf16)
                double tol = out == DType.F32 ? 1e-4 : out == DType.BF16 ? 0.25 : 0.04;
                assertClose(type + " -> " + out, lt.toFloats(), skinny.toFloats(), tol, 1e-5);
            }
    }

    @Test void shapesTheEpilogueDoesNotTakeFallBack() {
        check(5, 12, 20, true, true);   // k, n not multiples of 8
        check(16, 24, 36, true, false);
    }

    @Test void batchedInputRows() {
        Tensor[] x = randnPair(2, 5, 64), w = randnPair(32, 64), b = randnPair(32);
        try (var ac = CudaAutocast.use("bf16")) {
            Tensor fused = gpu.linear(x[1], w[1], b[1], false);
            CudaBackend.linearFused = false;
            try {
                assertSame("autocast fused vs composite", gpu.linear(x[1], w[1], b[1], false), fused, 1e-5, 1e-5);
            } finally {
                CudaBackend.linearFused = true;
            }
        }
    }

    /** Under autocast the op's gradients equal those of the composite matmul + add on the GPU. */
    @Test void autocastGradientsMatchTheComposite() {
        float[] xv = randn(64 * 48), wv = randn(40 * 48), bv = randn(40), gv = randn(64 * 40);
        float[][] fused = grads(xv, wv, bv, gv, true), plain = grads(xv, wv, bv, gv, false);
        for (int i = 0; i < 3; i++) assertClose("grad " + i, plain[i], fused[i], 1e-4, 1e-4);
    }

    private float[][] grads(float[] xv, float[] wv, float[] bv, float[] gv, boolean fusedOn) {
        CudaBackend.linearFused = fusedOn;
        try (var ac = CudaAutocast.use("bf16")) {
            Tensor x = gpu.fromFloats(xv, 64, 48).setRequiresGrad(true), w = gpu.fromFloats(wv, 40, 48).setRequiresGrad(true);
            Tensor b = gpu.fromFloats(bv, 40).setRequiresGrad(true);
            Tensor y = fusedOn ? F.linear(x, w, b) : F.add(F.matmul(x, w, false, true), b);
            Grad.backward(F.sum(F.mul(y, gpu.fromFloats(gv, 64, 40))));
            return new float[][] {x.grad().toFloats(), w.grad().toFloats(), b.grad().toFloats()};
        } finally {
            CudaBackend.linearFused = true;
        }
    }
}
