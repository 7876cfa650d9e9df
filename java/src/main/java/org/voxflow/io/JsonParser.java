package org.voxflow.io;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Strict RFC 8259 recursive-descent parser behind {@link Json#parse}. Recursion is bounded by
 * {@link Json#MAX_DEPTH}, so hostile input cannot overflow the stack.
 */
final class JsonParser {
    private final String s;
    private int pos;
    private int depth;

    private JsonParser(String s) { this.s = s; }

    static Object parse(String text) {
        JsonParser p = new JsonParser(text);
        p.skipWhitespace();
        Object value = p.value();
        p.skipWhitespace();
        if (p.pos < p.s.length()) throw p.error("end of input");
        return value;
    }

    private Object value() {
        if (pos >= s.length()) throw error("a value");
        char c = s.charAt(pos);
        switch (c) {
            case '{': return object();
            case '[': return array();
            case '"': return string();
            case 't': return literal("true", Boolean.TRUE);
            case 'f': return literal("false", Boolean.FALSE);
            case 'n': return literal("null", null);
            default:
                if (c == '-' || (c >= '0' && c <= '9')) return number();
                throw error("a value");
        }
    }

    private Map<String, Object> object() {
        enter();
        pos++; // '{'
        Map<String, Object> map = new LinkedHashMap<>();
        skipWhitespace();
        if (peek() == '}') { pos++; depth--; return map; }
        while (true) {
            if (peek() != '"') throw error("a string key");
            int keyStart = pos;
            String key = string();
            if (map.containsKey(key)) {
                throw new JsonException("JSON: duplicate key " + quote(key) + " at offset " + keyStart, keyStart);
            }
            skipWhitespace();
            expect(':');
            skipWhitespace();
            map.put(key, value());
            skipWhitespace();
            char c = peek();
            if (c == ',') { pos++; skipWhitespace(); continue; }
            if (c == '}') { pos++; depth--; return map; }
            throw error("',' or '}'");
        }
    }

    private List<Object> array() {
        enter();
        pos++; // '['
        List<Object> list = new ArrayList<>();
        skipWhitespace();
        if (peek() == ']') { pos++; depth--; return list; }
        while (true) {
            list.add(value());
            skipWhitespace();
            char c = peek();
            if (c == ',') { pos++; skipWhitespace(); continue; }
            if (c == ']') { pos++; depth--; return list; }
            throw error("',' or ']'");
        }
    }

    private void enter() {
        if (++depth > Json.MAX_DEPTH) {
            throw new JsonException("JSON: nesting deeper than " + Json.MAX_DEPTH + " at offset " + pos, pos);
        }
    }

    private String string() {
        pos++; // opening quote
        StringBuilder sb = new StringBuilder();
        while (true) {
            if (pos >= s.length()) throw error("'\"' closing the string");
            char c = s.charAt(pos);
            if (c == '"') { pos++; return sb.toString(); }
            if (c == '\\') { escape(sb); continue; }
            if (c < 0x20) throw error("an escape for the control character");
            if (Character.isHighSurrogate(c)) {
                // Raw surrogates come from a Java String that is not valid UTF-16; JSON text must be.
                if (pos + 1 >= s.length() || !Character.isLowSurrogate(s.charAt(pos + 1))) {
                    throw error("a low surrogate after the high surrogate");
                }
                sb.append(c).append(s.charAt(pos + 1));
                pos += 2;
                continue;
            }
            if (Character.isLowSurrogate(c)) throw error("a character, not an unpaired low surrogate");
            sb.append(c);
            pos++;
        }
    }

    private void escape(StringBuilder sb) {
        pos++; // backslash
        if (pos >= s.length()) throw error("an escape character");
        char c = s.charAt(pos);
        switch (c) {
            case '"': sb.append('"'); break;
            case '\\': sb.append('\\'); break;
            case '/': sb.append('/'); break;
            case 'b': sb.append('\b'); break;
            case 'f': sb.append('\f'); break;
            case 'n': sb.append('\n'); break;
            case 'r': sb.append('\r'); break;
            case 't': sb.append('\t'); break;
            case 'u': {
                int escapeStart = pos - 1;
                pos++;
                char u = hex4();
                if (Character.isLowSurrogate(u)) {
                    pos = escapeStart;
                    throw error("a character, not an unpaired low surrogate escape");
                }
                if (Character.isHighSurrogate(u)) {
                    // The only valid continuation is an escaped low surrogate: "\\uD83D\\uDE00".
                    if (!s.startsWith("\\u", pos)) throw error("'\\u' escape of a low surrogate after the high surrogate");
                    pos += 2;
                    char low = hex4();
                    if (!Character.isLowSurrogate(low)) {
                        pos -= 6;
                        throw error("a low surrogate escape after the high surrogate");
                    }
                    sb.append(u).append(low);
                } else {
                    sb.append(u);
                }
                return;
            }
            default:
                throw error("one of \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u");
        }
        pos++;
    }

    private char hex4() {
        int v = 0;
        for (int i = 0; i < 4; i++) {
            int d = pos < s.length() ? Character.digit(s.charAt(pos), 16) : -1;
            // Character.digit also accepts non-ASCII digits; JSON allows only [0-9a-fA-F].
            if (d < 0 || s.charAt(pos) > 'f') throw error("a hex digit");
            v = (v << 4) | d;
            pos++;
        }
        return (char) v;
    }

    private Object number() {
        int start = pos;
        boolean integral = true;
        if (peek() == '-') pos++;
        if (peek() == '0') {
            pos++;
            if (isDigit(peek())) throw error("'.', 'e' or end of number after a leading zero");
        } else {
            digits();
        }
        if (peek() == '.') {
            integral = false;
            pos++;
            digits();
        }
        if (peek() == 'e' || peek() == 'E') {
            integral = false;
            pos++;
            if (peek() == '+' || peek() == '-') pos++;
            digits();
        }
        String text = s.substring(start, pos);
        if (integral) {
            try {
                return Long.parseLong(text);
            } catch (NumberFormatException tooBig) {
                // integer beyond long range: fall through to double, as documented
            }
        }
        double d = Double.parseDouble(text);
        if (Double.isInfinite(d)) {
            throw new JsonException("JSON: number " + text + " at offset " + start + " is out of double range", start);
        }
        return d;
    }

    private void digits() {
        if (!isDigit(peek())) throw error("a digit");
        while (isDigit(peek())) pos++;
    }

    private static boolean isDigit(char c) { return c >= '0' && c <= '9'; }

    private Object literal(String word, Object value) {
        if (!s.startsWith(word, pos)) throw error("'" + word + "'");
        pos += word.length();
        return value;
    }

    private void expect(char c) {
        if (peek() != c) throw error("'" + c + "'");
        pos++;
    }

    /** The current char, or NUL at end of input (NUL never appears unescaped in valid JSON). */
    private char peek() { return pos < s.length() ? s.charAt(pos) : '\0'; }

    private void skipWhitespace() {
        while (pos < s.length()) {
            char c = s.charAt(pos);
            if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return;
            pos++;
        }
    }

    private JsonException error(String expected) {
        String found = pos >= s.length() ? "end of input" : describe(s.charAt(pos));
        return new JsonException("JSON: expected " + expected + " at offset " + pos + ", found " + found, pos);
    }

    private static String describe(char c) {
        if (c >= 0x20 && c < 0x7f) return "'" + c + "'";
        return String.format("U+%04X", (int) c);
    }

    static String quote(String key) {
        return key.length() > 60 ? "\"" + key.substring(0, 60) + "...\"" : "\"" + key + "\"";
    }
}
