package org.voxflow.io;

import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Decodes and validates the JSON header of a safetensors file against the size of its data
 * buffer. Everything that can go wrong here becomes a {@link SafeTensorsException}.
 *
 * <p>Layout policy, the same as the reference implementation's: sorted by offset, the tensors'
 * byte ranges must tile the data buffer exactly, with no overlap, no gap and no unused bytes at
 * the end. Gaps would be harmless to read, but refusing them is what catches a header length
 * that drifted into the header's space padding (every tensor silently shifted) and data appended
 * to or lost from the file. Empty tensors ({@code begin == end}) must sit at a tensor boundary.
 */
final class SafeTensorsHeader {
    static final String METADATA_KEY = "__metadata__";
    private static final Set<String> FIELDS = Set.of("dtype", "shape", "data_offsets");

    /** Tensors sorted by data offset (ties: by end, then header order). */
    final List<SafeTensorInfo> tensors;
    final Map<String, String> metadata;

    private SafeTensorsHeader(List<SafeTensorInfo> tensors, Map<String, String> metadata) {
        this.tensors = tensors;
        this.metadata = metadata;
    }

    static SafeTensorsHeader parse(Path file, ByteBuffer headerBytes, long dataLength) {
        String text = decodeUtf8(file, headerBytes);
        Object root;
        try {
            root = Json.parse(text);
        } catch (JsonException e) {
            throw new SafeTensorsException(file, null, "header is not valid JSON: " + e.getMessage(), e);
        }
        if (!(root instanceof Map<?, ?> rootMap)) {
            throw new SafeTensorsException(file, null, "header must be a JSON object, found " + Json.kindOf(root));
        }
        Map<String, String> metadata = Map.of();
        List<SafeTensorInfo> tensors = new ArrayList<>();
        for (Map.Entry<?, ?> e : rootMap.entrySet()) {
            String name = (String) e.getKey();
            if (name.equals(METADATA_KEY)) {
                metadata = metadata(file, e.getValue());
            } else {
                tensors.add(entry(file, name, e.getValue(), dataLength));
            }
        }
        // List.sort is stable, so equal ranges keep header order.
        tensors.sort(Comparator.comparingLong(SafeTensorInfo::begin).thenComparingLong(SafeTensorInfo::end));
        checkTiling(file, tensors, dataLength);
        return new SafeTensorsHeader(Collections.unmodifiableList(tensors), metadata);
    }

    /** Strict decoding: {@code new String(bytes, UTF_8)} would silently substitute U+FFFD. */
    private static String decodeUtf8(Path file, ByteBuffer bytes) {
        CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
        ByteBuffer in = bytes.duplicate();
        int start = in.position();
        // UTF-8 never decodes to more UTF-16 units than it has bytes.
        CharBuffer out = CharBuffer.allocate(in.remaining());
        CoderResult r = decoder.decode(in, out, true);
        if (!r.isError()) r = decoder.flush(out);
        if (r.isError()) {
            throw new SafeTensorsException(file, null,
                    "header is not valid UTF-8 (bad byte sequence at header byte " + (in.position() - start) + ")");
        }
        return out.flip().toString();
    }

    private static Map<String, String> metadata(Path file, Object value) {
        if (!(value instanceof Map<?, ?> m)) {
            throw new SafeTensorsException(file, null, METADATA_KEY + " must be an object of strings, found " + Json.kindOf(value));
        }
        Map<String, String> out = new LinkedHashMap<>();
        for (Map.Entry<?, ?> e : m.entrySet()) {
            if (!(e.getValue() instanceof String s)) {
                throw new SafeTensorsException(file, null, METADATA_KEY + " value for key "
                        + JsonParser.quote((String) e.getKey()) + " must be a string, found " + Json.kindOf(e.getValue()));
            }
            out.put((String) e.getKey(), s);
        }
        return Collections.unmodifiableMap(out);
    }

    private static SafeTensorInfo entry(Path file, String name, Object value, long dataLength) {
        if (!(value instanceof Map<?, ?> m)) {
            throw new SafeTensorsException(file, name, "entry must be an object, found " + Json.kindOf(value));
        }
        for (String f : FIELDS) {
            if (!m.containsKey(f)) throw new SafeTensorsException(file, name, "missing field \"" + f + "\"");
        }
        for (Object k : m.keySet()) {
            if (!FIELDS.contains(k)) {
                throw new SafeTensorsException(file, name, "unexpected field " + JsonParser.quote((String) k));
            }
        }
        SafeDType dtype = dtype(file, name, m.get("dtype"));
        long[] shape = shape(file, name, m.get("shape"));
        long[] offsets = offsets(file, name, m.get("data_offsets"));
        long begin = offsets[0], end = offsets[1];
        if (begin > end) {
            throw new SafeTensorsException(file, name, "data_offsets begin " + begin + " > end " + end);
        }
        if (end > dataLength) {
            throw new SafeTensorsException(file, name, "data_offsets end " + end
                    + " is beyond the data buffer of " + dataLength + " bytes");
        }
        long bytes = byteSize(file, name, dtype, shape);
        if (bytes != end - begin) {
            throw new SafeTensorsException(file, name, "shape and dtype need " + bytes + " bytes but data_offsets ["
                    + begin + ", " + end + "] span " + (end - begin));
        }
        return new SafeTensorInfo(name, dtype, shape, begin, end);
    }

    private static SafeDType dtype(Path file, String name, Object v) {
        if (!(v instanceof String s)) {
            throw new SafeTensorsException(file, name, "dtype must be a string, found " + Json.kindOf(v));
        }
        return SafeDType.fromHeaderName(s).orElseThrow(() ->
                new SafeTensorsException(file, name, "unknown dtype " + JsonParser.quote(s)));
    }

    private static long[] shape(Path file, String name, Object v) {
        if (!(v instanceof List<?> list)) {
            throw new SafeTensorsException(file, name, "shape must be a list of non-negative integers, found " + Json.kindOf(v));
        }
        long[] shape = new long[list.size()];
        for (int i = 0; i < shape.length; i++) {
            Object d = list.get(i);
            if (!(d instanceof Long l) || l < 0) {
                throw new SafeTensorsException(file, name, "shape must be a list of non-negative integers, element "
                        + i + " is " + (d instanceof Long ? d : Json.kindOf(d)));
            }
            shape[i] = l;
        }
        return shape;
    }

    private static long[] offsets(Path file, String name, Object v) {
        if (v instanceof List<?> list && list.size() == 2
                && list.get(0) instanceof Long b && b >= 0 && list.get(1) instanceof Long e && e >= 0) {
            return new long[] {b, e};
        }
        throw new SafeTensorsException(file, name, "data_offsets must be two non-negative integers [begin, end], found "
                + (v instanceof List<?> l ? "a list of " + l.size() + ": " + abbreviate(l) : Json.kindOf(v)));
    }

    /** Element count times element size, refusing overflow. A zero dimension makes the tensor empty whatever the others are. */
    private static long byteSize(Path file, String name, SafeDType dtype, long[] shape) {
        for (long d : shape) if (d == 0) return 0;
        try {
            long n = dtype.bytes();
            for (long d : shape) n = Math.multiplyExact(n, d);
            return n;
        } catch (ArithmeticException overflow) {
            throw new SafeTensorsException(file, name, "shape " + java.util.Arrays.toString(shape) + " of " + dtype
                    + " overflows a 64-bit byte count");
        }
    }

    /** {@code sorted} is ordered by (begin, end); each range must start where the previous one ended. */
    private static void checkTiling(Path file, List<SafeTensorInfo> sorted, long dataLength) {
        long position = 0;
        SafeTensorInfo previous = null; // the tensor ending at 'position'
        for (SafeTensorInfo t : sorted) {
            if (t.begin() < position) {
                throw new SafeTensorsException(file, t.name(), "data range [" + t.begin() + ", " + t.end()
                        + ") overlaps tensor " + JsonParser.quote(previous.name()) + " at [" + previous.begin() + ", " + previous.end() + ")");
            }
            if (t.begin() > position) {
                throw new SafeTensorsException(file, t.name(), "data range [" + t.begin() + ", " + t.end()
                        + ") leaves a gap after byte " + position + " (tensors must be contiguous)");
            }
            if (t.end() > position) {
                position = t.end();
                previous = t;
            }
        }
        if (position != dataLength) {
            throw new SafeTensorsException(file, null, "tensors cover " + position + " bytes but the data buffer has "
                    + dataLength + " (trailing bytes, or a wrong header length)");
        }
    }

    private static String abbreviate(List<?> l) {
        String s = String.valueOf(l);
        return s.length() > 80 ? s.substring(0, 80) + "..." : s;
    }
}
