package org.voxflow.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.voxflow.tensor.Oracle.seq;

import org.junit.jupiter.api.Test;

/** Views (reshape, permute, transpose, slice, expand, squeeze) and the host reads of strided views. */
class TensorViewTest {
    private final Backend be = Backends.cpu();

    /** x[i,j,k] = 100 i + 10 j + k for a [2,3,4] tensor, so every element names its own index. */
    private Tensor coded() {
        float[] v = new float[24];
        for (int i = 0; i < 2; i++) for (int j = 0; j < 3; j++) for (int k = 0; k < 4; k++) v[i * 12 + j * 4 + k] = 100 * i + 10 * j + k;
        return be.fromFloats(v, 2, 3, 4);
    }

    @Test void contiguousBasics() {
        Tensor x = coded();
        assertArrayEquals(new int[] {2, 3, 4}, x.shape());
        assertArrayEquals(new long[] {12, 4, 1}, x.strides());
        assertEquals(0, x.offset());
        assertEquals(24, x.numel());
        assertEquals(4, x.size(-1));
        assertEquals(2, x.size(0));
        assertTrue(x.isContiguous());
        assertTrue(x.isDense());
        assertSame(x, x.contiguous());
        assertEquals(DType.F32, x.dtype());
        assertEquals(Device.CPU, x.device());
    }

    @Test void reshapeOfContiguousIsAView() {
        Tensor x = coded();
        Tensor r = x.reshape(6, -1);
        assertArrayEquals(new int[] {6, 4}, r.shape());
        assertSame(x.storage(), r.storage());
        assertArrayEquals(x.toFloats(), r.toFloats());
        assertArrayEquals(new int[] {24}, x.reshape(-1).shape());
        assertThrows(IllegalArgumentException.class, () -> x.reshape(5, -1));
        assertThrows(IllegalArgumentException.class, () -> x.reshape(-1, -1));
        assertThrows(IllegalArgumentException.class, () -> x.reshape(7));
    }

    @Test void permuteMovesIndices() {
        Tensor x = coded();
        Tensor p = x.permute(2, 0, 1); // p[k,i,j] = x[i,j,k]
        assertArrayEquals(new int[] {4, 2, 3}, p.shape());
        assertArrayEquals(new long[] {1, 12, 4}, p.strides());
        assertSame(x.storage(), p.storage());
        assertFalse(p.isContiguous());
        float[] v = p.toFloats();
        for (int k = 0; k < 4; k++) for (int i = 0; i < 2; i++) for (int j = 0; j < 3; j++)
            assertEquals(100 * i + 10 * j + k, v[k * 6 + i * 3 + j]);
        assertThrows(IllegalArgumentException.class, () -> x.permute(0, 0, 1));
        assertThrows(IllegalArgumentException.class, () -> x.permute(0, 1));
        // negative axes
        assertArrayEquals(p.toFloats(), x.permute(-1, 0, 1).toFloats());
    }

    @Test void transposeTwiceIsIdentityAndMatchesPermute() {
        Tensor x = coded();
        Tensor t = x.transpose(0, 2);
        assertArrayEquals(new int[] {4, 3, 2}, t.shape());
        assertArrayEquals(x.permute(2, 1, 0).toFloats(), t.toFloats());
        Tensor back = t.transpose(-1, 0);
        assertArrayEquals(x.shape(), back.shape());
        assertArrayEquals(x.strides(), back.strides());
        assertTrue(back.isContiguous());
        assertArrayEquals(x.toFloats(), back.toFloats());
    }

    @Test void sliceOffsetsAndComposes() {
        Tensor x = coded();
        Tensor s = x.slice(1, 1, 3); // j in {1,2}
        assertArrayEquals(new int[] {2, 2, 4}, s.shape());
        assertEquals(4, s.offset());
        assertFalse(s.isContiguous());
        float[] v = s.toFloats();
        for (int i = 0; i < 2; i++) for (int j = 0; j < 2; j++) for (int k = 0; k < 4; k++)
            assertEquals(100 * i + 10 * (j + 1) + k, v[i * 8 + j * 4 + k]);
        // slice of a slice of a permuted view
        Tensor ss = x.permute(2, 1, 0).slice(0, 1, 4).slice(1, 2, 3).slice(0, 1, 2); // k=2, j=2, i=0..1
        assertArrayEquals(new int[] {1, 1, 2}, ss.shape());
        assertArrayEquals(new float[] {22, 122}, ss.toFloats());
        // a leading-axis slice stays contiguous (with an offset)
        Tensor row = x.slice(0, 1, 2);
        assertTrue(row.isContiguous());
        assertFalse(row.isDense());
        assertEquals(12, row.offset());
        assertEquals(100f, row.toFloats()[0]);
        // empty slice
        assertEquals(0, x.slice(2, 3, 3).numel());
        assertEquals(0, x.slice(2, 3, 3).toFloats().length);
        assertThrows(IndexOutOfBoundsException.class, () -> x.slice(0, 1, 3));
        assertThrows(IndexOutOfBoundsException.class, () -> x.slice(0, 2, 1));
        assertThrows(IndexOutOfBoundsException.class, () -> x.slice(0, -1, 1));
    }

    @Test void expandBroadcastsWithZeroStride() {
        Tensor col = be.fromFloats(new float[] {1, 2, 3}, 3, 1);
        Tensor e = col.expand(2, 3, 4);
        assertArrayEquals(new int[] {2, 3, 4}, e.shape());
        assertArrayEquals(new long[] {0, 1, 0}, e.strides());
        float[] v = e.toFloats();
        for (int a = 0; a < 2; a++) for (int i = 0; i < 3; i++) for (int k = 0; k < 4; k++) assertEquals(i + 1, v[a * 12 + i * 4 + k]);
        assertThrows(IllegalArgumentException.class, () -> col.expand(2, 2)); // 3 is neither 2 nor 1
        assertThrows(IllegalArgumentException.class, () -> col.expand(3));
        // expand of a transposed view
        Tensor m = be.fromFloats(seq(6), 2, 3).transpose(0, 1).slice(1, 1, 2); // [3,1] column = x[1,:] = 3,4,5
        assertArrayEquals(new float[] {3, 3, 4, 4, 5, 5}, m.expand(3, 2).toFloats());
    }

    @Test void reshapeOfStridedViewCopies() {
        Tensor x = coded();
        Tensor t = x.transpose(1, 2); // [2,4,3]
        Tensor r = t.reshape(8, 3);
        assertNotSame(x.storage(), r.storage());
        assertTrue(r.isContiguous());
        float[] v = r.toFloats();
        for (int i = 0; i < 2; i++) for (int k = 0; k < 4; k++) for (int j = 0; j < 3; j++)
            assertEquals(100 * i + 10 * j + k, v[(i * 4 + k) * 3 + j]);
    }

    @Test void contiguousCopiesStridedViews() {
        Tensor x = coded();
        Tensor p = x.permute(1, 2, 0).slice(1, 1, 3);
        Tensor c = p.contiguous();
        assertNotSame(p.storage(), c.storage());
        assertTrue(c.isDense());
        assertArrayEquals(p.shape(), c.shape());
        assertArrayEquals(p.toFloats(), c.toFloats());
        // the copy is independent of the source
        be.assign(x, be.zeros(DType.F32, 2, 3, 4));
        assertEquals(0f, p.toFloats()[1]);
        assertEquals(101f, c.toFloats()[1]); // c[0,0,1] = x[1,0,1]
    }

    @Test void squeezeUnsqueeze() {
        Tensor x = coded();
        Tensor u = x.unsqueeze(1);
        assertArrayEquals(new int[] {2, 1, 3, 4}, u.shape());
        assertArrayEquals(new int[] {2, 3, 4, 1}, x.unsqueeze(-1).shape());
        assertArrayEquals(new int[] {1, 2, 3, 4}, x.unsqueeze(0).shape());
        assertArrayEquals(x.shape(), u.squeeze(1).shape());
        assertArrayEquals(x.toFloats(), u.squeeze(1).toFloats());
        assertThrows(IllegalArgumentException.class, () -> x.squeeze(0));
    }

    @Test void stridedReadsOfIntegerAnd16BitTensors() {
        Tensor i = be.fromInts(new int[] {0, 1, 2, 3, 4, 5}, 2, 3);
        assertArrayEquals(new int[] {0, 3, 1, 4, 2, 5}, i.transpose(0, 1).toInts());
        assertArrayEquals(new long[] {1, 2, 4, 5}, i.slice(1, 1, 3).toLongs());
        Tensor l = be.fromLongs(new long[] {10, 11, 12, 13}, 2, 2);
        assertArrayEquals(new long[] {10, 12, 11, 13}, l.transpose(0, 1).toLongs());
        assertArrayEquals(new int[] {10, 12, 11, 13}, l.transpose(0, 1).toInts());
        assertArrayEquals(new float[] {10, 12, 11, 13}, l.transpose(0, 1).toFloats());
        Tensor h = be.cast(be.fromFloats(new float[] {0.5f, 1.5f, -2f, 3.25f}, 2, 2), DType.BF16);
        assertArrayEquals(new float[] {0.5f, -2f, 1.5f, 3.25f}, h.transpose(0, 1).toFloats());
        Tensor hc = be.copy(h.transpose(0, 1));
        assertEquals(DType.BF16, hc.dtype());
        assertArrayEquals(new float[] {0.5f, -2f, 1.5f, 3.25f}, hc.toFloats());
    }

    @Test void scalarAndItem() {
        Tensor s = be.fromFloats(new float[] {7f}, 1, 1);
        assertEquals(7f, s.item());
        assertEquals(7f, be.fromFloats(new float[] {7f}).item()); // rank 0
        assertThrows(IllegalStateException.class, () -> be.fromFloats(seq(2), 2).item());
    }

    @Test void assignIntoOffsetView() {
        Tensor x = be.zeros(DType.F32, 3, 2);
        be.assign(x.slice(0, 1, 2), be.fromFloats(new float[] {5, 6}, 1, 2));
        assertArrayEquals(new float[] {0, 0, 5, 6, 0, 0}, x.toFloats());
        assertThrows(IllegalArgumentException.class, () -> be.assign(x.transpose(0, 1), be.zeros(DType.F32, 2, 3)));
        assertThrows(IllegalArgumentException.class, () -> be.assign(x, be.zeros(DType.F32, 2, 3)));
        // broadcast source (expanded view)
        be.assign(x, be.fromFloats(new float[] {1, 2}, 2).expand(3, 2));
        assertArrayEquals(new float[] {1, 2, 1, 2, 1, 2}, x.toFloats());
    }

    @Test void fromArraysValidateLength() {
        assertThrows(IllegalArgumentException.class, () -> be.fromFloats(new float[5], 2, 3));
        assertThrows(IllegalArgumentException.class, () -> be.fromInts(new int[5], 2, 3));
        assertArrayEquals(new float[] {2.5f, 2.5f}, be.full(2.5f, 2).toFloats());
        assertArrayEquals(new long[] {0, 0, 0}, be.zeros(DType.I64, 3).toLongs());
    }
}
