package org.voxflow.cuda;

import static org.voxflow.cuda.CudaRuntime.check;

import java.util.Collections;
import java.util.Map;
import java.util.WeakHashMap;
import org.voxflow.tensor.DType;
import org.voxflow.tensor.Storage;
import org.voxflow.tensor.Shapes;
import org.voxflow.tensor.Tensor;

/**
 * Host side of the attention kernels: validates shapes and offsets like the CPU reference, picks the precision,
 * makes dense operands and launches.
 *
 * <p>Kernels: the flash (tensor-core) kernels of vf_flash.cu / vf_flash_bwd.cu for bf16/f16 q, k, v with
 * D == Dv in {32, 64, 128} and scale > 0; the f32 kernels of vf_attention.cu (head dims up to 256) otherwise, and
 * always for the JVP. Outputs (out, lse, dq, dk, dv, tangents) are f32 either way, except the inference form's out,
 * which the flash forward writes in its 16-bit type when asked (the next GEMM's input under autocast).
 *
 * <p>Precision rule: the forward runs flash in type T when q, k, v are all T (bf16 or f16), or when autocast
 * decides to cast f32 inputs to bf16 ({@link CudaAutocast#attentionType}: not when an input carries a tangent);
 * otherwise f32. The forward records its choice against the lse it returns, and the backward reads it back: a
 * backward always rebuilds the probabilities in the precision that made the lse (an f32 lse with bf16 scores, or the
 * reverse, would give wrong gradients), whatever the autocast mode is by then. For an lse this backend did not make
 * (no record), the backward applies the forward's rule without autocast.
 *
 * <p>On Hopper the forward may split the key range of some query tiles over several thread blocks and fold their
 * partial results (see vf_flash_sm90.cu), so its last bits depend on the device's SM count; the bounds are the same.
 *
 * <p>Offsets travel inside the kernel parameters (no upload, no host wait) for batches up to
 * {@link #INLINE_BATCH} instances; larger batches are uploaded once per call (a synchronous copy).
 */
final class CudaAttention {
    private CudaAttention() {}

    static final int MAX_HEAD_DIM = 256;
    /** VF_ATTN_INLINE_BATCH of voxflow_kernels.h. */
    static final int INLINE_BATCH = 255;

    /** The tensor-core kernels for bf16/f16 inputs (-Dvoxflow.cuda.flash=false falls back to the f32 kernels). */
    static volatile boolean flash = !"false".equals(System.getProperty("voxflow.cuda.flash"));

    /**
     * Whether the flash forward gets the backend's workspace, with which the Hopper kernel splits the key range of the
     * units in a partly full last wave (-Dvoxflow.cuda.attentionSplit=false: never, for comparisons).
     */
    static volatile boolean split = !"false".equals(System.getProperty("voxflow.cuda.attentionSplit"));
    private static final long[] NO_WORKSPACE = {0, 0};

    /** The type each forward ran in (F32, BF16 or F16), keyed by the storage of the lse it returned. */
    private static final Map<Storage, DType> RAN_IN = Collections.synchronizedMap(new WeakHashMap<>());

    private record Problem(int heads, int d, int dv, int batch, int maxQ, int maxK, int[] offsets, Tensor devOffsets)
            implements AutoCloseable {
        long dev() { return devOffsets == null ? 0 : CudaBackend.addr(devOffsets); }

        @Override public void close() {
            if (devOffsets != null) devOffsets.close();
        }
    }

    private static Problem problem(CudaBackend be, Tensor q, Tensor k, Tensor v, int[] cuQ, int[] cuK) {
        Shapes.checkAttention(q, k, v, cuQ, cuK);
        int h = q.size(1), d = q.size(2);
        int dv = v.size(2);
        if (d > MAX_HEAD_DIM || dv > MAX_HEAD_DIM)
            throw new IllegalArgumentException("CUDA attention supports head dims up to " + MAX_HEAD_DIM + ", got D=" + d + ", Dv=" + dv);
        int batch = cuQ.length - 1, maxQ = 0, maxK = 0;
        int[] both = new int[2 * cuQ.length];
        for (int b = 0; b < batch; b++) {
            maxQ = Math.max(maxQ, cuQ[b + 1] - cuQ[b]);
            maxK = Math.max(maxK, cuK[b + 1] - cuK[b]);
        }
        System.arraycopy(cuQ, 0, both, 0, cuQ.length);
        System.arraycopy(cuK, 0, both, cuQ.length, cuK.length);
        Tensor dev = batch > INLINE_BATCH ? be.fromInts(both, both.length) : null;
        return new Problem(h, d, dv, batch, maxQ, maxK, both, dev);
    }

    /** Whether the flash kernels cover these sizes (and are enabled). */
    static boolean flashShape(int d, int dv, float scale) {
        return flash && d == dv && (d == 32 || d == 64 || d == 128) && scale > 0 && !Float.isInfinite(scale);
    }

    /** The forward's precision rule without autocast: the 16-bit type when q, k, v all have it, else F32. */
    private static DType nativeType(Tensor q, Tensor k, Tensor v, int d, int dv, float scale) {
        DType t = q.dtype();
        return (t == DType.BF16 || t == DType.F16) && k.dtype() == t && v.dtype() == t && flashShape(d, dv, scale) ? t : DType.F32;
    }

    /** Dense, 16-byte aligned operand of the given 16-bit type (cast or copied where needed). */
    private static Tensor dense16(CudaBackend be, Tensor x, DType type, CudaBackend.Temps t) {
        Tensor d = t.track(be.denseOf(x, type), x);
        if (CudaBackend.addr(d) % 16 == 0) return d;
        return t.track(be.copy(d), null);
    }

    private static Tensor denseF32(CudaBackend be, Tensor x, CudaBackend.Temps t) { return t.track(be.denseOf(x, DType.F32), x); }

    /**
     * Token rows [N, H, D] of the 16-bit type for the flash forward: x itself when its heads and dims are dense and
     * its token stride is whole 16-byte chunks (q, k, v slices of packed projections), else a dense copy.
     */
    private static Tensor rows16(CudaBackend be, Tensor x, DType type, CudaBackend.Temps t) {
        long[] st = x.strides();
        int h = x.size(1), d = x.size(2);
        boolean inPlace = x.dtype() == type && x.storage().backend() == be && (st[2] == 1 || d == 1) && (st[1] == d || h == 1)
                && st[0] % 8 == 0 && st[0] >= (long) h * d && CudaBackend.addr(x) % 16 == 0;
        return inPlace ? x : dense16(be, x, type, t);
    }

    /** Token stride of rows16's result. */
    private static long tokenStride(Tensor x) { return x.size(0) <= 1 ? (long) x.size(1) * x.size(2) : x.strides()[0]; }

    static Tensor[] forward(CudaBackend be, Tensor q0, Tensor k0, Tensor v0, int[] cuQ, int[] cuK, float scale) {
        return forward(be, q0, k0, v0, cuQ, cuK, scale, DType.F32, true);
    }

    /**
     * The inference form: out rounded to `out` (the flash kernel writes the 16-bit type itself when it ran in that
     * type), no lse.
     */
    static Tensor forward(CudaBackend be, Tensor q0, Tensor k0, Tensor v0, int[] cuQ, int[] cuK, float scale, DType out) {
        Tensor[] r = forward(be, q0, k0, v0, cuQ, cuK, scale, out, false);
        if (r[0].dtype() == out) return r[0];
        Tensor c = be.cast(r[0], out);
        r[0].close();
        return c;
    }

    /** withLse: training's form (f32 out, lse recorded); else out may come back in the flash type, lse dropped. */
    private static Tensor[] forward(CudaBackend be, Tensor q0, Tensor k0, Tensor v0, int[] cuQ, int[] cuK, float scale,
                                    DType outType, boolean withLse) {
        try (Problem p = problem(be, q0, k0, v0, cuQ, cuK); CudaBackend.Temps t = new CudaBackend.Temps()) {
            DType type = nativeType(q0, k0, v0, p.d, p.dv, scale);
            if (type == DType.F32 && flashShape(p.d, p.dv, scale)) {
                DType cast = CudaAutocast.attentionType(q0, k0, v0); // autocast: f32 inputs run as bf16
                if (cast != null) type = cast;
            }
            int nq = q0.size(0);
            Tensor out = be.empty(type != DType.F32 && outType == type ? type : DType.F32, nq, p.heads, p.dv);
            Tensor lse = withLse ? be.empty(DType.F32, nq, p.heads) : t.track(be.empty(DType.F32, nq, p.heads), null);
            if (type != DType.F32) {
                Tensor q = rows16(be, q0, type, t), k = rows16(be, k0, type, t), v = rows16(be, v0, type, t);
                long[] ws = split ? be.attentionWorkspace() : NO_WORKSPACE;
                check(VoxKernels.vf_flash_attention_forward(CudaBackend.addr(q), tokenStride(q), CudaBackend.addr(k), tokenStride(k),
                        CudaBackend.addr(v), tokenStride(v), type.ordinal(), CudaBackend.addr(out), out.dtype().ordinal(),
                        CudaBackend.addr(lse), p.offsets, p.dev(), p.batch, p.heads, p.d, p.maxQ, scale, ws[0], ws[1],
                        be.stream()),
                        "vf_flash_attention_forward(" + type + ")");
            } else {
                Tensor q = denseF32(be, q0, t), k = denseF32(be, k0, t), v = denseF32(be, v0, t);
                check(VoxKernels.vf_attention_forward(CudaBackend.addr(q), CudaBackend.addr(k), CudaBackend.addr(v),
                        CudaBackend.addr(out), CudaBackend.addr(lse), p.offsets, p.dev(), p.batch, p.heads, p.d, p.dv,
                        p.maxQ, scale, be.stream()), "vf_attention_forward");
            }
            if (!withLse) return new Tensor[] {out, null};
            RAN_IN.put(lse.storage(), type);
            return new Tensor[] {out, lse};
        }
    }

    /** The precision the forward that made this lse ran in (see the class comment). */
    static DType forwardType(Tensor lse, Tensor q, Tensor k, Tensor v, int d, int dv, float scale) {
        DType recorded = RAN_IN.get(lse.storage());
        return recorded != null ? recorded : nativeType(q, k, v, d, dv, scale);
    }

    static Tensor[] backward(CudaBackend be, Tensor dout0, Tensor q0, Tensor k0, Tensor v0, Tensor out0, Tensor lse0,
                             int[] cuQ, int[] cuK, float scale) {
        try (Problem p = problem(be, q0, k0, v0, cuQ, cuK); CudaBackend.Temps t = new CudaBackend.Temps()) {
            DType type = forwardType(lse0, q0, k0, v0, p.d, p.dv, scale);
            int nq = q0.size(0), nk = k0.size(0);
            Tensor g = denseF32(be, dout0, t), o = denseF32(be, out0, t), lse = denseF32(be, lse0, t);
            Tensor delta = t.track(be.empty(DType.F32, nq, p.heads), null);
            Tensor dq = be.empty(DType.F32, nq, p.heads, p.d);
            Tensor dk = be.empty(DType.F32, nk, p.heads, p.d);
            Tensor dv = be.empty(DType.F32, nk, p.heads, p.dv);
            if (type != DType.F32) {
                Tensor q = dense16(be, q0, type, t), k = dense16(be, k0, type, t), v = dense16(be, v0, type, t);
                Tensor gh = t.track(be.empty(type, nq, p.heads, p.d), null);
                check(VoxKernels.vf_flash_attention_backward(CudaBackend.addr(g), CudaBackend.addr(q), CudaBackend.addr(k),
                        CudaBackend.addr(v), type.ordinal(), CudaBackend.addr(o), CudaBackend.addr(lse), CudaBackend.addr(dq),
                        CudaBackend.addr(dk), CudaBackend.addr(dv), CudaBackend.addr(gh), CudaBackend.addr(delta), p.offsets,
                        p.dev(), p.batch, p.heads, p.d, nq, p.maxK, scale, be.stream()), "vf_flash_attention_backward(" + type + ")");
            } else {
                Tensor q = denseF32(be, q0, t), k = denseF32(be, k0, t), v = denseF32(be, v0, t);
                check(VoxKernels.vf_attention_backward(CudaBackend.addr(g), CudaBackend.addr(q), CudaBackend.addr(k),
                        CudaBackend.addr(v), CudaBackend.addr(o), CudaBackend.addr(lse), CudaBackend.addr(dq), CudaBackend.addr(dk),
                        CudaBackend.addr(dv), CudaBackend.addr(delta), p.offsets, p.dev(), p.batch, p.heads, p.d, p.dv, nq,
                        p.maxQ, p.maxK, scale, be.stream()), "vf_attention_backward");
            }
            return new Tensor[] {dq, dk, dv};
        }
    }

    static Tensor jvp(CudaBackend be, Tensor q0, Tensor k0, Tensor v0, Tensor out0, Tensor lse0, Tensor tq0, Tensor tk0,
                      Tensor tv0, int[] cuQ, int[] cuK, float scale) {
        try (Problem p = problem(be, q0, k0, v0, cuQ, cuK); CudaBackend.Temps t = new CudaBackend.Temps()) {
            Tensor q = denseF32(be, q0, t), k = denseF32(be, k0, t), v = denseF32(be, v0, t);
            Tensor o = denseF32(be, out0, t), lse = denseF32(be, lse0, t);
            long tq = tq0 == null ? 0 : CudaBackend.addr(denseF32(be, tq0, t));
            long tk = tk0 == null ? 0 : CudaBackend.addr(denseF32(be, tk0, t));
            long tv = tv0 == null ? 0 : CudaBackend.addr(denseF32(be, tv0, t));
            int nq = q.size(0);
            Tensor tout = be.empty(DType.F32, nq, p.heads, p.dv);
            check(VoxKernels.vf_attention_jvp(CudaBackend.addr(q), CudaBackend.addr(k), CudaBackend.addr(v), CudaBackend.addr(o),
                    CudaBackend.addr(lse), tq, tk, tv, CudaBackend.addr(tout), p.offsets, p.dev(), p.batch, p.heads, p.d, p.dv,
                    p.maxQ, scale, be.stream()), "vf_attention_jvp");
            return tout;
        }
    }
}
