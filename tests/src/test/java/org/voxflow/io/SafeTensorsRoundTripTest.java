package org.voxflow.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.voxflow.io.SafeTensorsFixtures.entry;
import static org.voxflow.io.SafeTensorsFixtures.toArray;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.voxflow.tensor.DType;

class SafeTensorsRoundTripTest {
    @TempDir Path dir;

    @Test
    void everyDtypeRoundTrips() throws IOException {
        float[] f = {0f, -1.5f, 3.25f, Float.MIN_VALUE, Float.MAX_VALUE, -0f, Float.NaN, Float.NEGATIVE_INFINITY};
        float[] halfExact = {0f, -1.5f, 3.25f, 65504f, -0f, 0x1p-14f, 1000.5f, Float.POSITIVE_INFINITY};
        float[] bf16Exact = {0f, -1.5f, 3.25f, 0x1.fep127f, -0f, 0x1p-133f, 256f, Float.NEGATIVE_INFINITY};
        int[] i = {0, -1, Integer.MAX_VALUE, Integer.MIN_VALUE, 42, 7};
        long[] l = {0, -1, Long.MAX_VALUE, Long.MIN_VALUE};
        short[] s = {0, -1, Short.MAX_VALUE, Short.MIN_VALUE};
        byte[] b = {0, -1, 127, -128, 5, 6};
        boolean[] z = {true, false, false, true, true};
        Path p = dir.resolve("all.safetensors");
        new SafeTensorsWriter()
                .addFloats("f32", new long[] {2, 4}, f)
                .addFloats("f64", SafeDType.F64, new long[] {8}, f)
                .addFloats("f16", SafeDType.F16, new long[] {8}, halfExact)
                .addFloats("bf16", SafeDType.BF16, new long[] {4, 2}, bf16Exact)
                .addInts("i32", new long[] {3, 2}, i)
                .addLongs("i64", new long[] {4}, l)
                .addShorts("i16", SafeDType.I16, new long[] {2, 2}, s)
                .addBytes("i8", SafeDType.I8, new long[] {6}, b)
                .addBytes("u8", SafeDType.U8, new long[] {2, 3}, b)
                .addBooleans("bool", new long[] {5}, z)
                .write(p);
        try (SafeTensorsFile st = SafeTensorsFile.open(p)) {
            assertEquals(List.of("f32", "f64", "f16", "bf16", "i32", "i64", "i16", "i8", "u8", "bool"), st.names());
            assertArrayEquals(f, st.floats("f32"));
            assertArrayEquals(toDoubles(f), st.doubles("f64"));
            assertArrayEquals(toDoubles(f), st.doubles("f32"));
            assertArrayEquals(halfExact, st.floats("f16"));
            assertArrayEquals(bf16Exact, st.floats("bf16"));
            assertArrayEquals(i, st.ints("i32"));
            assertArrayEquals(toLongs(i), st.longs("i32"));
            assertArrayEquals(l, st.longs("i64"));
            assertArrayEquals(s, st.shorts("i16"));
            assertArrayEquals(new int[] {0, -1, Short.MAX_VALUE, Short.MIN_VALUE}, st.ints("i16"));
            assertArrayEquals(new int[] {0, -1, 127, -128, 5, 6}, st.ints("i8"));
            assertArrayEquals(new int[] {0, 255, 127, 128, 5, 6}, st.ints("u8"));
            assertArrayEquals(new long[] {0, 255, 127, 128, 5, 6}, st.longs("u8"));
            assertArrayEquals(b, toArray(st.bytes("i8")));
            assertArrayEquals(z, st.booleans("bool"));
            SafeTensorInfo info = st.info("bf16");
            assertEquals(SafeDType.BF16, info.dtype());
            assertArrayEquals(new long[] {4, 2}, info.shape());
            assertEquals(8, info.elementCount());
            assertEquals(16, info.byteSize());
            for (String name : st.names()) {
                SafeTensorInfo t = st.info(name);
                assertEquals(t.elementCount() * t.dtype().bytes(), t.byteSize(), name);
                assertEquals(t.byteSize(), st.bytes(name).remaining(), name);
            }
        }
    }

    /** All 65536 half and bfloat16 bit patterns survive file -> float -> bits. */
    @Test
    void halfAndBfloatAreExact() throws IOException {
        short[] all = new short[65536];
        for (int k = 0; k < all.length; k++) all[k] = (short) k;
        Path p = dir.resolve("half.safetensors");
        new SafeTensorsWriter()
                .addShorts("h", SafeDType.F16, new long[] {256, 256}, all)
                .addShorts("b", SafeDType.BF16, new long[] {65536}, all)
                .write(p);
        try (SafeTensorsFile st = SafeTensorsFile.open(p)) {
            float[] h = st.floats("h");
            float[] bf = st.floats("b");
            double[] hd = st.doubles("h");
            for (int k = 0; k < 65536; k++) {
                short bits = (short) k;
                // bf16 is the top half of an f32, exactly, NaN payloads included
                assertEquals(k << 16, Float.floatToRawIntBits(bf[k]), "bf16 " + k);
                if (Float.isNaN(h[k])) {
                    assertTrue((k & 0x7c00) == 0x7c00 && (k & 0x3ff) != 0, "f16 NaN only from NaN bits " + k);
                } else {
                    assertEquals(bits, Float.floatToFloat16(h[k]), "f16 " + k); // exact: converts back to the same bits
                    assertEquals(h[k], hd[k], 0.0);
                }
            }
            assertArrayEquals(all, st.shorts("h"));
            assertArrayEquals(all, st.shorts("b"));
        }
        // floats -> bf16/f16 in the writer rounds to nearest even, as DType does
        float[] vals = {1.00390625f, 1.01171875f, 0.1f, 1e-8f, 70000f};
        Path q = dir.resolve("rounded.safetensors");
        new SafeTensorsWriter().addFloats("b", SafeDType.BF16, new long[] {5}, vals)
                .addFloats("h", SafeDType.F16, new long[] {5}, vals).write(q);
        try (SafeTensorsFile st = SafeTensorsFile.open(q)) {
            for (int k = 0; k < vals.length; k++) {
                assertEquals(DType.fromBf16(DType.toBf16(vals[k])), st.floats("b")[k]);
                assertEquals(DType.fromF16(DType.toF16(vals[k])), st.floats("h")[k]);
            }
        }
    }

    @Test
    void metadataEmptyTensorsAndScalars() throws IOException {
        Path p = dir.resolve("m.safetensors");
        new SafeTensorsWriter()
                .metadata("format", "pt").metadata("note", "\u00e9\"\n{}").metadata("a", "")
                .addFloats("scalar", new long[] {}, new float[] {2.5f})
                .addFloats("empty", new long[] {0}, new float[0])
                .addInts("empty3", new long[] {3, 0, 2}, new int[0])
                .addLongs("one", new long[] {1, 1}, new long[] {-9})
                .write(p);
        try (SafeTensorsFile st = SafeTensorsFile.open(p)) {
            assertEquals(List.of("format", "note", "a"), List.copyOf(st.metadata().keySet()));
            assertEquals(Map.of("format", "pt", "note", "\u00e9\"\n{}", "a", ""), st.metadata());
            assertEquals(0, st.info("scalar").rank());
            assertEquals(1, st.info("scalar").elementCount());
            assertArrayEquals(new float[] {2.5f}, st.floats("scalar"));
            assertEquals(0, st.floats("empty").length);
            assertEquals(0, st.bytes("empty").remaining());
            assertArrayEquals(new long[] {3, 0, 2}, st.info("empty3").shape());
            assertEquals(0, st.ints("empty3").length);
            assertEquals(0, st.readBytes("empty3", 0, ByteBuffer.allocate(4)));
            assertArrayEquals(new long[] {-9}, st.longs("one"));
            assertEquals(st.info("scalar").end(), st.info("empty").begin());
        }
        Path none = dir.resolve("nometa.safetensors");
        new SafeTensorsWriter().addFloats("x", new long[] {1}, new float[] {1}).write(none);
        try (SafeTensorsFile st = SafeTensorsFile.open(none)) {
            assertEquals(Map.of(), st.metadata());
        }
        assertFalse(header(none).contains("__metadata__"));
        assertTrue(header(p).startsWith("{\"__metadata__\":{\"format\":\"pt\""));
    }

    /** The exact layout: header padded with spaces to a multiple of 8, contiguous data. */
    @Test
    void writerLayout() throws IOException {
        Path p = dir.resolve("layout.safetensors");
        new SafeTensorsWriter()
                .addBytes("a", SafeDType.U8, new long[] {3}, new byte[] {1, 2, 3})
                .addFloats("b", new long[] {2}, new float[] {1f, -2f})
                .write(p);
        byte[] all = Files.readAllBytes(p);
        long n = ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN).getLong();
        assertEquals(0, n % 8);
        String h = header(p);
        assertEquals("{\"a\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[0,3]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[3,11]}}", h.stripTrailing());
        assertTrue(h.length() - h.stripTrailing().length() < 8);
        assertEquals(8 + n + 11, all.length);
        assertArrayEquals(new byte[] {1, 2, 3, 0, 0, (byte) 0x80, 0x3f, 0, 0, 0, (byte) 0xc0},
                java.util.Arrays.copyOfRange(all, (int) (8 + n), all.length));
    }

    /** A file as another implementation writes it: header order differs from data order, no padding. */
    @Test
    void readsForeignLayout() throws IOException {
        String header = "{" + entry("second", "F32", "[2]", 4, 12) + "," + entry("first", "I32", "[1]", 0, 4)
                + ",\"__metadata__\":{\"format\":\"pt\"}}";
        ByteBuffer data = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN).putInt(-7).putFloat(1.5f).putFloat(-0.25f);
        Path p = SafeTensorsFixtures.write(dir, "foreign.safetensors", SafeTensorsFixtures.file(header, data.array()));
        try (SafeTensorsFile st = SafeTensorsFile.open(p)) {
            assertEquals(List.of("first", "second"), st.names());
            assertArrayEquals(new int[] {-7}, st.ints("first"));
            assertArrayEquals(new float[] {1.5f, -0.25f}, st.floats("second"));
            assertEquals(Map.of("format", "pt"), st.metadata());
            assertEquals(new SafeTensorInfo("second", SafeDType.F32, new long[] {2}, 4, 12), st.info("second"));
        }
    }

    @Test
    void bytesViewsAreReadOnlyLittleEndianAndIndependent() throws IOException {
        Path p = dir.resolve("v.safetensors");
        new SafeTensorsWriter().addInts("x", new long[] {3}, new int[] {1, 2, 3}).write(p);
        try (SafeTensorsFile st = SafeTensorsFile.open(p)) {
            ByteBuffer a = st.bytes("x");
            ByteBuffer b = st.bytes("x");
            assertTrue(a.isReadOnly());
            assertEquals(ByteOrder.LITTLE_ENDIAN, a.order());
            assertEquals(0, a.position());
            assertEquals(12, a.limit());
            assertEquals(1, a.getInt());
            assertEquals(0, b.position());
            assertEquals(3, b.getInt(8));
            assertThrows(java.nio.ReadOnlyBufferException.class, () -> b.putInt(0, 5));
        }
    }

    /** Tiny mapping chunks make tensors straddle chunk boundaries and exceed the single-view limit. */
    @Test
    void chunkedMappingStraddlesBoundaries() throws IOException {
        float[] f = new float[37];
        for (int k = 0; k < f.length; k++) f[k] = k * 0.5f - 3;
        short[] h = new short[11];
        for (int k = 0; k < h.length; k++) h[k] = DType.toBf16(k - 5.5f);
        long[] l = {1, -2, 3, Long.MIN_VALUE, 5};
        Path p = dir.resolve("chunks.safetensors");
        new SafeTensorsWriter()
                .addBytes("odd", SafeDType.U8, new long[] {5}, new byte[] {9, 8, 7, 6, 5}) // misaligns the rest
                .addFloats("f", new long[] {37}, f)
                .addShorts("h", SafeDType.BF16, new long[] {11}, h)
                .addLongs("l", new long[] {5}, l)
                .addBooleans("z", new long[] {3}, new boolean[] {true, false, true})
                .write(p);
        Map<String, byte[]> expected = new java.util.HashMap<>();
        try (SafeTensorsFile whole = SafeTensorsFile.open(p)) {
            for (String name : whole.names()) expected.put(name, toArray(whole.bytes(name)));
        }
        for (long chunk : new long[] {1, 3, 7, 8, 13, 16, 40, 64, 1000}) {
            try (SafeTensorsFile st = SafeTensorsFile.open(p, chunk)) {
                for (String name : st.names()) {
                    SafeTensorInfo t = st.info(name);
                    byte[] want = expected.get(name);
                    // readBytes in awkward slice sizes
                    for (int slice : new int[] {1, 5, 64}) {
                        ByteBuffer got = ByteBuffer.allocate(want.length);
                        long off = 0;
                        while (off < want.length) {
                            ByteBuffer dst = ByteBuffer.allocate(Math.min(slice, want.length - (int) off));
                            int n = st.readBytes(name, off, dst);
                            assertEquals(dst.capacity(), n);
                            got.put(dst.flip());
                            off += n;
                        }
                        assertArrayEquals(want, got.array(), name + " chunk " + chunk + " slice " + slice);
                    }
                    if (t.byteSize() <= chunk) {
                        assertArrayEquals(want, toArray(st.bytes(name)), name + " chunk " + chunk);
                    } else {
                        SafeTensorsException e = assertThrows(SafeTensorsException.class, () -> st.bytes(name));
                        assertTrue(e.getMessage().contains("readBytes"), e.getMessage());
                    }
                }
                assertArrayEquals(f, st.floats("f"), "chunk " + chunk);
                assertArrayEquals(h, st.shorts("h"), "chunk " + chunk);
                assertArrayEquals(l, st.longs("l"), "chunk " + chunk);
                assertArrayEquals(new boolean[] {true, false, true}, st.booleans("z"));
                assertArrayEquals(new int[] {9, 8, 7, 6, 5}, st.ints("odd"));
            }
        }
    }

    @Test
    void readBytesBounds() throws IOException {
        Path p = dir.resolve("r.safetensors");
        new SafeTensorsWriter().addBytes("a", SafeDType.U8, new long[] {4}, new byte[] {1, 2, 3, 4})
                .addBytes("b", SafeDType.U8, new long[] {2}, new byte[] {5, 6}).write(p);
        try (SafeTensorsFile st = SafeTensorsFile.open(p)) {
            ByteBuffer dst = ByteBuffer.allocate(10);
            assertEquals(2, st.readBytes("a", 2, dst)); // stops at the tensor's end, not the next tensor
            assertEquals(2, dst.position());
            assertEquals(3, dst.get(0));
            assertEquals(0, st.readBytes("a", 4, dst));
            assertThrows(IllegalArgumentException.class, () -> st.readBytes("a", 5, dst));
            assertThrows(IllegalArgumentException.class, () -> st.readBytes("a", -1, dst));
        }
    }

    /** A real 4 GiB tensor, as a sparse file (no disk space used): count and slice limits without the cost. */
    @Test
    void tensorOver2GiB() throws IOException {
        long elems = (1L << 31) + 4; // more than MAX_ARRAY_LENGTH
        String header = "{" + entry("big", "F16", "[" + elems + "]", 0, 2 * elems) + "," + entry("tail", "U8", "[2]", 2 * elems, 2 * elems + 2) + "}";
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        Path p = dir.resolve("big.safetensors");
        try (java.io.RandomAccessFile raf = new java.io.RandomAccessFile(p.toFile(), "rw")) {
            raf.write(SafeTensorsFixtures.raw(h.length, h, new byte[0]));
            long dataStart = 8 + h.length;
            raf.setLength(dataStart + 2 * elems + 2);
            raf.seek(dataStart + 2 * elems - 2);
            raf.write(new byte[] {0x00, 0x3c, 42, 43}); // last f16 = 1.0, then the tail tensor
        }
        try (SafeTensorsFile st = SafeTensorsFile.open(p)) {
            assertEquals(2 * elems, st.info("big").byteSize());
            SafeTensorsException e = assertThrows(SafeTensorsException.class, () -> st.floats("big"));
            assertTrue(e.getMessage().contains("Java array limit") && e.getMessage().contains("\"big\""), e.getMessage());
            assertThrows(SafeTensorsException.class, () -> st.bytes("big"));
            ByteBuffer last = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
            assertEquals(4, st.readBytes("big", 2 * elems - 4, last));
            assertEquals(1.0f, DType.fromF16(last.getShort(2)));
            assertArrayEquals(new int[] {42, 43}, st.ints("tail")); // past 4 GiB, in the third chunk
        }
    }

    @Test
    void accessorMisuse() throws IOException {
        Path p = dir.resolve("x.safetensors");
        new SafeTensorsWriter()
                .addInts("i", new long[] {1}, new int[] {1})
                .addLongs("big", new long[] {2}, new long[] {1, 1L << 40})
                .addBytes("z", SafeDType.BOOL, new long[] {2}, new byte[] {1, 2})
                .write(p);
        SafeTensorsFile st = SafeTensorsFile.open(p);
        SafeTensorsException e = assertThrows(SafeTensorsException.class, () -> st.floats("i"));
        assertTrue(e.getMessage().contains("\"i\"") && e.getMessage().contains("I32") && e.getMessage().contains(p.toString()), e.getMessage());
        e = assertThrows(SafeTensorsException.class, () -> st.ints("big"));
        assertTrue(e.getMessage().contains("element 1") && e.getMessage().contains("does not fit an int"), e.getMessage());
        e = assertThrows(SafeTensorsException.class, () -> st.booleans("z"));
        assertTrue(e.getMessage().contains("element 1 is byte 2"), e.getMessage());
        e = assertThrows(SafeTensorsException.class, () -> st.info("nope"));
        assertEquals("nope", e.tensor());
        assertTrue(e.getMessage().contains("no such tensor"), e.getMessage());
        assertFalse(st.contains("nope"));
        st.close();
        assertThrows(IllegalStateException.class, () -> st.bytes("i"));
    }

    @Test
    void dtypeMapping() {
        for (DType d : DType.values()) {
            SafeDType s = SafeDType.of(d);
            assertEquals(Optional.of(d), s.toDType());
            assertEquals(d.bytes(), s.bytes());
            assertEquals(d.isFloating(), s.isFloating());
        }
        for (SafeDType s : new SafeDType[] {SafeDType.F64, SafeDType.I16, SafeDType.I8, SafeDType.U8, SafeDType.BOOL}) {
            assertEquals(Optional.empty(), s.toDType());
        }
        assertEquals(Optional.of(SafeDType.BF16), SafeDType.fromHeaderName("BF16"));
        assertEquals(Optional.empty(), SafeDType.fromHeaderName("bf16"));
    }

    private static String header(Path p) throws IOException {
        byte[] all = Files.readAllBytes(p);
        int n = (int) ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN).getLong();
        return new String(all, 8, n, StandardCharsets.UTF_8);
    }

    private static double[] toDoubles(float[] f) {
        double[] d = new double[f.length];
        for (int k = 0; k < f.length; k++) d[k] = f[k];
        return d;
    }

    private static long[] toLongs(int[] i) {
        long[] l = new long[i.length];
        for (int k = 0; k < i.length; k++) l[k] = i[k];
        return l;
    }
}
