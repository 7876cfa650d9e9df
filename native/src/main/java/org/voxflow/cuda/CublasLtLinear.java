package org.voxflow.cuda;

import static org.bytedeco.cuda.global.cublas.*;

import java.util.HashMap;
import java.util.Map;
import org.bytedeco.cuda.cublas.cublasLtContext;
import org.bytedeco.cuda.cublas.cublasLtMatmulDescOpaque_t;
import org.bytedeco.cuda.cublas.cublasLtMatmulHeuristicResult_t;
import org.bytedeco.cuda.cublas.cublasLtMatmulPreferenceOpaque_t;
import org.bytedeco.cuda.cublas.cublasLtMatrixLayoutOpaque_t;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerPointer;
import org.voxflow.tensor.DType;

/**
 * Linear layers on cuBLASLt: D = x W^T + bias (then GELU) with the bias and activation in the GEMM epilogue, so the
 * output is written once instead of written, re-read and re-written by separate bias and GELU passes; D is f32, or
 * the operands' 16-bit type when the next consumer is another GEMM (rounded once, from the f32 epilogue). Row-major
 * D [M, N] is column-major D^T [N, M] = W (col-major [K, N], transposed) x^T (col-major [K, M]); the bias then runs
 * along D^T's rows, as cuBLASLt's epilogue adds it. Descriptors and the heuristic's algorithm are cached per shape;
 * a shape the heuristic has no algorithm for is remembered and left to the caller's composite path.
 */
final class CublasLtLinear {
    private record Key(DType type, DType out, int m, int n, int k, int ldx, boolean bias, boolean gelu, int batch, boolean residual) {}

    private static final class Plan {
        final cublasLtMatmulDescOpaque_t desc;
        final cublasLtMatrixLayoutOpaque_t a, b, d;
        final cublasLtMatmulHeuristicResult_t heuristic;

        Plan(cublasLtMatmulDescOpaque_t desc, cublasLtMatrixLayoutOpaque_t a, cublasLtMatrixLayoutOpaque_t b,
             cublasLtMatrixLayoutOpaque_t d, cublasLtMatmulHeuristicResult_t heuristic) {
            this.desc = desc;
            this.a = a;
            this.b = b;
            this.d = d;
            this.heuristic = heuristic;
        }
    }

    private static final Plan NONE = new Plan(null, null, null, null, null);

    private final cublasLtContext handle = new cublasLtContext();
    private final CUstream_st stream;
    private final long workspace;
    private final long workspaceBytes;
    private final Map<Key, Plan> plans = new HashMap<>();
    private final FloatPointer one = new FloatPointer(1f), zero = new FloatPointer(0f);
    private final LongPointer biasAddress = new LongPointer(1);

    CublasLtLinear(long stream, long workspace, long workspaceBytes) {
        check(cublasLtCreate(handle), "cublasLtCreate");
        this.stream = new CUstream_st(new DevicePointer(stream));
        this.workspace = workspace;
        this.workspaceBytes = workspaceBytes;
    }

    /**
     * D [m, n] (dense, f32 or `type`) = x [m, k] (rows ldx apart) W^T + bias, GELU(tanh) after it when asked; x and W
     * of one 16-bit type, bias dense [n] of D's type or 0. False (nothing done) when cuBLASLt offers no algorithm.
     */
    synchronized boolean run(DType type, DType out, int m, int n, int k, long x, int ldx, long w, long bias, boolean gelu, long d) {
        return run(type, out, m, n, k, x, ldx, w, bias, gelu, d, 1);
    }

    /**
     * batch layers on the same x in one strided-batched call: W [batch, n, k] and bias [batch, n] (dense), D
     * [batch, m, n] dense, D[g] = x W[g]^T + bias[g] (x read once per batch entry: batch stride 0).
     */
    synchronized boolean run(DType type, DType out, int m, int n, int k, long x, int ldx, long w, long bias, boolean gelu, long d,
                             int batch) {
        return matmul(new Key(type, out, m, n, k, ldx, bias != 0, gelu, batch, false), x, w, bias, 0, d);
    }

    /**
     * D [m, n] = r + x W^T + bias with r [m, n] dense of D's type (beta = 1 with C = r): a residual update in the
     * epilogue, one rounding of the f32 sum, instead of the branch written, re-read and added by the next pass. r
     * may be D itself.
     */
    synchronized boolean runResidual(DType type, DType out, int m, int n, int k, long x, int ldx, long w, long bias, long r, long d) {
        return matmul(new Key(type, out, m, n, k, ldx, bias != 0, false, 1, true), x, w, bias, r, d);
    }

    private boolean matmul(Key key, long x, long w, long bias, long c, long d) {
        Plan p = plans.computeIfAbsent(key, this::plan);
        if (p == NONE) return false;
        if (bias != 0) {
            biasAddress.put(0, bias);
            check(cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, biasAddress, 8), "cublasLtMatmulDescSetAttribute(BIAS_POINTER)");
        }
        check(cublasLtMatmul(handle, p.desc, one, new DevicePointer(w), p.a, new DevicePointer(x), p.b, key.residual ? one : zero,
                new DevicePointer(key.residual ? c : d), p.d, new DevicePointer(d), p.d, p.heuristic.algo(), new DevicePointer(workspace),
                workspaceBytes, stream), "cublasLtMatmul(" + key.type + ", m=" + key.m + ", n=" + key.n + ", k=" + key.k
                + (key.residual ? ", residual" : "") + ")");
        return true;
    }

    private Plan plan(Key key) {
        int dataType = key.type == DType.BF16 ? org.bytedeco.cuda.global.cudart.CUDA_R_16BF : org.bytedeco.cuda.global.cudart.CUDA_R_16F;
        int f32 = org.bytedeco.cuda.global.cudart.CUDA_R_32F;
        int outType = key.out == DType.F32 ? f32 : dataType;
        PointerPointer<Pointer> out = new PointerPointer<>(1L);
        check(cublasLtMatmulDescCreate(out, CUBLAS_COMPUTE_32F, f32), "cublasLtMatmulDescCreate");
        cublasLtMatmulDescOpaque_t desc = new cublasLtMatmulDescOpaque_t(out.get(0));
        setInt(desc, CUBLASLT_MATMUL_DESC_TRANSA, CUBLAS_OP_T);
        setInt(desc, CUBLASLT_MATMUL_DESC_TRANSB, CUBLAS_OP_N);
        int epilogue = key.bias ? (key.gelu ? CUBLASLT_EPILOGUE_GELU_BIAS : CUBLASLT_EPILOGUE_BIAS)
                : (key.gelu ? CUBLASLT_EPILOGUE_GELU : CUBLASLT_EPILOGUE_DEFAULT);
        setInt(desc, CUBLASLT_MATMUL_DESC_EPILOGUE, epilogue);
        if (key.bias) setInt(desc, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, outType); // cuBLASLt's bias has D's type
        cublasLtMatrixLayoutOpaque_t a = layout(out, dataType, key.k, key.n, key.k);     // W: col-major [K, N]
        cublasLtMatrixLayoutOpaque_t b = layout(out, dataType, key.k, key.m, key.ldx);   // x: col-major [K, M]
        cublasLtMatrixLayoutOpaque_t d = layout(out, outType, key.n, key.m, key.n);      // D^T: col-major [N, M]
        if (key.batch > 1) { // consecutive W and D, one x for all
            batched(a, key.batch, (long) key.n * key.k);
            batched(b, key.batch, 0);
            batched(d, key.batch, (long) key.n * key.m);
            if (key.bias) {
                LongPointer stride = new LongPointer(1).put(0, key.n);
                check(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_BIAS_BATCH_STRIDE, stride, 8),
                        "cublasLtMatmulDescSetAttribute(BIAS_BATCH_STRIDE)");
            }
        }
        check(cublasLtMatmulPreferenceCreate(out), "cublasLtMatmulPreferenceCreate");
        cublasLtMatmulPreferenceOpaque_t pref = new cublasLtMatmulPreferenceOpaque_t(out.get(0));
        LongPointer ws = new LongPointer(1).put(0, workspaceBytes);
        check(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, ws, 8), "cublasLtMatmulPreferenceSetAttribute");
        // callers guarantee 16-byte aligned operands (the default assumption is 256, which views cannot promise)
        for (int attr : new int[] {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
                CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES})
            check(cublasLtMatmulPreferenceSetAttribute(pref, attr, new IntPointer(1).put(0, 16), 4), "cublasLtMatmulPreferenceSetAttribute(alignment)");
        cublasLtMatmulHeuristicResult_t h = new cublasLtMatmulHeuristicResult_t();
        int[] found = new int[1];
        int rc = cublasLtMatmulAlgoGetHeuristic(handle, desc, a, b, d, d, pref, 1, h, found);
        cublasLtMatmulPreferenceDestroy(pref);
        if (rc != 0 || found[0] == 0) {
            cublasLtMatrixLayoutDestroy(a);
            cublasLtMatrixLayoutDestroy(b);
            cublasLtMatrixLayoutDestroy(d);
            cublasLtMatmulDescDestroy(desc);
            return NONE;
        }
        return new Plan(desc, a, b, d, h);
    }

    private static cublasLtMatrixLayoutOpaque_t layout(PointerPointer<Pointer> out, int type, long rows, long cols, long ld) {
        check(cublasLtMatrixLayoutCreate(out, type, rows, cols, ld), "cublasLtMatrixLayoutCreate");
        return new cublasLtMatrixLayoutOpaque_t(out.get(0));
    }

    private static void batched(cublasLtMatrixLayoutOpaque_t layout, int count, long stride) {
        check(cublasLtMatrixLayoutSetAttribute(layout, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, new IntPointer(1).put(0, count), 4),
                "cublasLtMatrixLayoutSetAttribute(BATCH_COUNT)");
        check(cublasLtMatrixLayoutSetAttribute(layout, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, new LongPointer(1).put(0, stride), 8),
                "cublasLtMatrixLayoutSetAttribute(STRIDED_BATCH_OFFSET)");
    }

    private static void setInt(cublasLtMatmulDescOpaque_t desc, int attribute, int value) {
        check(cublasLtMatmulDescSetAttribute(desc, attribute, new IntPointer(1).put(0, value), 4), "cublasLtMatmulDescSetAttribute(" + attribute + ")");
    }

    private static void check(int rc, String call) {
        if (rc != 0) {
            String name = cublasGetStatusName(rc).getString();
            String text = cublasGetStatusString(rc).getString();
            throw new CudaException(call, rc, name, text);
        }
    }
}
