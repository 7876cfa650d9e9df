package org.voxflow.distill;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import org.voxflow.tensor.DType;

/**
 * The packing rule of the gradient buckets, shared by the after-backward all-reduce ({@link GradientBuckets}) and the
 * overlapped one ({@link GradientStream}): tensors are placed in the order given, one open bucket per dtype, closed
 * when the next tensor would take it past {@code bucketBytes} (a tensor larger than that gets a bucket of its own).
 * The layout depends only on the sequence of (dtype, size), so every rank derives the same buckets.
 */
final class BucketPacker {
    private final long bucketBytes;
    private final Map<DType, Integer> open = new EnumMap<>(DType.class);
    private final List<DType> types = new ArrayList<>();
    private final List<Long> sizes = new ArrayList<>();

    BucketPacker(long bucketBytes) { this.bucketBytes = bucketBytes; }

    /** {bucket, offset} of the next n elements of type t; name is the tensor's, for the error message. */
    int[] place(String name, DType t, long n) {
        Integer b = open.get(t);
        long used = b == null ? 0 : sizes.get(b);
        if (b == null || (used > 0 && (used + n) * t.bytes() > bucketBytes)) {
            b = types.size();
            types.add(t);
            sizes.add(0L);
            used = 0;
        }
        if (used + n > Integer.MAX_VALUE)
            throw new IllegalArgumentException("gradient bucket over 2^31 elements at '" + name + "'; use smaller buckets");
        open.put(t, b);
        sizes.set(b, used + n);
        return new int[] {b, (int) used};
    }

    int buckets() { return types.size(); }

    DType type(int bucket) { return types.get(bucket); }

    /** Elements in the bucket (an int: place refuses more than 2^31). */
    int size(int bucket) { return Math.toIntExact(sizes.get(bucket)); }
}
