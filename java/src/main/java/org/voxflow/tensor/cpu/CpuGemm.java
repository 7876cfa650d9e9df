package org.voxflow.tensor.cpu;

import static org.bytedeco.openblas.global.openblas.CblasNoTrans;
import static org.bytedeco.openblas.global.openblas.CblasRowMajor;
import static org.bytedeco.openblas.global.openblas.CblasTrans;
import static org.bytedeco.openblas.global.openblas.cblas_sgemm;

import java.util.Arrays;
import org.bytedeco.javacpp.FloatPointer;
import org.voxflow.tensor.DType;
import org.voxflow.tensor.Shapes;
import org.voxflow.tensor.Tensor;

/**
 * Batched GEMM on OpenBLAS straight from tensor memory: transposed views are passed as BLAS transpose flags and
 * strided rows as leading dimensions, so no copy is made unless a view has no unit stride in its last two axes.
 */
final class CpuGemm {
    private CpuGemm() {}

    /** How one operand is handed to BLAS. */
    private record Operand(Tensor t, boolean trans, int ld) {}

    static Tensor matmul(CpuBackend be, Tensor a, Tensor b, boolean transA, boolean transB) {
        if (a.dim() < 2 || b.dim() < 2)
            throw new IllegalArgumentException("matmul needs rank >= 2, got " + a + " and " + b);
        if (a.dtype() != DType.F32) a = be.cast(a, DType.F32);
        if (b.dtype() != DType.F32) b = be.cast(b, DType.F32);
        int m = transA ? a.size(-1) : a.size(-2);
        int k = transA ? a.size(-2) : a.size(-1);
        int kb = transB ? b.size(-1) : b.size(-2);
        int n = transB ? b.size(-2) : b.size(-1);
        if (k != kb)
            throw new IllegalArgumentException("matmul inner sizes differ: " + Arrays.toString(a.shape()) + (transA ? "^T" : "")
                    + " @ " + Arrays.toString(b.shape()) + (transB ? "^T" : ""));
        int[] batchA = Arrays.copyOf(a.shape(), a.dim() - 2);
        int[] batchB = Arrays.copyOf(b.shape(), b.dim() - 2);
        int[] batch = Shapes.broadcast(batchA, batchB);
        Tensor ea = a.expand(Shapes.concat(batch, a.size(-2), a.size(-1)));
        Tensor eb = b.expand(Shapes.concat(batch, b.size(-2), b.size(-1)));
        Operand oa = operand(ea, transA);
        Operand ob = operand(eb, transB);
        Tensor c = be.zeros(DType.F32, Shapes.concat(batch, m, n));
        if (m == 0 || n == 0) return c;
        if (k == 0) return c;
        FloatPointer pa = new FloatPointer(HostData.storage(oa.t).pointer());
        FloatPointer pb = new FloatPointer(HostData.storage(ob.t).pointer());
        FloatPointer pc = new FloatPointer(HostData.storage(c).pointer());
        long[] sa = oa.t.strides(), sb = ob.t.strides();
        int nb = Shapes.numelInt(batch);
        int[] idx = new int[batch.length];
        for (int bi = 0; bi < nb; bi++) {
            long offA = oa.t.offset(), offB = ob.t.offset();
            for (int d = 0; d < batch.length; d++) {
                offA += idx[d] * sa[d];
                offB += idx[d] * sb[d];
            }
            cblas_sgemm(CblasRowMajor, oa.trans ? CblasTrans : CblasNoTrans, ob.trans ? CblasTrans : CblasNoTrans,
                    m, n, k, 1f, pa.position(offA), oa.ld, pb.position(offB), ob.ld, 0f,
                    pc.position((long) bi * m * n), n);
            for (int d = batch.length - 1; d >= 0; d--) {
                if (++idx[d] < batch[d]) break;
                idx[d] = 0;
            }
        }
        return c;
    }

    /** Describes the last two axes as row-major (maybe transposed) with a leading dimension, copying if needed. */
    private static Operand operand(Tensor t, boolean trans) {
        int rows = t.size(-2), cols = t.size(-1);
        long[] st = t.strides();
        long sr = st[st.length - 2], sc = st[st.length - 1];
        if ((sc == 1 || cols == 1) && (sr >= cols || rows == 1)) return new Operand(t, trans, (int) Math.max(Math.max(sr, cols), 1));
        if ((sr == 1 || rows == 1) && (sc >= rows || cols == 1)) return new Operand(t, !trans, (int) Math.max(Math.max(sc, rows), 1));
        Tensor c = t.backend().copy(t);
        return new Operand(c, trans, Math.max(cols, 1));
    }
}
