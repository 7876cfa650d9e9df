package org.voxflow.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Atomic replacement, cleanup on failure, and entry checks of SafeTensorsWriter. */
class SafeTensorsWriterTest {
    @TempDir Path dir;

    private List<String> listing() throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    private Path existing() throws IOException {
        Path p = dir.resolve("model.safetensors");
        new SafeTensorsWriter().metadata("v", "1").addFloats("w", new long[] {2}, new float[] {1, 2}).write(p);
        return p;
    }

    @Test
    void writesWithoutLeavingTemporaries() throws IOException {
        Path p = existing();
        assertEquals(List.of("model.safetensors"), listing());
        new SafeTensorsWriter().metadata("v", "2").addInts("i", new long[] {1}, new int[] {5}).write(p);
        assertEquals(List.of("model.safetensors"), listing());
        try (SafeTensorsFile st = SafeTensorsFile.open(p)) {
            assertEquals("2", st.metadata().get("v"));
            assertArrayEquals(new int[] {5}, st.ints("i"));
        }
    }

    @Test
    void failingSourceLeavesExistingFileUntouched() throws IOException {
        Path p = existing();
        byte[] before = Files.readAllBytes(p);
        SafeTensorsWriter w = new SafeTensorsWriter()
                .addFloats("ok", new long[] {1000}, new float[1000])
                .add("bad", SafeDType.F32, new long[] {4}, out -> {
                    out.write(ByteBuffer.allocate(8));
                    throw new IOException("disk on fire");
                });
        IOException e = assertThrows(IOException.class, () -> w.write(p));
        assertEquals("disk on fire", e.getMessage());
        assertArrayEquals(before, Files.readAllBytes(p));
        assertEquals(List.of("model.safetensors"), listing());

        SafeTensorsWriter unchecked = new SafeTensorsWriter().add("bad", SafeDType.U8, new long[] {1}, out -> {
            throw new IllegalStateException("bug in source");
        });
        assertThrows(IllegalStateException.class, () -> unchecked.write(p));
        assertArrayEquals(before, Files.readAllBytes(p));
        assertEquals(List.of("model.safetensors"), listing());
    }

    @Test
    void sourceWritingWrongSizeIsRefused() throws IOException {
        Path p = existing();
        byte[] before = Files.readAllBytes(p);
        for (int n : new int[] {0, 15, 17}) {
            SafeTensorsWriter w = new SafeTensorsWriter().add("s", SafeDType.F32, new long[] {2, 2}, out -> out.write(ByteBuffer.allocate(n)));
            SafeTensorsException e = assertThrows(SafeTensorsException.class, () -> w.write(p));
            assertEquals("s", e.tensor());
            assertTrue(e.getMessage().contains("source wrote " + n + " bytes, F32[2, 2] needs 16"), e.getMessage());
            assertArrayEquals(before, Files.readAllBytes(p));
            assertEquals(List.of("model.safetensors"), listing());
        }
    }

    @Test
    void badEntriesAreRefusedWhenAdded() {
        SafeTensorsWriter w = new SafeTensorsWriter().addFloats("a", new long[] {1}, new float[] {1});
        assertThrows(IllegalArgumentException.class, () -> w.addFloats("a", new long[] {1}, new float[] {1}), "duplicate");
        assertThrows(IllegalArgumentException.class, () -> w.addFloats("__metadata__", new long[] {1}, new float[] {1}));
        assertThrows(IllegalArgumentException.class, () -> w.addFloats("n", new long[] {-1}, new float[0]));
        assertThrows(IllegalArgumentException.class, () -> w.addFloats("n", new long[] {3}, new float[2]));
        assertThrows(IllegalArgumentException.class, () -> w.addFloats("n", SafeDType.I32, new long[] {1}, new float[1]));
        assertThrows(IllegalArgumentException.class, () -> w.addShorts("n", SafeDType.F32, new long[] {1}, new short[1]));
        assertThrows(IllegalArgumentException.class, () -> w.addBytes("n", SafeDType.I16, new long[] {1}, new byte[1]));
        assertThrows(IllegalArgumentException.class, () -> w.add("n", SafeDType.I32, new long[] {2}, ByteBuffer.allocate(7)));
        assertThrows(IllegalArgumentException.class, () -> w.add("n", SafeDType.U8, new long[] {1L << 62, 8}, out -> {}));
        assertThrows(NullPointerException.class, () -> w.addFloats(null, new long[] {1}, new float[1]));
        assertThrows(IllegalArgumentException.class, () -> w.addFloats("bad\uD800", new long[] {1}, new float[1]));
        assertThrows(IllegalArgumentException.class, () -> w.metadata("k", "\uDC00"));
        assertEquals(List.of("a"), w.names()); // failed adds change nothing
    }

    @Test
    void missingDirectoryFailsCleanly() {
        Path p = dir.resolve("no/such/dir/x.safetensors");
        assertThrows(NoSuchFileException.class,
                () -> new SafeTensorsWriter().addFloats("a", new long[] {1}, new float[] {1}).write(p));
    }

    @Test
    void byteBufferEntriesAreNotConsumed() throws IOException {
        ByteBuffer data = ByteBuffer.wrap(new byte[] {0, 1, 2, 3, 4, 5}).position(2);
        SafeTensorsWriter w = new SafeTensorsWriter().add("b", SafeDType.U8, new long[] {2, 2}, data);
        assertEquals(2, data.position());
        Path a = dir.resolve("a.safetensors");
        Path b = dir.resolve("b.safetensors");
        w.write(a);
        w.write(b); // the same writer can write again
        assertArrayEquals(Files.readAllBytes(a), Files.readAllBytes(b));
        try (SafeTensorsFile st = SafeTensorsFile.open(a)) {
            assertArrayEquals(new int[] {2, 3, 4, 5}, st.ints("b"));
        }
    }

    /** Large arrays go through the writer's scratch buffer in several pieces. */
    @Test
    void streamsLargeArrays() throws IOException {
        float[] f = new float[100_003];
        for (int i = 0; i < f.length; i++) f[i] = i;
        long[] l = new long[20_001];
        for (int i = 0; i < l.length; i++) l[i] = -i * 1_000_000_007L;
        Path p = dir.resolve("large.safetensors");
        new SafeTensorsWriter().addFloats("f", new long[] {f.length}, f).addFloats("h", SafeDType.BF16, new long[] {f.length}, f)
                .addLongs("l", new long[] {l.length}, l).write(p);
        try (SafeTensorsFile st = SafeTensorsFile.open(p)) {
            assertArrayEquals(f, st.floats("f"));
            assertArrayEquals(l, st.longs("l"));
            assertEquals(256f, st.floats("h")[256]);
        }
    }

    /** The temporary must not be created owner-only, or the rename would make the result 0600. */
    @Test
    void permissionsAreTheDirectoryDefault() throws IOException {
        if (!FileSystems.getDefault().supportedFileAttributeViews().contains("posix")) return;
        Path plain = Files.createFile(dir.resolve("plain"));
        Path p = dir.resolve("perm.safetensors");
        new SafeTensorsWriter().write(p);
        assertEquals(Files.getPosixFilePermissions(plain), Files.getPosixFilePermissions(p));
        try (SafeTensorsFile st = SafeTensorsFile.open(p)) {
            assertFalse(st.contains("x"));
            assertTrue(st.names().isEmpty());
        }
    }
}
