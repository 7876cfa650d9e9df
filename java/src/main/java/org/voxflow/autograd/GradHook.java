package org.voxflow.autograd;

import org.voxflow.tensor.Tensor;

/**
 * Told by {@link Grad#backward(Tensor, Tensor, GradHook)} when a leaf's gradient is final for that backward call: every
 * recorded op that consumes the leaf has run its backward rule (or was passed over because no gradient reached it),
 * and the call's contributions have been accumulated into {@code leaf.grad()}. Each leaf that requires grad and is
 * reachable from the root is reported exactly once per call, in reverse topological order of its last consumer (the
 * last layers' parameters first), while backward is still running; leaves the root does not depend on are not
 * reported.
 *
 * <p>Called on the backward's thread with recording off. An exception thrown here ends the backward call.
 */
@FunctionalInterface
public interface GradHook {
    /**
     * @param leaf the leaf tensor (no grad function, requires grad)
     * @param grad {@code leaf.grad()} after this call's accumulation: earlier calls' gradient plus this call's, or
     *             null when the leaf has none (no gradient reached it in this call and none was accumulated before)
     */
    void gradReady(Tensor leaf, Tensor grad);
}
