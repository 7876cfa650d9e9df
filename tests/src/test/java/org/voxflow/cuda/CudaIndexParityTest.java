package org.voxflow.cuda;

import org.junit.jupiter.api.Test;
import org.voxflow.tensor.DType;
import org.voxflow.tensor.Tensor;

/** Gathers (with -1 holes) and scatter-adds (with repeated targets) against the CPU reference. */
class CudaIndexParityTest extends GpuParityBase {

    private int[] randomIndex(int m, int n, boolean holes) {
        int[] idx = new int[m];
        for (int i = 0; i < m; i++) idx[i] = holes && rnd.nextInt(5) == 0 ? -1 : rnd.nextInt(n);
        return idx;
    }

    @Test
    void indexSelectAlongAxes() {
        Tensor[] x = randnPair(6, 9, 5);
        for (int axis : new int[] {0, 1, 2, -1}) {
            int n = x[0].size(axis);
            int[] idx = randomIndex(13, n, true);
            Tensor ci = cpu.fromInts(idx, idx.length);
            assertSame("indexSelect axis " + axis, cpu.indexSelect(x[0], axis, ci), gpu.indexSelect(x[1], axis, gpu.copy(ci)), 0, 0);
            Tensor li = cpu.cast(ci, DType.I64);
            assertSame("indexSelect i64 axis " + axis, cpu.indexSelect(x[0], axis, li), gpu.indexSelect(x[1], axis, li), 0, 0);
        }
        assertSame("indexSelect of a view", cpu.indexSelect(x[0].transpose(0, 1), 0, cpu.fromInts(new int[] {8, 0}, 2)),
                gpu.indexSelect(x[1].transpose(0, 1), 0, gpu.fromInts(new int[] {8, 0}, 2)), 0, 0);
        Tensor none = cpu.fromInts(new int[0], 0);
        assertSame("indexSelect of nothing", cpu.indexSelect(x[0], 1, none), gpu.indexSelect(x[1], 1, none), 0, 0);
    }

    @Test
    void indexAddAccumulates() {
        Tensor[] src = randnPair(4, 300, 7);
        for (int axis : new int[] {1, 0}) {
            int m = src[0].size(axis);
            int[] idx = randomIndex(m, 11, true); // many repeats: atomics must add them all
            Tensor ci = cpu.fromInts(idx, m);
            assertSame("indexAdd axis " + axis, cpu.indexAdd(src[0], axis, ci, 11), gpu.indexAdd(src[1], axis, gpu.copy(ci), 11),
                    1e-5, 1e-5);
        }
        Tensor[] e = randnPair(0, 3);
        assertSame("indexAdd of nothing", cpu.indexAdd(e[0], 0, cpu.fromInts(new int[0], 0), 5),
                gpu.indexAdd(e[1], 0, gpu.fromInts(new int[0], 0), 5), 0, 0);
    }

    /**
     * An index outside [-1, n) is an error on both backends: the CPU throws at the op, the GPU at its next
     * synchronization (naming the op, the index and the range), and the backend keeps working afterwards.
     */
    @Test
    void badIndicesAreReported() {
        Tensor[] x = randnPair(4, 5);
        org.junit.jupiter.api.Assertions.assertThrows(IndexOutOfBoundsException.class,
                () -> cpu.indexSelect(x[0], 0, cpu.fromInts(new int[] {0, 4}, 2)));
        Tensor y = gpu.indexSelect(x[1], 0, gpu.fromInts(new int[] {0, 4, -1, 1}, 4));
        IndexOutOfBoundsException e = org.junit.jupiter.api.Assertions.assertThrows(IndexOutOfBoundsException.class, y::toFloats);
        org.junit.jupiter.api.Assertions.assertTrue(e.getMessage().startsWith("indexSelect: index 4 outside [-1, 4)"), e.getMessage());
        // reported once; later work is unaffected
        Tensor ok = gpu.indexSelect(x[1], 0, gpu.fromInts(new int[] {3, -1}, 2));
        assertSame("after a report", cpu.indexSelect(x[0], 0, cpu.fromInts(new int[] {3, -1}, 2)), ok, 0, 0);
        Tensor z = gpu.indexAdd(x[1], 1, gpu.fromLongs(new long[] {0, 1, -7, 2, 3}, 5), 4);
        IndexOutOfBoundsException a = org.junit.jupiter.api.Assertions.assertThrows(IndexOutOfBoundsException.class,
                () -> ((CudaBackend) gpu).synchronize());
        org.junit.jupiter.api.Assertions.assertTrue(a.getMessage().startsWith("indexAdd: index -7 outside [-1, 4)"), a.getMessage());
        z.close();
    }
}
