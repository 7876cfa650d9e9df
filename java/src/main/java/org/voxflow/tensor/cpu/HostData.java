package org.voxflow.tensor.cpu;

import java.nio.ByteBuffer;
import org.voxflow.tensor.DType;
import org.voxflow.tensor.Shapes;
import org.voxflow.tensor.Tensor;

/** Reads any CPU view into a Java array in logical order, and writes arrays into dense CPU tensors. */
final class HostData {
    private HostData() {}

    static CpuStorage storage(Tensor t) {
        if (!(t.storage() instanceof CpuStorage s))
            throw new IllegalArgumentException("expected a CPU tensor, got one on " + t.device() + ": " + t);
        s.checkOpen();
        return s;
    }

    /** Element offsets (in storage elements) of every logical element of the view, in row-major order. */
    static void forEachOffset(Tensor t, OffsetConsumer c) {
        int[] shape = t.shape();
        long[] st = t.strides();
        int n = Shapes.numelInt(shape);
        if (n == 0) return;
        int r = shape.length;
        if (r == 0) { c.accept(0, t.offset()); return; }
        int[] idx = new int[r];
        long off = t.offset();
        int last = shape[r - 1];
        long lastStride = st[r - 1];
        for (int i = 0; i < n; ) {
            long o = off;
            for (int j = 0; j < last; j++, i++, o += lastStride) c.accept(i, o);
            // advance the odometer over the outer axes
            for (int a = r - 2; a >= 0; a--) {
                idx[a]++;
                off += st[a];
                if (idx[a] < shape[a]) break;
                off -= st[a] * shape[a];
                idx[a] = 0;
            }
        }
    }

    interface OffsetConsumer { void accept(int logical, long storageOffset); }

    static float[] floats(Tensor t) {
        CpuStorage s = storage(t);
        int n = Shapes.numelInt(t.shape());
        float[] out = new float[n];
        ByteBuffer b = s.buffer();
        DType dt = t.dtype();
        if (dt == DType.F32) {
            if (t.isContiguous()) {
                b.asFloatBuffer().get((int) t.offset(), out, 0, n);
            } else {
                gatherF32(t, b.asFloatBuffer(), out);
            }
            return out;
        }
        switch (dt) {
            case BF16 -> forEachOffset(t, (i, o) -> out[i] = DType.fromBf16(b.getShort((int) (o * 2))));
            case F16 -> forEachOffset(t, (i, o) -> out[i] = DType.fromF16(b.getShort((int) (o * 2))));
            case I32 -> forEachOffset(t, (i, o) -> out[i] = b.getInt((int) (o * 4)));
            case I64 -> forEachOffset(t, (i, o) -> out[i] = b.getLong((int) (o * 8)));
            default -> throw new AssertionError(dt);
        }
        return out;
    }

    /**
     * Strided f32 read in row-major order, a whole innermost row at a time: bulk copy when the row is dense,
     * fill when it is broadcast (stride 0), element by element otherwise.
     */
    private static void gatherF32(Tensor t, java.nio.FloatBuffer fb, float[] out) {
        int[] shape = t.shape();
        long[] st = t.strides();
        int r = shape.length;
        if (out.length == 0) return;
        if (r == 0) { out[0] = fb.get((int) t.offset()); return; }
        int last = shape[r - 1];
        long ls = st[r - 1];
        int[] idx = new int[r];
        long off = t.offset();
        for (int i = 0; i < out.length; i += last) {
            if (ls == 1) fb.get((int) off, out, i, last);
            else if (ls == 0) java.util.Arrays.fill(out, i, i + last, fb.get((int) off));
            else for (int j = 0; j < last; j++) out[i + j] = fb.get((int) (off + j * ls));
            for (int a = r - 2; a >= 0; a--) {
                idx[a]++;
                off += st[a];
                if (idx[a] < shape[a]) break;
                off -= st[a] * shape[a];
                idx[a] = 0;
            }
        }
    }

    static long[] longs(Tensor t) {
        CpuStorage s = storage(t);
        long[] out = new long[Shapes.numelInt(t.shape())];
        ByteBuffer b = s.buffer();
        switch (t.dtype()) {
            case I32 -> forEachOffset(t, (i, o) -> out[i] = b.getInt((int) (o * 4)));
            case I64 -> forEachOffset(t, (i, o) -> out[i] = b.getLong((int) (o * 8)));
            default -> {
                float[] f = floats(t);
                for (int i = 0; i < f.length; i++) out[i] = (long) f[i];
            }
        }
        return out;
    }

    static int[] ints(Tensor t) {
        CpuStorage s = storage(t);
        int[] out = new int[Shapes.numelInt(t.shape())];
        ByteBuffer b = s.buffer();
        if (t.dtype() == DType.I32 && t.isContiguous()) {
            b.asIntBuffer().get((int) t.offset(), out, 0, out.length);
            return out;
        }
        long[] l = longs(t);
        for (int i = 0; i < l.length; i++) {
            if (l[i] != (int) l[i]) throw new ArithmeticException("value " + l[i] + " at " + i + " does not fit in int");
            out[i] = (int) l[i];
        }
        return out;
    }

    /** Writes f32 values into a dense tensor of any dtype (converting). */
    static void write(Tensor dst, float[] v) {
        CpuStorage s = storage(dst);
        ByteBuffer b = s.buffer();
        int base = (int) dst.offset();
        switch (dst.dtype()) {
            case F32 -> b.asFloatBuffer().put(base, v, 0, v.length);
            case BF16 -> { for (int i = 0; i < v.length; i++) b.putShort((base + i) * 2, DType.toBf16(v[i])); }
            case F16 -> { for (int i = 0; i < v.length; i++) b.putShort((base + i) * 2, DType.toF16(v[i])); }
            case I32 -> { for (int i = 0; i < v.length; i++) b.putInt((base + i) * 4, (int) v[i]); }
            case I64 -> { for (int i = 0; i < v.length; i++) b.putLong((base + i) * 8, (long) v[i]); }
        }
    }

    static void write(Tensor dst, long[] v) {
        CpuStorage s = storage(dst);
        ByteBuffer b = s.buffer();
        int base = (int) dst.offset();
        switch (dst.dtype()) {
            case I32 -> { for (int i = 0; i < v.length; i++) b.putInt((base + i) * 4, Math.toIntExact(v[i])); }
            case I64 -> { for (int i = 0; i < v.length; i++) b.putLong((base + i) * 8, v[i]); }
            default -> {
                float[] f = new float[v.length];
                for (int i = 0; i < v.length; i++) f[i] = v[i];
                write(dst, f);
            }
        }
    }

    static void write(Tensor dst, int[] v) {
        if (dst.dtype() == DType.I32) {
            storage(dst).buffer().asIntBuffer().put((int) dst.offset(), v, 0, v.length);
            return;
        }
        long[] l = new long[v.length];
        for (int i = 0; i < v.length; i++) l[i] = v[i];
        write(dst, l);
    }
}
