package org.voxflow.tensor;

/** Element types a tensor can hold. Arithmetic runs in f32 (floats) or i64 (integers); bf16/f16 are storage formats. */
public enum DType {
    F32(4, true), BF16(2, true), F16(2, true), I32(4, false), I64(8, false);

    private final int bytes;
    private final boolean floating;

    DType(int bytes, boolean floating) {
        this.bytes = bytes;
        this.floating = floating;
    }

    /** Bytes per element. */
    public int bytes() { return bytes; }

    /** True for the floating-point types. */
    public boolean isFloating() { return floating; }

    /** Round-to-nearest-even f32 -> bf16 bits; NaN stays a quiet NaN. */
    public static short toBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if ((bits & 0x7fffffff) > 0x7f800000) return (short) ((bits >>> 16) | 0x0040);
        int rounding = 0x7fff + ((bits >>> 16) & 1);
        return (short) ((bits + rounding) >>> 16);
    }

    /** Exact bf16 bits -> f32. */
    public static float fromBf16(short h) { return Float.intBitsToFloat((h & 0xffff) << 16); }

    /** Round-to-nearest-even f32 -> IEEE half bits (JDK's own conversion). */
    public static short toF16(float f) { return Float.floatToFloat16(f); }

    /** Exact IEEE half bits -> f32. */
    public static float fromF16(short h) { return Float.float16ToFloat(h); }
}
