package org.voxflow.autograd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.voxflow.tensor.Backend;
import org.voxflow.tensor.Backends;
import org.voxflow.tensor.DType;
import org.voxflow.tensor.MemoryScope;
import org.voxflow.tensor.Tensor;

/**
 * The inference forms of F (ops rounded to the type of the matrix product they feed) on the CPU reference: without a
 * graph they run the backend op, with one they compose recorded ops and a cast; both must give the same values, the
 * 16-bit results must be the cast of the f32 ones, and gradients must flow through the cast unchanged.
 */
class InferenceFormsTest {
    private final Backend be = Backends.cpu();
    private final Random rnd = new Random(7);
    private MemoryScope scope;

    @BeforeEach void open() { scope = MemoryScope.open(); }

    @AfterEach void close() { scope.close(); }

    private Tensor randn(int... shape) {
        int n = 1;
        for (int d : shape) n *= d;
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) rnd.nextGaussian();
        return be.fromFloats(v, shape);
    }

    private static void assertBits(String what, Tensor expected, Tensor actual) {
        assertEquals(expected.dtype(), actual.dtype(), what + ": dtype");
        assertArrayEquals(expected.shape(), actual.shape(), what + ": shape");
        assertArrayEquals(expected.toFloats(), actual.toFloats(), 0f, what);
    }

    @Test void theCpuKeepsF32Activations() {
        Tensor x = randn(2, 3);
        assertEquals(DType.F32, F.matmulInputType(x));
        try (var g = Grad.noGrad()) {
            assertEquals(DType.F32, F.matmulInputType(x));
        }
    }

    @Test void plainAndRecordedFormsAgree() {
        Tensor x = randn(2, 5, 16), mod = randn(2, 32), w = randn(16), b = randn(16);
        Tensor scale = F.chunk(mod, 2, 1)[0].unsqueeze(1), shift = F.chunk(mod, 2, 1)[1].unsqueeze(1);
        Tensor lw = randn(24, 16), lb = randn(24);
        Tensor q = randn(10, 2, 8), k = randn(7, 2, 8), v = randn(7, 2, 8), gamma = randn(2, 8);
        int[] cuQ = {0, 4, 10}, cuK = {0, 3, 7};
        for (DType out : new DType[] {DType.F32, DType.BF16, DType.F16}) {
            Tensor[] plain, recorded;
            try (var g = Grad.noGrad()) {
                plain = forms(x, scale, shift, w, b, lw, lb, q, k, v, gamma, cuQ, cuK, out);
            }
            x.setRequiresGrad(true);
            q.setRequiresGrad(true);
            try {
                recorded = forms(x, scale, shift, w, b, lw, lb, q, k, v, gamma, cuQ, cuK, out);
            } finally {
                x.setRequiresGrad(false);
                q.setRequiresGrad(false);
            }
            for (int i = 0; i < plain.length; i++) {
                assertBits("form " + i + " " + out, recorded[i], plain[i]);
                if (out != DType.F32) {
                    Tensor[] f32;
                    try (var g = Grad.noGrad()) {
                        f32 = forms(x, scale, shift, w, b, lw, lb, q, k, v, gamma, cuQ, cuK, DType.F32);
                    }
                    Tensor expected = plain[i].dtype() == DType.F32 ? f32[i] : be.cast(f32[i], out);
                    assertBits("form " + i + " is the cast of f32", expected, plain[i]);
                }
            }
        }
    }

    private static Tensor[] forms(Tensor x, Tensor scale, Tensor shift, Tensor w, Tensor b, Tensor lw, Tensor lb, Tensor q,
                                  Tensor k, Tensor v, Tensor gamma, int[] cuQ, int[] cuK, DType out) {
        return new Tensor[] {
            F.normalizeAffine(x, 1e-6f, F.add(scale, 1f), shift, out),
            F.normalizeAffine(x, 1e-6f, w, b, out),
            F.linear(x, lw, lb, out),
            F.linearGelu(x, lw, lb, out),
            F.l2Normalize(q, 1e-12f, gamma, out),
            F.l2Normalize(q, 1e-12f, null, out),
            F.attention(q, k, v, cuQ, cuK, 0.3f, out),
            F.residualNormAffine(x, F.mul(x, 0.5f), scale, 1e-6f, w, b, out)[0],
            F.residualNormAffine(x, F.mul(x, 0.5f), scale, 1e-6f, w, b, out)[1],
            F.residualNormAffine(x, F.mul(x, -0.25f), null, 1e-6f, F.add(scale, 1f), shift, out)[1]};
    }

    /** n TRELLIS blocks of c channels (8 condition channels, q/k RMS norm) with random weights of scale 0.2. */
    private java.util.List<org.voxflow.nn.ModulatedCrossBlock> blocks(int n, int c, int heads, boolean shareMod) {
        java.util.List<org.voxflow.nn.ModulatedCrossBlock> blocks = new java.util.ArrayList<>();
        for (int i = 0; i < n; i++) {
            var blk = new org.voxflow.nn.ModulatedCrossBlock(be, c, 8, heads, 2.0, shareMod, true, false);
            for (var p : blk.namedParameters().values()) be.assign(p, F.mul(randn(p.shape()), 0.2f));
            blocks.add(blk);
        }
        return blocks;
    }

    /** The blocks' rows: 2 instances of 5 rows, each with a condition of 3 rows. */
    private static final org.voxflow.nn.RowLayout ROWS = org.voxflow.nn.RowLayout.uniform(2, 5), CTX = org.voxflow.nn.RowLayout.uniform(2, 3);

    /** Each block applied in turn (the reference runBlocks must reproduce). */
    private static Tensor blockByBlock(java.util.List<org.voxflow.nn.ModulatedCrossBlock> blocks, Tensor x, Tensor mod, Tensor ctx) {
        for (var blk : blocks) x = blk.forward(x, ROWS, mod, ctx, CTX);
        return x;
    }

    /** runBlocks without checkpointing (half: the 16-bit torso). */
    private static Tensor runBlocks(java.util.List<org.voxflow.nn.ModulatedCrossBlock> blocks, Tensor x, Tensor mod, Tensor ctx, boolean half) {
        return org.voxflow.nn.ModulatedCrossBlock.runBlocks(blocks, x, ROWS, mod, ctx, CTX, false, half);
    }

    /**
     * runBlocks (each block's MLP residual left pending and fused with the next block's first norm) gives the values
     * of applying every block in turn, without and with a recorded graph, and the same gradients.
     */
    @Test void pendingResidualsGiveTheBlockByBlockValues() {
        int c = 16, heads = 2;
        java.util.List<org.voxflow.nn.ModulatedCrossBlock> blocks = blocks(3, c, heads, false);
        Tensor x = randn(2 * 5, c), mod = randn(2, c), ctx = randn(2 * 3, 8);
        Tensor expected = blockByBlock(blocks, x, mod, ctx);
        try (var g = Grad.noGrad()) {
            assertBits("inference", expected, runBlocks(blocks, x, mod, ctx, false));
        }
        x.setRequiresGrad(true);
        Tensor y = runBlocks(blocks, x, mod, ctx, false);
        assertBits("recorded", expected, y);
        Grad.backward(F.sum(F.mul(y, y), new int[] {0, 1}, false));
        Tensor gPending = x.grad();
        x.setGrad(null);
        Tensor z = blockByBlock(blocks, x, mod, ctx);
        Grad.backward(F.sum(F.mul(z, z), new int[] {0, 1}, false));
        assertBits("input gradient", x.grad(), gPending);
    }

    /**
     * A 16-bit residual stream (TRELLIS's use_fp16 torso): the residual update is rounded to the stream's type, its
     * norm reads the rounded rows. On the CPU the GEMM type is f32, so runBlocks' half torso is the f32 torso.
     */
    @Test void aSixteenBitStreamKeepsItsType() {
        Tensor x = be.cast(randn(2, 5, 16), DType.BF16), h = be.cast(randn(2, 5, 16), DType.BF16);
        Tensor gate = randn(2, 1, 16), w = randn(16), b = randn(16);
        try (var g = Grad.noGrad()) {
            Tensor[] r = F.residualNormAffine(x, h, gate, 1e-6f, w, b, DType.BF16);
            Tensor x1 = be.cast(be.fma(h, gate, x), DType.BF16);
            assertBits("x1", x1, r[0]);
            assertBits("normed", be.normalizeAffine(x1, 1e-6f, w, b, DType.BF16), r[1]);
            r = F.residualNormAffine(x, h, null, 1e-6f, w, b, DType.F32);
            assertBits("plain x1", be.cast(be.binary(org.voxflow.tensor.BinaryOp.ADD, x, h), DType.BF16), r[0]);
        }
        int c = 16;
        java.util.List<org.voxflow.nn.ModulatedCrossBlock> blocks = blocks(2, c, 2, false);
        Tensor rows = randn(2 * 5, c), mod = randn(2, c), ctx = randn(2 * 3, 8);
        try (var g = Grad.noGrad()) {
            assertBits("half torso on the CPU", runBlocks(blocks, rows, mod, ctx, false), runBlocks(blocks, rows, mod, ctx, true));
        }
    }

    /**
     * runBlocksThenNorm (the last pending update fused with the final norm without affine parameters) gives the bits
     * of the layer norm of runBlocks: inference, recorded (with the same input gradient) and checkpointed.
     */
    @Test void theFinalNormTakesTheLastPendingUpdate() {
        int c = 16;
        java.util.List<org.voxflow.nn.ModulatedCrossBlock> blocks = blocks(2, c, 2, false);
        Tensor x = randn(2 * 5, c), mod = randn(2, c), ctx = randn(2 * 3, 8);
        Tensor expected = F.layerNorm(blockByBlock(blocks, x, mod, ctx), null, null, 1e-5f);
        for (boolean checkpointing : new boolean[] {false, true}) {
            try (var g = Grad.noGrad()) {
                assertBits("inference, checkpointing " + checkpointing, expected,
                        org.voxflow.nn.ModulatedCrossBlock.runBlocksThenNorm(blocks, x, ROWS, mod, ctx, CTX, checkpointing, true, 1e-5f));
            }
        }
        x.setRequiresGrad(true);
        Tensor y = org.voxflow.nn.ModulatedCrossBlock.runBlocksThenNorm(blocks, x, ROWS, mod, ctx, CTX, false, false, 1e-5f);
        assertBits("recorded", expected, y);
        Tensor w = randn(2 * 5, c); // a loss whose gradient does not vanish through the norm
        Grad.backward(F.sum(F.mul(y, w), new int[] {0, 1}, false));
        Tensor fused = x.grad();
        x.setGrad(null);
        Tensor z = F.layerNorm(blockByBlock(blocks, x, mod, ctx), null, null, 1e-5f);
        Grad.backward(F.sum(F.mul(z, w), new int[] {0, 1}, false));
        assertBits("input gradient", x.grad(), fused);
        // without affine parameters the fused op is the plain norm of the update, in the stream's rounding
        try (var g = Grad.noGrad()) {
            Tensor xs = be.cast(randn(2, 5, c), DType.BF16), h = be.cast(randn(2, 5, c), DType.BF16), gate = randn(2, 1, c);
            Tensor[] r = F.residualNormAffine(xs, h, gate, 1e-5f, null, null, DType.F32);
            Tensor x1 = be.cast(be.fma(h, gate, xs), DType.BF16);
            assertBits("no affine x1", x1, r[0]);
            assertBits("no affine normed", be.normalize(x1, 1e-5f)[0], r[1]);
        }
    }

    /** linearResidual is r + linear(x) in r's type, recorded or not, with the gradients of the composition. */
    @Test void linearResidualIsTheSum() {
        Tensor x = randn(7, 12), w = randn(5, 12), b = randn(5), r = randn(7, 5);
        Tensor expected = F.add(r, F.linear(x, w, b));
        try (var g = Grad.noGrad()) {
            assertBits("inference", expected, F.linearResidual(x, w, b, r));
            Tensor r16 = be.cast(r, DType.BF16);
            assertBits("bf16 residual", be.cast(F.add(r16, F.linear(x, w, b)), DType.BF16), F.linearResidual(x, w, b, r16));
        }
        for (Tensor t : new Tensor[] {x, w, b, r}) t.setRequiresGrad(true);
        Tensor y = F.linearResidual(x, w, b, r);
        assertBits("recorded", expected, y);
        Tensor up = randn(7, 5);
        Grad.backward(F.sum(F.mul(y, up), new int[] {0, 1}, false));
        Tensor[] fused = {x.grad(), w.grad(), b.grad(), r.grad()};
        for (Tensor t : new Tensor[] {x, w, b, r}) t.setGrad(null);
        Grad.backward(F.sum(F.mul(F.add(r, F.linear(x, w, b)), up), new int[] {0, 1}, false));
        Tensor[] plain = {x.grad(), w.grad(), b.grad(), r.grad()};
        for (int i = 0; i < 4; i++) assertBits("gradient " + i, plain[i], fused[i]);
    }

    /** The same with share_mod (no adaLN in the blocks: one [B, 6C] modulation made by the model for all of them). */
    @Test void pendingResidualsWithASharedModulation() {
        int c = 16;
        java.util.List<org.voxflow.nn.ModulatedCrossBlock> blocks = blocks(3, c, 2, true);
        Tensor x = randn(2 * 5, c), mod = F.mul(randn(2, 6 * c), 0.2f), ctx = randn(2 * 3, 8);
        Tensor expected = blockByBlock(blocks, x, mod, ctx);
        try (var g = Grad.noGrad()) {
            assertBits("inference", expected, runBlocks(blocks, x, mod, ctx, false));
        }
    }

    /** The RMS norm's cached gains follow in-place writes of gamma, and recording still gives gamma its gradient. */
    @Test void rmsNormGainsFollowGamma() {
        var norm = new org.voxflow.nn.MultiHeadRmsNorm(be, 8, 2);
        Tensor x = randn(5, 2, 8);
        for (int round = 0; round < 2; round++) {
            be.assign(norm.gamma, randn(2, 8));
            Tensor expected = F.mul(F.l2Normalize(x, 1e-12f), F.mul(norm.gamma, (float) Math.sqrt(8)));
            try (var g = Grad.noGrad()) {
                assertBits("sampling, gamma write " + round, expected, norm.forward(x));
            }
        }
        norm.gamma.setRequiresGrad(true);
        Grad.backward(F.sum(norm.forward(x), new int[] {0, 1, 2}, false));
        assertNotNull(norm.gamma.grad(), "gamma's gradient while recording");
    }

    /** The cast's gradient is the identity: a bf16 form differentiates exactly like its f32 composition. */
    @Test void gradientsPassThroughTheCast() {
        Tensor x = randn(3, 16), w = randn(16), b = randn(16);
        x.setRequiresGrad(true);
        Tensor y16 = F.normalizeAffine(x, 1e-6f, w, b, DType.BF16);
        Grad.backward(F.sum(F.mul(F.cast(y16, DType.F32), F.cast(y16, DType.F32)), new int[] {0, 1}, false));
        Tensor g16 = x.grad();
        assertNotNull(g16);
        x.setGrad(null);
        // the same loss written on the f32 composition, with the forward values rounded as the bf16 form rounds them
        Tensor y = F.fma(F.normalize(x, 1e-6f), w, b);
        Tensor yr = F.add(y, F.detach(F.sub(F.cast(F.cast(y, DType.BF16), DType.F32), y)));
        Grad.backward(F.sum(F.mul(yr, yr), new int[] {0, 1}, false));
        assertArrayEquals(x.grad().toFloats(), g16.toFloats(), 1e-6f);
    }

    /** Layers on one x: the grouped op equals each linear, plain and recorded, with a layer without bias; gradients too. */
    @Test void linearEachIsEachLinear() {
        Tensor x = randn(3, 16);
        Tensor[] w = {randn(24, 16), randn(24, 16), randn(24, 16)}, b = {randn(24), null, randn(24)};
        try (var g = Grad.noGrad()) {
            Tensor all = F.linearEach(x, w, b, DType.F32);
            assertArrayEquals(new int[] {3, 3, 24}, all.shape());
            for (int i = 0; i < 3; i++)
                assertBits("layer " + i, F.linear(x, w[i], b[i]), F.squeeze(F.slice(all, 0, i, i + 1), 0));
            Tensor half = F.linearEach(x, w, b, DType.BF16);
            assertBits("bf16", F.cast(all, DType.BF16), half);
        }
        // recorded: the linears' own gradients
        Tensor xr = x.setRequiresGrad(true);
        for (Tensor t : w) t.setRequiresGrad(true);
        Tensor seed = randn(3, 3, 24);
        Grad.backward(F.sum(F.mul(F.linearEach(xr, w, b, DType.F32), seed), new int[] {0, 1, 2}, false));
        float[] gx = xr.grad().toFloats(), gw1 = w[1].grad().toFloats();
        Tensor xe = F.detach(x).setRequiresGrad(true), w1 = F.detach(w[1]).setRequiresGrad(true);
        Tensor sum = null;
        for (int i = 0; i < 3; i++) {
            Tensor y = F.linear(xe, i == 1 ? w1 : F.detach(w[i]), b[i]);
            Tensor term = F.sum(F.mul(y, F.squeeze(F.slice(seed, 0, i, i + 1), 0)), new int[] {0, 1}, false);
            sum = sum == null ? term : F.add(sum, term);
        }
        Grad.backward(sum);
        assertArrayEquals(xe.grad().toFloats(), gx, 1e-4f, "d x");
        assertArrayEquals(w1.grad().toFloats(), gw1, 1e-4f, "d W_1");
    }

    /** The q/k pair in one pass gives each norm's own result, and gamma's gradient while recording. */
    @Test void rmsNormPairIsBothNorms() {
        org.voxflow.nn.MultiHeadRmsNorm qn = new org.voxflow.nn.MultiHeadRmsNorm(be, 8, 2), kn = new org.voxflow.nn.MultiHeadRmsNorm(be, 8, 2);
        be.assign(qn.gamma, randn(2, 8));
        be.assign(kn.gamma, randn(2, 8));
        Tensor qkv = randn(5, 6, 8); // [N, 3 heads-pairs: q q k k v v, D]
        Tensor qk = F.slice(qkv, 1, 0, 4);
        try (var g = Grad.noGrad()) {
            for (DType out : new DType[] {DType.F32, DType.BF16}) {
                Tensor pair = qn.forwardPair(kn, qk, out);
                assertBits("q " + out, qn.forward(F.slice(qkv, 1, 0, 2), out), F.slice(pair, 1, 0, 2));
                assertBits("k " + out, kn.forward(F.slice(qkv, 1, 2, 4), out), F.slice(pair, 1, 2, 4));
            }
            be.assign(kn.gamma, randn(2, 8)); // the cached pair follows a write to either gamma
            assertBits("k after a write", kn.forward(F.slice(qkv, 1, 2, 4), DType.F32), F.slice(qn.forwardPair(kn, qk, DType.F32), 1, 2, 4));
        }
        qn.gamma.setRequiresGrad(true);
        kn.gamma.setRequiresGrad(true);
        Grad.backward(F.sum(F.mul(qn.forwardPair(kn, qk, DType.F32), qk), new int[] {0, 1, 2}, false));
        assertNotNull(qn.gamma.grad(), "q gamma's gradient");
        assertNotNull(kn.gamma.grad(), "k gamma's gradient");
    }
}
