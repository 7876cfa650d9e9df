package org.voxflow.distill;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.voxflow.autograd.GradHook;
import org.voxflow.tensor.Backend;
import org.voxflow.tensor.DType;
import org.voxflow.tensor.MemoryScope;
import org.voxflow.tensor.Tensor;

/**
 * The gradient all-reduce overlapped with backward, up to the transport (what a {@link GradientSync} that
 * {@link GradientSync#overlapsBackward() overlaps backward} runs; PyTorch DDP's reducer in small):
 *
 * <ul>
 *   <li><b>Plan</b>, at the first {@link #beginStep} (and again only if the parameter map changes): the parameters
 *       that require grad, in <em>reverse</em> map order (the order backward finishes them: last layers first), are
 *       packed into per-dtype buckets of at most {@code bucketBytes} (a larger parameter gets one of its own), with
 *       the same rule as {@link GradientBuckets}. The buckets are allocated once, outside every memory scope, and kept
 *       for the following steps. The plan is a pure function of the parameters' names, order, shapes, dtypes and
 *       requires-grad flags, which are the same on every replica; planning ends with one collective that compares a
 *       hash of it over the ranks and fails on every rank alike if any rank's plan differs.</li>
 *   <li><b>Fill</b>: {@link #gradReady} (the {@link GradHook} of the last micro-batch's backward calls it) copies a
 *       parameter's final gradient into its slice of its bucket, with an ordinary backend copy, i.e. queued on the
 *       compute stream behind the ops that produced the gradient.</li>
 *   <li><b>Launch in bucket order</b>: a bucket is handed to {@link Transport#launch} once every slice of it is filled
 *       <em>and</em> every bucket before it has been launched. So each rank launches buckets 0, 1, ..., K-1, in this
 *       order, whatever order its backward finished the parameters in (a rank's graph may differ, e.g. a parameter
 *       unused in this step on one rank); only the timing differs between ranks. Collectives are therefore issued in
 *       the same sequence everywhere, which NCCL requires (a mismatch would deadlock or mix buckets).</li>
 *   <li><b>Finish</b> ({@link #finishStep}, every rank, every step): slices never filled (a parameter the last
 *       backward did not reach) get the parameter's current gradient (one accumulated by an earlier micro-batch) or
 *       zeros when it has none, the remaining buckets are launched
 *       in order, {@link Transport#await} orders later compute work after every average, one small collective
 *       agrees on which parameters had a gradient on any rank (with more than one rank), and each parameter's
 *       gradient becomes a view of its slice: the same result as {@link GradientSync#allReduce}, a parameter with a
 *       gradient on no rank keeps none.</li>
 * </ul>
 *
 * <p>Every rank must call {@link #beginStep} and {@link #finishStep} once per step at the same point of its sequence
 * of collectives (the trainer does so even on a rank whose loss was not finite), since buckets may be launched from
 * either. The gradients installed by {@link #finishStep} are views of the kept buckets: valid until the next
 * {@link #beginStep} overwrites them (the trainer drops them at the end of the step).
 */
public final class GradientStream implements AutoCloseable {
    /** How buckets travel: NCCL on a communication stream on the GPU, host copies between threads in CPU tests. */
    public interface Transport {
        /**
         * Starts averaging {@code bucket} in place over the ranks, after (in stream order) every op queued so far on
         * the compute stream; may return before the average is done. Called with indices 0, 1, ... in order.
         */
        void launch(int index, Tensor bucket);

        /** Makes the work queued on the compute stream from now on wait for every launched average. */
        void await();
    }

    private record Slot(String name, Tensor param, int bucket, int offset, int numel, int[] shape) {}

    private final GradientSync sync;
    private final long bucketBytes;
    private final Transport transport;

    // the plan
    private List<Map.Entry<String, Tensor>> planned = List.of();
    private Slot[] slots = new Slot[0];
    private final Map<String, Integer> slotByName = new LinkedHashMap<>();
    private final Map<Tensor, int[]> slotsByParam = new IdentityHashMap<>();
    private Tensor[] buckets = new Tensor[0];
    private long[] bucketNumel = new long[0];
    private final Map<DType, Tensor> zeros = new EnumMap<>(DType.class);

    // the step
    private boolean open;
    private boolean[] delivered = new boolean[0], present = new boolean[0];
    private long[] filled = new long[0];
    private int next;

    private long steps, plans, launchedDuringBackward, launchedAtFinish;

    public GradientStream(GradientSync sync, long bucketBytes, Transport transport) {
        if (bucketBytes < 1) throw new IllegalArgumentException("bucket size must be >= 1 byte, got " + bucketBytes);
        this.sync = sync;
        this.bucketBytes = bucketBytes;
        this.transport = transport;
    }

    /** Whether a step is between {@link #beginStep} and {@link #finishStep}. */
    public boolean isOpen() { return open; }

    /**
     * Starts a step: plans on first use (collective), clears the fill state and returns the hook for the backward of
     * the step's last micro-batch (leaves that are not among {@code params} are ignored).
     */
    public GradHook beginStep(Map<String, Tensor> params) {
        if (open) throw new IllegalStateException("the previous step's streamed gradient all-reduce was not finished (finishStep)");
        if (!samePlan(params)) plan(params);
        Arrays.fill(delivered, false);
        Arrays.fill(present, false);
        Arrays.fill(filled, 0);
        next = 0;
        open = true;
        return (leaf, grad) -> {
            int[] mine = slotsByParam.get(leaf);
            if (mine != null) for (int i : mine) deliver(i, grad);
        };
    }

    /** The final gradient of parameter {@code name} for this step (null: none on this rank). Once per step. */
    public void gradReady(String name, Tensor grad) {
        Integer i = slotByName.get(name);
        if (i == null) throw new IllegalArgumentException("no parameter '" + name + "' that requires grad in this step's plan");
        deliver(i, grad);
    }

    /** Launches what is left, orders the compute stream after the averages and installs them (see the class doc). */
    public void finishStep() {
        requireOpen();
        for (int i = 0; i < slots.length; i++) {
            if (delivered[i]) continue;
            // not reported: not reached by the last backward, but it may hold a gradient accumulated by an earlier
            // micro-batch (or none: zeros)
            fill(i, slots[i].param().grad());
            delivered[i] = true;
            filled[slots[i].bucket()] += slots[i].numel();
        }
        int early = next;
        launchReady();
        launchedDuringBackward += early;
        launchedAtFinish += buckets.length - early;
        if (next != buckets.length) throw new IllegalStateException("bucket " + next + " of " + buckets.length + " was not filled");
        transport.await();
        boolean[] any = present.clone();
        if (sync.worldSize() > 1 && any.length > 0) {
            double[] flags = new double[any.length];
            for (int i = 0; i < any.length; i++) flags[i] = any[i] ? 1 : 0;
            flags = sync.allReduceSum(flags);
            for (int i = 0; i < any.length; i++) any[i] = flags[i] > 0;
        }
        for (int i = 0; i < slots.length; i++) slots[i].param().setGrad(any[i] ? view(i) : null);
        open = false;
        steps++;
    }

    /** {steps finished, plans made, buckets launched during backward, buckets launched by finishStep}. */
    public long[] counters() { return new long[] {steps, plans, launchedDuringBackward, launchedAtFinish}; }

    /** Buckets of the current plan. */
    public int bucketCount() { return buckets.length; }

    /** Total bytes of the current plan's buckets. */
    public long bucketBytesTotal() {
        long b = 0;
        for (Tensor t : buckets) b += t.numel() * t.dtype().bytes();
        return b;
    }

    /**
     * Frees the buckets. The caller must have made sure no transport still uses them (the last step finished and
     * its averages were waited for, or the process is going down).
     */
    @Override public void close() {
        for (Tensor b : buckets) b.close();
        for (Tensor z : zeros.values()) z.close();
        buckets = new Tensor[0];
        zeros.clear();
        planned = List.of();
        open = false;
    }

    // ---- internals ----------------------------------------------------------------------------------------------

    private void requireOpen() {
        if (!open) throw new IllegalStateException("no streamed gradient step is open (beginStep)");
    }

    private void deliver(int i, Tensor grad) {
        requireOpen();
        Slot s = slots[i];
        if (delivered[i]) throw new IllegalStateException("the gradient of '" + s.name() + "' was delivered twice in one step");
        fill(i, grad);
        delivered[i] = true;
        filled[s.bucket()] += s.numel();
        launchReady();
    }

    /** Launches, in bucket order, every bucket that is full and whose predecessors are all launched. */
    private void launchReady() {
        while (next < buckets.length && filled[next] == bucketNumel[next]) {
            transport.launch(next, buckets[next]);
            next++;
        }
    }

    /** Copies grad into slot i (queued on the compute stream after the ops that made it), zeros when null. */
    private void fill(int i, Tensor grad) {
        Slot s = slots[i];
        if (grad == null) {
            zero(i);
            return;
        }
        if (!Arrays.equals(grad.shape(), s.shape()))
            throw new IllegalStateException("gradient of '" + s.name() + "' has shape " + Arrays.toString(grad.shape())
                    + ", the parameter " + Arrays.toString(s.shape()));
        Tensor v = view(i);
        v.backend().assign(v, grad);
        present[i] = true;
    }

    private void zero(int i) {
        Tensor v = flat(i);
        Tensor z = zeros.get(v.dtype());
        v.backend().assign(v, z.expand(slots[i].numel()));
    }

    private Tensor flat(int i) {
        Slot s = slots[i];
        return buckets[s.bucket()].slice(0, s.offset(), s.offset() + s.numel());
    }

    private Tensor view(int i) { return flat(i).reshape(slots[i].shape()); }

    private boolean samePlan(Map<String, Tensor> params) {
        if (planned.isEmpty() || params.size() != planned.size()) return false;
        int k = 0;
        for (Map.Entry<String, Tensor> e : params.entrySet()) {
            Map.Entry<String, Tensor> p = planned.get(k++);
            if (!p.getKey().equals(e.getKey()) || p.getValue() != e.getValue()) return false;
        }
        return true;
    }

    private void plan(Map<String, Tensor> params) {
        // the old buckets' last averages were waited for on the compute stream (finishStep), and frees are ordered on
        // that stream, so freeing them now is safe
        close();
        List<Map.Entry<String, Tensor>> entries = new ArrayList<>(params.entrySet());
        BucketPacker packer = new BucketPacker(bucketBytes);
        List<Slot> planSlots = new ArrayList<>();
        Backend be = null;
        for (int k = entries.size() - 1; k >= 0; k--) {
            String name = entries.get(k).getKey();
            Tensor p = entries.get(k).getValue();
            if (!p.requiresGrad()) continue;
            if (be == null) be = p.backend();
            else if (p.backend() != be) throw new IllegalArgumentException("parameter '" + name + "' is on " + p.device() + ", others on " + be.device());
            int[] at = packer.place(name, p.dtype(), p.numel());
            planSlots.add(new Slot(name, p, at[0], at[1], (int) p.numel(), p.shape()));
        }
        List<DType> types = new ArrayList<>();
        for (int b = 0; b < packer.buckets(); b++) types.add(packer.type(b));
        agree(planSlots, types);

        slots = planSlots.toArray(new Slot[0]);
        slotByName.clear();
        slotsByParam.clear();
        for (int i = 0; i < slots.length; i++) {
            slotByName.put(slots[i].name(), i);
            int[] prev = slotsByParam.get(slots[i].param());
            int[] now = prev == null ? new int[1] : Arrays.copyOf(prev, prev.length + 1);
            now[now.length - 1] = i;
            slotsByParam.put(slots[i].param(), now);
        }
        Backend backend = be;
        buckets = new Tensor[types.size()];
        bucketNumel = new long[types.size()];
        for (int b = 0; b < buckets.length; b++) {
            DType t = packer.type(b);
            int n = packer.size(b);
            buckets[b] = MemoryScope.outside(() -> backend.zeros(t, n));
            bucketNumel[b] = n;
            zeros.computeIfAbsent(t, d -> MemoryScope.outside(() -> backend.zeros(d, 1)));
        }
        delivered = new boolean[slots.length];
        present = new boolean[slots.length];
        filled = new long[buckets.length];
        planned = List.copyOf(entries);
        plans++;
    }

    /**
     * One collective: every rank learns rank 0's (hash, bucket count) and the sums of everyone's values and squares,
     * so sum((x - x0)^2) over the ranks, the same number on every rank, is zero exactly when all plans agree (20-bit
     * values keep every sum exact in a double for up to 4096 ranks).
     */
    private void agree(List<Slot> planSlots, List<DType> types) {
        long h = 0x9E3779B97F4A7C15L;
        for (Slot s : planSlots) {
            h = mix(h ^ s.name().hashCode());
            h = mix(h ^ ((long) s.bucket() << 32 | s.offset()));
            h = mix(h ^ s.numel());
            h = mix(h ^ types.get(s.bucket()).ordinal());
        }
        long[] mine = {h & 0xFFFFF, types.size() & 0xFFFFF};
        if (sync.worldSize() == 1) return;
        double[] v = new double[3 * mine.length];
        for (int j = 0; j < mine.length; j++) {
            v[3 * j] = sync.isRoot() ? mine[j] : 0;
            v[3 * j + 1] = mine[j];
            v[3 * j + 2] = (double) mine[j] * mine[j];
        }
        double[] r = sync.allReduceSum(v);
        long w = sync.worldSize();
        for (int j = 0; j < mine.length; j++) {
            long x0 = (long) r[3 * j], sum = (long) r[3 * j + 1], sq = (long) r[3 * j + 2];
            if (sq - 2 * x0 * sum + w * x0 * x0 != 0)
                throw new IllegalStateException("the ranks planned different gradient buckets (" + (j == 0 ? "plan hash" : "bucket count")
                        + " differs from rank 0's; this rank: " + planSlots.size() + " parameters in " + types.size()
                        + " buckets): every rank must train the same model with the same parameter order");
        }
    }

    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
