package org.voxflow.distill;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.voxflow.tensor.Backend;
import org.voxflow.tensor.Tensor;

/**
 * The gradient all-reduce of data-parallel training, up to the transport: gradients are packed, in parameter order,
 * into flat per-dtype buckets of at most {@code bucketBytes} (a larger parameter gets a bucket of its own), the
 * transport averages each bucket in place over the ranks, and every parameter's gradient becomes a view of its slice
 * of a bucket (no copy back). Few large collectives instead of one per parameter, as PyTorch DDP's buckets.
 *
 * <p>Every rank must build the same buckets. Parameter order, shapes and dtypes are the same on every replica; which
 * parameters have a gradient is agreed first ({@link GradientSync#allReduceSum} of presence flags): a parameter
 * with a gradient on some ranks contributes zeros on the others, one with a gradient on no rank is left out and
 * keeps a null gradient (as single-process training leaves it).
 *
 * <p>Buckets are allocated in the caller's memory scope (the trainer's step scope), so they die with the step's
 * gradients. Packing runs as ordinary backend copies, queued on the compute stream after backward.
 */
public final class GradientBuckets {
    /** PyTorch DDP's default bucket_cap_mb. */
    public static final long DEFAULT_BUCKET_BYTES = 25L << 20;

    private record Slot(Tensor param, int bucket, int offset, int[] shape) {}

    private final List<Tensor> buckets;
    private final List<Slot> slots;

    private GradientBuckets(List<Tensor> buckets, List<Slot> slots) {
        this.buckets = buckets;
        this.slots = slots;
    }

    /**
     * Averages the gradients of {@code params} over the ranks of {@code sync}: agrees on presence (skipped with one
     * rank), packs, calls {@code averageInPlace} with the buckets (a no-op is right for a world of one) and points
     * each gradient at its slice.
     */
    public static void allReduce(GradientSync sync, Map<String, Tensor> params, long bucketBytes,
                                 Consumer<List<Tensor>> averageInPlace) {
        boolean[] present = agreePresence(sync, params);
        GradientBuckets b = pack(params, present, bucketBytes);
        if (b.buckets.isEmpty()) return;
        averageInPlace.accept(b.buckets());
        b.unpack();
    }

    /** Which parameters have a gradient on at least one rank, in map order. */
    static boolean[] agreePresence(GradientSync sync, Map<String, Tensor> params) {
        double[] flags = new double[params.size()];
        int i = 0;
        for (Tensor p : params.values()) flags[i++] = p.grad() != null ? 1 : 0;
        if (sync.worldSize() > 1) flags = sync.allReduceSum(flags);
        boolean[] present = new boolean[flags.length];
        for (int j = 0; j < flags.length; j++) present[j] = flags[j] > 0;
        return present;
    }

    /** Packs the gradients of the present parameters (zeros where this rank has none) into buckets. */
    static GradientBuckets pack(Map<String, Tensor> params, boolean[] present, long bucketBytes) {
        if (bucketBytes < 1) throw new IllegalArgumentException("bucket size must be >= 1 byte, got " + bucketBytes);
        if (present.length != params.size())
            throw new IllegalArgumentException(present.length + " presence flags for " + params.size() + " parameters");
        BucketPacker packer = new BucketPacker(bucketBytes); // slots in parameter order
        List<Slot> slots = new ArrayList<>();
        List<Tensor> grads = new ArrayList<>();
        Backend be = null;
        int i = 0;
        for (Map.Entry<String, Tensor> e : params.entrySet()) {
            Tensor p = e.getValue();
            if (!present[i++]) continue;
            Tensor g = p.grad();
            be = p.backend();
            if (g == null) g = be.zeros(p.dtype(), p.shape());
            else if (!Arrays.equals(g.shape(), p.shape()))
                throw new IllegalStateException("gradient of '" + e.getKey() + "' has shape " + Arrays.toString(g.shape())
                        + ", the parameter " + Arrays.toString(p.shape()));
            int[] at = packer.place(e.getKey(), g.dtype(), g.numel());
            slots.add(new Slot(p, at[0], at[1], g.shape()));
            grads.add(g);
        }
        List<Tensor> buckets = new ArrayList<>();
        for (int k = 0; k < packer.buckets(); k++) buckets.add(be.zeros(packer.type(k), packer.size(k)));
        for (int k = 0; k < slots.size(); k++) {
            Slot s = slots.get(k);
            Tensor g = grads.get(k);
            be.assign(view(buckets.get(s.bucket()), s.offset(), s.shape()), g);
        }
        return new GradientBuckets(buckets, slots);
    }

    /** The flat buckets, in the order every rank builds them. */
    List<Tensor> buckets() { return List.copyOf(buckets); }

    /** Points every packed parameter's gradient at its slice of its bucket. */
    void unpack() {
        for (Slot s : slots) s.param().setGrad(view(buckets.get(s.bucket()), s.offset(), s.shape()));
    }

    private static Tensor view(Tensor bucket, int offset, int[] shape) {
        int n = 1;
        for (int d : shape) n *= d;
        return bucket.slice(0, offset, offset + n).reshape(shape);
    }
}
