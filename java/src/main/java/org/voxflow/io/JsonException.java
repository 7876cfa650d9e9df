package org.voxflow.io;

/**
 * Thrown by {@link Json} for text that is not strict JSON, for values it cannot write, and by the
 * typed-access helpers when a value has the wrong kind. Unchecked because callers usually wrap it
 * into their own, more specific error (see {@link SafeTensorsException}).
 */
public final class JsonException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final int offset;

    /** An error not tied to a position in input text (writing, typed access). */
    public JsonException(String message) {
        this(message, -1);
    }

    /** A parse error at the given character (UTF-16 index) offset; the offset is already in the message. */
    public JsonException(String message, int offset) {
        super(message);
        this.offset = offset;
    }

    /** Character offset of a parse error in the input, or -1 when there is none. */
    public int offset() { return offset; }
}
