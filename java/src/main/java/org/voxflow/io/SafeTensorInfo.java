package org.voxflow.io;

import java.util.Arrays;

/**
 * One tensor entry of a safetensors header. {@code begin}/{@code end} are byte offsets relative to
 * the start of the data buffer (the byte right after the header), as in the file.
 * The shape array is copied in and out, so instances are immutable.
 */
public record SafeTensorInfo(String name, SafeDType dtype, long[] shape, long begin, long end) {
    public SafeTensorInfo {
        shape = shape.clone();
    }

    @Override
    public long[] shape() { return shape.clone(); }

    /** Rank (number of dimensions); 0 for a scalar. */
    public int rank() { return shape.length; }

    /** Product of the dimensions (1 for a scalar). Validated on open not to overflow. */
    public long elementCount() {
        long n = 1;
        for (long d : shape) n *= d;
        return n;
    }

    /** {@code end - begin}. */
    public long byteSize() { return end - begin; }

    @Override
    public boolean equals(Object o) {
        return o instanceof SafeTensorInfo t && name.equals(t.name) && dtype == t.dtype
                && Arrays.equals(shape, t.shape) && begin == t.begin && end == t.end;
    }

    @Override
    public int hashCode() {
        return (name.hashCode() * 31 + dtype.hashCode()) * 31 + Arrays.hashCode(shape) + Long.hashCode(begin * 31 + end);
    }

    @Override
    public String toString() {
        return name + " " + dtype + Arrays.toString(shape) + " @[" + begin + ", " + end + ")";
    }
}
