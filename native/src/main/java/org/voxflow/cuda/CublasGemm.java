package org.voxflow.cuda;

import static org.bytedeco.cuda.global.cublas.*;

import org.bytedeco.cuda.cublas.cublasContext;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.javacpp.FloatPointer;
import org.voxflow.tensor.DType;

/**
 * Row-major strided-batched GEMM on cuBLAS through the presets' Java API. cuBLAS is column-major, so
 * C = op(A) op(B) is computed as C^T = op(B)^T op(A)^T: the operands swap places and keep their flags.
 * Inputs are f32, bf16 or f16 (both alike); accumulation and output are f32. TF32 tensor cores for f32 inputs
 * are opt-in (-Dvoxflow.cuda.tf32=true) because they change results in the 4th digit.
 */
final class CublasGemm {
    private final cublasContext handle = new cublasContext();
    private final FloatPointer one = new FloatPointer(1f);
    private final FloatPointer zero = new FloatPointer(0f);
    private volatile boolean tf32 = Boolean.getBoolean("voxflow.cuda.tf32");

    /** cuBLAS's workspace (32 MiB, what NVIDIA suggests for Hopper), owned by us so that no cuBLAS call allocates. */
    static final long WORKSPACE_BYTES = 32L << 20;

    /** @param workspace device address of WORKSPACE_BYTES bytes, live as long as this handle */
    CublasGemm(long stream, long workspace) {
        check(cublasCreate_v2(handle), "cublasCreate");
        check(cublasSetStream_v2(handle, new CUstream_st(new DevicePointer(stream))), "cublasSetStream");
        // a graph recording must not see cuBLAS allocate, and the workspace must not change between replays
        check(cublasSetWorkspace_v2(handle, new DevicePointer(workspace), WORKSPACE_BYTES), "cublasSetWorkspace");
    }

    void setTf32(boolean on) { tf32 = on; }

    boolean tf32() { return tf32; }

    /**
     * C[batch][m][n] (dense, ldc = n) = op(A) op(B) with row-major operands: A's rows are ldA apart (op(A) = A^T
     * when transA), batches strideA apart (0 = shared); likewise B.
     */
    void gemm(DType type, boolean transA, boolean transB, int m, int n, int k, long a, int ldA, long strideA, long b,
              int ldB, long strideB, long c, int batch) {
        int cudaType = switch (type) {
            case F32 -> org.bytedeco.cuda.global.cudart.CUDA_R_32F;
            case BF16 -> org.bytedeco.cuda.global.cudart.CUDA_R_16BF;
            case F16 -> org.bytedeco.cuda.global.cudart.CUDA_R_16F;
            default -> throw new IllegalArgumentException("GEMM of " + type);
        };
        int compute = type == DType.F32 && tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
        int rc = cublasGemmStridedBatchedEx(handle, transB ? CUBLAS_OP_T : CUBLAS_OP_N, transA ? CUBLAS_OP_T : CUBLAS_OP_N,
                n, m, k, one, new DevicePointer(b), cudaType, ldB, strideB, new DevicePointer(a), cudaType, ldA, strideA,
                zero, new DevicePointer(c), org.bytedeco.cuda.global.cudart.CUDA_R_32F, n, (long) m * n, batch,
                compute, CUBLAS_GEMM_DEFAULT);
        check(rc, "cublasGemmStridedBatchedEx(" + type + ", m=" + m + ", n=" + n + ", k=" + k + ", batch=" + batch + ")");
    }

    private static void check(int rc, String call) {
        if (rc != 0) {
            String name = cublasGetStatusName(rc).getString();
            String text = cublasGetStatusString(rc).getString();
            throw new CudaException(call, rc, name, text);
        }
    }
}
