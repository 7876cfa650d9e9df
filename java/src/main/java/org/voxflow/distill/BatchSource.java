package org.voxflow.distill;

import java.util.Map;
import org.voxflow.tensor.Rng;

/**
 * Where training batches come from. Every random choice (shuffling, augmentation) must come from the generator
 * passed in, so a run repeats bit for bit. A source that keeps a cursor (epoch order, position) exposes it through
 * {@link #state()} so checkpoints can resume mid-epoch exactly.
 */
public interface BatchSource {
    /** The next micro-batch; tensors are created in the caller's memory scope. */
    Batch next(Rng rng);

    /** The cursor to checkpoint, as named integer arrays (empty for stateless sources). */
    default Map<String, long[]> state() { return Map.of(); }

    /**
     * Puts back a state from {@link #state()}; validates it completely before changing anything and throws
     * {@link IllegalArgumentException} naming the problem.
     */
    default void restoreState(Map<String, long[]> state) {
        if (!state.isEmpty()) throw new IllegalArgumentException("this batch source keeps no state, but the checkpoint holds " + state.keySet());
    }
}
