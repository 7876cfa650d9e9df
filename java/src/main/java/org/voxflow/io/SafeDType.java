package org.voxflow.io;

import java.util.Optional;
import org.voxflow.tensor.DType;

/**
 * Element types as named in a safetensors header. A superset of the engine's {@link DType}: files
 * also carry masks (BOOL), bytes (U8, I8), I16 and F64. The constant names are the header strings.
 */
public enum SafeDType {
    F64(8), F32(4), F16(2), BF16(2), I64(8), I32(4), I16(2), I8(1), U8(1), BOOL(1);

    private final int bytes;

    SafeDType(int bytes) { this.bytes = bytes; }

    /** Bytes per element. */
    public int bytes() { return bytes; }

    /** The header string, e.g. "BF16". */
    public String headerName() { return name(); }

    /** The header dtype string to enum, or empty for anything else (case-sensitive, as in the format). */
    public static Optional<SafeDType> fromHeaderName(String s) {
        for (SafeDType t : values()) {
            if (t.name().equals(s)) return Optional.of(t);
        }
        return Optional.empty();
    }

    /** The engine dtype with the same storage layout, or empty where the engine has none (F64, I16, I8, U8, BOOL). */
    public Optional<DType> toDType() {
        return switch (this) {
            case F32 -> Optional.of(DType.F32);
            case F16 -> Optional.of(DType.F16);
            case BF16 -> Optional.of(DType.BF16);
            case I32 -> Optional.of(DType.I32);
            case I64 -> Optional.of(DType.I64);
            default -> Optional.empty();
        };
    }

    /** The file dtype storing an engine dtype (every current engine dtype has one). */
    public static SafeDType of(DType d) {
        return switch (d) {
            case F32 -> F32;
            case F16 -> F16;
            case BF16 -> BF16;
            case I32 -> I32;
            case I64 -> I64;
            // a default rather than exhaustiveness, so a new engine dtype doesn't break this file's build
            default -> throw new IllegalArgumentException("no safetensors dtype for " + d);
        };
    }

    /** True for F64, F32, F16 and BF16. */
    public boolean isFloating() {
        return this == F64 || this == F32 || this == F16 || this == BF16;
    }
}
