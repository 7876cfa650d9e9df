package org.voxflow.tensor.cpu;

import java.util.Arrays;
import org.voxflow.tensor.Backend;
import org.voxflow.tensor.BinaryOp;
import org.voxflow.tensor.DType;
import org.voxflow.tensor.Device;
import org.voxflow.tensor.ReduceOp;
import org.voxflow.tensor.Shapes;
import org.voxflow.tensor.SparsePooling;
import org.voxflow.tensor.Tensor;
import org.voxflow.tensor.UnaryOp;

/**
 * The reference implementation of every primitive: plain Java loops over f32 arrays, OpenBLAS for GEMM. Every
 * GPU kernel is tested against it.
 */
public final class CpuBackend implements Backend {
    public static final CpuBackend INSTANCE = new CpuBackend();

    private CpuBackend() {}

    @Override public Device device() { return Device.CPU; }

    // ---- memory ----------------------------------------------------------------------------------------------

    Tensor empty(DType dtype, int... shape) { return Tensor.of(new CpuStorage(dtype, Shapes.numel(shape)), shape); }

    @Override public Tensor zeros(DType dtype, int... shape) { return empty(dtype, shape); }

    @Override public Tensor full(float value, int... shape) {
        float[] v = new float[Shapes.numelInt(shape)];
        Arrays.fill(v, value);
        return fromFloats(v, shape);
    }

    @Override public Tensor fromFloats(float[] data, int... shape) {
        checkLength(data.length, shape);
        Tensor t = empty(DType.F32, shape);
        HostData.write(t, data);
        return t;
    }

    @Override public Tensor fromInts(int[] data, int... shape) {
        checkLength(data.length, shape);
        Tensor t = empty(DType.I32, shape);
        HostData.write(t, data);
        return t;
    }

    @Override public Tensor fromLongs(long[] data, int... shape) {
        checkLength(data.length, shape);
        Tensor t = empty(DType.I64, shape);
        HostData.write(t, data);
        return t;
    }

    private static void checkLength(int n, int[] shape) {
        if (n != Shapes.numel(shape))
            throw new IllegalArgumentException(n + " values do not fill shape " + Arrays.toString(shape));
    }

    @Override public float[] toFloats(Tensor t) { return local(t) ? HostData.floats(t) : t.backend().toFloats(t); }

    @Override public int[] toInts(Tensor t) { return local(t) ? HostData.ints(t) : t.backend().toInts(t); }

    @Override public long[] toLongs(Tensor t) { return local(t) ? HostData.longs(t) : t.backend().toLongs(t); }

    private static boolean local(Tensor t) { return t.storage() instanceof CpuStorage; }

    @Override public Tensor copy(Tensor src) {
        Tensor out = empty(src.dtype(), src.shape());
        if (src.dtype().isFloating() && src.dtype() != DType.F32 && local(src)) {
            // keep the 16-bit payload exact: copy raw shorts rather than converting through f32
            var in = HostData.storage(src).buffer();
            var o = HostData.storage(out).buffer();
            HostData.forEachOffset(src, (li, off) -> o.putShort(li * 2, in.getShort((int) (off * 2))));
            return out;
        }
        if (src.dtype().isFloating()) HostData.write(out, toFloats(src));
        else HostData.write(out, toLongs(src));
        return out;
    }

    @Override public Tensor cast(Tensor src, DType to) {
        if (src.dtype() == to) return copy(src);
        Tensor out = empty(to, src.shape());
        if (!src.dtype().isFloating() && !to.isFloating()) HostData.write(out, toLongs(src));
        else HostData.write(out, toFloats(src));
        return out;
    }

    @Override public void assign(Tensor dst, Tensor src) {
        if (!Arrays.equals(dst.shape(), src.shape()))
            throw new IllegalArgumentException("assign: shape " + Arrays.toString(src.shape()) + " into " + Arrays.toString(dst.shape()));
        if (!dst.isContiguous()) throw new IllegalArgumentException("assign into a non-contiguous view");
        dst.storage().bumpVersion();
        if (dst.dtype().isFloating()) HostData.write(dst, toFloats(src));
        else HostData.write(dst, toLongs(src));
    }

    // ---- elementwise -----------------------------------------------------------------------------------------

    static float[] f32(Tensor t) {
        if (!t.dtype().isFloating()) throw new IllegalArgumentException("float op on an integer tensor " + t);
        return HostData.floats(t);
    }

    @Override public Tensor unary(UnaryOp op, Tensor x) {
        float[] v = f32(x);
        Elementwise.unary(op, v);
        return fromFloats(v, x.shape());
    }

    @Override public Tensor binary(BinaryOp op, Tensor a, Tensor b) {
        int[] shape = Shapes.broadcast(a.shape(), b.shape());
        float[] va = f32(a.expand(shape));
        float[] vb = Arrays.equals(a.shape(), b.shape()) || b.numel() != 1 ? f32(b.expand(shape)) : null;
        Elementwise.binary(op, va, vb, vb == null ? f32(b)[0] : 0f);
        return fromFloats(va, shape);
    }

    @Override public Tensor affine(Tensor x, float alpha, float beta) {
        float[] v = f32(x);
        for (int i = 0; i < v.length; i++) v[i] = alpha * v[i] + beta;
        return fromFloats(v, x.shape());
    }

    @Override public Tensor powScalar(Tensor x, float p) {
        float[] v = f32(x);
        for (int i = 0; i < v.length; i++) v[i] = Elementwise.pow(v[i], p);
        return fromFloats(v, x.shape());
    }

    @Override public Tensor where(Tensor cond, Tensor a, Tensor b) {
        int[] shape = Shapes.broadcast(Shapes.broadcast(cond.shape(), a.shape()), b.shape());
        float[] c = HostData.floats(cond.expand(shape));
        float[] va = f32(a.expand(shape));
        float[] vb = f32(b.expand(shape));
        for (int i = 0; i < c.length; i++) if (c[i] == 0f) va[i] = vb[i];
        return fromFloats(va, shape);
    }

    // ---- reductions ------------------------------------------------------------------------------------------

    @Override public Tensor reduce(ReduceOp op, Tensor x, int[] axes, boolean keepDims) {
        int r = x.dim();
        boolean[] red = new boolean[r];
        for (int a : axes) red[Shapes.axis(a, r)] = true;
        int[] perm = new int[r];
        int p = 0;
        int inner = 1;
        for (int i = 0; i < r; i++) if (!red[i]) perm[p++] = i;
        for (int i = 0; i < r; i++) if (red[i]) { perm[p++] = i; inner *= x.size(i); }
        float[] v = f32(x.permute(perm));
        int outer = inner == 0 ? Shapes.numelInt(keptShape(x.shape(), red, false)) : v.length / inner;
        float[] out = new float[outer];
        for (int o = 0; o < outer; o++) {
            int base = o * inner;
            double acc = switch (op) {
                case SUM, MEAN -> 0;
                case MAX -> Double.NEGATIVE_INFINITY;
                case MIN -> Double.POSITIVE_INFINITY;
            };
            for (int i = 0; i < inner; i++) {
                float e = v[base + i];
                switch (op) {
                    case SUM, MEAN -> acc += e;
                    case MAX -> { if (e > acc || Float.isNaN(e)) acc = e; }
                    case MIN -> { if (e < acc || Float.isNaN(e)) acc = e; }
                }
            }
            out[o] = (float) (op == ReduceOp.MEAN ? acc / inner : acc);
        }
        return fromFloats(out, keptShape(x.shape(), red, keepDims));
    }

    private static int[] keptShape(int[] shape, boolean[] red, boolean keep) {
        int n = 0;
        for (int i = 0; i < shape.length; i++) if (!red[i] || keep) n++;
        int[] s = new int[n];
        for (int i = 0, j = 0; i < shape.length; i++) {
            if (!red[i]) s[j++] = shape[i];
            else if (keep) s[j++] = 1;
        }
        return s;
    }

    // ---- linear algebra --------------------------------------------------------------------------------------

    @Override public Tensor matmul(Tensor a, Tensor b, boolean transA, boolean transB) {
        return CpuGemm.matmul(this, a, b, transA, transB);
    }

    // ---- fused -------------------------------------------------------------------------------------------------

    @Override public Tensor softmax(Tensor x) {
        float[] v = f32(x);
        int n = x.size(-1);
        for (int base = 0; base < v.length; base += n) Elementwise.softmaxRow(v, base, n);
        return fromFloats(v, x.shape());
    }

    @Override public Tensor softmaxBackward(Tensor y, Tensor dy) {
        float[] vy = f32(y);
        float[] g = f32(dy.expand(y.shape()));
        int n = y.size(-1);
        for (int base = 0; base < vy.length; base += n) {
            double dot = 0;
            for (int i = 0; i < n; i++) dot += (double) g[base + i] * vy[base + i];
            for (int i = 0; i < n; i++) g[base + i] = vy[base + i] * (g[base + i] - (float) dot);
        }
        return fromFloats(g, y.shape());
    }

    @Override public Tensor[] normalize(Tensor x, float eps) {
        float[] v = f32(x);
        int n = x.size(-1);
        int rows = n == 0 ? 0 : v.length / n;
        float[] rstd = new float[rows];
        for (int r = 0; r < rows; r++) {
            int base = r * n;
            double mean = 0;
            for (int i = 0; i < n; i++) mean += v[base + i];
            mean /= n;
            double var = 0;
            for (int i = 0; i < n; i++) { double d = v[base + i] - mean; var += d * d; }
            var /= n;
            float rs = (float) (1.0 / Math.sqrt(var + eps));
            rstd[r] = rs;
            for (int i = 0; i < n; i++) v[base + i] = (float) ((v[base + i] - mean) * rs);
        }
        int[] rs = x.shape();
        rs[rs.length - 1] = 1;
        return new Tensor[] {fromFloats(v, x.shape()), fromFloats(rstd, rs)};
    }

    @Override public Tensor normalizeBackward(Tensor dy, Tensor xhat, Tensor rstd) {
        float[] g = f32(dy.expand(xhat.shape()));
        float[] xh = f32(xhat);
        float[] rs = f32(rstd);
        int n = xhat.size(-1);
        for (int r = 0; r < rs.length; r++) {
            int base = r * n;
            double mg = 0, mgx = 0;
            for (int i = 0; i < n; i++) { mg += g[base + i]; mgx += (double) g[base + i] * xh[base + i]; }
            mg /= n;
            mgx /= n;
            for (int i = 0; i < n; i++) g[base + i] = (float) (rs[r] * (g[base + i] - mg - xh[base + i] * mgx));
        }
        return fromFloats(g, xhat.shape());
    }

    @Override public Tensor[] attention(Tensor q, Tensor k, Tensor v, int[] cuQ, int[] cuK, float scale) {
        return CpuAttention.forward(this, q, k, v, cuQ, cuK, scale);
    }

    @Override public Tensor[] attentionBackward(Tensor dout, Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse,
                                                int[] cuQ, int[] cuK, float scale) {
        return CpuAttention.backward(this, dout, q, k, v, out, lse, cuQ, cuK, scale);
    }

    @Override public Tensor attentionJvp(Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse, Tensor dq, Tensor dk,
                                         Tensor dv, int[] cuQ, int[] cuK, float scale) {
        return CpuAttention.jvp(this, q, k, v, out, lse, dq, dk, dv, cuQ, cuK, scale);
    }

    // ---- flow sampling and distillation losses ----------------------------------------------------------------

    @Override public Tensor[] flowStep(Tensor x, Tensor vCond, Tensor vNeg, float condWeight, float negWeight, float dt,
                                       float x0Scale, float x0VelocityScale) {
        Shapes.sameFloatShapes("flowStep", new String[] {"x", "vCond", "vNeg"}, x, vCond, vNeg);
        float[] xv = f32(x), vc = f32(vCond), vn = vNeg == null ? null : f32(vNeg);
        float[] xPrev = new float[xv.length], x0 = new float[xv.length];
        for (int i = 0; i < xv.length; i++) { // Java rounds every product and difference: no fused multiply-add
            float v = vn == null ? vc[i] : condWeight * vc[i] - negWeight * vn[i];
            x0[i] = x0Scale * xv[i] - x0VelocityScale * v;
            xPrev[i] = xv[i] - dt * v;
        }
        return new Tensor[] {fromFloats(xPrev, x.shape()), fromFloats(x0, x.shape())};
    }

    @Override public Tensor[] mdtVelocityLoss(Tensor pred, Tensor vT, Tensor g, Tensor t, int[] rowOffsets, boolean dNorm,
                                              float normEps, float lambda, boolean withGrad) {
        long[] seg = Shapes.velocityLossSegments(pred, vT, g, t, rowOffsets);
        int samples = rowOffsets.length - 1;
        int n = Shapes.numelInt(pred.shape());
        float[] p = f32(pred), v = f32(vT), gv = f32(g), tv = f32(t);
        float[] grad = withGrad ? new float[n] : null;
        float gradScale = lambda * (1f / n); // as the composed mean and scale backward rules form it
        double acc = 0;
        for (int b = 0; b < samples; b++) {
            int from = (int) seg[b], to = (int) seg[b + 1];
            float denom = 1f;
            if (dNorm) {
                double ss = 0;
                for (int i = from; i < to; i++) ss += gv[i] * gv[i];
                denom = (float) Math.sqrt((float) ss) + normEps;
            }
            float tb = tv[b];
            for (int i = from; i < to; i++) {
                float gh = dNorm ? gv[i] / denom : gv[i];
                float d = p[i] - (v[i] - tb * gh);
                acc += lambda * (d * d);
                if (grad != null) grad[i] = gradScale * (2f * d);
            }
        }
        Tensor loss = fromFloats(new float[] {(float) (acc / n)});
        return new Tensor[] {loss, grad == null ? null : fromFloats(grad, pred.shape())};
    }

    // ---- shape / indexing --------------------------------------------------------------------------------------

    @Override public Tensor concat(Tensor[] xs, int axis) {
        int[] shape = Shapes.concatenated(xs, axis);
        int r = shape.length;
        int ax = Shapes.axis(axis, r);
        int total = shape[ax];
        int outer = 1;
        for (int i = 0; i < ax; i++) outer *= shape[i];
        int inner = 1;
        for (int i = ax + 1; i < r; i++) inner *= shape[i];
        boolean fl = xs[0].dtype().isFloating();
        int n = Shapes.numelInt(shape);
        float[] of = fl ? new float[n] : null;
        long[] ol = fl ? null : new long[n];
        int at = 0;
        for (Tensor x : xs) {
            int w = x.size(ax) * inner;
            Object src = fl ? toFloats(x) : toLongs(x);
            for (int o = 0; o < outer; o++) System.arraycopy(src, o * w, fl ? of : ol, o * total * inner + at, w);
            at += w;
        }
        Tensor out = empty(xs[0].dtype(), shape);
        if (fl) HostData.write(out, of); else HostData.write(out, ol);
        return out;
    }

    @Override public Tensor indexSelect(Tensor x, int axis, Tensor idx) {
        int ax = Shapes.axis(axis, x.dim());
        int[] ids = toInts(idx);
        int[] s = x.shape();
        int n = s[ax];
        int inner = 1;
        for (int i = ax + 1; i < s.length; i++) inner *= s[i];
        float[] v = f32(x);
        int[] os = s.clone();
        os[ax] = ids.length;
        float[] out = new float[Shapes.numelInt(os)];
        if (out.length == 0) return fromFloats(out, os);
        int outer = out.length / (ids.length * inner);
        for (int o = 0; o < outer; o++)
            for (int j = 0; j < ids.length; j++) {
                int id = ids[j];
                if (id == -1) continue;
                if (id < 0 || id >= n) throw new IndexOutOfBoundsException("index " + id + " at " + j + " for axis " + ax + " of size " + n);
                System.arraycopy(v, (o * n + id) * inner, out, (o * ids.length + j) * inner, inner);
            }
        return fromFloats(out, os);
    }

    @Override public Tensor indexAdd(Tensor src, int axis, Tensor idx, int size) {
        int ax = Shapes.axis(axis, src.dim());
        int[] ids = toInts(idx);
        int[] s = src.shape();
        if (s[ax] != ids.length) throw new IllegalArgumentException("indexAdd: " + ids.length + " indices for axis of size " + s[ax]);
        int inner = 1;
        for (int i = ax + 1; i < s.length; i++) inner *= s[i];
        float[] v = f32(src);
        int[] os = s.clone();
        os[ax] = size;
        float[] out = new float[Shapes.numelInt(os)];
        int outer = ids.length * inner == 0 ? 0 : v.length / (ids.length * inner);
        for (int o = 0; o < outer; o++)
            for (int j = 0; j < ids.length; j++) {
                int id = ids[j];
                if (id == -1) continue;
                if (id < 0 || id >= size) throw new IndexOutOfBoundsException("index " + id + " at " + j + " for size " + size);
                int so = (o * ids.length + j) * inner, dO = (o * size + id) * inner;
                for (int i = 0; i < inner; i++) out[dO + i] += v[so + i];
            }
        return fromFloats(out, os);
    }

    // ---- sparse voxel structures (the host algorithms of SparseMaps) --------------------------------------------

    /** The [N * 4] values of a coordinates tensor I32/I64 [N, 4] (from any backend). */
    static int[] sparseCoords(Tensor coords) {
        if (coords.dim() != 2 || coords.size(1) != 4 || coords.dtype().isFloating())
            throw new IllegalArgumentException("sparse coordinates must be integer [N, 4], got " + coords);
        return coords.backend().toInts(coords);
    }

    @Override public Tensor sparseNeighbours(Tensor coords) {
        int[] c = sparseCoords(coords);
        return fromInts(SparseMaps.neighbours(c), c.length / 4, 27);
    }

    @Override public SparsePooling sparseDownsample(Tensor coords, int batch, int factor) {
        int[] c = sparseCoords(coords);
        SparseMaps.Pooling p = SparseMaps.downsample(c, batch, factor);
        int m = p.counts().length;
        return new SparsePooling(fromInts(p.coords(), m, 4), fromInts(p.toCoarse(), c.length / 4), fromInts(p.counts(), m),
                p.offsets());
    }
}
