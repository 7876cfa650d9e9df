package org.voxflow.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** Element types: f32 <-> bf16/f16 conversion (exact widening, round-to-nearest-even narrowing, NaN), integer casts. */
class DTypeTest {
    private final Backend be = Backends.cpu();

    private static float f(int bits) { return Float.intBitsToFloat(bits); }

    @Test void sizes() {
        assertEquals(4, DType.F32.bytes());
        assertEquals(2, DType.BF16.bytes());
        assertEquals(2, DType.F16.bytes());
        assertEquals(4, DType.I32.bytes());
        assertEquals(8, DType.I64.bytes());
        assertTrue(DType.BF16.isFloating());
        assertFalse(DType.I64.isFloating());
    }

    @Test void bf16RoundsToNearestEven() {
        // bf16 keeps 7 fraction bits: around 1.0 the spacing is 2^-7
        assertEquals((short) 0x3f80, DType.toBf16(1f));
        assertEquals((short) 0x3f80, DType.toBf16(f(0x3f808000)));    // 1 + 2^-8: tie, 0x3f80 is even -> down
        assertEquals((short) 0x3f82, DType.toBf16(f(0x3f818000)));    // 1 + 3*2^-8: tie, 0x3f81 odd -> up to 0x3f82
        assertEquals((short) 0x3f81, DType.toBf16(f(0x3f808001)));    // just above the tie -> up
        assertEquals((short) 0x3f80, DType.toBf16(f(0x3f807fff)));    // just below the tie -> down
        assertEquals((short) 0xbf80, DType.toBf16(f(0xbf808000)));    // negative tie -> even
        assertEquals((short) 0xbf82, DType.toBf16(f(0xbf818000)));
        assertEquals((short) 0x8000, DType.toBf16(-0f));
        assertEquals((short) 0x0000, DType.toBf16(0f));
        assertEquals((short) 0x7f80, DType.toBf16(Float.POSITIVE_INFINITY));
        assertEquals((short) 0xff80, DType.toBf16(Float.NEGATIVE_INFINITY));
        assertEquals((short) 0x7f80, DType.toBf16(Float.MAX_VALUE));  // beyond the largest bf16 + half ulp -> inf
        assertEquals((short) 0x7f7f, DType.toBf16(f(0x7f7f7fff)));    // below the half-way point -> largest finite
        assertEquals((short) 0x0001, DType.toBf16(f(0x00010000)));    // subnormals keep their top bits
        assertEquals((short) 0x0000, DType.toBf16(f(0x00008000)));    // smallest-subnormal tie -> even (zero)
    }

    @Test void bf16NaNStaysNaN() {
        for (int bits : new int[] {0x7fc00000, 0x7f800001, 0xff800001, 0x7f8000ff, 0xffffffff}) {
            short h = DType.toBf16(f(bits));
            assertTrue(Float.isNaN(DType.fromBf16(h)), "NaN " + Integer.toHexString(bits) + " -> " + Integer.toHexString(h & 0xffff));
            assertEquals(bits < 0, (h & 0x8000) != 0, "sign kept");
        }
    }

    @Test void f16RoundsToNearestEven() {
        assertEquals((short) 0x3c00, DType.toF16(1f));
        assertEquals((short) 0x3c00, DType.toF16(1f + 0x1p-11f));            // tie -> even (down)
        assertEquals((short) 0x3c02, DType.toF16(1f + 3 * 0x1p-11f));        // tie -> even (up)
        assertEquals((short) 0x7bff, DType.toF16(65504f));                   // largest finite
        assertEquals((short) 0x7bff, DType.toF16(65519f));                   // below the tie -> largest
        assertEquals((short) 0x7c00, DType.toF16(65520f));                   // tie between 65504 and 2^16 -> even = inf
        assertEquals((short) 0x0001, DType.toF16(0x1p-24f));                 // smallest subnormal
        assertEquals((short) 0x0000, DType.toF16(0x1p-25f));                 // tie -> even (zero)
        assertEquals((short) 0x0002, DType.toF16(3 * 0x1p-25f));             // tie between 1 and 2 ulps -> 2
        assertEquals((short) 0x8000, DType.toF16(-0f));
        assertTrue(Float.isNaN(DType.fromF16(DType.toF16(Float.NaN))));
        assertEquals(Float.NEGATIVE_INFINITY, DType.fromF16(DType.toF16(-1e6f)));
    }

    /** Every 16-bit pattern widens exactly and narrows back to itself (NaN to some NaN), through tensors too. */
    @Test void everyHalfPatternRoundTripsThroughTensors() {
        for (DType dt : new DType[] {DType.BF16, DType.F16}) {
            float[] wide = new float[65536];
            for (int b = 0; b < 65536; b++) wide[b] = dt == DType.BF16 ? DType.fromBf16((short) b) : DType.fromF16((short) b);
            Tensor narrow = be.cast(be.fromFloats(wide, 256, 256), dt);
            assertEquals(dt, narrow.dtype());
            float[] back = narrow.toFloats();
            float[] again = be.cast(narrow, DType.F32).toFloats();
            float[] viaCopy = be.copy(narrow.transpose(0, 1)).transpose(0, 1).toFloats();
            for (int b = 0; b < 65536; b++) {
                if (Float.isNaN(wide[b])) {
                    assertTrue(Float.isNaN(back[b]) && Float.isNaN(again[b]) && Float.isNaN(viaCopy[b]), dt + " NaN " + b);
                } else {
                    assertEquals(Float.floatToRawIntBits(wide[b]), Float.floatToRawIntBits(back[b]), dt + " pattern " + b);
                    assertEquals(Float.floatToRawIntBits(wide[b]), Float.floatToRawIntBits(again[b]), dt + " pattern " + b);
                    assertEquals(Float.floatToRawIntBits(wide[b]), Float.floatToRawIntBits(viaCopy[b]), dt + " pattern " + b);
                }
            }
        }
    }

    @Test void tensorCastRoundsLikeTheScalarConversion() {
        Rng rng = new Rng(11);
        float[] v = rng.normal(4096);
        for (int i = 0; i < v.length; i++) v[i] *= (float) Math.pow(10, (i % 9) - 4);
        v[0] = f(0x3f808000);
        v[1] = f(0x3f818000);
        v[2] = Float.NaN;
        v[3] = Float.NEGATIVE_INFINITY;
        Tensor x = be.fromFloats(v, 64, 64);
        float[] bf = be.cast(x, DType.BF16).toFloats();
        float[] hf = be.cast(x, DType.F16).toFloats();
        for (int i = 0; i < v.length; i++) {
            float eb = DType.fromBf16(DType.toBf16(v[i])), eh = DType.fromF16(DType.toF16(v[i]));
            if (Float.isNaN(v[i])) {
                assertTrue(Float.isNaN(bf[i]) && Float.isNaN(hf[i]));
                continue;
            }
            assertEquals(eb, bf[i], 0f, "bf16 of " + v[i]);
            assertEquals(eh, hf[i], 0f, "f16 of " + v[i]);
            // nearest: no representable neighbour is closer
            if (Float.isFinite(v[i]))
                assertTrue(Math.abs(bf[i] - v[i]) <= Math.abs(v[i]) * 0x1p-8f + Float.MIN_VALUE, "bf16 error bound at " + v[i]);
        }
        assertEquals(1f, bf[0]);
        assertEquals(1f + 0x1p-6f, bf[1]);
        // cast of a strided view, and bf16 -> f16 (through f32)
        Tensor t = be.cast(x.transpose(0, 1), DType.BF16);
        assertArrayEquals(be.cast(be.copy(x.transpose(0, 1)), DType.BF16).toFloats(), t.toFloats());
        float[] b2h = be.cast(be.cast(x, DType.BF16), DType.F16).toFloats();
        for (int i = 4; i < v.length; i++) assertEquals(DType.fromF16(DType.toF16(bf[i])), b2h[i], 0f);
    }

    @Test void floatToIntTruncatesTowardZero() {
        Tensor x = be.fromFloats(new float[] {2.7f, -2.7f, 0.5f, -0.5f, 1e9f, -3f}, 6);
        assertArrayEquals(new int[] {2, -2, 0, 0, 1000000000, -3}, be.cast(x, DType.I32).toInts());
        assertArrayEquals(new long[] {2, -2, 0, 0, 1000000000, -3}, be.cast(x, DType.I64).toLongs());
        assertEquals(DType.I32, be.cast(x, DType.I32).dtype());
        assertArrayEquals(new long[] {2, -2}, be.cast(be.cast(x, DType.BF16), DType.I64).slice(0, 0, 2).toLongs());
    }

    @Test void integerCasts() {
        Tensor l = be.fromLongs(new long[] {-5, 0, 7, 1L << 30, -(1L << 31)}, 5);
        Tensor i = be.cast(l, DType.I32);
        assertEquals(DType.I32, i.dtype());
        assertArrayEquals(new int[] {-5, 0, 7, 1 << 30, Integer.MIN_VALUE}, i.toInts());
        assertArrayEquals(l.toLongs(), be.cast(i, DType.I64).toLongs());
        // I64 beyond int range does not silently wrap
        Tensor big = be.fromLongs(new long[] {1L << 40}, 1);
        assertThrows(ArithmeticException.class, () -> be.cast(big, DType.I32));
        assertThrows(ArithmeticException.class, big::toInts);
        // large I64 -> F32 rounds to nearest, I32 -> F32 exact below 2^24
        assertArrayEquals(new float[] {0x1p40f}, be.cast(big, DType.F32).toFloats());
        Tensor small = be.fromInts(new int[] {-16777216, 16777215, 3}, 3);
        assertArrayEquals(new float[] {-16777216f, 16777215f, 3f}, be.cast(small, DType.F32).toFloats());
        assertArrayEquals(new float[] {3f}, be.cast(small, DType.BF16).slice(0, 2, 3).toFloats());
        // strided integer copy
        Tensor m = be.fromInts(new int[] {1, 2, 3, 4, 5, 6}, 2, 3);
        Tensor mt = be.copy(m.transpose(0, 1));
        assertEquals(DType.I32, mt.dtype());
        assertArrayEquals(new int[] {1, 4, 2, 5, 3, 6}, mt.toInts());
        Tensor same = be.cast(m, DType.I32);
        assertArrayEquals(m.toInts(), same.toInts());
        assertTrue(same.storage() != m.storage());
    }

    @Test void floatOpsRejectIntegerTensors() {
        Tensor i = be.fromInts(new int[] {1, 2}, 2);
        assertThrows(IllegalArgumentException.class, () -> be.unary(UnaryOp.NEG, i));
        assertThrows(IllegalArgumentException.class, () -> be.binary(BinaryOp.ADD, i, i));
    }
}
