package org.voxflow.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.voxflow.io.SafeTensorsFixtures.bytes;
import static org.voxflow.io.SafeTensorsFixtures.entry;
import static org.voxflow.io.SafeTensorsFixtures.file;
import static org.voxflow.io.SafeTensorsFixtures.raw;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Each malformed input is refused on open with a SafeTensorsException naming file, problem and tensor. */
class SafeTensorsValidationTest {
    @TempDir Path dir;
    private int counter;

    /** Opens {@code content}, expects a SafeTensorsException for {@code tensor} (null: none) containing every fragment. */
    private SafeTensorsException fails(byte[] content, String tensor, String... fragments) throws IOException {
        Path p = SafeTensorsFixtures.write(dir, "bad" + (counter++) + ".safetensors", content);
        SafeTensorsException e = assertThrows(SafeTensorsException.class, () -> SafeTensorsFile.open(p).close());
        String m = e.getMessage();
        assertTrue(m.contains(p.toString()), m);
        assertEquals(p.toString(), e.file());
        assertEquals(tensor, e.tensor(), m);
        if (tensor != null) assertTrue(m.contains("'" + tensor + "'") || m.contains("\"" + tensor + "\""), m);
        for (String f : fragments) assertTrue(m.contains(f), "'" + f + "' not in: " + m);
        return e;
    }

    private SafeTensorsException failsHeader(String header, int dataBytes, String tensor, String... fragments) throws IOException {
        return fails(file(header, bytes(dataBytes)), tensor, fragments);
    }

    private SafeTensorsFile opens(byte[] content) throws IOException {
        return SafeTensorsFile.open(SafeTensorsFixtures.write(dir, "ok" + (counter++) + ".safetensors", content));
    }

    @Test
    void tooShort() throws IOException {
        fails(new byte[0], null, "file is 0 bytes, shorter than the 8-byte header length");
        fails(new byte[7], null, "file is 7 bytes");
    }

    @Test
    void headerLengthBeyondFileOrAbsurd() throws IOException {
        byte[] h = "{}".getBytes(StandardCharsets.UTF_8);
        fails(raw(3, h, new byte[0]), null, "header length 3 is beyond the end of the 10-byte file");
        fails(raw(1L << 40, h, new byte[0]), null, "header length 1099511627776 exceeds the 100000000-byte limit");
        fails(raw(-1, h, new byte[0]), null, "header length 18446744073709551615 exceeds");
        fails(raw(100_000_001, h, new byte[0]), null, "exceeds");
        fails(raw(0, new byte[0], new byte[0]), null, "not valid JSON", "expected a value");
    }

    @Test
    void headerNotUtf8() throws IOException {
        byte[][] bad = {
            {'{', '"', (byte) 0xC3, 0x28, '"', ':', '1', '}'},         // truncated 2-byte sequence
            {'{', '"', (byte) 0xC0, (byte) 0xAF, '"', '}'},             // overlong '/'
            {'{', '"', (byte) 0xED, (byte) 0xA0, (byte) 0x80, '"', '}'}, // UTF-8-encoded surrogate
            {'{', '}', (byte) 0xFF},
        };
        for (byte[] h : bad) fails(raw(h.length, h, new byte[0]), null, "header is not valid UTF-8", "header byte 2");
    }

    @Test
    void headerNotJsonOrNotObject() throws IOException {
        failsHeader("{", 0, null, "header is not valid JSON", "offset 1");
        failsHeader("{} x", 0, null, "not valid JSON", "expected end of input at offset 3");
        failsHeader("{}\0\0\0\0\0\0", 0, null, "not valid JSON", "U+0000");
        failsHeader("[]", 0, null, "header must be a JSON object, found an array");
        failsHeader("\"s\"", 0, null, "found a string");
        failsHeader("null", 0, null, "found null");
        failsHeader("{" + entry("a", "U8", "[1]", 0, 1) + "," + entry("a", "U8", "[1]", 1, 2) + "}", 2, null,
                "not valid JSON", "duplicate key \"a\"");
        failsHeader("[".repeat(600), 0, null, "not valid JSON", "nesting deeper than 512");
    }

    @Test
    void entryShape() throws IOException {
        failsHeader("{\"t\":5}", 0, "t", "entry must be an object, found an integer");
        failsHeader("{\"t\":[]}", 0, "t", "entry must be an object, found an array");
        failsHeader("{\"t\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, "t", "missing field \"data_offsets\"");
        failsHeader("{\"t\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "t", "missing field \"dtype\"");
        failsHeader("{\"t\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, "t", "missing field \"shape\"");
        failsHeader("{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"extra\":1}}", 4, "t",
                "unexpected field \"extra\"");
    }

    @Test
    void dtype() throws IOException {
        failsHeader("{" + entry("t", "F8", "[1]", 0, 1) + "}", 1, "t", "unknown dtype \"F8\"");
        failsHeader("{" + entry("t", "f32", "[1]", 0, 4) + "}", 4, "t", "unknown dtype \"f32\"");
        failsHeader("{\"t\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "t", "dtype must be a string, found an integer");
    }

    @Test
    void shape() throws IOException {
        failsHeader("{" + entry("t", "U8", "5", 0, 5) + "}", 5, "t", "shape must be a list of non-negative integers, found an integer");
        failsHeader("{" + entry("t", "U8", "[-1]", 0, 0) + "}", 0, "t", "element 0 is -1");
        failsHeader("{" + entry("t", "U8", "[2,1.0]", 0, 2) + "}", 2, "t", "element 1 is a number");
        failsHeader("{" + entry("t", "U8", "[\"2\"]", 0, 2) + "}", 2, "t", "element 0 is a string");
        failsHeader("{" + entry("t", "U8", "[1e30]", 0, 2) + "}", 2, "t", "non-negative integers");
        failsHeader("{" + entry("t", "U8", "[18446744073709551616]", 0, 2) + "}", 2, "t", "non-negative integers");
        failsHeader("{" + entry("t", "U8", "null", 0, 2) + "}", 2, "t", "found null");
    }

    @Test
    void dataOffsets() throws IOException {
        String prefix = "{\"t\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":";
        for (String bad : new String[] {"[0]", "[0,4,8]", "\"0,4\"", "[0,4.0]", "[-1,3]", "[0,null]", "{}", "[0,99999999999999999999]"}) {
            failsHeader(prefix + bad + "}}", 8, "t", "data_offsets must be two non-negative integers");
        }
        failsHeader(prefix + "[4,0]}}", 8, "t", "data_offsets begin 4 > end 0");
        failsHeader(prefix + "[6,10]}}", 8, "t", "data_offsets end 10 is beyond the data buffer of 8 bytes");
        failsHeader("{" + entry("t", "U8", "[4]", Long.MAX_VALUE - 4, Long.MAX_VALUE) + "}", 8, "t", "beyond the data buffer");
    }

    @Test
    void sizeMismatchAndOverflow() throws IOException {
        failsHeader("{" + entry("t", "F32", "[2]", 0, 4) + "}", 8, "t", "shape and dtype need 8 bytes but data_offsets [0, 4] span 4");
        failsHeader("{" + entry("t", "F32", "[]", 0, 0) + "}", 8, "t", "need 4 bytes");
        failsHeader("{" + entry("t", "F32", "[4611686018427387904,4]", 0, 8) + "}", 8, "t", "overflows a 64-bit byte count");
        failsHeader("{" + entry("t", "U8", "[4294967296,4294967296]", 0, 8) + "}", 8, "t", "overflows");
        failsHeader("{" + entry("t", "I64", "[2305843009213693952]", 0, 8) + "}", 8, "t", "overflows"); // 2^61 * 8 = 2^64
        // a zero dimension makes any other dimension harmless
        try (SafeTensorsFile st = opens(file("{" + entry("t", "F32", "[4611686018427387904,0,4]", 0, 0) + "}", new byte[0]))) {
            assertEquals(0, st.info("t").elementCount());
            assertEquals(0, st.floats("t").length);
        }
    }

    @Test
    void overlaps() throws IOException {
        failsHeader("{" + entry("a", "U8", "[4]", 0, 4) + "," + entry("b", "U8", "[4]", 2, 6) + "}", 8, "b",
                "data range [2, 6) overlaps tensor \"a\" at [0, 4)");
        failsHeader("{" + entry("a", "U8", "[4]", 0, 4) + "," + entry("b", "U8", "[4]", 0, 4) + "}", 4, "b", "overlaps tensor \"a\"");
        // contained in a larger earlier range, after an unrelated one
        failsHeader("{" + entry("big", "U8", "[8]", 0, 8) + "," + entry("x", "U8", "[1]", 1, 2) + "," + entry("y", "U8", "[2]", 5, 7) + "}",
                8, "x", "overlaps tensor \"big\"");
    }

    @Test
    void metadata() throws IOException {
        failsHeader("{\"__metadata__\":[]}", 0, null, "__metadata__ must be an object of strings, found an array");
        failsHeader("{\"__metadata__\":null}", 0, null, "found null");
        failsHeader("{\"__metadata__\":{\"a\":\"x\",\"n\":1}}", 0, null, "__metadata__ value for key \"n\" must be a string, found an integer");
        failsHeader("{\"__metadata__\":{\"o\":{}}}", 0, null, "found an object");
    }

    /** Tensors must tile the data buffer exactly, as the reference implementation requires. */
    @Test
    void gapsAndUncoveredBytes() throws IOException {
        failsHeader("{" + entry("a", "U8", "[2]", 0, 2) + "," + entry("b", "U8", "[2]", 3, 5) + "}", 5, "b",
                "data range [3, 5) leaves a gap after byte 2");
        failsHeader("{" + entry("a", "U8", "[2]", 1, 3) + "}", 3, "a", "leaves a gap after byte 0");
        failsHeader("{" + entry("a", "U8", "[2]", 0, 2) + "}", 3, null, "tensors cover 2 bytes but the data buffer has 3");
        failsHeader("{}", 1, null, "tensors cover 0 bytes but the data buffer has 1");
        failsHeader("{" + entry("a", "U8", "[4]", 0, 4) + "," + entry("e", "F32", "[0]", 2, 2) + "}", 4, "e",
                "overlaps tensor \"a\"");
        // a header length that slid into the space padding shifts the data start: caught as uncovered bytes
        byte[] h = "{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}    ".getBytes(StandardCharsets.UTF_8);
        fails(raw(h.length - 3, h, new byte[] {1, 2}), null, "tensors cover 2 bytes but the data buffer has 5");
    }

    /** What the layout policy allows: any header order, empty tensors at boundaries, whitespace padding. */
    @Test
    void acceptedLayouts() throws IOException {
        String h = "{" + entry("b", "U8", "[2]", 2, 4) + "," + entry("a", "U8", "[2]", 0, 2) + ","
                + entry("e", "F32", "[0]", 2, 2) + "," + entry("e2", "I64", "[0,5]", 4, 4) + "," + entry("e0", "U8", "[0]", 0, 0) + "}  \n\t ";
        try (SafeTensorsFile st = opens(file(h, bytes(4)))) {
            assertEquals(List.of("e0", "a", "e", "b", "e2"), st.names());
            assertArrayEquals(new int[] {7, 38}, st.ints("a"));
            assertArrayEquals(new int[] {69, 100}, st.ints("b"));
            assertEquals(0, st.longs("e2").length);
        }
        try (SafeTensorsFile st = opens(file("{}", new byte[0]))) {
            assertEquals(List.of(), st.names());
        }
        try (SafeTensorsFile st = opens(file("{\"__metadata__\":{}}", new byte[0]))) {
            assertTrue(st.metadata().isEmpty());
        }
        // tensor name "" and unusual names are data, not a problem
        try (SafeTensorsFile st = opens(file("{" + entry("", "U8", "[1]", 0, 1) + "}", bytes(1)))) {
            assertEquals(List.of(""), st.names());
        }
    }

    @Test
    void exceptionWithoutTensor() throws IOException {
        SafeTensorsException e = fails(new byte[3], null);
        assertNull(e.tensor());
        assertTrue(e.getMessage().startsWith("safetensors file "), e.getMessage());
    }
}
