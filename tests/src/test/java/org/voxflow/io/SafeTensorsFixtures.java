package org.voxflow.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** Builders for hand-made (possibly malformed) safetensors files. */
final class SafeTensorsFixtures {
    private SafeTensorsFixtures() {}

    /** Length prefix, header bytes exactly as given (no padding), then data. */
    static byte[] raw(long headerLength, byte[] header, byte[] data) {
        ByteBuffer b = ByteBuffer.allocate(8 + header.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        return b.putLong(headerLength).put(header).put(data).array();
    }

    /** A file whose header is the given text, with a correct length prefix. */
    static byte[] file(String header, byte[] data) {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        return raw(h.length, h, data);
    }

    static Path write(Path dir, String name, byte[] content) throws IOException {
        Path p = dir.resolve(name);
        Files.deleteIfExists(p); // a fresh inode, so mappings of an earlier version are never disturbed
        Files.write(p, content);
        return p;
    }

    /** One header entry, e.g. {@code entry("w", "F32", "[2]", 0, 8)}. */
    static String entry(String name, String dtype, String shape, long begin, long end) {
        return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":[" + begin + "," + end + "]}";
    }

    static byte[] bytes(int n) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) b[i] = (byte) (i * 31 + 7);
        return b;
    }

    static byte[] toArray(ByteBuffer b) {
        byte[] out = new byte[b.remaining()];
        b.duplicate().get(out);
        return out;
    }
}
