package org.voxflow.sparse;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.voxflow.autograd.F;
import org.voxflow.tensor.Backend;
import org.voxflow.tensor.Backends;
import org.voxflow.tensor.DType;
import org.voxflow.tensor.SparsePooling;
import org.voxflow.tensor.Tensor;
import org.voxflow.tensor.cpu.SparseMaps;

/**
 * The CPU backend's sparse map primitives (the reference for the CUDA kernels) against the host code SparseStructure
 * used before them (SparseFixtures.old*), on random structures: several instances, voxels at 0 and res-1, a single
 * voxel, empty instances, repeated coordinates; and SparseStructure / SparseTensor on top of them.
 */
class SparseMapsTest {
    static final Backend CPU = Backends.cpu();

    static Tensor coordsTensor(int[] c) { return CPU.fromInts(c, c.length / 4, 4); }

    static void assertNeighbours(String what, int[] coords) {
        int n = coords.length / 4;
        int[] expected = SparseFixtures.oldNeighbours(coords);
        Tensor nb = CPU.sparseNeighbours(coordsTensor(coords));
        assertEquals(DType.I32, nb.dtype(), what);
        assertArrayEquals(new int[] {n, 27}, nb.shape(), what);
        assertArrayEquals(expected, nb.toInts(), what + ": primitive vs old host map");
    }

    static void assertDownsample(String what, int[] coords, int batch, int factor) {
        int n = coords.length / 4;
        int[][] old = SparseFixtures.oldDownsample(coords, factor);
        int m = old[0].length / 4;
        SparsePooling p = CPU.sparseDownsample(coordsTensor(coords), batch, factor);
        assertArrayEquals(new int[] {m, 4}, p.coords().shape(), what);
        assertArrayEquals(new int[] {n}, p.toCoarse().shape(), what);
        assertArrayEquals(new int[] {m}, p.counts().shape(), what);
        assertArrayEquals(old[0], p.coords().toInts(), what + ": coarse coords (order)");
        assertArrayEquals(old[1], p.toCoarse().toInts(), what + ": fine -> coarse rows");
        assertArrayEquals(SparseFixtures.counts(old[1], m), p.counts().toInts(), what + ": counts");
        assertArrayEquals(SparseFixtures.offsets(old[0], batch), p.offsets(), what + ": per-instance offsets");
        assertEquals(m, p.rows(), what);
    }

    @Test void neighbourMapsEqualTheOldHostPath() {
        for (long seed : new long[] {1, 2, 3})
            for (SparseFixtures.Case c : SparseFixtures.cases(seed)) assertNeighbours(c + " seed " + seed, c.coords());
        // the cases must have neighbours to compare, not only holes
        int[] shell = SparseFixtures.shell(64, 26, 28.1, 1);
        int present = SparseFixtures.present(SparseFixtures.oldNeighbours(shell));
        assertTrue(present > shell.length / 4 * 5, "shell neighbours present: " + present);
        assertTrue(shell.length / 4 > 15000 && shell.length / 4 < 25000, "shell voxels " + shell.length / 4);
    }

    @Test void downsampleMapsEqualTheOldHostPath() {
        for (long seed : new long[] {1, 2})
            for (SparseFixtures.Case c : SparseFixtures.cases(seed))
                for (int f : new int[] {2, 3, 4}) assertDownsample(c + " seed " + seed + " factor " + f, c.coords(), c.batch(), f);
    }

    @Test void repeatedCoordinatesResolveToTheirLastRow() {
        int[] c = {0, 1, 1, 1, 0, 1, 1, 2, 0, 1, 1, 1, 0, 1, 1, 2, 0, 1, 1, 1, 1, 1, 1, 1};
        assertNeighbours("repeats", c);
        int[] nb = CPU.sparseNeighbours(coordsTensor(c)).toInts();
        assertEquals(4, nb[0 * 27 + 13], "centre of row 0 is the last row at (1, 1, 1)");
        assertEquals(3, nb[0 * 27 + 14], "z + 1 of row 0 is the last row at (1, 1, 2)");
        assertEquals(5, nb[5 * 27 + 13], "another instance keeps its own row");
        assertDownsample("repeats", c, 2, 2);
    }

    @Test void singleVoxelAndEmptyStructure() {
        int[] nb = CPU.sparseNeighbours(coordsTensor(new int[] {0, 7, 0, 9})).toInts();
        for (int k = 0; k < 27; k++) assertEquals(k == 13 ? 0 : -1, nb[k], "offset " + k);
        SparsePooling p = CPU.sparseDownsample(coordsTensor(new int[] {0, 7, 0, 9}), 1, 2);
        assertArrayEquals(new int[] {0, 3, 0, 4}, p.coords().toInts());
        assertArrayEquals(new int[] {1}, p.counts().toInts());

        Tensor none = CPU.fromInts(new int[0], 0, 4);
        assertArrayEquals(new int[] {0, 27}, CPU.sparseNeighbours(none).shape());
        SparsePooling e = CPU.sparseDownsample(none, 3, 2);
        assertArrayEquals(new int[] {0, 4}, e.coords().shape());
        assertArrayEquals(new int[] {0}, e.toCoarse().shape());
        assertArrayEquals(new int[] {0, 0, 0, 0}, e.offsets());
        SparseStructure s = new SparseStructure(new int[0], 2);
        assertEquals(0, s.neighbourIndex(CPU).numel());
        assertEquals(0, s.downsample2().rows());
        assertEquals(0, new SparseStructure(new int[0], 0).downsample2().rows(), "no instances at all");
    }

    @Test void integerTensorsOfAnyLayoutAreAccepted() {
        int[] c = SparseFixtures.random(new Random(9), 8, 100, 60);
        Tensor i64 = CPU.cast(coordsTensor(c), DType.I64);
        assertArrayEquals(SparseFixtures.oldNeighbours(c), CPU.sparseNeighbours(i64).toInts());
        // a strided view: the first 4 of 5 columns
        int n = c.length / 4;
        int[] wide = new int[n * 5];
        for (int i = 0; i < n; i++) System.arraycopy(c, i * 4, wide, i * 5, 4);
        Tensor view = CPU.fromInts(wide, n, 5).slice(1, 0, 4);
        assertArrayEquals(SparseFixtures.oldNeighbours(c), CPU.sparseNeighbours(view).toInts());
        assertArrayEquals(SparseFixtures.oldDownsample(c, 2)[1], CPU.sparseDownsample(view, 2, 2).toCoarse().toInts());
        assertThrows(IllegalArgumentException.class, () -> CPU.sparseNeighbours(CPU.fromFloats(new float[4], 1, 4)));
        assertThrows(IllegalArgumentException.class, () -> CPU.sparseNeighbours(CPU.fromInts(new int[3], 1, 3)));
        assertThrows(IllegalArgumentException.class, () -> CPU.sparseDownsample(coordsTensor(c), 1, 2)); // batch 1 too small
    }

    /**
     * The one intended difference from the old host code: a neighbour one past 32767 no longer wraps into the next
     * field of the packed key (the old map found x = 32768 at batch b + 1, x = 0; y = 32768 at x + 1, y = 0).
     */
    @Test void neighboursPastTheCoordinateLimitAreAbsent() {
        int[] c = {0, 32767, 5, 5, 0, 4, 32767, 5, 1, 0, 5, 5, 0, 5, 0, 5};
        int[] nb = CPU.sparseNeighbours(coordsTensor(c)).toInts();
        int[] old = SparseFixtures.oldNeighbours(c);
        int kx = 2 * 9 + 1 * 3 + 1, ky = 1 * 9 + 2 * 3 + 1;
        assertEquals(-1, nb[0 * 27 + kx], "x + 1 of x = 32767");
        assertEquals(-1, nb[1 * 27 + ky], "y + 1 of y = 32767");
        assertEquals(2, old[0 * 27 + kx], "the old key wrapped x = 32768 into the next instance");
        assertEquals(3, old[1 * 27 + ky], "the old key wrapped y = 32768 into x + 1");
        for (int i = 0; i < nb.length; i++) {
            int row = i / 27, k = i % 27;
            boolean past = c[row * 4 + 1] + k / 9 - 1 > 32767 || c[row * 4 + 2] + (k / 3) % 3 - 1 > 32767;
            assertEquals(past ? -1 : old[i], nb[i], "entry " + i);
        }
    }

    @Test void structureCachesMapsAndChainsDownsamples() {
        int[] c = SparseFixtures.random(new Random(4), 16, 700, 0, 900);
        SparseStructure s = new SparseStructure(c, 3);
        Tensor nb = s.neighbourIndex(CPU);
        assertArrayEquals(new int[] {c.length / 4 * 27}, nb.shape());
        assertArrayEquals(SparseFixtures.oldNeighbours(c), nb.toInts());
        assertSame(nb, s.neighbourIndex(CPU), "cached per backend");
        int[] full = nb.toInts();
        for (int k : new int[] {0, 13, 26}) {
            int[] col = s.neighbourIndex(CPU, k).toInts();
            for (int i = 0; i < col.length; i++) assertEquals(full[i * 27 + k], col[i], "column " + k + " row " + i);
        }
        int[] level = c;
        SparseStructure cur = s;
        for (int depth = 0; depth < 3; depth++) {
            int[][] old = SparseFixtures.oldDownsample(level, 2);
            SparseStructure coarse = cur.downsample2();
            assertSame(coarse, cur.downsample2(), "cached");
            assertSame(cur, coarse.finer());
            assertArrayEquals(old[0], coarse.coords(), "level " + depth + " coords");
            assertArrayEquals(SparseFixtures.offsets(old[0], 3), coarse.layout().offsets(), "level " + depth + " layout");
            assertArrayEquals(old[1], coarse.toCoarseIndex(CPU).toInts(), "level " + depth + " toCoarse");
            assertArrayEquals(SparseFixtures.oldNeighbours(old[0]), coarse.neighbourIndex(CPU).toInts(), "level " + depth + " neighbours");
            int[] xyz = coarse.xyz();
            for (int i = 0; i < coarse.rows(); i++) assertEquals(old[0][i * 4 + 3], xyz[i * 3 + 2]);
            level = old[0];
            cur = coarse;
        }
        assertNull(s.finer());
        assertThrows(IllegalStateException.class, () -> s.toCoarseIndex(CPU));
    }

    /** Pooling and upsampling on the cached maps equal the old per-call host computation, bit for bit. */
    @Test void poolingAndUpsamplingEqualTheOldComputation() {
        int[] c = SparseFixtures.random(new Random(6), 16, 500, 1, 800);
        SparseStructure s = new SparseStructure(c, 3);
        int n = s.rows();
        float[] v = new float[n * 5];
        Random r = new Random(7);
        for (int i = 0; i < v.length; i++) v[i] = (float) r.nextGaussian();
        Tensor feats = CPU.fromFloats(v, n, 5);
        SparseTensor down = new SparseTensor(s, feats).downsample();

        int[][] old = SparseFixtures.oldDownsample(c, 2);
        int m = old[0].length / 4;
        int[] count = new int[m];
        for (int i : old[1]) count[i]++;
        float[] inv = new float[m];
        for (int i = 0; i < m; i++) inv[i] = 1f / (count[i] + 1);
        Tensor idx = CPU.fromInts(old[1], n);
        Tensor expected = F.mul(F.indexAdd(feats, 0, idx, m), CPU.fromFloats(inv, m, 1));
        assertArrayEquals(expected.toFloats(), down.feats().toFloats(), 0f);
        float[] scale = s.downsample2().poolScale(CPU).toFloats();
        assertArrayEquals(inv, scale, 0f);
        assertArrayEquals(count, s.downsample2().poolCounts(CPU).toInts());
        assertNotEquals(0, Arrays.stream(count).filter(k -> k > 1).count(), "some coarse rows pool several voxels");

        SparseTensor up = down.upsample();
        assertSame(s, up.structure());
        assertArrayEquals(F.indexSelect(down.feats(), 0, idx).toFloats(), up.feats().toFloats(), 0f);
    }

    @Test void structureRejectsBadInput() {
        assertThrows(IllegalArgumentException.class, () -> new SparseStructure(new int[] {1, 0, 0, 0, 0, 0, 0, 0}, 2));
        assertThrows(IllegalArgumentException.class, () -> new SparseStructure(new int[] {0, 32768, 0, 0}, 1));
        assertThrows(IllegalArgumentException.class, () -> new SparseStructure(new int[] {0, -1, 0, 0}, 1));
        assertThrows(IllegalArgumentException.class, () -> new SparseStructure(new int[] {0, 1, 0}, 1));
        List.of(1).forEach(b -> assertEquals(1, new SparseStructure(new int[] {0, 1, 2, 3}, b).rows()));
    }
}
