package org.voxflow.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;
import org.voxflow.autograd.F;
import org.voxflow.autograd.Grad;
import org.voxflow.nn.ModulatedCrossBlock;
import org.voxflow.nn.RowLayout;
import org.voxflow.tensor.DType;
import org.voxflow.tensor.Tensor;

/**
 * The inference forms (Backend#normalizeAffine, the weighted and typed l2Normalize, linear and attention written in
 * the next GEMM's type) on the GPU. Each fused kernel must give the bits of the same ops composed on the GPU
 * (normalize, fma, multiply, cast): they share the row statistics and round every product and sum the same way. The
 * f32 results must also match the CPU reference within the row kernels' usual tolerance, and a whole transformer
 * block run with bf16 activations must stay within bf16 rounding of the f32-activation run.
 */
class CudaInferenceFormsParityTest extends GpuParityBase {

    private static void assertBits(String what, Tensor expected, Tensor actual) {
        assertEquals(expected.dtype(), actual.dtype(), what + ": dtype");
        assertArrayEquals(expected.shape(), actual.shape(), what + ": shape");
        float[] e = expected.toFloats(), a = actual.toFloats();
        for (int i = 0; i < e.length; i++)
            if (Float.floatToIntBits(e[i]) != Float.floatToIntBits(a[i]))
                assertEquals(e[i], a[i], 0.0, what + ": element " + i + " differs from the composition");
    }

    /** The GPU composition the fused kernel must reproduce bit for bit. */
    private static Tensor composedNormAffine(Tensor x, float eps, Tensor w, Tensor b, DType out) {
        Tensor y = gpu.fma(gpu.normalize(x, eps)[0], w, b);
        return out == DType.F32 ? y : gpu.cast(y, out);
    }

    /** Widths of the general row kernel (96) and of the register-resident one (256, 1024: 128-multiples). */
    @Test void normalizeAffineMatchesTheComposition() {
        for (int c : new int[] {96, 256, 1024}) normalizeAffineAtWidth(c);
    }

    private void normalizeAffineAtWidth(int c) {
        int b = 3, l = 37;
        Tensor[] x = randnPair(b, l, c), mod = randnPair(b, 6 * c);
        for (DType out : new DType[] {DType.F32, DType.BF16, DType.F16}) {
            // adaLN: [B, 1, C] chunks of the modulation output (strided views) over [B, L, C]
            Tensor[] chunks = F.chunk(mod[1], 6, 1);
            Tensor scale = chunks[1].unsqueeze(1), shift = chunks[0].unsqueeze(1);
            assertBits("adaLN c=" + c + " " + out, composedNormAffine(x[1], 1e-6f, scale, shift, out), gpu.normalizeAffine(x[1], 1e-6f, scale, shift, out));
            // affine [C] over rows [N, C]
            Tensor rows = x[1].reshape(b * l, c);
            Tensor[] w = randnPair(c), bias = randnPair(c);
            assertBits("affine c=" + c + " " + out, composedNormAffine(rows, 1e-6f, w[1], bias[1], out), gpu.normalizeAffine(rows, 1e-6f, w[1], bias[1], out));
            // per-row modulation [N, C] (sparse layouts) and a 1-D row
            Tensor[] perRow = randnPair(b * l, c);
            assertBits("per-row c=" + c + " " + out, composedNormAffine(rows, 1e-5f, perRow[1], bias[1], out), gpu.normalizeAffine(rows, 1e-5f, perRow[1], bias[1], out));
            // parameters off 16-byte alignment: the kernels read them as scalars (their 16-byte loads otherwise)
            Tensor wOdd = gpu.fromFloats(randn(c + 1), c + 1).slice(0, 1, c + 1), bOdd = gpu.fromFloats(randn(c + 1), c + 1).slice(0, 1, c + 1);
            assertBits("unaligned affine c=" + c + " " + out, composedNormAffine(rows, 1e-6f, wOdd, bOdd, out),
                    gpu.normalizeAffine(rows, 1e-6f, wOdd, bOdd, out));
            Tensor[] fusedOdd = gpu.residualNormAffine(rows, rows, wOdd, 1e-6f, wOdd, bOdd, out);
            Tensor x1Odd = gpu.fma(rows, wOdd, rows);
            assertBits("unaligned residual c=" + c + " " + out, x1Odd, fusedOdd[0]);
            assertBits("unaligned residual norm c=" + c + " " + out, composedNormAffine(x1Odd, 1e-6f, wOdd, bOdd, out), fusedOdd[1]);
            // a 16-bit torso's stream normed into its own type: read in place, the bits of normalizing its f32 values
            if (out != DType.F32) {
                Tensor x16 = gpu.cast(x[1], out);
                assertBits("16-bit rows c=" + c + " " + out, composedNormAffine(x16, 1e-6f, scale, shift, out),
                        gpu.normalizeAffine(x16, 1e-6f, scale, shift, out));
            }
            Tensor one = x[1].reshape(b * l * c).slice(0, 0, c);
            assertBits("1-D c=" + c + " " + out, composedNormAffine(one, 1e-6f, w[1], bias[1], out), gpu.normalizeAffine(one, 1e-6f, w[1], bias[1], out));
        }
        Tensor[] chunksCpu = F.chunk(mod[0], 6, 1), chunksGpu = F.chunk(mod[1], 6, 1);
        assertSame("adaLN vs CPU c=" + c, cpu.normalizeAffine(x[0], 1e-6f, chunksCpu[1].unsqueeze(1), chunksCpu[0].unsqueeze(1), DType.F32),
                gpu.normalizeAffine(x[1], 1e-6f, chunksGpu[1].unsqueeze(1), chunksGpu[0].unsqueeze(1), DType.F32), 1e-5, 1e-5);
        // long rows take whole blocks
        Tensor[] wide = randnPair(5, 3000), w = randnPair(3000), bias = randnPair(3000);
        assertBits("long rows", composedNormAffine(wide[1], 1e-6f, w[1], bias[1], DType.BF16), gpu.normalizeAffine(wide[1], 1e-6f, w[1], bias[1], DType.BF16));
        assertSame("long rows vs CPU", cpu.normalizeAffine(wide[0], 1e-6f, w[0], bias[0], DType.F32),
                gpu.normalizeAffine(wide[1], 1e-6f, w[1], bias[1], DType.F32), 1e-5, 1e-5);
    }

    /** The fused residual + norm against fma / add then normalizeAffine on the GPU, branch outputs f32 and bf16. */
    @Test void residualNormMatchesTheComposition() {
        for (int c : new int[] {96, 256, 1024}) {
            int b = 2, l = 45;
            Tensor x = gpu.fromFloats(randn(b * l * c), b, l, c), mod = gpu.fromFloats(randn(b * 6 * c), b, 6 * c);
            Tensor[] chunks = F.chunk(mod, 6, 1);
            Tensor gate = chunks[2].unsqueeze(1), scale = chunks[4].unsqueeze(1), shift = chunks[3].unsqueeze(1);
            Tensor w = gpu.fromFloats(randn(c), c), bias = gpu.fromFloats(randn(c), c);
            for (DType hType : new DType[] {DType.F32, DType.BF16})
                for (DType out : new DType[] {DType.F32, DType.BF16}) {
                    Tensor h = gpu.cast(gpu.fromFloats(randn(b * l * c), b, l, c), hType);
                    String what = "c=" + c + " h " + hType + " out " + out;
                    Tensor[] fused = gpu.residualNormAffine(x, h, gate, 1e-6f, w, bias, out);
                    Tensor x1 = gpu.fma(h, gate, x);
                    assertBits("gated x1 " + what, x1, fused[0]);
                    assertBits("gated norm " + what, gpu.normalizeAffine(x1, 1e-6f, w, bias, out), fused[1]);
                    fused = gpu.residualNormAffine(x, h, null, 1e-6f, scale, shift, out);
                    x1 = gpu.binary(org.voxflow.tensor.BinaryOp.ADD, x, h);
                    assertBits("plain x1 " + what, x1, fused[0]);
                    assertBits("modulated norm " + what, gpu.normalizeAffine(x1, 1e-6f, scale, shift, out), fused[1]);
                }
        }
    }

    /**
     * A 16-bit residual stream (a use_fp16 torso): x, h and the normed rows in bf16 or f16; x1 must be the composition
     * rounded to the stream's type, and the norm must read the rounded rows.
     */
    @Test void residualNormKeepsASixteenBitStream() {
        for (int c : new int[] {256, 1024}) {
            int b = 2, l = 45;
            Tensor mod = gpu.fromFloats(randn(b * 6 * c), b, 6 * c);
            Tensor[] chunks = F.chunk(mod, 6, 1);
            Tensor gate = chunks[2].unsqueeze(1), scale = chunks[4].unsqueeze(1), shift = chunks[3].unsqueeze(1);
            for (DType type : new DType[] {DType.BF16, DType.F16}) {
                Tensor x = gpu.cast(gpu.fromFloats(randn(b * l * c), b, l, c), type), h = gpu.cast(gpu.fromFloats(randn(b * l * c), b, l, c), type);
                String what = "c=" + c + " " + type;
                Tensor[] fused = gpu.residualNormAffine(x, h, gate, 1e-6f, scale, shift, type);
                Tensor x1 = gpu.cast(gpu.fma(h, gate, x), type);
                assertBits("gated x1 " + what, x1, fused[0]);
                assertBits("gated norm " + what, gpu.normalizeAffine(x1, 1e-6f, scale, shift, type), fused[1]);
                fused = gpu.residualNormAffine(x, h, null, 1e-6f, scale, shift, type);
                x1 = gpu.cast(gpu.binary(org.voxflow.tensor.BinaryOp.ADD, x, h), type);
                assertBits("plain x1 " + what, x1, fused[0]);
                assertBits("plain norm " + what, gpu.normalizeAffine(x1, 1e-6f, scale, shift, type), fused[1]);
                // no affine parameters (the model's final norm): the normalized rounded update
                fused = gpu.residualNormAffine(x, h, gate, 1e-5f, null, null, type);
                x1 = gpu.cast(gpu.fma(h, gate, x), type);
                assertBits("no affine x1 " + what, x1, fused[0]);
                assertBits("no affine norm " + what, gpu.cast(gpu.normalize(x1, 1e-5f)[0], type), fused[1]);
                // and the CPU oracle: the same rounding rule
                Tensor[] ref = cpu.residualNormAffine(toCpu(x), toCpu(h), toCpu(gate), 1e-6f, toCpu(scale), toCpu(shift), type);
                fused = gpu.residualNormAffine(x, h, gate, 1e-6f, scale, shift, type);
                assertEquals(type, ref[0].dtype());
                assertSame("x1 vs CPU " + what, ref[0], fused[0], 1e-2, 1e-2);
                assertSame("norm vs CPU " + what, ref[1], fused[1], 2e-2, 2e-2);
            }
        }
    }

    @Test void weightedL2NormalizeReadsSlicesAndWritesItsType() {
        int n = 45, h = 6, d = 64;
        Tensor[] qkv = randnPair(n, 3, h, d), gamma = randnPair(h, d);
        for (DType in : new DType[] {DType.F32, DType.BF16, DType.F16}) {
            Tensor packed = gpu.cast(qkv[1], in);
            for (int part = 0; part < 2; part++) {
                Tensor slice = packed.slice(1, part, part + 1).squeeze(1);
                Tensor composed = gpu.binary(org.voxflow.tensor.BinaryOp.MUL, gpu.l2Normalize(slice, 1e-12f), gamma[1]);
                assertBits(in + " slice " + part + " f32 out", composed, gpu.l2Normalize(slice, 1e-12f, gamma[1], DType.F32));
                if (in != DType.F32)
                    assertBits(in + " slice " + part + " own type", gpu.cast(composed, in), gpu.l2Normalize(slice, 1e-12f, gamma[1], in));
            }
        }
        Tensor cpuSlice = qkv[0].slice(1, 1, 2).reshape(n, h, d);
        assertSame("vs CPU", cpu.l2Normalize(cpuSlice, 1e-12f, gamma[0], DType.F32),
                gpu.l2Normalize(qkv[1].slice(1, 1, 2).squeeze(1), 1e-12f, gamma[1], DType.F32), 1e-6, 1e-5);
    }

    @Test void linearWritesBf16FromTheEpilogue() {
        Tensor[] x = randnPair(300, 128), w = randnPair(192, 128), b = randnPair(192);
        CudaBackend be = (CudaBackend) gpu;
        try (var ac = CudaAutocast.use("bf16")) {
            for (boolean gelu : new boolean[] {false, true}) {
                Tensor f32 = gpu.linear(x[1], w[1], b[1], gelu);
                // the epilogue itself must write bf16 (not the composite's f32 GEMM and a cast pass)
                Tensor half = CudaMatmul.linear(be, be.lt(), x[1], w[1], b[1], gelu, DType.BF16);
                org.junit.jupiter.api.Assertions.assertNotNull(half, "cuBLASLt took no bf16-output algorithm (gelu=" + gelu + ")");
                assertEquals(DType.BF16, half.dtype());
                assertBits("backend op = epilogue, gelu=" + gelu, half, gpu.linear(x[1], w[1], b[1], gelu, DType.BF16));
                // one rounding of the f32 result, with the bias rounded to bf16 first (|b| < 5: half an ulp < 0.016)
                assertClose("gelu=" + gelu, f32.toFloats(), half.toFloats(), 0.02, 1.0 / 128);
                Tensor noBias = CudaMatmul.linear(be, be.lt(), x[1], w[1], null, gelu, DType.BF16);
                org.junit.jupiter.api.Assertions.assertNotNull(noBias, "no bias, gelu=" + gelu);
                assertClose("no bias, gelu=" + gelu, gpu.linear(x[1], w[1], null, gelu).toFloats(), noBias.toFloats(), 1e-6, 1.0 / 128);
            }
        }
    }

    /**
     * linearResidual: the residual read by the GEMM's epilogue (beta = 1), one rounding of r + x W^T + b into r's type
     * (bf16 stream, and an f32 one), within a bf16 rounding of the f32 composition; and the composite's value for a
     * residual the epilogue cannot take (a strided view).
     */
    @Test void linearResidualAddsInTheEpilogue() {
        Tensor[] x = randnPair(300, 128), w = randnPair(192, 128), b = randnPair(192);
        CudaBackend be = (CudaBackend) gpu;
        try (var ng = Grad.noGrad(); var ac = CudaAutocast.use("bf16")) {
            for (DType stream : new DType[] {DType.BF16, DType.F32}) {
                Tensor r = gpu.cast(gpu.fromFloats(scaled(randn(300 * 192), 4f), 300, 192), stream);
                Tensor fused = CudaMatmul.linearResidual(be, be.lt(), x[1], w[1], b[1], r);
                org.junit.jupiter.api.Assertions.assertNotNull(fused, "cuBLASLt took no residual algorithm (" + stream + ")");
                assertEquals(stream, fused.dtype());
                assertBits("backend op = epilogue " + stream, fused, gpu.linearResidual(x[1], w[1], b[1], r));
                Tensor expected = gpu.binary(org.voxflow.tensor.BinaryOp.ADD, r, gpu.linear(x[1], w[1], b[1], false));
                assertClose("r + x W^T + b " + stream, expected.toFloats(), fused.toFloats(), 0.05, 1.0 / 128);
                Tensor noBias = CudaMatmul.linearResidual(be, be.lt(), x[1], w[1], null, r);
                assertClose("no bias " + stream, gpu.binary(org.voxflow.tensor.BinaryOp.ADD, r, gpu.linear(x[1], w[1], null, false)).toFloats(),
                        noBias.toFloats(), 0.05, 1.0 / 128);
            }
            Tensor wide = gpu.cast(gpu.fromFloats(randn(300 * 384), 300, 384), DType.BF16), strided = wide.slice(1, 0, 192);
            org.junit.jupiter.api.Assertions.assertNull(CudaMatmul.linearResidual(be, be.lt(), x[1], w[1], b[1], strided));
            Tensor composed = gpu.linearResidual(x[1], w[1], b[1], strided);
            assertEquals(DType.BF16, composed.dtype());
            assertClose("strided residual", gpu.binary(org.voxflow.tensor.BinaryOp.ADD, strided, gpu.linear(x[1], w[1], b[1], false)).toFloats(),
                    composed.toFloats(), 0.05, 1.0 / 128);
        }
    }

    /**
     * linearEach over many rows (every block's cross-attention K/V projection of one condition) runs as one batched
     * GEMM over the stacked parameters: each slice within a bf16 rounding of its own Linear, with and without biases,
     * and the stack follows an in-place write of one weight.
     */
    @Test void linearEachOverManyRowsIsOneBatchedGemm() {
        int g = 3, m = 77, k = 64, n = 96;
        Tensor[] w = new Tensor[g], b = new Tensor[g];
        for (int i = 0; i < g; i++) {
            org.voxflow.nn.Linear layer = new org.voxflow.nn.Linear(gpu, k, n);
            gpu.assign(layer.weight, gpu.fromFloats(scaled(randn(n * k), 0.1f), n, k));
            gpu.assign(layer.bias, gpu.fromFloats(randn(n), n));
            w[i] = layer.weight;
            b[i] = layer.bias;
        }
        Tensor x = gpu.fromFloats(randn(m * k), m, k);
        try (var ng = Grad.noGrad(); var ac = CudaAutocast.use("bf16")) {
            for (int round = 0; round < 3; round++) {
                if (round == 1) gpu.assign(w[1], gpu.fromFloats(scaled(randn(n * k), 0.1f), n, k)); // the stack must follow
                Tensor[] biases = round == 2 ? null : b;
                long runs = CudaMatmul.batchedEachRuns.get();
                Tensor all = gpu.linearEach(x, w, biases, DType.BF16);
                assertEquals(runs + 1, CudaMatmul.batchedEachRuns.get(), "round " + round + ": not the batched GEMM");
                assertArrayEquals(new int[] {g, m, n}, all.shape());
                for (int i = 0; i < g; i++) {
                    Tensor one = gpu.linear(x, w[i], biases == null ? null : biases[i], false, DType.BF16);
                    assertClose("round " + round + " layer " + i, one.toFloats(), all.slice(0, i, i + 1).toFloats(), 1e-3, 1.0 / 128);
                }
            }
        }
    }

    @Test void attentionWritesItsTypeFromPackedSlices() {
        int h = 4, d = 64;
        int[] cu = {0, 70, 70, 200}, cuK = {0, 33, 34, 150};
        for (DType type : new DType[] {DType.BF16, DType.F16}) {
            Tensor q = gpu.cast(gpu.fromFloats(randn(200 * h * d), 200, h, d), type);
            Tensor kv = gpu.cast(gpu.fromFloats(randn(150 * 2 * h * d), 150, 2, h, d), type);
            Tensor k = kv.slice(1, 0, 1).squeeze(1), v = kv.slice(1, 1, 2).squeeze(1);
            float scale = 0.125f;
            Tensor reference = gpu.cast(gpu.attention(q, gpu.copy(k), gpu.copy(v), cu, cuK, scale)[0], type);
            assertBits("attention " + type, reference, gpu.attention(q, k, v, cu, cuK, scale, type));
            assertBits("attention f32 out " + type, gpu.attention(q, gpu.copy(k), gpu.copy(v), cu, cuK, scale)[0],
                    gpu.attention(q, k, v, cu, cuK, scale, DType.F32));
        }
    }

    /**
     * A TRELLIS block sampled under autocast with bf16 activations against the same block with f32 activations (the
     * path before): the only new roundings are q and k to bf16 before their RMS norm, so the outputs agree to within a
     * few bf16 ulps of the activations' scale.
     */
    @Test void blockWithBf16ActivationsStaysCloseToF32Activations() {
        int c = 256, heads = 4, len = 300;
        ModulatedCrossBlock block = new ModulatedCrossBlock(gpu, c, 128, heads, 4.0, false, true, false);
        for (var p : block.namedParameters().entrySet()) {
            Tensor t = p.getValue();
            gpu.assign(t, gpu.fromFloats(scaled(randn(numel(t.shape())), p.getKey().endsWith("bias") ? 0.02f : 0.05f), t.shape()));
        }
        Tensor x = gpu.fromFloats(randn(2 * len * c), 2 * len, c), t = gpu.fromFloats(randn(2 * c), 2, c);
        Tensor ctx = gpu.fromFloats(randn(2 * 77 * 128), 2 * 77, 128);
        RowLayout rows = RowLayout.uniform(2, len), ctxRows = RowLayout.uniform(2, 77);
        try (var noGrad = Grad.noGrad(); var ac = CudaAutocast.use("bf16")) {
            Tensor fast = block.forward(x, rows, t, ctx, ctxRows);
            CudaBackend.bf16Activations = false;
            Tensor before;
            try {
                before = block.forward(x, rows, t, ctx, ctxRows);
            } finally {
                CudaBackend.bf16Activations = true;
            }
            float[] a = before.toFloats(), b = fast.toFloats();
            double num = 0, den = 0;
            for (int i = 0; i < a.length; i++) { num += (a[i] - b[i]) * (double) (a[i] - b[i]); den += (double) a[i] * a[i]; }
            double rel = Math.sqrt(num / den);
            org.junit.jupiter.api.Assertions.assertTrue(rel < 4e-3, "relative L2 difference " + rel);
        }
    }

    /**
     * A use_fp16 torso sampled under autocast (the residual stream in bf16 between the updates) against the f32
     * stream: it must differ (the stream really is rounded) by no more than the bf16 rounding of the stream over the
     * blocks' updates, and come out f32.
     */
    @Test void halfTorsoStaysCloseToTheF32Torso() {
        int c = 256, heads = 4, len = 300;
        java.util.List<ModulatedCrossBlock> blocks = new java.util.ArrayList<>();
        for (int i = 0; i < 4; i++) {
            ModulatedCrossBlock block = new ModulatedCrossBlock(gpu, c, 128, heads, 4.0, false, true, false);
            for (var p : block.namedParameters().entrySet()) {
                Tensor t = p.getValue();
                gpu.assign(t, gpu.fromFloats(scaled(randn(numel(t.shape())), p.getKey().endsWith("bias") ? 0.02f : 0.05f), t.shape()));
            }
            blocks.add(block);
        }
        Tensor x = gpu.fromFloats(randn(2 * len * c), 2 * len, c), t = gpu.fromFloats(randn(2 * c), 2, c);
        Tensor ctx = gpu.fromFloats(randn(2 * 77 * 128), 2 * 77, 128);
        RowLayout rows = RowLayout.uniform(2, len), ctxRows = RowLayout.uniform(2, 77);
        try (var noGrad = Grad.noGrad(); var ac = CudaAutocast.use("bf16")) {
            Tensor full = ModulatedCrossBlock.runBlocks(blocks, x, rows, t, ctx, ctxRows, false, false);
            Tensor half = ModulatedCrossBlock.runBlocks(blocks, x, rows, t, ctx, ctxRows, false, true);
            assertEquals(DType.F32, half.dtype());
            float[] a = full.toFloats(), b = half.toFloats();
            double num = 0, den = 0;
            for (int i = 0; i < a.length; i++) { num += (a[i] - b[i]) * (double) (a[i] - b[i]); den += (double) a[i] * a[i]; }
            double rel = Math.sqrt(num / den);
            // 12 roundings of the stream (3 updates x 4 blocks), each off by up to u = 2^-8 of its value, about u / sqrt(3)
            // rms: independent, they add to sqrt(12) u / sqrt(3) = 2u = 0.0078 relative, which the later blocks carry on
            // (H100: 0.0065); a wrong stream (mixed-up rows, types, a lost update) is off by order 1
            org.junit.jupiter.api.Assertions.assertTrue(rel > 0 && rel < 1.2e-2, "relative L2 difference " + rel);
        }
    }

    /** The same values and type on the CPU. */
    private static Tensor toCpu(Tensor t) { return cpu.cast(cpu.fromFloats(t.toFloats(), t.shape()), t.dtype()); }

    private static float[] scaled(float[] v, float s) {
        for (int i = 0; i < v.length; i++) v[i] *= s;
        return v;
    }
}
