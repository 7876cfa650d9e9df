package org.voxflow.io;

import java.util.List;
import java.util.Map;

/** Serializer behind {@link Json#write} and {@link Json#writePretty}. */
final class JsonWriter {
    private final StringBuilder out = new StringBuilder();
    private final boolean pretty;
    private int depth;

    private JsonWriter(boolean pretty) { this.pretty = pretty; }

    static String write(Object value, boolean pretty) {
        JsonWriter w = new JsonWriter(pretty);
        w.value(value);
        return w.out.toString();
    }

    private void value(Object v) {
        if (v == null) out.append("null");
        else if (v instanceof String str) string(str);
        else if (v instanceof Boolean b) out.append(b.booleanValue());
        else if (v instanceof Long || v instanceof Integer || v instanceof Short || v instanceof Byte) out.append(v);
        else if (v instanceof Double d) number(d);
        else if (v instanceof Float f) number(f);
        else if (v instanceof Map<?, ?> m) object(m);
        else if (v instanceof List<?> l) array(l.size(), i -> value(l.get(i)));
        else if (v instanceof Object[] a) array(a.length, i -> value(a[i]));
        else if (v instanceof int[] a) array(a.length, i -> out.append(a[i]));
        else if (v instanceof long[] a) array(a.length, i -> out.append(a[i]));
        else if (v instanceof float[] a) array(a.length, i -> number(a[i]));
        else if (v instanceof double[] a) array(a.length, i -> number(a[i]));
        else throw new JsonException("JSON: cannot write a value of type " + v.getClass().getName());
    }

    private void number(double d) {
        if (!Double.isFinite(d)) throw new JsonException("JSON: cannot write non-finite number " + d);
        out.append(d); // Double.toString is shortest-repr and valid JSON ("1.0E10"), so it round-trips
    }

    private void number(float f) {
        if (!Float.isFinite(f)) throw new JsonException("JSON: cannot write non-finite number " + f);
        out.append(f); // Float.toString keeps "0.1f" as 0.1 rather than its double expansion
    }

    private void object(Map<?, ?> m) {
        enter();
        out.append('{');
        boolean first = true;
        for (Map.Entry<?, ?> e : m.entrySet()) {
            if (!(e.getKey() instanceof String key)) {
                throw new JsonException("JSON: object keys must be strings, found "
                        + (e.getKey() == null ? "null" : e.getKey().getClass().getName()));
            }
            if (!first) out.append(',');
            first = false;
            newline();
            string(key);
            out.append(pretty ? ": " : ":");
            value(e.getValue());
        }
        depth--;
        if (!first) newline();
        out.append('}');
    }

    private interface Element { void write(int index); }

    private void array(int n, Element element) {
        enter();
        out.append('[');
        for (int i = 0; i < n; i++) {
            if (i > 0) out.append(',');
            newline();
            element.write(i);
        }
        depth--;
        if (n > 0) newline();
        out.append(']');
    }

    /** Same limit as the parser: whatever we write can be read back, and cycles fail fast. */
    private void enter() {
        if (++depth > Json.MAX_DEPTH) throw new JsonException("JSON: nesting deeper than " + Json.MAX_DEPTH + " (cyclic value?)");
    }

    private void newline() {
        if (!pretty) return;
        out.append('\n');
        for (int i = 0; i < depth; i++) out.append("  ");
    }

    private void string(String s) {
        out.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                case '\b' -> out.append("\\b");
                case '\f' -> out.append("\\f");
                default -> {
                    if (c < 0x20) {
                        out.append(String.format("\\u%04x", (int) c));
                    } else if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
                        out.append(c).append(s.charAt(++i));
                    } else if (Character.isSurrogate(c)) {
                        // Would produce text our own parser (and any UTF-8 encoder) rejects.
                        throw new JsonException("JSON: cannot write a string with an unpaired surrogate at index " + i);
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        out.append('"');
    }
}
