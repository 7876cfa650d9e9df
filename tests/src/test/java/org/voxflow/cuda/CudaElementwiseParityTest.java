package org.voxflow.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;
import org.voxflow.tensor.BinaryOp;
import org.voxflow.tensor.DType;
import org.voxflow.tensor.Tensor;
import org.voxflow.tensor.UnaryOp;

/** Memory, transfers, casts and the elementwise ops against the CPU reference, on views as well as dense tensors. */
class CudaElementwiseParityTest extends GpuParityBase {

    @Test
    void transfersRoundTrip() {
        float[] f = randn(1000);
        assertArrayEquals(f, gpu.fromFloats(f, 10, 100).toFloats());
        int[] i = {1, -2, 3, Integer.MAX_VALUE, Integer.MIN_VALUE};
        assertArrayEquals(i, gpu.fromInts(i, 5).toInts());
        long[] l = {1L << 40, -7, 0};
        assertArrayEquals(l, gpu.fromLongs(l, 3).toLongs());
        assertArrayEquals(new float[6], gpu.zeros(DType.F32, 2, 3).toFloats());
        assertArrayEquals(new float[] {2.5f, 2.5f}, gpu.full(2.5f, 2).toFloats());
        assertEquals(0, gpu.zeros(DType.F32, 0, 5).toFloats().length);
        assertEquals(7f, gpu.full(7f).item());
    }

    @Test
    void copiesViewsAndHostTensors() {
        Tensor[] x = randnPair(4, 5, 6);
        Tensor[] views = {x[0].transpose(0, 2), x[0].slice(1, 1, 4), x[0].slice(2, 2, 3).expand(4, 5, 7), x[0].permute(1, 2, 0)};
        Tensor[] gviews = {x[1].transpose(0, 2), x[1].slice(1, 1, 4), x[1].slice(2, 2, 3).expand(4, 5, 7), x[1].permute(1, 2, 0)};
        for (int v = 0; v < views.length; v++) {
            assertSame("gpu copy of view " + v, cpu.copy(views[v]), gpu.copy(gviews[v]), 0, 0);
            assertSame("upload of cpu view " + v, cpu.copy(views[v]), gpu.copy(views[v]), 0, 0);
            assertArrayEquals(views[v].toFloats(), gviews[v].toFloats(), "toFloats of view " + v);
            assertArrayEquals(views[v].toFloats(), cpu.copy(gviews[v]).toFloats(), "download of view " + v);
        }
    }

    @Test
    void castsMatchTheReference() {
        float[] data = randn(257);
        data[0] = 123456.7f;
        data[1] = -3.7f;
        data[2] = Float.NaN;
        data[3] = 65519f;
        data[4] = 1.00390625f; // a bf16 tie
        Tensor[] x = pair(data, 257);
        DType[] all = DType.values();
        for (DType from : all) {
            Tensor c0 = cpu.cast(x[0], from), g0 = gpu.cast(x[1], from);
            for (DType to : all) {
                Tensor c = cpu.cast(c0, to), g = gpu.cast(g0, to);
                assertEquals(to, g.dtype());
                if (to.isFloating()) assertClose("cast " + from + " -> " + to, c.toFloats(), g.toFloats(), 0, 0);
                else assertArrayEquals(c.toLongs(), g.toLongs(), "cast " + from + " -> " + to);
            }
        }
        float[] edge = {1e30f, -1e30f, Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, -2.9f, 2.9f};
        long[] javaLongs = new long[edge.length];
        int[] javaInts = new int[edge.length];
        for (int i = 0; i < edge.length; i++) { javaLongs[i] = (long) edge[i]; javaInts[i] = (int) edge[i]; }
        assertArrayEquals(javaLongs, gpu.cast(gpu.fromFloats(edge, edge.length), DType.I64).toLongs(), "f32 -> i64 saturates like Java");
        assertArrayEquals(javaInts, gpu.cast(gpu.fromFloats(edge, edge.length), DType.I32).toInts(), "f32 -> i32 saturates like Java");
        Tensor h = cpu.cast(x[0], DType.BF16);
        assertClose("upload bf16 raw", h.toFloats(), gpu.copy(h).toFloats(), 0, 0);
    }

    @Test
    void unaryOpsMatch() {
        Tensor[] x = pair(uniform(3 * 7 * 33, -4f, 4f), 3, 7, 33);
        Tensor[] pos = pair(uniform(300, 0.01f, 5f), 300);
        for (UnaryOp op : UnaryOp.values()) {
            boolean positive = op == UnaryOp.LOG || op == UnaryOp.SQRT || op == UnaryOp.RSQRT;
            Tensor[] in = positive ? pos : x;
            assertSame("unary " + op, cpu.unary(op, in[0]), gpu.unary(op, in[1]), 1e-6, 2e-6);
            if (!positive) assertSame("unary " + op + " on a transposed view", cpu.unary(op, in[0].transpose(0, 2)),
                    gpu.unary(op, in[1].transpose(0, 2)), 1e-6, 2e-6);
        }
        assertSame("affine", cpu.affine(x[0], 2.5f, -1f), gpu.affine(x[1], 2.5f, -1f), 1e-6, 1e-6);
        for (float p : new float[] {2f, 1f, 0.5f, 3f, -1.5f})
            assertSame("pow " + p, cpu.powScalar(pos[0], p), gpu.powScalar(pos[1], p), 1e-6, 2e-6);
        float[] special = {-0f, 0f, Float.NEGATIVE_INFINITY, Float.POSITIVE_INFINITY, Float.NaN, -4f, 4f};
        float[] c = cpu.powScalar(cpu.fromFloats(special, special.length), 0.5f).toFloats();
        float[] g = gpu.powScalar(gpu.fromFloats(special, special.length), 0.5f).toFloats();
        for (int i = 0; i < special.length; i++)
            assertEquals(Float.floatToIntBits(c[i]), Float.floatToIntBits(g[i]), "pow(" + special[i] + ", 0.5), sign of zero included");
        assertThrows(IllegalArgumentException.class, () -> gpu.unary(UnaryOp.EXP, gpu.fromInts(new int[] {1}, 1)));
    }

    @Test
    void binaryOpsBroadcast() {
        int[][][] shapes = {{{5, 1, 7}, {1, 6, 7}}, {{4, 3}, {3}}, {{2, 3, 4}, {1}}, {{1}, {6, 1}}, {{33, 65}, {33, 65}},
                {{0, 3}, {3}}, {{}, {2, 2}}};
        for (int[][] s : shapes) {
            Tensor[] a = randnPair(s[0]);
            Tensor[] b = pair(uniform(numel(s[1]), 0.5f, 2f), s[1]);
            for (BinaryOp op : BinaryOp.values()) {
                Tensor[] base = op == BinaryOp.POW ? pair(uniform(numel(s[0]), 0.1f, 3f), s[0]) : a;
                assertSame("binary " + op + " " + java.util.Arrays.deepToString(s), cpu.binary(op, base[0], b[0]),
                        gpu.binary(op, base[1], b[1]), 1e-6, 2e-6);
            }
        }
        Tensor[] a = randnPair(6, 8), a2 = randnPair(8, 9);
        assertSame("binary on transposed and sliced views", cpu.binary(BinaryOp.SUB, a[0].transpose(0, 1), a2[0].slice(1, 2, 8)),
                gpu.binary(BinaryOp.SUB, a[1].transpose(0, 1), a2[1].slice(1, 2, 8)), 0, 0);
        Tensor[] h = randnPair(4, 4);
        assertSame("binary of bf16 and f32", cpu.binary(BinaryOp.MUL, cpu.cast(h[0], DType.BF16), h[0]),
                gpu.binary(BinaryOp.MUL, gpu.cast(h[1], DType.BF16), h[1]), 0, 0);
        float[] nan = {Float.NaN, 1f};
        assertSame("max propagates NaN", cpu.binary(BinaryOp.MAX, cpu.fromFloats(nan, 2), cpu.full(0f, 2)),
                gpu.binary(BinaryOp.MAX, gpu.fromFloats(nan, 2), gpu.full(0f, 2)), 0, 0);
    }

    @Test
    void whereBroadcasts() {
        Tensor[] c = pair(new float[] {1, 0, 0, 2}, 4, 1);
        Tensor[] a = randnPair(4, 5);
        Tensor[] b = randnPair(5);
        assertSame("where", cpu.where(c[0], a[0], b[0]), gpu.where(c[1], a[1], b[1]), 0, 0);
        Tensor ci = cpu.fromInts(new int[] {0, 3, 0, 1}, 4, 1);
        assertSame("where with an int mask", cpu.where(ci, a[0], b[0]), gpu.where(gpu.copy(ci), a[1], b[1]), 0, 0);
    }

    /** Bit-equal to the CPU's multiply-then-add: the kernel must not contract into a fused multiply-add. */
    @Test
    void fmaRoundsLikeMulThenAdd() {
        int[][][] shapes = {
                {{2, 7, 33}, {2, 1, 33}, {2, 1, 33}},   // modulation: per-instance scale and shift
                {{2, 7, 33}, {2, 1, 33}, {2, 7, 33}},   // gated residual
                {{1}, {1}, {1}}, {{5, 1}, {1, 6}, {5, 6}}, {{3, 4}, {4}, {1}},
                {{2, 7, 32}, {2, 1, 32}, {2, 1, 32}},   // the four-per-thread path (innermost axis a multiple of 4)
                {{2, 7, 32}, {2, 1, 32}, {2, 7, 32}}, {{6, 8}, {6, 1}, {1, 8}}, {{3, 5, 4}, {3, 5, 1}, {4}}};
        for (int[][] s : shapes) {
            Tensor[] a = randnPair(s[0]), b = randnPair(s[1]), c = randnPair(s[2]);
            assertSame("fma " + java.util.Arrays.deepToString(s), cpu.fma(a[0], b[0], c[0]), gpu.fma(a[1], b[1], c[1]), 0, 0);
        }
        Tensor[] a = randnPair(4, 6);
        assertSame("fma of views", cpu.fma(a[0].transpose(0, 1), a[0].transpose(0, 1), a[0].slice(0, 0, 1).transpose(0, 1)),
                gpu.fma(a[1].transpose(0, 1), a[1].transpose(0, 1), a[1].slice(0, 0, 1).transpose(0, 1)), 0, 0);
    }

    /** Broadcast binaries and strided casts on the four-per-thread paths, and views that must not take them. */
    @Test
    void vectorisedBroadcastAndStridedPaths() {
        Tensor[] a = randnPair(3, 5, 64), row = randnPair(3, 1, 64), col = randnPair(3, 5, 1);
        for (org.voxflow.tensor.BinaryOp op : new org.voxflow.tensor.BinaryOp[] {org.voxflow.tensor.BinaryOp.ADD, org.voxflow.tensor.BinaryOp.MUL,
                org.voxflow.tensor.BinaryOp.DIV, org.voxflow.tensor.BinaryOp.MAX}) {
            assertSame("binary row " + op, cpu.binary(op, a[0], row[0]), gpu.binary(op, a[1], row[1]), 0, 0);
            assertSame("binary col " + op, cpu.binary(op, a[0], col[0]), gpu.binary(op, a[1], col[1]), 0, 0);
        }
        Tensor[] qkv = randnPair(7, 3, 4, 64);
        for (int p = 0; p < 3; p++) {
            Tensor c = qkv[0].slice(1, p, p + 1).squeeze(1), g = qkv[1].slice(1, p, p + 1).squeeze(1);
            assertSame("cast bf16 of slice " + p, cpu.cast(c, DType.BF16), gpu.cast(g, DType.BF16), 0, 0);
            assertSame("copy of slice " + p, cpu.copy(c), gpu.copy(g), 0, 0);
        }
        Tensor[] odd = randnPair(4, 6);
        assertSame("binary, offset view", cpu.binary(org.voxflow.tensor.BinaryOp.ADD, odd[0].slice(1, 1, 5), odd[0].slice(0, 0, 1).slice(1, 2, 6)),
                gpu.binary(org.voxflow.tensor.BinaryOp.ADD, odd[1].slice(1, 1, 5), odd[1].slice(0, 0, 1).slice(1, 2, 6)), 0, 0);
    }

    @Test
    void assignAndConcat() {
        Tensor[] src = randnPair(3, 4);
        Tensor dst = gpu.zeros(DType.F32, 4, 3);
        gpu.assign(dst, src[1].transpose(0, 1));
        assertArrayEquals(cpu.copy(src[0].transpose(0, 1)).toFloats(), dst.toFloats());
        Tensor dh = gpu.zeros(DType.BF16, 3, 4);
        gpu.assign(dh, src[0]);
        assertArrayEquals(cpu.cast(src[0], DType.BF16).toFloats(), dh.toFloats());
        Tensor[] a = randnPair(2, 3, 4), b = randnPair(2, 1, 4), e = randnPair(2, 0, 4);
        for (int axis : new int[] {1, -2}) {
            assertSame("concat", cpu.concat(new Tensor[] {a[0], b[0], e[0], a[0]}, axis),
                    gpu.concat(new Tensor[] {a[1], b[1], e[1], a[1]}, axis), 0, 0);
        }
        Tensor[] c = randnPair(4, 2, 3);
        assertSame("concat of views along 0", cpu.concat(new Tensor[] {a[0].transpose(0, 1).slice(0, 0, 1).reshape(2, 4).unsqueeze(1).expand(2, 3, 4), c[0].slice(0, 0, 2).transpose(1, 2)}, 2),
                gpu.concat(new Tensor[] {a[1].transpose(0, 1).slice(0, 0, 1).reshape(2, 4).unsqueeze(1).expand(2, 3, 4), c[1].slice(0, 0, 2).transpose(1, 2)}, 2), 0, 0);
        Tensor i1 = gpu.fromLongs(new long[] {1, 2}, 2), i2 = gpu.fromLongs(new long[] {3}, 1);
        assertArrayEquals(new long[] {1, 2, 3}, gpu.concat(new Tensor[] {i1, i2}, 0).toLongs());
    }
}
