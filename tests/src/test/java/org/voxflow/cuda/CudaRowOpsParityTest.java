package org.voxflow.cuda;

import org.junit.jupiter.api.Test;
import org.voxflow.tensor.ReduceOp;
import org.voxflow.tensor.Tensor;

/** Reductions, softmax and the layer-norm core (with their backward rules) against the CPU reference. */
class CudaRowOpsParityTest extends GpuParityBase {

    /** The fused row normalization against the CPU composite: in-place head slices, plain rows, clamped zero rows. */
    @Test
    void l2NormalizeRowsAndHeadSlices() {
        Tensor[] qkv = randnPair(37, 3, 5, 64);
        for (int part = 0; part < 3; part++) {
            int p = part;
            Tensor c = qkv[0].slice(1, p, p + 1).reshape(37, 5, 64), g = qkv[1].slice(1, p, p + 1).squeeze(1);
            assertSame("l2 head slice " + p, cpu.l2Normalize(c, 1e-12f), gpu.l2Normalize(g, 1e-12f), 1e-6, 1e-5);
        }
        Tensor[] rows = randnPair(9, 300);
        assertSame("l2 long rows", cpu.l2Normalize(rows[0], 1e-12f), gpu.l2Normalize(rows[1], 1e-12f), 1e-6, 1e-5);
        assertSame("l2 transposed (copied)", cpu.l2Normalize(rows[0].transpose(0, 1), 1e-3f), gpu.l2Normalize(rows[1].transpose(0, 1), 1e-3f), 1e-6, 1e-5);
        Tensor[] zeros = pair(new float[] {0, 0, 0, 1e-5f, 0, 0}, 2, 3);
        assertSame("l2 clamped", cpu.l2Normalize(zeros[0], 1e-3f), gpu.l2Normalize(zeros[1], 1e-3f), 1e-7, 1e-6);
    }

    @Test
    void reductionsOverAnyAxes() {
        Tensor[] x = randnPair(3, 5, 7, 4);
        int[][] axesSets = {{3}, {0}, {1, 2}, {0, 3}, {0, 1, 2, 3}, {-1, -3}, {}};
        for (ReduceOp op : ReduceOp.values())
            for (int[] axes : axesSets)
                for (boolean keep : new boolean[] {false, true})
                    assertSame("reduce " + op + " " + java.util.Arrays.toString(axes) + " keep=" + keep,
                            cpu.reduce(op, x[0], axes, keep), gpu.reduce(op, x[1], axes, keep), 1e-5, 1e-5);
        assertSame("reduce of a transposed view", cpu.reduce(ReduceOp.SUM, x[0].transpose(1, 3), new int[] {2}, false),
                gpu.reduce(ReduceOp.SUM, x[1].transpose(1, 3), new int[] {2}, false), 1e-5, 1e-5);
    }

    @Test
    void longRowsAndEmptyRows() {
        Tensor[] big = randnPair(3, 100_003);
        for (ReduceOp op : ReduceOp.values())
            assertSame("reduce long rows " + op, cpu.reduce(op, big[0], new int[] {1}, false),
                    gpu.reduce(op, big[1], new int[] {1}, false), 2e-3, 1e-4);
        Tensor[] all = randnPair(1 << 20);
        assertSame("sum of 1M", cpu.reduce(ReduceOp.MEAN, all[0], new int[] {0}, false),
                gpu.reduce(ReduceOp.MEAN, all[1], new int[] {0}, false), 1e-6, 1e-4);
        Tensor[] tall = randnPair(70_001, 37); // column reduction with row splits (bias-gradient shape)
        for (ReduceOp op : ReduceOp.values())
            assertSame("reduce leading axis " + op, cpu.reduce(op, tall[0], new int[] {0}, true),
                    gpu.reduce(op, tall[1], new int[] {0}, true), 2e-3, 1e-4);
        Tensor[] lead2 = randnPair(300, 7, 5, 3);
        for (ReduceOp op : ReduceOp.values())
            assertSame("reduce two leading axes " + op, cpu.reduce(op, lead2[0], new int[] {0, 1}, false),
                    gpu.reduce(op, lead2[1], new int[] {0, 1}, false), 1e-4, 1e-5);
        Tensor[] noRows = randnPair(0, 6);
        for (ReduceOp op : ReduceOp.values())
            assertSame("reduce leading axis of no rows " + op, cpu.reduce(op, noRows[0], new int[] {0}, false),
                    gpu.reduce(op, noRows[1], new int[] {0}, false), 0, 0);
        Tensor[] empty = randnPair(4, 0);
        for (ReduceOp op : ReduceOp.values())
            assertSame("reduce of empty rows " + op, cpu.reduce(op, empty[0], new int[] {1}, true),
                    gpu.reduce(op, empty[1], new int[] {1}, true), 0, 0);
        Tensor[] none = randnPair(0, 4);
        assertSame("reduce with no rows", cpu.reduce(ReduceOp.SUM, none[0], new int[] {1}, false),
                gpu.reduce(ReduceOp.SUM, none[1], new int[] {1}, false), 0, 0);
    }

    @Test
    void softmaxAndBackward() {
        for (int[] shape : new int[][] {{7, 1}, {5, 33}, {2, 3, 1000}, {3, 5000}, {0, 8}}) {
            Tensor[] x = pair(scaled(numel(shape), 4f), shape);
            Tensor[] dy = randnPair(shape);
            Tensor yc = cpu.softmax(x[0]), yg = gpu.softmax(x[1]);
            assertSame("softmax " + java.util.Arrays.toString(shape), yc, yg, 1e-7, 1e-5);
            assertSame("softmaxBackward " + java.util.Arrays.toString(shape), cpu.softmaxBackward(yc, dy[0]),
                    gpu.softmaxBackward(yg, dy[1]), 1e-6, 1e-4);
        }
        Tensor[] x = randnPair(6, 4);
        Tensor[] dy = randnPair(4);
        Tensor yc = cpu.softmax(x[0].transpose(0, 1)), yg = gpu.softmax(x[1].transpose(0, 1));
        assertSame("softmax of a view", yc, yg, 1e-7, 1e-5);
        assertSame("softmaxBackward with broadcast dy", cpu.softmaxBackward(yc, dy[0].unsqueeze(1)),
                gpu.softmaxBackward(yg, dy[1].unsqueeze(1)), 1e-6, 1e-4);
    }

    @Test
    void normalizeAndBackward() {
        for (int[] shape : new int[][] {{9, 64}, {2, 3, 1}, {4, 1024}, {37, 384}, {3, 2048}, {3, 4099}, {0, 16}, {5, 7}}) {
            float[] data = scaled(numel(shape), 3f);
            for (int i = 0; i < data.length; i++) data[i] += 5f; // an offset mean, as real activations
            Tensor[] x = pair(data, shape);
            Tensor[] dy = randnPair(shape);
            Tensor[] c = cpu.normalize(x[0], 1e-6f), g = gpu.normalize(x[1], 1e-6f);
            String s = java.util.Arrays.toString(shape);
            assertSame("normalize xhat " + s, c[0], g[0], 2e-5, 1e-4);
            assertSame("normalize rstd " + s, c[1], g[1], 1e-6, 1e-4);
            assertSame("normalizeBackward " + s, cpu.normalizeBackward(dy[0], c[0], c[1]),
                    gpu.normalizeBackward(dy[1], g[0], g[1]), 1e-4, 1e-3);
        }
    }

    private float[] scaled(int n, float s) {
        float[] v = randn(n);
        for (int i = 0; i < n; i++) v[i] *= s;
        return v;
    }
}
