package org.voxflow.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The data buffer of a safetensors file, memory-mapped in chunks because one
 * {@link MappedByteBuffer} cannot exceed 2 GB.
 *
 * <p>Chunk {@code i} covers data bytes {@code [i*chunkBytes, (i+1)*chunkBytes)}. A tensor inside one
 * chunk is a slice of it. A tensor that straddles a chunk boundary but is no larger than
 * {@code chunkBytes} gets its own mapping, made up front so the channel can be closed after
 * opening. Larger tensors have no single view and are read through {@link #read}. In production
 * {@code chunkBytes} is just under 2 GB, so "no larger than a chunk" is "fits one ByteBuffer";
 * tests shrink it to exercise every path with tiny files.
 */
final class MappedData {
    /** Largest mapping; a little under Integer.MAX_VALUE like the JDK's own array limit. */
    static final long DEFAULT_CHUNK_BYTES = Integer.MAX_VALUE - 8;

    private final long length;
    private final long chunkBytes;
    private final ByteBuffer[] chunks;
    private final Map<String, ByteBuffer> straddlers = new HashMap<>();

    /** Maps {@code length} bytes of {@code channel} starting at {@code start}. */
    MappedData(FileChannel channel, long start, long length, long chunkBytes, List<SafeTensorInfo> tensors) throws IOException {
        if (chunkBytes < 1 || chunkBytes > DEFAULT_CHUNK_BYTES) throw new IllegalArgumentException("chunkBytes " + chunkBytes);
        this.length = length;
        this.chunkBytes = chunkBytes;
        int n = Math.toIntExact((length + chunkBytes - 1) / chunkBytes);
        chunks = new ByteBuffer[n];
        for (int i = 0; i < n; i++) {
            long off = i * chunkBytes;
            chunks[i] = map(channel, start + off, Math.min(chunkBytes, length - off));
        }
        for (SafeTensorInfo t : tensors) {
            long size = t.byteSize();
            if (size > 0 && size <= chunkBytes && chunkOf(t.begin()) != chunkOf(t.end() - 1)) {
                straddlers.put(t.name(), map(channel, start + t.begin(), size));
            }
        }
    }

    private static ByteBuffer map(FileChannel channel, long position, long size) throws IOException {
        return channel.map(FileChannel.MapMode.READ_ONLY, position, size).order(ByteOrder.LITTLE_ENDIAN);
    }

    private int chunkOf(long offset) { return (int) (offset / chunkBytes); }

    long chunkBytes() { return chunkBytes; }

    /** True when {@link #view} can return the whole tensor as one buffer. */
    boolean hasView(SafeTensorInfo t) { return t.byteSize() <= chunkBytes; }

    /** A fresh read-only little-endian buffer over exactly the tensor's bytes; requires {@link #hasView}. */
    ByteBuffer view(SafeTensorInfo t) {
        int size = (int) t.byteSize();
        if (size == 0) return ByteBuffer.allocate(0).order(ByteOrder.LITTLE_ENDIAN).asReadOnlyBuffer();
        ByteBuffer own = straddlers.get(t.name());
        ByteBuffer slice = own != null
                ? own.duplicate()
                : chunks[chunkOf(t.begin())].slice((int) (t.begin() % chunkBytes), size);
        // slice()/duplicate() reset the byte order to big-endian.
        return slice.asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN);
    }

    /**
     * Copies data bytes starting at absolute data offset {@code from} into {@code dst} until dst is
     * full or {@code limit} is reached; returns the count. Crosses chunk boundaries as needed.
     */
    int read(long from, long limit, ByteBuffer dst) {
        long pos = from;
        long stop = Math.min(limit, Math.min(length, from + dst.remaining()));
        while (pos < stop) {
            int c = chunkOf(pos);
            int within = (int) (pos % chunkBytes);
            int n = (int) Math.min(stop - pos, chunks[c].capacity() - within);
            dst.put(chunks[c].slice(within, n));
            pos += n;
        }
        return (int) (pos - from);
    }
}
