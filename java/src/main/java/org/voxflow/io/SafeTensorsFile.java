package org.voxflow.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A validated, memory-mapped safetensors file.
 *
 * <p>Layout: 8-byte little-endian header length N, N bytes of UTF-8 JSON header, then the data
 * buffer; {@code data_offsets} are relative to the data buffer. {@link #open} checks the whole
 * header against the file size and throws {@link SafeTensorsException} for anything malformed,
 * so every accessor afterwards reads exactly the bytes the header promises. Layout policy, as in
 * the reference implementation: the tensors must tile the data buffer exactly, with no overlaps,
 * no gaps and no trailing bytes. Refusing gaps is what catches a header length that drifted into
 * the header's space padding, which would otherwise shift every tensor silently.
 *
 * <p>Mappings are made at open and the file channel is closed right away; {@link #close} only
 * makes this object unusable. Buffers already handed out stay valid until garbage collected (the
 * JDK offers no deterministic unmap for {@code --release 21}). Truncating the file while it is
 * mapped makes later reads fail with an {@link InternalError}, as for any mapped file.
 *
 * <p>Thread-safe for concurrent reads: every returned buffer is a fresh view.
 */
public final class SafeTensorsFile implements AutoCloseable {
    /** Headers above this are refused as absurd (the limit of the reference implementation). */
    public static final long MAX_HEADER_BYTES = 100_000_000L;
    /** Longest array the typed accessors create (the usual VM array limit). */
    public static final int MAX_ARRAY_LENGTH = Integer.MAX_VALUE - 8;

    private final Path path;
    private final SafeTensorsHeader header;
    private final Map<String, SafeTensorInfo> byName = new LinkedHashMap<>();
    private final MappedData data;
    private volatile boolean closed;

    private SafeTensorsFile(Path path, SafeTensorsHeader header, MappedData data) {
        this.path = path;
        this.header = header;
        this.data = data;
        for (SafeTensorInfo t : header.tensors) byName.put(t.name(), t);
    }

    /**
     * Opens, validates and maps a file.
     *
     * @throws SafeTensorsException if the file is not a well-formed safetensors file
     * @throws IOException if it cannot be read
     */
    public static SafeTensorsFile open(Path path) throws IOException {
        return open(path, MappedData.DEFAULT_CHUNK_BYTES);
    }

    /** As {@link #open(Path)} with a smaller mapping chunk, so tests can cover the &gt; 2 GB code paths with small files. */
    static SafeTensorsFile open(Path path, long chunkBytes) throws IOException {
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long fileSize = ch.size();
            if (fileSize < 8) {
                throw new SafeTensorsException(path, null, "file is " + fileSize + " bytes, shorter than the 8-byte header length");
            }
            long n = readFully(path, ch, 0, 8).getLong();
            // Compare unsigned: a u64 above Long.MAX_VALUE reads as negative.
            if (Long.compareUnsigned(n, MAX_HEADER_BYTES) > 0) {
                throw new SafeTensorsException(path, null, "header length " + Long.toUnsignedString(n)
                        + " exceeds the " + MAX_HEADER_BYTES + "-byte limit");
            }
            if (n > fileSize - 8) {
                throw new SafeTensorsException(path, null, "header length " + n + " is beyond the end of the "
                        + fileSize + "-byte file");
            }
            long dataStart = 8 + n;
            SafeTensorsHeader header = SafeTensorsHeader.parse(path, readFully(path, ch, 8, (int) n), fileSize - dataStart);
            MappedData data = new MappedData(ch, dataStart, fileSize - dataStart, chunkBytes, header.tensors);
            return new SafeTensorsFile(path, header, data);
        }
    }

    private static ByteBuffer readFully(Path path, FileChannel ch, long position, int size) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
        while (buf.hasRemaining()) {
            if (ch.read(buf, position + buf.position()) < 0) {
                throw new SafeTensorsException(path, null, "file ended while reading the header (changed while opening?)");
            }
        }
        return buf.flip();
    }

    public Path path() { return path; }

    /** Tensor names ordered by data offset (the order of their bytes in the file). */
    public List<String> names() {
        ensureOpen();
        return Collections.unmodifiableList(new ArrayList<>(byName.keySet()));
    }

    /** All entries ordered by data offset. */
    public List<SafeTensorInfo> infos() {
        ensureOpen();
        return header.tensors;
    }

    public boolean contains(String name) { return byName.containsKey(name); }

    /** The header entry; {@link SafeTensorsException} when there is no such tensor. */
    public SafeTensorInfo info(String name) {
        ensureOpen();
        SafeTensorInfo t = byName.get(name);
        if (t == null) throw new SafeTensorsException(path, name, "no such tensor");
        return t;
    }

    /** The {@code __metadata__} map (empty when absent), unmodifiable, in header order. */
    public Map<String, String> metadata() {
        ensureOpen();
        return header.metadata;
    }

    /**
     * The tensor's bytes as a fresh read-only little-endian buffer (position 0, limit = byte size),
     * backed by the mapping. Tensors of 2 GB or more cannot be one buffer: use {@link #readBytes}.
     */
    public ByteBuffer bytes(String name) {
        SafeTensorInfo t = info(name);
        if (!data.hasView(t)) {
            throw new SafeTensorsException(path, name, t.byteSize() + " bytes do not fit one ByteBuffer (limit "
                    + data.chunkBytes() + "); read it in slices with readBytes");
        }
        return data.view(t);
    }

    /**
     * Copies the tensor's bytes from {@code offset} (relative to the tensor) into {@code dst}, until
     * dst is full or the tensor ends; works for any tensor size.
     *
     * @return the number of bytes copied (0 when offset is the tensor's size)
     * @throws IllegalArgumentException if offset is negative or beyond the tensor's size
     */
    public int readBytes(String name, long offset, ByteBuffer dst) {
        SafeTensorInfo t = info(name);
        if (offset < 0 || offset > t.byteSize()) {
            throw new IllegalArgumentException("offset " + offset + " outside tensor '" + name + "' of " + t.byteSize() + " bytes");
        }
        return data.read(t.begin() + offset, t.end(), dst);
    }

    /** F32, F16 or BF16 elements as floats (exact widening). */
    public float[] floats(String name) {
        return TensorArrays.floats(this, data, info(name));
    }

    /** F64, F32, F16 or BF16 elements as doubles (exact widening). */
    public double[] doubles(String name) {
        return TensorArrays.doubles(this, data, info(name));
    }

    /** I32, I16, I8 or U8 elements as ints, and I64 narrowed with a range check. */
    public int[] ints(String name) {
        return TensorArrays.ints(this, data, info(name));
    }

    /** I64, I32, I16, I8 or U8 elements as longs. */
    public long[] longs(String name) {
        return TensorArrays.longs(this, data, info(name));
    }

    /** The raw 16-bit elements of an F16, BF16 or I16 tensor (e.g. to keep bf16 weights unconverted). */
    public short[] shorts(String name) {
        return TensorArrays.shorts(this, data, info(name));
    }

    /** BOOL elements; a byte other than 0 or 1 is an error rather than silently true. */
    public boolean[] booleans(String name) {
        return TensorArrays.booleans(this, data, info(name));
    }

    /** Makes this object unusable; see the class comment for what happens to mappings. */
    @Override
    public void close() { closed = true; }

    void ensureOpen() {
        if (closed) throw new IllegalStateException("safetensors file " + path + " is closed");
    }

    @Override
    public String toString() {
        return "SafeTensorsFile[" + path + ", " + byName.size() + " tensors]";
    }
}
