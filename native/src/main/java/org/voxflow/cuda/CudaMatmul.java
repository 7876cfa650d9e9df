package org.voxflow.cuda;

import static org.voxflow.cuda.CudaRuntime.check;

import java.util.Arrays;
import org.voxflow.tensor.DType;
import org.voxflow.tensor.Shapes;
import org.voxflow.tensor.Tensor;

/**
 * Batched matmul on cuBLAS. Transposed views become cuBLAS transpose flags and strided rows leading dimensions, so
 * only views with no unit stride in their last two axes (or batch axes that no single stride describes) are
 * copied. A weight shared by every batch ([..., M, K] @ [K, N]) runs as one tall GEMM rather than a batch of small
 * ones. bf16 x bf16 and f16 x f16 run natively with f32 accumulation; mixed inputs go through f32.
 */
final class CudaMatmul {
    private CudaMatmul() {}

    /** One GEMM operand: its (maybe copied) tensor, row-major transpose flag, leading dimension, batch stride. */
    private record Operand(Tensor t, boolean trans, int ld, long batchStride) {}

    static Tensor matmul(CudaBackend be, CublasGemm blas, Tensor a0, Tensor b0, boolean transA, boolean transB) {
        if (a0.dim() < 2 || b0.dim() < 2) throw new IllegalArgumentException("matmul needs rank >= 2, got " + a0 + " and " + b0);
        if (!a0.dtype().isFloating() || !b0.dtype().isFloating())
            throw new IllegalArgumentException("float op on an integer tensor: matmul of " + a0 + " and " + b0);
        DType type = a0.dtype() == b0.dtype() && a0.dtype() != DType.F32 ? a0.dtype() : DType.F32;
        type = CudaAutocast.gemmType(type); // bf16 with -Dvoxflow.cuda.autocast=bf16: operands cast below, result f32
        int m = transA ? a0.size(-1) : a0.size(-2);
        int k = transA ? a0.size(-2) : a0.size(-1);
        int kb = transB ? b0.size(-1) : b0.size(-2);
        int n = transB ? b0.size(-2) : b0.size(-1);
        if (k != kb)
            throw new IllegalArgumentException("matmul inner sizes differ: " + Arrays.toString(a0.shape()) + (transA ? "^T" : "")
                    + " @ " + Arrays.toString(b0.shape()) + (transB ? "^T" : ""));
        int[] batch = Shapes.broadcast(Arrays.copyOf(a0.shape(), a0.dim() - 2), Arrays.copyOf(b0.shape(), b0.dim() - 2));
        int[] outShape = Shapes.concat(batch, m, n);
        if (m == 0 || n == 0 || Shapes.numel(batch) == 0) return be.empty(DType.F32, outShape);
        if (k == 0) return be.zeros(DType.F32, outShape);

        // Operands on this device in the GEMM type; the temporaries are closed at the end (stream-ordered frees).
        // parameters cast by autocast come from the cast cache (not closed here)
        Tensor ca = be.casts().get(be, a0, type), cb = be.casts().get(be, b0, type);
        Tensor a = ca != null ? ca : onDevice(be, a0, type), b = cb != null ? cb : onDevice(be, b0, type);
        Operand oa = null, ob = null;
        try {
            oa = operand(be, a.expand(Shapes.concat(batch, a.size(-2), a.size(-1))), transA, batch.length, type);
            ob = operand(be, b.expand(Shapes.concat(batch, b.size(-2), b.size(-1))), transB, batch.length, type);
            Tensor c = be.empty(DType.F32, outShape);
            int nb = Shapes.numelInt(batch);
            if (nb > 1 && ob.batchStride == 0 && !oa.trans && oa.batchStride == (long) m * oa.ld) {
                // every batch shares B and A's batches are stacked rows: one GEMM with nb*m rows
                blas.gemm(type, false, ob.trans, Math.multiplyExact(nb, m), n, k, CudaBackend.addr(oa.t), oa.ld, 0,
                        CudaBackend.addr(ob.t), ob.ld, 0, CudaBackend.addr(c), 1);
            } else {
                blas.gemm(type, oa.trans, ob.trans, m, n, k, CudaBackend.addr(oa.t), oa.ld, oa.batchStride,
                        CudaBackend.addr(ob.t), ob.ld, ob.batchStride, CudaBackend.addr(c), nb);
            }
            return c;
        } finally {
            if (oa != null) CudaBackend.releaseTemp(oa.t, a);
            if (ob != null) CudaBackend.releaseTemp(ob.t, b);
            if (ca == null) CudaBackend.releaseTemp(a, a0);
            if (cb == null) CudaBackend.releaseTemp(b, b0);
        }
    }

    /** The tensor on this device with the GEMM's element type, as a view when it already is. */
    private static Tensor onDevice(CudaBackend be, Tensor t, DType type) {
        if (t.storage().backend() == be && t.dtype() == type) return t;
        return be.denseOf(t, type);
    }

    private static Operand operand(CudaBackend be, Tensor t, boolean trans, int batchRank, DType type) {
        Operand o = describe(t, trans, batchRank);
        if (o != null) return o;
        Tensor c = be.denseOf(t, type);  // materializes broadcasts and odd strides
        return describe(c, trans, batchRank);
    }

    /** Null when the view's last two axes have no unit stride or its batch axes need more than one stride. */
    private static Operand describe(Tensor t, boolean trans, int batchRank) {
        int rows = t.size(-2), cols = t.size(-1);
        long[] st = t.strides();
        long sr = st[st.length - 2], sc = st[st.length - 1];
        boolean flip;
        long ld;
        if ((sc == 1 || cols == 1) && (sr >= cols || rows == 1)) { flip = false; ld = Math.max(Math.max(sr, cols), 1); }
        else if ((sr == 1 || rows == 1) && (sc >= rows || cols == 1)) { flip = true; ld = Math.max(Math.max(sc, rows), 1); }
        else return null;
        if (ld > Integer.MAX_VALUE) return null;
        Strided bl = Strided.of(Arrays.copyOf(t.shape(), batchRank), Arrays.copyOf(st, batchRank));
        if (bl.rank() > 1) return null;
        long bs = bl.rank() == 0 ? 0 : bl.strides()[0][0];
        return new Operand(t, trans ^ flip, (int) ld, bs);
    }

    /** -Dvoxflow.cuda.batchedLinearEach=false runs a many-row linearEach as one GEMM per layer (for comparisons). */
    static volatile boolean batchedEach = !"false".equals(System.getProperty("voxflow.cuda.batchedLinearEach"));

    /** Batched linearEach calls that ran (tests check the path is taken). */
    static final java.util.concurrent.atomic.AtomicLong batchedEachRuns = new java.util.concurrent.atomic.AtomicLong();

    /** -Dvoxflow.cuda.skinnyLinear=false sends every Linear to cuBLASLt (for comparisons). */
    static volatile boolean skinny = !"false".equals(System.getProperty("voxflow.cuda.skinnyLinear"));

    /**
     * The fused Linear (see Backend#linear) on cuBLASLt for 16-bit GEMMs (bf16/f16 operands, or f32 under bf16
     * autocast; up to 8 rows without GELU: the skinny kernel), or null when this case goes the composite way: f32/TF32
     * GEMMs, shapes or alignments the epilogue kernels do not take, or no algorithm from the heuristic. The epilogue
     * writes `out`: f32, or the GEMM's own 16-bit type (rounded once from the f32 result, for a following GEMM; the
     * bias is then rounded to that type).
     */
    static Tensor linear(CudaBackend be, CublasLtLinear lt, Tensor x0, Tensor w0, Tensor bias0, boolean gelu, DType out) {
        return linear(be, lt, x0, w0, bias0, gelu, out, null);
    }

    /**
     * {@link org.voxflow.tensor.Backend#linearResidual} on cuBLASLt: r + x W^T + bias written in r's type with the
     * residual read as the epilogue's C (beta = 1), for the 16-bit GEMMs that {@link #linear} takes; null (the caller
     * composes) for anything else, r not dense [rows, n] of an f32/16-bit type included.
     */
    static Tensor linearResidual(CudaBackend be, CublasLtLinear lt, Tensor x0, Tensor w0, Tensor bias0, Tensor r0) {
        return r0.dtype().isFloating() ? linear(be, lt, x0, w0, bias0, false, r0.dtype(), r0) : null;
    }

    /** linear, with r0 (non-null) read by the epilogue as the residual: cuBLASLt only, r0 dense of out's type there. */
    private static Tensor linear(CudaBackend be, CublasLtLinear lt, Tensor x0, Tensor w0, Tensor bias0, boolean gelu, DType out,
                                 Tensor r0) {
        if (x0.dim() < 1 || w0.dim() != 2 || !x0.dtype().isFloating() || !w0.dtype().isFloating()) return null;
        DType type = gemmType(x0, w0.dtype(), out);
        if (type == null) return null;
        int k = x0.size(-1), n = w0.size(0);
        if (w0.size(1) != k) return null; // the composite path reports the mismatch
        if (bias0 != null && (bias0.dim() != 1 || bias0.size(0) != n)) return null;
        long rows = x0.numel() / Math.max(k, 1);
        if (k % 8 != 0 || rows == 0 || rows > Integer.MAX_VALUE) return null;
        // the skinny kernel takes any n, but no GELU and no residual; cuBLASLt needs n % 8 == 0
        boolean skinnyOk = skinny && !gelu && r0 == null && rows <= 8;
        if (n % 8 != 0 && !skinnyOk) return null;
        int m = (int) rows;
        int[] outShape = x0.shape().clone();
        outShape[outShape.length - 1] = n;
        if (r0 != null && (!Arrays.equals(r0.shape(), outShape) || r0.storage().backend() != be || !r0.isContiguous())) return null;
        Tensor x = be.denseOf(x0, type);
        try (Operands ops = new Operands(be, new Tensor[] {w0}, bias0 == null ? null : new Tensor[] {bias0}, type, out)) {
            long w = ops.w[0], bias = ops.b[0], r = r0 == null ? 0 : CudaBackend.addr(r0);
            if (CudaBackend.addr(x) % 16 != 0 || w % 16 != 0 || bias % 16 != 0 || r % 16 != 0) return null;
            Tensor y = be.empty(out, outShape);
            // a few rows (adaLN modulations, timestep MLPs): one pass over W at memory speed, where a GEMM tile idles
            if (skinnyOk) {
                int rc = VoxKernels.vf_linear_skinny(CudaBackend.addr(x), k, w, type.ordinal(), bias, CudaBackend.addr(y),
                        out.ordinal(), m, n, k, be.stream());
                if (rc == 0) return y;
                if (rc != -1) check(rc, "vf_linear_skinny(m=" + m + ", n=" + n + ", k=" + k + ")");
            }
            boolean ran = n % 8 == 0 && (r0 == null ? lt.run(type, out, m, n, k, CudaBackend.addr(x), k, w, bias, gelu, CudaBackend.addr(y))
                    : lt.runResidual(type, out, m, n, k, CudaBackend.addr(x), k, w, bias, r, CudaBackend.addr(y)));
            if (!ran) {
                y.close();
                return null;
            }
            return y;
        } finally {
            CudaBackend.releaseTemp(x, x0);
        }
    }

    /**
     * {@link org.voxflow.tensor.Backend#linearEach} in one launch: every W [n, k] of one type, biases null or each null
     * or [n], the GEMM type 16-bit (autocast, or 16-bit operands); up to 8 rows of x in the skinny kernel, more in one
     * strided-batched GEMM (linearEachBatched). Null (the caller composes) otherwise.
     */
    static Tensor linearEach(CudaBackend be, Tensor x0, Tensor[] w0, Tensor[] b0, DType out) {
        if (w0.length == 0 || x0.dim() < 1 || !x0.dtype().isFloating() || w0[0].dim() != 2) return null;
        int k = x0.size(-1), n = w0[0].size(0);
        long rows = x0.numel() / Math.max(k, 1);
        if (rows < 1 || rows > Integer.MAX_VALUE || k % 8 != 0) return null;
        DType wt = w0[0].dtype();
        for (int g = 0; g < w0.length; g++) {
            if (w0[g].dim() != 2 || w0[g].size(0) != n || w0[g].size(1) != k || w0[g].dtype() != wt) return null;
            Tensor b = b0 == null ? null : b0[g];
            if (b != null && (b.dim() != 1 || b.size(0) != n || !b.dtype().isFloating())) return null;
        }
        DType type = gemmType(x0, wt, out);
        if (type == null) return null;
        if (rows > 8) return batchedEach ? linearEachBatched(be, x0, w0, b0, out, type, (int) rows) : null;
        if (!skinny) return null;
        Tensor x = be.denseOf(x0, type);
        try (Operands ops = new Operands(be, w0, b0, type, out)) {
            Tensor y = be.empty(out, w0.length, (int) rows, n);
            int rc = VoxKernels.vf_linear_skinny_group(CudaBackend.addr(x), k, ops.w, type.ordinal(), ops.b, CudaBackend.addr(y),
                    out.ordinal(), w0.length, (int) rows, n, k, be.stream());
            if (rc == -1) {
                y.close();
                return null;
            }
            check(rc, "vf_linear_skinny_group(" + w0.length + " layers, m=" + rows + ", n=" + n + ", k=" + k + ")");
            return y;
        } finally {
            CudaBackend.releaseTemp(x, x0);
        }
    }

    /**
     * linearEach for many rows (every block's cross-attention K/V projection of the same condition), layers checked
     * by linearEach: the weights and biases stacked once by the cast cache ([G, n, k], [G, n]) and one strided-batched
     * cuBLASLt call with x shared, where G separate GEMMs of a few row tiles each left most SMs idle. Parameters only
     * (the stacks are cached), every layer with a bias or none; null otherwise, for the caller to compose.
     */
    private static Tensor linearEachBatched(CudaBackend be, Tensor x0, Tensor[] w0, Tensor[] b0, DType out, DType type, int m) {
        int k = x0.size(-1), n = w0[0].size(0), g = w0.length;
        if (g < 2 || n % 8 != 0) return null;
        boolean bias = b0 != null && b0[0] != null;
        for (int i = 0; i < g; i++) if (bias != (b0 != null && b0[i] != null)) return null;
        Tensor w = be.casts().group(be, w0, type), b = bias ? be.casts().group(be, b0, out) : null;
        if (w == null || (bias && b == null)) return null;
        Tensor x = be.denseOf(x0, type);
        try {
            if (CudaBackend.addr(x) % 16 != 0 || CudaBackend.addr(w) % 16 != 0 || (b != null && CudaBackend.addr(b) % 16 != 0)) return null;
            Tensor y = be.empty(out, g, m, n);
            if (!be.lt().run(type, out, m, n, k, CudaBackend.addr(x), k, CudaBackend.addr(w), b == null ? 0 : CudaBackend.addr(b), false,
                    CudaBackend.addr(y), g)) {
                y.close();
                return null;
            }
            batchedEachRuns.incrementAndGet();
            return y;
        } finally {
            CudaBackend.releaseTemp(x, x0);
        }
    }

    /** The 16-bit type a Linear of x and weights of type wt runs in (autocast, or 16-bit operands), or null: f32. */
    private static DType gemmType(Tensor x, DType wt, DType out) {
        DType type = CudaAutocast.gemmType(x.dtype() == wt && wt != DType.F32 ? wt : DType.F32);
        return type == DType.F32 || (out != DType.F32 && out != type) ? null : type;
    }

    /**
     * Weights in the GEMM's type and biases in D's type (cuBLASLt adds the bias in D's type, an f32 bias with a bf16 D
     * having no algorithm; the skinny kernel does the same): the cast cache's copies for parameters, else dense
     * temporaries, freed by close(). w and b hold their addresses (0: no bias).
     */
    private static final class Operands implements AutoCloseable {
        final long[] w, b;
        private final Tensor[] w0, b0, temps;

        Operands(CudaBackend be, Tensor[] w0, Tensor[] b0, DType type, DType out) {
            this.w0 = w0;
            this.b0 = b0;
            int g = w0.length;
            w = new long[g];
            b = new long[g];
            temps = new Tensor[2 * g];
            try {
                for (int i = 0; i < g; i++) {
                    w[i] = CudaBackend.addr(operand(be, w0[i], type, i));
                    Tensor bias = b0 == null ? null : b0[i];
                    if (bias != null) b[i] = CudaBackend.addr(operand(be, bias, out, g + i));
                }
            } catch (RuntimeException | Error e) {
                close();
                throw e;
            }
        }

        /** t in `type`: the cast cache's copy (f32 needs none), else a dense temporary kept in temps[slot]. */
        private Tensor operand(CudaBackend be, Tensor t, DType type, int slot) {
            Tensor cached = type == DType.F32 ? null : be.casts().get(be, t, type);
            if (cached != null) return cached;
            return temps[slot] = be.denseOf(t, type);
        }

        @Override public void close() {
            int g = w0.length;
            for (int i = 0; i < g; i++) {
                if (temps[i] != null) CudaBackend.releaseTemp(temps[i], w0[i]);
                if (temps[g + i] != null) CudaBackend.releaseTemp(temps[g + i], b0[i]);
            }
        }
    }
}
