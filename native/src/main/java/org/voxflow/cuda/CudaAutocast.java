package org.voxflow.cuda;

import org.voxflow.tensor.DType;
import org.voxflow.tensor.Tensor;

/**
 * bf16 autocast for the CUDA backend: f32 models get tensor-core speed without changing their weights or
 * activations. While it is on, a matmul whose operands would run as an f32 GEMM casts them to bf16 inside the backend
 * and runs cuBLAS with f32 accumulation and an f32 result; an attention forward on f32 q, k, v (head dim 32, 64 or
 * 128, d = dv) casts them to bf16 and runs the flash (tensor-core) kernel, whose output and log-sum-exp stay f32, and
 * its backward casts them again and runs the flash backward (f32 dq, dk, dv), so training runs on tensor cores too.
 * Callers see only f32 tensors, as without autocast. Everything else (norms, softmax, elementwise ops, reductions)
 * stays f32.
 *
 * <p>Turn it on with {@code -Dvoxflow.cuda.autocast=bf16} (values: {@code bf16}, or {@code off}, the default), or for
 * a stretch of code with {@code try (var s = CudaAutocast.use("bf16")) { ... }}. The setting is process-wide, like the
 * property it comes from.
 *
 * <p>Attention precision rule: the forward decides (f32 inputs become bf16 when autocast is on and no input carries
 * a tangent: the JVP kernel is f32 and rebuilds probabilities from the forward's log-sum-exp, which must then come
 * from f32 scores too). The backward does not look at the mode: it runs in whatever precision the forward that made
 * its lse ran in (CudaAttention records it), so switching autocast between a forward and its backward never mixes a
 * bf16 lse with f32 scores or the reverse. Matmul is autocast everywhere (its backward and JVP are matmuls too, cast
 * the same way).
 *
 * <p>Accuracy: bf16 keeps 8 significant bits (unit roundoff u = 2^-8), so each product of two rounded inputs is off by
 * at most (2u + u^2) of its value; with f32 accumulation a GEMM element is within about 2u sum_k |a_ik b_kj| of the
 * f32 result (see CudaAutocastParityTest for the bounds the tests hold it to).
 */
public final class CudaAutocast {
    private CudaAutocast() {}

    /** The cast-to type, or null when autocast is off. */
    private static volatile DType mode = parse(System.getProperty("voxflow.cuda.autocast", "off"));

    /** "bf16" (on) or "off"/"false"/"none"/"f32"/"" (off). */
    public static DType parse(String value) {
        String v = value == null ? "" : value.trim().toLowerCase(java.util.Locale.ROOT);
        return switch (v) {
            case "", "off", "false", "none", "f32", "fp32", "float32" -> null;
            case "bf16", "bfloat16", "true", "on" -> DType.BF16;
            default -> throw new IllegalArgumentException("voxflow.cuda.autocast: '" + value + "' is not bf16 or off");
        };
    }

    /** Whether autocast is on. */
    public static boolean enabled() { return mode != null; }

    /** "bf16" or "off". */
    public static String describe() { return mode == null ? "off" : "bf16"; }

    /** Sets the mode ("bf16" or "off") until the returned scope closes, which restores the previous one. */
    public static Scope use(String value) {
        Scope s = new Scope(mode);
        mode = parse(value);
        return s;
    }

    /** Restores the autocast mode that was in force when it was made. */
    public static final class Scope implements AutoCloseable {
        private final DType previous;
        private boolean closed;

        private Scope(DType previous) { this.previous = previous; }

        @Override public void close() {
            if (closed) return;
            closed = true;
            mode = previous;
        }
    }

    /** The GEMM element type given the type the operands would otherwise run in. */
    static DType gemmType(DType type) {
        DType m = mode;
        return m != null && type == DType.F32 ? m : type;
    }

    /**
     * The type to cast f32 attention inputs to, or null to leave them f32: the mode when it is on, some input is f32
     * and none carries a tangent. (CudaAttention checks the head dims first.)
     */
    static DType attentionType(Tensor q, Tensor k, Tensor v) {
        DType m = mode;
        if (m == null) return null;
        if (q.dtype() != DType.F32 && k.dtype() != DType.F32 && v.dtype() != DType.F32) return null;
        if (q.tangent() != null || k.tangent() != null || v.tangent() != null) return null;
        return m;
    }
}
