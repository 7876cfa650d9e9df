package org.voxflow.sparse;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;
import org.voxflow.tensor.Backend;
import org.voxflow.tensor.Backends;
import org.voxflow.tensor.Rng;
import org.voxflow.tensor.Tensor;

/** Submanifold conv against a direct loop, on both paths (one gathered GEMM, and offset by offset for wide inputs). */
class SparseConv3dTest {
    static void check(int n, int in, int out) {
        Backend be = Backends.cpu();
        Rng r = new Rng(in);
        int[] c = new int[n * 4];
        for (int i = 0; i < n; i++) { c[i * 4 + 1] = i % 23; c[i * 4 + 2] = (i / 23) % 23; c[i * 4 + 3] = i / 529; }
        SparseStructure s = new SparseStructure(c, 1);
        SparseConv3d conv = new SparseConv3d(be, in, out);
        for (Tensor p : conv.namedParameters().values()) be.assign(p, r.randn(be, p.shape()));
        Tensor x = r.randn(be, n, in);
        float[] y = conv.forward(new SparseTensor(s, x)).feats().toFloats();
        float[] w = conv.namedParameters().get("conv.weight").toFloats(), b = conv.namedParameters().get("conv.bias").toFloats();
        float[] xv = x.toFloats();
        int[] nb = s.neighbours();
        for (int row : new int[] {0, n / 2, n - 1})
            for (int o = 0; o < out; o++) {
                double acc = b[o];
                for (int k = 0; k < 27; k++) {
                    int j = nb[row * 27 + k];
                    if (j < 0) continue;
                    for (int ci = 0; ci < in; ci++) acc += (double) w[(o * 27 + k) * in + ci] * xv[j * in + ci];
                }
                assertEquals(acc, y[row * out + o], 1e-3 * (1 + Math.abs(acc)), "row " + row + " out " + o);
            }
    }

    @Test void gatheredPath() { check(700, 8, 5); }

    @Test void offsetByOffsetPathForWideInputs() {
        check(5000, 512, 3); // 5000 * 27 * 512 values exceed the gather limit
        assertEquals(true, 5000L * 27 * 512 > SparseConv3d.GATHER_LIMIT);
    }
}
