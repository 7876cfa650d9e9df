package org.voxflow.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class JsonTest {

    @Test
    void parsesEveryKind() {
        Object v = Json.parse(" {\"a\": [1, -2.5, 3e2, true, false, null, \"s\"], \"b\": {}, \"c\": []} ");
        Map<String, Object> m = Json.asMap(v, "root");
        assertInstanceOf(LinkedHashMap.class, m);
        assertEquals(List.of("a", "b", "c"), new ArrayList<>(m.keySet()));
        List<Object> a = Json.asList(m.get("a"), "a");
        assertEquals(1L, a.get(0));
        assertEquals(-2.5, a.get(1));
        assertEquals(300.0, a.get(2));
        assertEquals(Boolean.TRUE, a.get(3));
        assertEquals(Boolean.FALSE, a.get(4));
        assertNull(a.get(5));
        assertEquals("s", a.get(6));
        assertEquals(Map.of(), m.get("b"));
        assertEquals(List.of(), m.get("c"));
    }

    @Test
    void keyOrderIsKept() {
        Map<String, Object> m = Json.asMap(Json.parse("{\"z\":1,\"a\":2,\"m\":3}"), "root");
        assertEquals(List.of("z", "a", "m"), new ArrayList<>(m.keySet()));
        assertEquals("{\"z\":1,\"a\":2,\"m\":3}", Json.write(m));
    }

    @Test
    void integersBecomeLongUnlessTooBigOrFractional() {
        assertEquals(Long.MAX_VALUE, Json.parse("9223372036854775807"));
        assertEquals(Long.MIN_VALUE, Json.parse("-9223372036854775808"));
        assertEquals(9223372036854775808.0, Json.parse("9223372036854775808"));
        assertEquals(0L, Json.parse("-0"));
        assertEquals(1.0, Json.parse("1.0"));
        assertEquals(1.0, Json.parse("1e0"));
        assertEquals(0.0, Json.parse("1e-400")); // underflow is ordinary rounding
    }

    @Test
    void stringEscapesAndUnicode() {
        assertEquals("\"\\/\b\f\n\r\t", Json.parse("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\""));
        assertEquals("\u00e9\u4e2d", Json.parse("\"\\u00E9\\u4e2d\""));
        assertEquals("\uD83D\uDE00", Json.parse("\"\\ud83d\\ude00\""));
        assertEquals("\uD83D\uDE00 raw", Json.parse("\"\uD83D\uDE00 raw\""));
    }

    @Test
    void doublesRoundTrip() {
        Random r = new Random(7);
        for (int i = 0; i < 2000; i++) {
            double d = switch (i % 4) {
                case 0 -> r.nextDouble();
                case 1 -> Double.longBitsToDouble(r.nextLong());
                case 2 -> r.nextGaussian() * 1e-300;
                default -> (double) r.nextInt();
            };
            if (!Double.isFinite(d)) continue;
            assertEquals(d, Json.parse(Json.write(d)), "double " + d);
        }
        assertEquals(Double.MIN_VALUE, Json.parse(Json.write(Double.MIN_VALUE)));
        assertEquals(-0.0, Json.parse(Json.write(-0.0)));
        assertEquals(1e22, Json.parse(Json.write(1e22)));
    }

    @Test
    void writesTheExtraKinds() {
        assertEquals("[1,2,3]", Json.write(new int[] {1, 2, 3}));
        assertEquals("[9223372036854775807]", Json.write(new long[] {Long.MAX_VALUE}));
        assertEquals("0.1", Json.write(0.1f));
        assertEquals("[0.5,1.0E10]", Json.write(new float[] {0.5f, 1e10f}));
        assertEquals("7", Json.write(7));
        assertEquals("7", Json.write(7L));
        assertEquals("7.0", Json.write(7.0));
        assertEquals("[\"x\",null]", Json.write(new Object[] {"x", null}));
        assertEquals("\"\\u0001\\n\\\"\\\\\u00e9\uD83D\uDE00\"", Json.write("\u0001\n\"\\\u00e9\uD83D\uDE00"));
    }

    @Test
    void roundTripsNestedValues() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", "w\u00e9ight \"q\"\n");
        m.put("shape", List.of(2L, 3L));
        m.put("x", -1.25e-7);
        m.put("flags", List.of(true, false));
        m.put("none", null);
        Map<String, Object> inner = new LinkedHashMap<>();
        inner.put("deep", List.of(List.of(List.of())));
        m.put("inner", inner);
        assertEquals(m, Json.parse(Json.write(m)));
        assertEquals(m, Json.parse(Json.writePretty(m)));
    }

    @Test
    void prettyLayout() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("a", List.of(1L, 2L));
        m.put("b", Map.of());
        m.put("c", List.of());
        assertEquals("{\n  \"a\": [\n    1,\n    2\n  ],\n  \"b\": {},\n  \"c\": []\n}", Json.writePretty(m));
    }

    @Test
    void depthLimitIsExact() {
        Object deepest = Json.parse("[".repeat(512) + "]".repeat(512));
        for (int i = 1; i < 512; i++) deepest = ((List<?>) deepest).get(0);
        assertEquals(List.of(), deepest);
        JsonException e = assertThrows(JsonException.class, () -> Json.parse("[".repeat(513) + "]".repeat(513)));
        assertTrue(e.getMessage().contains("nesting deeper than 512"), e.getMessage());
        assertEquals(512, e.offset());
        // deep input that never closes must not overflow the stack either
        assertThrows(JsonException.class, () -> Json.parse("{\"a\":".repeat(100_000)));
    }

    @Test
    void writerRejectsCyclesAndBadValues() {
        List<Object> cyclic = new ArrayList<>();
        cyclic.add(cyclic);
        assertTrue(assertThrows(JsonException.class, () -> Json.write(cyclic)).getMessage().contains("nesting"));
        assertTrue(assertThrows(JsonException.class, () -> Json.write(Double.NaN)).getMessage().contains("non-finite"));
        assertThrows(JsonException.class, () -> Json.write(Double.POSITIVE_INFINITY));
        assertThrows(JsonException.class, () -> Json.write(Float.NEGATIVE_INFINITY));
        assertThrows(JsonException.class, () -> Json.write(new double[] {1, Double.NaN}));
        assertTrue(assertThrows(JsonException.class, () -> Json.write(Map.of(1, 2))).getMessage().contains("keys must be strings"));
        assertTrue(assertThrows(JsonException.class, () -> Json.write(new Object())).getMessage().contains("java.lang.Object"));
        assertTrue(assertThrows(JsonException.class, () -> Json.write("\uD800x")).getMessage().contains("unpaired surrogate"));
        assertThrows(JsonException.class, () -> Json.write("x\uDC00"));
    }

    /** Each rejected text with the offset and a fragment of the message. */
    @ParameterizedTest
    @CsvSource(delimiter = '|', quoteCharacter = '`', value = {
        "``                      | 0  | expected a value",
        "`   `                   | 3  | found end of input",
        "`{} x`                  | 3  | expected end of input",
        "`[1] [2]`               | 4  | expected end of input",
        "`{\"a\":1,\"a\":2}`     | 7  | duplicate key \"a\"",
        "`{\"a\":1,}`            | 7  | expected a string key",
        "`[1,]`                  | 3  | expected a value",
        "`[1 2]`                 | 3  | expected ',' or ']'",
        "`{\"a\" 1}`             | 5  | expected ':'",
        "`{\"a\":1 \"b\":2}`     | 7  | expected ',' or '}'",
        "`{a:1}`                 | 1  | expected a string key",
        "`\"\\x\"`               | 2  | expected one of",
        "`\"\\u12G4\"`           | 5  | expected a hex digit",
        "`\"\\u12\"`             | 5  | expected a hex digit",
        "`\"\\ud800\"`           | 7  | low surrogate after the high surrogate",
        "`\"\\ud800\\u0041\"`    | 7  | low surrogate escape after the high surrogate",
        "`\"\\udc00\"`           | 1  | unpaired low surrogate",
        "`\"abc`                 | 4  | closing the string",
        "`01`                    | 1  | leading zero",
        "`-`                     | 1  | expected a digit",
        "`1.`                    | 2  | expected a digit",
        "`.5`                    | 0  | expected a value",
        "`1e`                    | 2  | expected a digit",
        "`1e+`                   | 3  | expected a digit",
        "`+1`                    | 0  | expected a value",
        "`1e400`                 | 0  | out of double range",
        "`-1e400`                | 0  | out of double range",
        "`NaN`                   | 0  | expected a value",
        "`Infinity`              | 0  | expected a value",
        "`tru`                   | 0  | expected 'true'",
        "`nul`                   | 0  | expected 'null'",
        "`[1] // c`              | 4  | expected end of input",
        "`'a'`                   | 0  | expected a value",
    })
    void rejects(String text, int offset, String fragment) {
        JsonException e = assertThrows(JsonException.class, () -> Json.parse(text));
        assertTrue(e.getMessage().contains(fragment), e.getMessage());
        assertTrue(e.getMessage().contains("offset " + offset), e.getMessage());
        assertEquals(offset, e.offset());
    }

    @Test
    void rejectsRawControlCharactersAndSurrogatesAndOtherWhitespace() {
        for (String bad : new String[] {"\"a\u0001\"", "\"a\nb\"", "\"\uD800\"", "\"\uD800x\"", "\"\uDC00\"",
                "\u00a01", "[1,\u20282]", "\uFEFF{}", "\"\\u\u0661234\""}) {
            assertThrows(JsonException.class, () -> Json.parse(bad), bad);
        }
        assertTrue(assertThrows(JsonException.class, () -> Json.parse("\"a\u0001\"")).getMessage().contains("U+0001"));
    }

    @Test
    void typedAccessNamesTheLocation() {
        Map<String, Object> m = Json.asMap(Json.parse("{\"n\": 3, \"d\": 2.5, \"s\": \"x\", \"b\": true, \"big\": 4294967296}"), "cfg");
        assertEquals(3L, Json.asLong(m.get("n"), "cfg.n"));
        assertEquals(3, Json.asInt(m.get("n"), "cfg.n"));
        assertEquals(2.5, Json.asDouble(m.get("d"), "cfg.d"));
        assertEquals(3.0, Json.asDouble(m.get("n"), "cfg.n"));
        assertEquals("x", Json.asString(m.get("s"), "cfg.s"));
        assertTrue(Json.asBoolean(m.get("b"), "cfg.b"));
        assertEquals("cfg.d: expected an integer, found a number",
                assertThrows(JsonException.class, () -> Json.asLong(m.get("d"), "cfg.d")).getMessage());
        assertTrue(assertThrows(JsonException.class, () -> Json.asInt(m.get("big"), "cfg.big")).getMessage().contains("cfg.big"));
        assertEquals("cfg.s: expected an object, found a string",
                assertThrows(JsonException.class, () -> Json.asMap(m.get("s"), "cfg.s")).getMessage());
        assertEquals("cfg.x: expected an array, found null",
                assertThrows(JsonException.class, () -> Json.asList(m.get("x"), "cfg.x")).getMessage());
        assertEquals("cfg: missing key \"zz\"",
                assertThrows(JsonException.class, () -> Json.get(m, "zz", "cfg")).getMessage());
        assertEquals(-1, assertThrows(JsonException.class, () -> Json.asString(1L, "w")).offset());
    }

    /** Random edits of valid JSON: each result parses (and then round-trips) or fails with JsonException. */
    @Test
    void fuzzedTextParsesOrFailsCleanly() {
        String base = "{\"a\": [1, -2.5e3, true, null, \"x\\u00e9\\n\"], \"b\": {\"c\": {}, \"d\": [[], 0.5]}, \"e\": \"\\ud83d\\ude00\"}";
        String[] pieces = {"{", "}", "[", "]", "\"", ",", ":", "\\", "\\u", "\\ud800", "-", "0", "9", "e", "E", ".", "+",
            " ", "\u00e9", "\u0000", "\uD800", "t", "n", "1e999", "99999999999999999999"};
        Random r = new Random(42);
        int parsed = 0;
        for (int i = 0; i < 5000; i++) {
            StringBuilder sb = new StringBuilder(base);
            for (int e = 1 + r.nextInt(3); e > 0 && sb.length() > 0; e--) {
                int at = r.nextInt(sb.length());
                switch (r.nextInt(3)) {
                    case 0 -> sb.deleteCharAt(at);
                    case 1 -> sb.insert(at, pieces[r.nextInt(pieces.length)]);
                    default -> sb.replace(at, at + 1, pieces[r.nextInt(pieces.length)]);
                }
            }
            String text = sb.toString();
            Object v;
            try {
                v = Json.parse(text);
            } catch (JsonException expected) {
                assertTrue(expected.offset() >= 0 && expected.offset() <= text.length(), expected.getMessage());
                continue;
            }
            parsed++;
            assertEquals(v, Json.parse(Json.write(v)), text);
            assertEquals(v, Json.parse(Json.writePretty(v)), text);
        }
        assertTrue(parsed > 100, "parsed " + parsed);
    }
}
