package org.voxflow.cuda;

import org.junit.jupiter.api.Test;
import org.voxflow.tensor.DType;
import org.voxflow.tensor.Tensor;

/** cuBLAS matmul against OpenBLAS: transposes, batch broadcasting, views, 16-bit inputs, degenerate sizes. */
class CudaMatmulParityTest extends GpuParityBase {

    private void check(String what, int[] sa, int[] sb, boolean ta, boolean tb) {
        Tensor[] a = randnPair(sa), b = randnPair(sb);
        int k = ta ? sa[sa.length - 2] : sa[sa.length - 1];
        double tol = 2e-5 * Math.sqrt(Math.max(k, 1)) + 1e-5;
        assertSame(what, cpu.matmul(a[0], b[0], ta, tb), gpu.matmul(a[1], b[1], ta, tb), tol, 1e-4);
    }

    @Test
    void plainAndTransposed() {
        for (boolean ta : new boolean[] {false, true})
            for (boolean tb : new boolean[] {false, true}) {
                int m = 37, k = 65, n = 19;
                int[] sa = ta ? new int[] {k, m} : new int[] {m, k};
                int[] sb = tb ? new int[] {n, k} : new int[] {k, n};
                check("2-D ta=" + ta + " tb=" + tb, sa, sb, ta, tb);
                check("batched ta=" + ta + " tb=" + tb, new int[] {3, sa[0], sa[1]}, new int[] {3, sb[0], sb[1]}, ta, tb);
                check("shared weight ta=" + ta + " tb=" + tb, new int[] {2, 3, sa[0], sa[1]}, sb, ta, tb);
            }
    }

    @Test
    void batchBroadcastAndDegenerateSizes() {
        check("broadcast batch", new int[] {4, 1, 5, 6}, new int[] {1, 3, 6, 2}, false, false);
        check("1x1", new int[] {1, 1}, new int[] {1, 1}, false, false);
        check("vector rows", new int[] {1, 300}, new int[] {300, 1}, false, false);
        check("K=0", new int[] {3, 0}, new int[] {0, 4}, false, false);
        check("M=0", new int[] {0, 5}, new int[] {5, 4}, false, false);
        check("empty batch", new int[] {0, 2, 5}, new int[] {5, 4}, false, false);
        check("large", new int[] {257, 513}, new int[] {129, 513}, false, true);
    }

    @Test
    void viewsAreHandled() {
        Tensor[] a = randnPair(6, 8, 10), b = randnPair(10, 8);
        // a transposed view (as a flag), a sliced view (leading dimension) and a permuted batch (copied)
        assertSame("transposed view", cpu.matmul(a[0].transpose(1, 2), b[0].transpose(0, 1), false, false),
                gpu.matmul(a[1].transpose(1, 2), b[1].transpose(0, 1), false, false), 1e-4, 1e-4);
        assertSame("sliced view", cpu.matmul(a[0].slice(2, 1, 9), b[0].slice(0, 2, 10), false, false),
                gpu.matmul(a[1].slice(2, 1, 9), b[1].slice(0, 2, 10), false, false), 1e-4, 1e-4);
        Tensor[] c = randnPair(3, 4, 5, 6);
        Tensor[] d = randnPair(4, 3, 6, 2);
        assertSame("permuted batch", cpu.matmul(c[0].permute(1, 0, 2, 3), d[0], false, false),
                gpu.matmul(c[1].permute(1, 0, 2, 3), d[1], false, false), 1e-4, 1e-4);
    }

    @Test
    void halfPrecisionInputsAccumulateInF32() {
        for (DType t : new DType[] {DType.BF16, DType.F16}) {
            Tensor[] a = randnPair(2, 33, 70), b = randnPair(70, 17);
            Tensor ca = cpu.cast(a[0], t), cb = cpu.cast(b[0], t);
            Tensor out = gpu.matmul(gpu.copy(ca), gpu.copy(cb), false, false);
            assertSame("matmul " + t, cpu.matmul(ca, cb, false, false), out, 2e-4, 1e-4);
        }
    }
}
