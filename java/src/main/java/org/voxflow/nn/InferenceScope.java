package org.voxflow.nn;

import java.util.function.Supplier;
import org.voxflow.autograd.Grad;
import org.voxflow.tensor.MemoryScope;
import org.voxflow.tensor.Tensor;

/**
 * Frees a layer's temporaries as soon as it returns when no graph is being recorded (sampling, evaluation), so
 * peak memory is one block's activations instead of the whole network's. While recording, the graph needs the
 * temporaries for backward and nothing is freed early.
 */
public final class InferenceScope {
    private InferenceScope() {}

    /** As {@link #run} for a layer that returns several tensors (null entries allowed); all of them are kept. */
    public static Tensor[] runAll(Supplier<Tensor[]> layer) {
        if (Grad.enabled()) return layer.get();
        try (MemoryScope scope = MemoryScope.open()) {
            Tensor[] out = layer.get();
            for (Tensor t : out) MemoryScope.keep(t);
            return out;
        }
    }

    public static Tensor run(Supplier<Tensor> layer) {
        if (Grad.enabled()) return layer.get();
        try (MemoryScope scope = MemoryScope.open()) {
            return MemoryScope.keep(layer.get());
        }
    }
}
