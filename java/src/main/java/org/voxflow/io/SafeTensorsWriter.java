package org.voxflow.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import org.voxflow.tensor.DType;

/**
 * Builds a safetensors file from tensors and metadata.
 *
 * <p>Tensors are laid out contiguously in the order added (no gaps, as the reference reader
 * requires), the header is padded with spaces to a multiple of 8 bytes so the data buffer starts
 * 8-aligned, and {@code __metadata__} is written first and only when non-empty. Entries keep a
 * reference to the caller's arrays/buffers and are encoded in small pieces during {@link #write},
 * so the file is never held in memory; don't modify them until then.
 *
 * <p>Entries are checked when added ({@link IllegalArgumentException}: duplicate or reserved name,
 * negative dimension, data size not matching shape and dtype). {@link #write} goes to a temporary
 * file next to the target and renames it into place atomically, so readers see the old file or
 * the complete new one, and a failed write leaves no temporary file behind.
 */
public final class SafeTensorsWriter {
    /** Streams exactly the tensor's byte size, little-endian, into {@code out}. */
    @FunctionalInterface
    public interface Source {
        void writeTo(WritableByteChannel out) throws IOException;
    }

    /** Encodes elements {@code [from, from + n)} into {@code buf}, which has room for them. */
    private interface Encoder {
        void encode(ByteBuffer buf, int from, int n);
    }

    private record Entry(String name, SafeDType dtype, long[] shape, long bytes, Source source) {}

    private static final int SCRATCH_BYTES = 1 << 16;

    private final Map<String, Entry> entries = new LinkedHashMap<>();
    private final Map<String, String> metadata = new LinkedHashMap<>();

    /** Adds (or replaces) a {@code __metadata__} entry. */
    public SafeTensorsWriter metadata(String key, String value) {
        metadata.put(wellFormed(key, "metadata key"), wellFormed(value, "metadata value"));
        return this;
    }

    /** Raw little-endian bytes: {@code data.remaining()} must equal the tensor's byte size. Position of {@code data} is not changed. */
    public SafeTensorsWriter add(String name, SafeDType dtype, long[] shape, ByteBuffer data) {
        ByteBuffer copy = data.duplicate();
        long bytes = checkedBytes(name, dtype, shape);
        if (copy.remaining() != bytes) {
            throw new IllegalArgumentException("tensor '" + name + "': buffer has " + copy.remaining() + " bytes, "
                    + dtype + Arrays.toString(shape) + " needs " + bytes);
        }
        return put(name, dtype, shape, bytes, out -> {
            ByteBuffer b = copy.duplicate();
            while (b.hasRemaining()) out.write(b);
        });
    }

    /** A streamed tensor of any size; the source must write exactly the byte size of {@code dtype} x {@code shape}. */
    public SafeTensorsWriter add(String name, SafeDType dtype, long[] shape, Source source) {
        return put(name, dtype, shape, checkedBytes(name, dtype, shape), requireNonNull(source, "source"));
    }

    /** Floats stored as F32, F64 (exact), or F16/BF16 (rounded to nearest even). */
    public SafeTensorsWriter addFloats(String name, SafeDType dtype, long[] shape, float[] values) {
        Encoder e = switch (dtype) {
            case F32 -> (b, from, n) -> b.asFloatBuffer().put(values, from, n);
            case F64 -> (b, from, n) -> { for (int i = 0; i < n; i++) b.putDouble(8 * i, values[from + i]); };
            case F16 -> (b, from, n) -> { for (int i = 0; i < n; i++) b.putShort(2 * i, DType.toF16(values[from + i])); };
            case BF16 -> (b, from, n) -> { for (int i = 0; i < n; i++) b.putShort(2 * i, DType.toBf16(values[from + i])); };
            default -> throw new IllegalArgumentException("tensor '" + name + "': floats cannot be stored as " + dtype);
        };
        return addArray(name, dtype, shape, values.length, e);
    }

    /** F32 floats. */
    public SafeTensorsWriter addFloats(String name, long[] shape, float[] values) {
        return addFloats(name, SafeDType.F32, shape, values);
    }

    /** I32 ints. */
    public SafeTensorsWriter addInts(String name, long[] shape, int[] values) {
        return addArray(name, SafeDType.I32, shape, values.length, (b, from, n) -> b.asIntBuffer().put(values, from, n));
    }

    /** I64 longs. */
    public SafeTensorsWriter addLongs(String name, long[] shape, long[] values) {
        return addArray(name, SafeDType.I64, shape, values.length, (b, from, n) -> b.asLongBuffer().put(values, from, n));
    }

    /** Raw 16-bit elements (bits) of an F16, BF16 or I16 tensor. */
    public SafeTensorsWriter addShorts(String name, SafeDType dtype, long[] shape, short[] values) {
        if (dtype.bytes() != 2) throw new IllegalArgumentException("tensor '" + name + "': shorts cannot be stored as " + dtype);
        return addArray(name, dtype, shape, values.length, (b, from, n) -> b.asShortBuffer().put(values, from, n));
    }

    /** Raw bytes of a U8, I8 or BOOL tensor (BOOL bytes should be 0 or 1; see {@link #addBooleans}). */
    public SafeTensorsWriter addBytes(String name, SafeDType dtype, long[] shape, byte[] values) {
        if (dtype.bytes() != 1) throw new IllegalArgumentException("tensor '" + name + "': bytes cannot be stored as " + dtype);
        return addArray(name, dtype, shape, values.length, (b, from, n) -> b.put(values, from, n));
    }

    /** A BOOL tensor, one byte 0/1 per element. */
    public SafeTensorsWriter addBooleans(String name, long[] shape, boolean[] values) {
        return addArray(name, SafeDType.BOOL, shape, values.length,
                (b, from, n) -> { for (int i = 0; i < n; i++) b.put(i, (byte) (values[from + i] ? 1 : 0)); });
    }

    /** Names added so far, in file order. */
    public List<String> names() { return new ArrayList<>(entries.keySet()); }

    /**
     * Writes the file atomically (temporary file in the same directory, then an atomic rename
     * replacing any existing file). On failure the target is untouched and the temporary deleted.
     *
     * @throws SafeTensorsException if a {@link Source} writes the wrong number of bytes
     * @throws IOException on I/O failure, or if the file system cannot rename atomically
     */
    public void write(Path path) throws IOException {
        byte[] header = header();
        Path dir = path.toAbsolutePath().getParent();
        // Not Files.createTempFile: that makes the file owner-only (0600), which the rename would keep.
        Path tmp = dir.resolve("." + path.getFileName() + "." + Long.toUnsignedString(ThreadLocalRandom.current().nextLong(), 36) + ".tmp");
        // Opened before the cleanup scope: if CREATE_NEW fails, the existing file is not ours to delete.
        FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        boolean done = false;
        try {
            try (ch) {
                ByteBuffer prefix = ByteBuffer.allocate(8 + header.length).order(ByteOrder.LITTLE_ENDIAN);
                prefix.putLong(header.length).put(header).flip();
                while (prefix.hasRemaining()) ch.write(prefix);
                for (Entry e : entries.values()) writeData(path, ch, e);
                ch.force(true); // durable before the rename makes it visible
            }
            Files.move(tmp, path, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            done = true;
        } finally {
            if (!done) deleteQuietly(tmp);
        }
    }

    /** Cleanup must not replace the exception that caused it. */
    private static void deleteQuietly(Path tmp) {
        try {
            Files.deleteIfExists(tmp);
        } catch (IOException ignored) {
            // best effort: the original failure is what the caller needs to see
        }
    }

    /** JSON header padded with spaces to a multiple of 8 bytes. */
    private byte[] header() {
        Map<String, Object> root = new LinkedHashMap<>();
        if (!metadata.isEmpty()) root.put(SafeTensorsHeader.METADATA_KEY, metadata);
        long offset = 0;
        for (Entry e : entries.values()) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("dtype", e.dtype.headerName());
            m.put("shape", e.shape);
            m.put("data_offsets", new long[] {offset, offset + e.bytes});
            root.put(e.name, m);
            offset += e.bytes;
        }
        byte[] json = Json.write(root).getBytes(StandardCharsets.UTF_8);
        int padded = (json.length + 7) & ~7;
        byte[] out = Arrays.copyOf(json, padded);
        Arrays.fill(out, json.length, padded, (byte) ' ');
        return out;
    }

    /** Runs the entry's source through a counting channel so a wrong size fails instead of shifting every later tensor. */
    private static void writeData(Path path, FileChannel ch, Entry e) throws IOException {
        long[] written = {0};
        WritableByteChannel counting = new WritableByteChannel() {
            @Override public int write(ByteBuffer src) throws IOException {
                int n = ch.write(src);
                written[0] += n;
                return n;
            }
            @Override public boolean isOpen() { return ch.isOpen(); }
            @Override public void close() {} // the writer owns the channel
        };
        e.source.writeTo(counting);
        if (written[0] != e.bytes) {
            throw new SafeTensorsException(path, e.name, "source wrote " + written[0] + " bytes, "
                    + e.dtype + Arrays.toString(e.shape) + " needs " + e.bytes);
        }
    }

    private SafeTensorsWriter addArray(String name, SafeDType dtype, long[] shape, int length, Encoder encoder) {
        long bytes = checkedBytes(name, dtype, shape);
        int size = dtype.bytes();
        if ((long) length * size != bytes) {
            throw new IllegalArgumentException("tensor '" + name + "': " + length + " values given, "
                    + dtype + Arrays.toString(shape) + " needs " + bytes / size);
        }
        return put(name, dtype, shape, bytes, out -> {
            ByteBuffer buf = ByteBuffer.allocate(SCRATCH_BYTES).order(ByteOrder.LITTLE_ENDIAN);
            int perPiece = SCRATCH_BYTES / size;
            for (int from = 0; from < length; from += perPiece) {
                int n = Math.min(perPiece, length - from);
                buf.clear();
                encoder.encode(buf, from, n); // absolute puts / views: position untouched
                buf.position(0).limit(n * size);
                while (buf.hasRemaining()) out.write(buf);
            }
        });
    }

    private SafeTensorsWriter put(String name, SafeDType dtype, long[] shape, long bytes, Source source) {
        entries.put(name, new Entry(name, dtype, shape.clone(), bytes, source));
        return this;
    }

    /** Validates name and shape, returning the byte size. */
    private long checkedBytes(String name, SafeDType dtype, long[] shape) {
        wellFormed(name, "tensor name");
        requireNonNull(dtype, "dtype");
        if (name.equals(SafeTensorsHeader.METADATA_KEY)) throw new IllegalArgumentException("tensor name " + name + " is reserved");
        if (entries.containsKey(name)) throw new IllegalArgumentException("tensor '" + name + "' added twice");
        long bytes = dtype.bytes();
        boolean empty = false;
        for (long d : shape) {
            if (d < 0) throw new IllegalArgumentException("tensor '" + name + "': negative dimension in " + Arrays.toString(shape));
            empty |= d == 0;
        }
        if (empty) return 0;
        try {
            for (long d : shape) bytes = Math.multiplyExact(bytes, d);
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException("tensor '" + name + "': shape " + Arrays.toString(shape) + " overflows a byte count");
        }
        return bytes;
    }

    /** Header strings must encode to UTF-8, so refuse unpaired surrogates now rather than at write. */
    private static String wellFormed(String s, String what) {
        requireNonNull(s, what);
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) i++;
            else if (Character.isSurrogate(c)) throw new IllegalArgumentException(what + " has an unpaired surrogate at index " + i);
        }
        return s;
    }

    private static <T> T requireNonNull(T v, String what) {
        if (v == null) throw new NullPointerException(what + " is null");
        return v;
    }
}
