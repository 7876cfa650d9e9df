package org.voxflow.io;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.ShortBuffer;
import java.util.EnumSet;
import java.util.Set;
import org.voxflow.tensor.DType;

/**
 * Decoding of tensor bytes into Java arrays for {@link SafeTensorsFile}'s typed accessors. Every
 * conversion is exact (widening) or range-checked; mismatches are {@link SafeTensorsException}s.
 */
final class TensorArrays {
    /** Scratch size for tensors without a single view: big enough to amortize, small enough to stay in cache. */
    private static final int MAX_SCRATCH = 1 << 20;

    private TensorArrays() {}

    /** Decodes one piece of a tensor whose first element has index {@code first}. */
    private interface Decoder {
        void decode(ByteBuffer piece, int first);
    }

    static float[] floats(SafeTensorsFile f, MappedData data, SafeTensorInfo t) {
        float[] out = new float[length(f, t, EnumSet.of(SafeDType.F32, SafeDType.F16, SafeDType.BF16), "floats")];
        forEachPiece(data, t, (p, first) -> {
            int n = p.remaining() / t.dtype().bytes();
            switch (t.dtype()) {
                case F32 -> p.asFloatBuffer().get(out, first, n);
                case F16 -> { ShortBuffer s = p.asShortBuffer(); for (int i = 0; i < n; i++) out[first + i] = DType.fromF16(s.get(i)); }
                default -> { ShortBuffer s = p.asShortBuffer(); for (int i = 0; i < n; i++) out[first + i] = DType.fromBf16(s.get(i)); }
            }
        });
        return out;
    }

    static double[] doubles(SafeTensorsFile f, MappedData data, SafeTensorInfo t) {
        double[] out = new double[length(f, t, EnumSet.of(SafeDType.F64, SafeDType.F32, SafeDType.F16, SafeDType.BF16), "doubles")];
        forEachPiece(data, t, (p, first) -> {
            int n = p.remaining() / t.dtype().bytes();
            switch (t.dtype()) {
                case F64 -> p.asDoubleBuffer().get(out, first, n);
                case F32 -> { for (int i = 0; i < n; i++) out[first + i] = p.getFloat(4 * i); }
                case F16 -> { for (int i = 0; i < n; i++) out[first + i] = DType.fromF16(p.getShort(2 * i)); }
                default -> { for (int i = 0; i < n; i++) out[first + i] = DType.fromBf16(p.getShort(2 * i)); }
            }
        });
        return out;
    }

    static int[] ints(SafeTensorsFile f, MappedData data, SafeTensorInfo t) {
        int[] out = new int[length(f, t, EnumSet.of(SafeDType.I64, SafeDType.I32, SafeDType.I16, SafeDType.I8, SafeDType.U8), "ints")];
        forEachPiece(data, t, (p, first) -> {
            int n = p.remaining() / t.dtype().bytes();
            switch (t.dtype()) {
                case I32 -> p.asIntBuffer().get(out, first, n);
                case I64 -> {
                    for (int i = 0; i < n; i++) {
                        long v = p.getLong(8 * i);
                        if (v != (int) v) {
                            throw new SafeTensorsException(f.path(), t.name(), "I64 element " + (first + i) + " = " + v + " does not fit an int");
                        }
                        out[first + i] = (int) v;
                    }
                }
                default -> { for (int i = 0; i < n; i++) out[first + i] = (int) integer(p, t.dtype(), i); }
            }
        });
        return out;
    }

    static long[] longs(SafeTensorsFile f, MappedData data, SafeTensorInfo t) {
        long[] out = new long[length(f, t, EnumSet.of(SafeDType.I64, SafeDType.I32, SafeDType.I16, SafeDType.I8, SafeDType.U8), "longs")];
        forEachPiece(data, t, (p, first) -> {
            int n = p.remaining() / t.dtype().bytes();
            if (t.dtype() == SafeDType.I64) p.asLongBuffer().get(out, first, n);
            else for (int i = 0; i < n; i++) out[first + i] = integer(p, t.dtype(), i);
        });
        return out;
    }

    static short[] shorts(SafeTensorsFile f, MappedData data, SafeTensorInfo t) {
        short[] out = new short[length(f, t, EnumSet.of(SafeDType.F16, SafeDType.BF16, SafeDType.I16), "shorts")];
        forEachPiece(data, t, (p, first) -> p.asShortBuffer().get(out, first, p.remaining() / 2));
        return out;
    }

    static boolean[] booleans(SafeTensorsFile f, MappedData data, SafeTensorInfo t) {
        boolean[] out = new boolean[length(f, t, EnumSet.of(SafeDType.BOOL), "booleans")];
        forEachPiece(data, t, (p, first) -> {
            for (int i = 0; i < p.remaining(); i++) {
                byte b = p.get(i);
                if (b != 0 && b != 1) {
                    throw new SafeTensorsException(f.path(), t.name(), "BOOL element " + (first + i) + " is byte " + b + ", not 0 or 1");
                }
                out[first + i] = b == 1;
            }
        });
        return out;
    }

    /** Element {@code i} of an I32/I16/I8/U8 piece, widened. */
    private static long integer(ByteBuffer p, SafeDType d, int i) {
        return switch (d) {
            case I32 -> p.getInt(4 * i);
            case I16 -> p.getShort(2 * i);
            case I8 -> p.get(i);
            case U8 -> p.get(i) & 0xff;
            default -> throw new AssertionError(d);
        };
    }

    /** Checks the dtype is one the accessor converts and the element count fits a Java array. */
    private static int length(SafeTensorsFile f, SafeTensorInfo t, Set<SafeDType> allowed, String what) {
        if (!allowed.contains(t.dtype())) {
            throw new SafeTensorsException(f.path(), t.name(), "dtype " + t.dtype() + " cannot be read as " + what
                    + " (accepted: " + allowed + ")");
        }
        long n = t.elementCount();
        if (n > SafeTensorsFile.MAX_ARRAY_LENGTH) {
            throw new SafeTensorsException(f.path(), t.name(), n + " elements exceed the Java array limit of "
                    + SafeTensorsFile.MAX_ARRAY_LENGTH + "; read it in slices with readBytes");
        }
        return (int) n;
    }

    /**
     * Feeds the tensor to {@code d} in little-endian pieces that each hold whole elements: one
     * zero-copy view when there is one, else consecutive copies through a scratch buffer whose
     * size is a multiple of 8 (so of every element size).
     */
    private static void forEachPiece(MappedData data, SafeTensorInfo t, Decoder d) {
        if (data.hasView(t)) {
            d.decode(data.view(t), 0);
            return;
        }
        int scratchBytes = (int) Math.max(8, Math.min(MAX_SCRATCH, data.chunkBytes() & ~7L));
        ByteBuffer scratch = ByteBuffer.allocate(scratchBytes).order(ByteOrder.LITTLE_ENDIAN);
        int size = t.dtype().bytes();
        for (long off = 0; off < t.byteSize(); ) {
            scratch.clear();
            int n = data.read(t.begin() + off, t.end(), scratch);
            scratch.flip();
            d.decode(scratch, (int) (off / size));
            off += n;
        }
    }
}
