package org.voxflow.distill;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.voxflow.tensor.Backend;
import org.voxflow.tensor.Backends;
import org.voxflow.tensor.Rng;

/** Stacking dense and sparse samples, epoch shuffling, and cursor state. */
class InMemoryBatchSourceTest {
    private final Backend be = Backends.cpu();

    /** Sample i has latent values i*10 .. i*10+3 and condition i. */
    private List<Sample> dense(int n) {
        List<Sample> s = new ArrayList<>();
        for (int i = 0; i < n; i++)
            s.add(new Sample.Dense(new float[] {i * 10, i * 10 + 1, i * 10 + 2, i * 10 + 3}, new int[] {2, 2}, new float[] {i}, new int[] {1, 1}));
        return s;
    }

    @Test
    void stacksDenseSamplesAndVisitsEachOncePerEpoch() {
        InMemoryBatchSource src = new InMemoryBatchSource(be, dense(6), 3);
        Rng rng = new Rng(7);
        Set<Integer> seen = new HashSet<>();
        for (int b = 0; b < 2; b++) {
            Batch batch = src.next(rng);
            assertArrayEquals(new int[] {3, 2, 2}, batch.x0().shape());
            assertArrayEquals(new int[] {3, 1, 1}, batch.cond().shape());
            assertNull(batch.structure());
            float[] x = batch.x0().toFloats(), c = batch.cond().toFloats();
            for (int i = 0; i < 3; i++) {
                int id = (int) c[i];
                assertEquals(id * 10 + 2, x[i * 4 + 2]); // latent and condition of the same sample stay together
                seen.add(id);
            }
        }
        assertEquals(Set.of(0, 1, 2, 3, 4, 5), seen);
        assertEquals(0, src.epoch());
        src.next(rng);
        assertEquals(1, src.epoch());
    }

    @Test
    void sparseBatchesPrefixTheBatchIndex() {
        List<Sample> s = List.of(
                new Sample.Sparse(new int[] {0, 0, 0, 1, 2, 3}, new float[] {1, 2, 3, 4}, 2, new float[] {0}, new int[] {1, 1}),
                new Sample.Sparse(new int[] {5, 5, 5}, new float[] {9, 8}, 2, new float[] {1}, new int[] {1, 1}));
        InMemoryBatchSource src = new InMemoryBatchSource(be, s, 2);
        Batch b = src.next(new Rng(1));
        assertTrue(b.isSparse());
        assertEquals(3, b.structure().rows());
        assertEquals(2, b.structure().batch());
        assertArrayEquals(new int[] {3, 2}, b.x0().shape());
        int[] coords = b.structure().coords();
        float[] cond = b.cond().toFloats();
        float[] feats = b.x0().toFloats();
        // rows of instance 0 come first, each carrying its batch index in column 0
        int r = 0;
        for (int inst = 0; inst < 2; inst++) {
            Sample.Sparse sp = (Sample.Sparse) s.get((int) cond[inst]);
            for (int v = 0; v < sp.voxels(); v++, r++) {
                assertEquals(inst, coords[r * 4]);
                assertArrayEquals(new int[] {sp.xyz()[v * 3], sp.xyz()[v * 3 + 1], sp.xyz()[v * 3 + 2]},
                        new int[] {coords[r * 4 + 1], coords[r * 4 + 2], coords[r * 4 + 3]});
                assertEquals(sp.feats()[v * 2], feats[r * 2]);
            }
        }
    }

    @Test
    void restoredStateContinuesIdentically() {
        InMemoryBatchSource a = new InMemoryBatchSource(be, dense(5), 2);
        Rng ra = new Rng(3);
        a.next(ra);
        a.next(ra);
        Map<String, long[]> state = a.state();
        InMemoryBatchSource b = new InMemoryBatchSource(be, dense(5), 2);
        b.restoreState(state);
        Rng rb = Rng.restore(ra.seed(), ra.draws());
        for (int i = 0; i < 6; i++) assertArrayEquals(a.next(ra).cond().toFloats(), b.next(rb).cond().toFloats());
    }

    @Test
    void refusesMixedOrInvalidInput() {
        List<Sample> mixed = new ArrayList<>(dense(1));
        mixed.add(new Sample.Sparse(new int[] {0, 0, 0}, new float[] {1}, 1, new float[] {0}, new int[] {1, 1}));
        assertThrows(IllegalArgumentException.class, () -> new InMemoryBatchSource(be, mixed, 1));
        InMemoryBatchSource src = new InMemoryBatchSource(be, dense(3), 1);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> src.restoreState(Map.of("order", new long[] {0, 0, 1}, "cursor", new long[] {0}, "epoch", new long[] {0})));
        assertTrue(e.getMessage().contains("not a permutation"), e.getMessage());
    }
}
