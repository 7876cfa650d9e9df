package org.voxflow.distill;

import java.util.Map;
import org.voxflow.autograd.GradHook;
import org.voxflow.tensor.Rng;
import org.voxflow.tensor.Tensor;

/**
 * The trainer's hook for data-parallel training: one process per GPU, each holding a replica of the student, a
 * disjoint shard of every global batch (see {@link InMemoryBatchSource}'s rank / world-size constructor) and one of
 * these, through which the ranks average their gradients and agree on every per-step decision.
 *
 * <p>What the {@link Trainer} does with it:
 * <ul>
 *   <li>{@link #broadcast} the root's parameters once when training starts (replicas start identical even when
 *       their initialisation was not);</li>
 *   <li>after backward of the step's micro-batches, {@link #allReduce} replaces every gradient by its mean over the
 *       ranks, so the norm, clipping, loss scaling and the optimizer step are the same computation on every rank
 *       and the replicas stay equal; or, when the sync {@link #overlapsBackward() overlaps backward}, the same
 *       average is computed while the backward of the step's last micro-batch runs: {@link #beginStep} before it
 *       (its hook goes to {@link org.voxflow.autograd.Grad#backward(Tensor, GradHook)}), {@link #finishStep} after
 *       it, on every rank and every step, even one this rank skips (the earlier micro-batches accumulate locally, so
 *       only the final sums travel);</li>
 *   <li>with more than one rank, {@link #allReduceSum} of small host values makes per-step decisions collective (a
 *       non-finite loss on any rank skips or stops the step on all ranks; a stop request on any rank stops all at
 *       the same step) and turns the logged losses into means over the global batch;</li>
 *   <li>EMA, checkpoints, the JSONL log, the loss plot and the progress bar exist on the {@link #isRoot() root}
 *       only; every rank reads the same checkpoint on resume, and a checkpoint holds nothing that depends on the
 *       world size, so a run may resume with any number of ranks.</li>
 * </ul>
 *
 * <p>Randomness: with {@link #dataParallel()} the trainer's own generator drives only the data order (identical on
 * every rank, since every rank draws the same global batches), and the objective draws from
 * {@link #microBatchRng(long, long, int)} of (seed, step, global micro-batch index), where micro-batch {@code m} of
 * rank {@code r} in a world of {@code W} is global micro-batch {@code m * W + r}. Since the sharded source gives that
 * global micro-batch the same samples, W ranks with accumulation A compute the same step as one rank with
 * accumulation W * A (up to the order of float sums), and ranks never share noise.
 */
public interface GradientSync extends AutoCloseable {
    /** This process's rank in [0, worldSize). */
    int rank();

    /** Number of ranks (processes, one per GPU). */
    int worldSize();

    /** Rank 0: the one that keeps the EMA, writes checkpoints and logs. */
    default boolean isRoot() { return rank() == 0; }

    /**
     * True when the trainer runs as a member of a data-parallel group (even of one rank): the objective's random
     * draws then come from {@link #microBatchRng} rather than the trainer's generator. False only for the plain
     * single-process trainer ({@link #local()}), which keeps drawing everything from one generator.
     */
    boolean dataParallel();

    /**
     * Replaces the gradient of every parameter by its mean over the ranks (the same on every rank afterwards).
     * Gradients are treated as values: new tensors (in the caller's memory scope) replace {@code param.grad()}. A
     * parameter with no gradient on some ranks counts as zeros there; one with no gradient on any rank keeps none.
     */
    void allReduce(Map<String, Tensor> params);

    /**
     * True when this sync averages gradients while backward runs ({@link #beginStep}, {@link #gradReady},
     * {@link #finishStep}, see {@link GradientStream}); the trainer then uses those instead of {@link #allReduce}.
     */
    default boolean overlapsBackward() { return false; }

    /**
     * Starts this step's overlapped gradient average (only where {@link #overlapsBackward()}) and returns the hook for
     * the backward of the step's last micro-batch, which calls {@link #gradReady} for each parameter as soon as its
     * gradient is final. May be collective (the first step plans the buckets); every rank calls it once per step,
     * then {@link #finishStep}, before any other collective of the step.
     */
    default GradHook beginStep(Map<String, Tensor> params) {
        throw new UnsupportedOperationException(this + " does not overlap the gradient all-reduce with backward");
    }

    /** Parameter {@code name}'s gradient is final for this step (null: it has none on this rank). */
    default void gradReady(String name, Tensor grad) {
        throw new UnsupportedOperationException(this + " does not overlap the gradient all-reduce with backward");
    }

    /**
     * Ends the step begun by {@link #beginStep}: a parameter not reported counts with its current gradient (one
     * accumulated by an earlier micro-batch), or as zeros when it has none, and afterwards every
     * parameter's gradient is its mean over the ranks, as after {@link #allReduce} (one with a gradient on no rank
     * keeps none). Collective.
     */
    default void finishStep() {
        throw new UnsupportedOperationException(this + " does not overlap the gradient all-reduce with backward");
    }

    /** Element-wise sums of small host values over the ranks (decisions and logged losses). Collective. */
    double[] allReduceSum(double[] values);

    /** Makes every rank's parameters equal to the root's. Collective. */
    void broadcast(Map<String, Tensor> params);

    /** Releases the communicator; the local implementation holds nothing. */
    @Override default void close() {}

    /** The single-process trainer: rank 0 of 1, every operation the identity. */
    static GradientSync local() { return Local.INSTANCE; }

    /**
     * The generator for global micro-batch {@code globalMicroBatch} of step {@code step} (1-based, as logged):
     * a pure function of its arguments, so it needs no checkpointing and is the same for any world size.
     */
    static Rng microBatchRng(long seed, long step, int globalMicroBatch) {
        long h = mix(seed + 0x9E3779B97F4A7C15L);
        h = mix(h ^ (step * 0xBF58476D1CE4E5B9L + 0x94D049BB133111EBL));
        h = mix(h ^ (globalMicroBatch * 0xD6E8FEB86659FD93L + 0x632BE59BD9B4E019L));
        return new Rng(h);
    }

    private static long mix(long z) { // SplitMix64's finalizer
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** The single-process no-op. */
    final class Local implements GradientSync {
        private static final Local INSTANCE = new Local();

        private Local() {}

        @Override public int rank() { return 0; }
        @Override public int worldSize() { return 1; }
        @Override public boolean dataParallel() { return false; }
        @Override public void allReduce(Map<String, Tensor> params) {}
        @Override public double[] allReduceSum(double[] values) { return values.clone(); }
        @Override public void broadcast(Map<String, Tensor> params) {}
        @Override public String toString() { return "GradientSync.local()"; }
    }
}
