package org.voxflow.autograd;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.function.Function;
import org.voxflow.tensor.MemoryScope;
import org.voxflow.tensor.Tensor;

/**
 * Activation checkpointing (TRELLIS's use_checkpoint): a segment of the network runs forward without recording and
 * keeps only its output; the backward pass runs the segment again with recording on and back-propagates through
 * the recomputation. Memory for training drops from every block's activations to one block's plus each block's
 * input, for one extra forward; results are the same (the recomputation repeats the same ops on the same values).
 *
 * <p>The segment's parameters are inputs of the recorded node, so their gradients come back through the outer
 * backward like any leaf's, in the outer order (hooks that watch leaves becoming final see them). While any input
 * carries a forward-mode tangent, or nothing needs a gradient, the segment simply runs (when nothing is recorded, in its
 * own memory scope, so its temporaries are freed at once, as nn.InferenceScope does for uncheckpointed blocks).
 */
public final class Checkpoint {
    private Checkpoint() {}

    /**
     * fn(inputs) with its activations recomputed in backward.
     *
     * @param params the parameters fn reads besides its inputs (their gradients flow through the node)
     */
    public static Tensor run(Function<Tensor[], Tensor> fn, Tensor[] inputs, Collection<Tensor> params) {
        boolean needs = false, tangents = false;
        for (Tensor x : inputs) {
            needs |= x.requiresGrad();
            tangents |= x.tangent() != null;
        }
        for (Tensor p : params) needs |= p.requiresGrad();
        if (!Grad.enabled() && !tangents) { // nothing recorded: free the segment's temporaries as soon as it returns
            try (MemoryScope scope = MemoryScope.open()) {
                return MemoryScope.keep(fn.apply(inputs));
            }
        }
        if (!Grad.enabled() || !needs || tangents) return fn.apply(inputs);

        Tensor out;
        try (var ng = Grad.noGrad(); MemoryScope scope = MemoryScope.open()) {
            out = MemoryScope.keep(fn.apply(inputs));
        }
        List<Tensor> all = new ArrayList<>(List.of(inputs));
        all.addAll(params);
        Tensor[] recorded = all.toArray(Tensor[]::new);
        int n = inputs.length;
        Node.Backward rule = g -> {
            Tensor[] grads = new Tensor[recorded.length];
            Tensor[] xs = new Tensor[n];
            for (int i = 0; i < n; i++) xs[i] = F.detach(inputs[i]).setRequiresGrad(inputs[i].requiresGrad());
            // the recomputation's backward accumulates into the parameters' grad fields: borrow them empty
            Tensor[] saved = new Tensor[params.size()];
            for (int j = 0; j < saved.length; j++) {
                saved[j] = recorded[n + j].grad();
                recorded[n + j].setGrad(null);
            }
            try (var rec = Grad.enabledScope(); MemoryScope scope = MemoryScope.open()) {
                Tensor y = fn.apply(xs);
                if (y.requiresGrad()) Grad.backward(y, g);
                for (int i = 0; i < n; i++) grads[i] = MemoryScope.keep(xs[i].grad());
                for (int j = 0; j < saved.length; j++) grads[n + j] = MemoryScope.keep(recorded[n + j].grad());
            } finally {
                for (int j = 0; j < saved.length; j++) recorded[n + j].setGrad(saved[j]);
            }
            return grads;
        };
        out.setRequiresGrad(true);
        out.setGradFn(new Node("checkpoint", recorded, rule));
        return out;
    }
}
