package org.voxflow.io;

import java.util.List;
import java.util.Map;

/**
 * Small strict JSON reader and writer over plain Java values.
 *
 * <p>Parsed values: {@code Map<String,Object>} (a {@link java.util.LinkedHashMap}, key order kept),
 * {@code List<Object>}, {@code String}, {@code Long} (integers without fraction or exponent that fit
 * in a long; {@code -0} becomes {@code 0L}), {@code Double} (every other number), {@code Boolean} and
 * {@code null}. Rejected with {@link JsonException}: trailing garbage, duplicate keys, invalid
 * escapes, raw control characters in strings, unpaired surrogates (escaped or raw), leading zeros,
 * numbers that overflow a double, and nesting deeper than {@link #MAX_DEPTH}.
 *
 * <p>Writable values: the parsed kinds plus {@code Integer}, {@code Short}, {@code Byte},
 * {@code Float}, {@code Object[]}, {@code int[]}, {@code long[]}, {@code float[]} and
 * {@code double[]}. NaN and infinities are an error. Doubles are written with
 * {@link Double#toString}, so {@code parse(write(x))} gives back the same double.
 */
public final class Json {
    /** Deepest array/object nesting accepted by the parser and the writer. */
    public static final int MAX_DEPTH = 512;

    private Json() {}

    /** Parses one JSON value that must make up the whole text (surrounding whitespace allowed). */
    public static Object parse(String text) {
        return JsonParser.parse(text);
    }

    /** Compact JSON, no whitespace. */
    public static String write(Object value) {
        return JsonWriter.write(value, false);
    }

    /** Indented JSON (two spaces, one member or element per line). */
    public static String writePretty(Object value) {
        return JsonWriter.write(value, true);
    }

    // ---- typed access: each throws JsonException naming 'where' on a kind mismatch ----

    /** The value as an object; {@code where} describes it for the error message (e.g. "config.model"). */
    @SuppressWarnings("unchecked")
    public static Map<String, Object> asMap(Object value, String where) {
        if (value instanceof Map<?, ?> m) return (Map<String, Object>) m;
        throw mismatch(where, "an object", value);
    }

    @SuppressWarnings("unchecked")
    public static List<Object> asList(Object value, String where) {
        if (value instanceof List<?> l) return (List<Object>) l;
        throw mismatch(where, "an array", value);
    }

    public static String asString(Object value, String where) {
        if (value instanceof String s) return s;
        throw mismatch(where, "a string", value);
    }

    /** An integer value; doubles are refused even when integral, since the parser never makes those from integers. */
    public static long asLong(Object value, String where) {
        if (value instanceof Long || value instanceof Integer || value instanceof Short || value instanceof Byte) {
            return ((Number) value).longValue();
        }
        throw mismatch(where, "an integer", value);
    }

    /** An int value, range checked. */
    public static int asInt(Object value, String where) {
        long v = asLong(value, where);
        if (v != (int) v) throw new JsonException(where + ": expected an int, found " + v + " (out of range)");
        return (int) v;
    }

    /** Any number as a double. */
    public static double asDouble(Object value, String where) {
        if (value instanceof Number n) return n.doubleValue();
        throw mismatch(where, "a number", value);
    }

    public static boolean asBoolean(Object value, String where) {
        if (value instanceof Boolean b) return b;
        throw mismatch(where, "a boolean", value);
    }

    /** Member {@code key} of an object, which must be present. */
    public static Object get(Map<String, Object> map, String key, String where) {
        if (!map.containsKey(key)) throw new JsonException(where + ": missing key \"" + key + "\"");
        return map.get(key);
    }

    /** A short name for the JSON kind of a parsed value, for error messages. */
    public static String kindOf(Object value) {
        if (value == null) return "null";
        if (value instanceof Map) return "an object";
        if (value instanceof List) return "an array";
        if (value instanceof String) return "a string";
        if (value instanceof Boolean) return "a boolean";
        if (value instanceof Long || value instanceof Integer) return "an integer";
        if (value instanceof Number) return "a number";
        return value.getClass().getSimpleName();
    }

    private static JsonException mismatch(String where, String expected, Object found) {
        return new JsonException(where + ": expected " + expected + ", found " + kindOf(found));
    }
}
