package org.voxflow.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.voxflow.autograd.F;
import org.voxflow.autograd.Grad;
import org.voxflow.tensor.Backend;
import org.voxflow.tensor.Backends;
import org.voxflow.tensor.MemoryScope;
import org.voxflow.tensor.Rng;
import org.voxflow.tensor.Tensor;

/**
 * runBlocks makes the blocks' cross-attention K/V of the shared condition a chunk of blocks at a time (within
 * kvChunkBytes): whatever the chunking (all blocks, chunks of two with a lone last block, one at a time), sampling gives
 * the bits of running the blocks one by one, and the chunks it frees are not needed again.
 */
class CrossKvChunksTest {
    private final Backend be = Backends.cpu();
    private final Rng rng = new Rng(11);

    private Tensor randn(int... shape) { return rng.randn(be, shape); }

    @Test void anyChunkingGivesTheBlockByBlockValues() {
        long before = ModulatedCrossBlock.kvChunkBytes;
        try (MemoryScope scope = MemoryScope.open()) {
            int c = 16;
            List<ModulatedCrossBlock> blocks = new ArrayList<>();
            for (int i = 0; i < 5; i++) {
                var blk = new ModulatedCrossBlock(be, c, 8, 2, 2.0, false, true, false);
                for (var p : blk.namedParameters().values()) be.assign(p, F.mul(randn(p.shape()), 0.2f));
                blocks.add(blk);
            }
            Tensor x = randn(2 * 5, c), mod = randn(2, c), ctx = randn(2 * 3, 8);
            RowLayout layout = RowLayout.uniform(2, 5), ctxLayout = RowLayout.uniform(2, 3);
            Tensor expected = x;
            for (var blk : blocks) expected = blk.forward(expected, layout, mod, ctx, ctxLayout);
            long perBlock = 6L * 2 * c * 4; // ctx rows x 2C x f32
            for (long budget : new long[] {before, 2 * perBlock + 1, perBlock}) { // all 5 blocks; 2, 2 and 1; 1 at a time
                ModulatedCrossBlock.kvChunkBytes = budget;
                try (var g = Grad.noGrad()) {
                    Tensor y = ModulatedCrossBlock.runBlocks(blocks, x, layout, mod, ctx, ctxLayout, false, false);
                    assertArrayEquals(expected.toFloats(), y.toFloats(), 0f, "chunk budget " + budget);
                }
            }
        } finally {
            ModulatedCrossBlock.kvChunkBytes = before;
        }
    }
}
