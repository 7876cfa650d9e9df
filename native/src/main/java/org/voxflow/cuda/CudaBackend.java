package org.voxflow.cuda;

import static org.voxflow.cuda.CudaRuntime.check;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.voxflow.tensor.Backend;
import org.voxflow.tensor.Backends;
import org.voxflow.tensor.BinaryOp;
import org.voxflow.tensor.DType;
import org.voxflow.tensor.Device;
import org.voxflow.tensor.ReduceOp;
import org.voxflow.tensor.Shapes;
import org.voxflow.tensor.SparsePooling;
import org.voxflow.tensor.Tensor;
import org.voxflow.tensor.UnaryOp;

/**
 * The {@link Backend} on one CUDA device. Every op is queued on one stream (so stream-ordered frees are safe) and
 * runs our nvcc-built kernels (libvoxflow_kernels) or cuBLAS; only host transfers synchronize. Semantics follow the
 * CPU reference (org.voxflow.tensor.cpu.CpuBackend): float math in f32 with f32 results, integer tensors refused by
 * float ops, bf16/f16 read through casts. Inputs from another backend are uploaded first.
 */
public final class CudaBackend implements Backend {
    private static final int OP_AFFINE = 100, OP_POW = 101;

    private final int ordinal;
    private final Device device;
    private final long stream;
    private final DeviceMemory memory;
    private final CublasGemm blas;
    private final CublasLtLinear lt;
    private final HostStaging staging;
    private final CastCache casts = new CastCache();
    private long[] attentionWorkspace;
    /** Where the index kernels record the first bad index since the host last looked (see checkDeviceErrors). */
    private final long badIndex;

    CudaBackend(int ordinal) {
        this.ordinal = ordinal;
        this.device = Device.cuda(ordinal);
        check(VoxKernels.vf_set_device(ordinal), "cudaSetDevice(" + ordinal + ")");
        long[] s = new long[1];
        check(VoxKernels.vf_stream_create(s), "cudaStreamCreateWithFlags");
        this.stream = s[0];
        this.memory = new DeviceMemory(ordinal, stream);
        long workspace = memory.allocate(CublasGemm.WORKSPACE_BYTES); // held for the process, shared by both handles
        this.blas = new CublasGemm(stream, workspace);
        this.lt = new CublasLtLinear(stream, workspace, CublasGemm.WORKSPACE_BYTES);
        this.staging = new HostStaging(stream);
        this.badIndex = memory.allocate(16);
        check(VoxKernels.vf_memset(badIndex, 0, 16, stream), "cudaMemsetAsync");
    }

    /**
     * Reports an index the GPU's gather or scatter found outside its range in an op queued since the last look (the
     * kernels treat it like -1 and record it rather than stop: the CPU reference throws at once, which would cost a
     * device-to-host round trip per op here). Called where the host waits for the stream anyway.
     */
    private void checkDeviceErrors() {
        int[] bad = new int[3];
        staging.download(badIndex, bad);
        if (bad[0] == 0) return;
        check(VoxKernels.vf_memset(badIndex, 0, 16, stream), "cudaMemsetAsync");
        String op = bad[0] == 1 ? "indexSelect" : "indexAdd";
        throw new IndexOutOfBoundsException(op + ": index " + bad[1] + " outside [-1, " + bad[2] + ") (-1 means none); "
                + "found on the GPU by an op queued before this synchronization, which ran with that entry skipped");
    }

    @Override public Device device() { return device; }

    DeviceMemory memory() { return memory; }

    /**
     * {address, bytes} of the flash forward's scratch (the Hopper kernel's tail split), {0, 0} when it has none: made
     * and zeroed on first use outside a graph recording, then held for the backend's life (recorded graphs keep its
     * address, so it never moves).
     */
    synchronized long[] attentionWorkspace() {
        if (attentionWorkspace == null) {
            if (memory.capturing()) return new long[] {0, 0}; // not graph memory: made after the recording
            long bytes = VoxKernels.vf_flash_attention_workspace_bytes();
            long address = bytes > 0 ? memory.allocate(bytes) : 0;
            if (address != 0) check(VoxKernels.vf_memset(address, 0, bytes, stream), "cudaMemsetAsync");
            attentionWorkspace = new long[] {address, address == 0 ? 0 : bytes};
        }
        return attentionWorkspace;
    }

    /** Autocast's cached casts of parameters. */
    CastCache casts() { return casts; }

    /** Records body's work on this backend's stream as a CUDA graph (see {@link Backend#record}). */
    @Override public org.voxflow.tensor.Recording record(Runnable body) { return CudaGraph.record(this, memory, body); }

    /** Starts or stops the range a profiler launched with "profile from start off" records (ncu, nsys). */
    public void profilerRange(boolean on) { check(VoxKernels.vf_profiler(on ? 1 : 0), on ? "cudaProfilerStart" : "cudaProfilerStop"); }

    /** Waits for every queued op (timing, or surfacing asynchronous kernel faults). */
    public void synchronize() {
        check(VoxKernels.vf_stream_sync(stream), "cudaStreamSynchronize");
        checkDeviceErrors();
    }

    /** TF32 tensor cores for f32 matmul (off by default: the CPU reference is plain f32). */
    public void setTf32(boolean on) { blas.setTf32(on); }

    /** {bytes in live tensors, peak, reserved by the pool}. */
    public long[] memoryStats() { return new long[] {memory.liveBytes(), memory.peakBytes(), memory.poolStats()[0]}; }

    /** Restarts the peak of {@link #memoryStats} from the bytes live now. */
    public void resetPeakMemory() { memory.resetPeak(); }

    /** Gives cached pool blocks beyond keepBytes back to the driver. */
    public void trimMemory(long keepBytes) {
        casts.clear();
        memory.trim(keepBytes);
    }

    public String describe() { return CudaRuntime.describe(ordinal); }

    // ---- memory -------------------------------------------------------------------------------------------------

    Tensor empty(DType dtype, int... shape) { return Tensor.of(new CudaStorage(this, dtype, Shapes.numel(shape)), shape); }

    /** Device address of a view's first element. */
    static long addr(Tensor t) { return t.storage().address() + t.offset() * t.dtype().bytes(); }

    private boolean mine(Tensor t) { return t.storage().backend() == this; }

    @Override public Tensor zeros(DType dtype, int... shape) {
        Tensor t = empty(dtype, shape);
        check(VoxKernels.vf_memset(addr(t), 0, t.storage().bytes(), stream), "cudaMemsetAsync");
        return t;
    }

    @Override public Tensor full(float value, int... shape) {
        Tensor t = empty(DType.F32, shape);
        check(VoxKernels.vf_fill_f32(addr(t), t.numel(), value, stream), "vf_fill_f32");
        return t;
    }

    private static void checkLength(int n, int[] shape) {
        if (n != Shapes.numel(shape)) throw new IllegalArgumentException(n + " values do not fill shape " + Arrays.toString(shape));
    }

    @Override public Tensor fromFloats(float[] data, int... shape) {
        checkLength(data.length, shape);
        Tensor t = empty(DType.F32, shape);
        staging.upload(data, addr(t));
        return t;
    }

    @Override public Tensor fromInts(int[] data, int... shape) {
        checkLength(data.length, shape);
        Tensor t = empty(DType.I32, shape);
        staging.upload(data, addr(t));
        return t;
    }

    @Override public Tensor fromLongs(long[] data, int... shape) {
        checkLength(data.length, shape);
        Tensor t = empty(DType.I64, shape);
        staging.upload(data, addr(t));
        return t;
    }

    /** A dense tensor of this backend with the given dtype holding t's values (t itself when it already is one). */
    private Tensor dense(Tensor t, DType dtype) {
        if (!mine(t)) {
            Tensor up = copy(t);
            if (up.dtype() == dtype) return up;
            Tensor c = cast(up, dtype);
            up.close();
            return c;
        }
        if (t.dtype() == dtype && t.isContiguous()) return t;
        Tensor out = empty(dtype, t.shape());
        convert(out, t);
        return out;
    }

    /** Closes a temporary made by {@link #dense} (not the caller's tensor). Stream-ordered, so safe right away. */
    private static void release(Tensor temp, Tensor original) {
        if (temp != null && temp != original && (original == null || temp.storage() != original.storage())) temp.close();
    }

    @Override public float[] toFloats(Tensor t) {
        if (!mine(t)) return t.backend().toFloats(t);
        Tensor d = dense(t, DType.F32);
        try {
            float[] out = new float[Math.toIntExact(d.numel())];
            staging.download(addr(d), out);
            checkDeviceErrors();
            return out;
        } finally {
            release(d, t);
        }
    }

    @Override public int[] toInts(Tensor t) {
        if (!mine(t)) return t.backend().toInts(t);
        if (t.dtype() != DType.I32) {
            long[] l = toLongs(t);
            int[] out = new int[l.length];
            for (int i = 0; i < l.length; i++) {
                if (l[i] != (int) l[i]) throw new ArithmeticException("value " + l[i] + " at " + i + " does not fit in int");
                out[i] = (int) l[i];
            }
            return out;
        }
        Tensor d = dense(t, DType.I32);
        try {
            int[] out = new int[Math.toIntExact(d.numel())];
            staging.download(addr(d), out);
            checkDeviceErrors();
            return out;
        } finally {
            release(d, t);
        }
    }

    @Override public long[] toLongs(Tensor t) {
        if (!mine(t)) return t.backend().toLongs(t);
        Tensor d = dense(t, DType.I64);
        try {
            long[] out = new long[Math.toIntExact(d.numel())];
            staging.download(addr(d), out);
            checkDeviceErrors();
            return out;
        } finally {
            release(d, t);
        }
    }

    /** Strided dst = converted src (same shape), any dtypes. */
    private void convert(Tensor dst, Tensor src) {
        if (dst.numel() == 0) return;
        int[] shape = dst.shape();
        if (dst.dtype() == src.dtype() && dst.isContiguous() && src.isContiguous()) {
            check(VoxKernels.vf_memcpy_d2d(addr(dst), addr(src), dst.numel() * dst.dtype().bytes(), stream), "cudaMemcpyAsync(device->device)");
            return;
        }
        Strided l = Strided.of(shape, dst.strides(), src.strides());
        check(VoxKernels.vf_convert(l.rank(), l.shape(), addr(dst), dst.dtype().ordinal(), l.strides()[0], addr(src),
                src.dtype().ordinal(), l.strides()[1], stream), "vf_convert(" + src.dtype() + " -> " + dst.dtype() + ")");
    }

    @Override public Tensor copy(Tensor src) {
        Tensor out = empty(src.dtype(), src.shape());
        if (src.numel() == 0) return out;
        if (mine(src)) {
            convert(out, src);
        } else if (src.device().isCpu()) {
            // Host tensors live off-heap: a dense one is a single copy from its address.
            Tensor host = src.isContiguous() ? src : Backends.cpu().copy(src);
            try {
                long bytes = host.numel() * host.dtype().bytes();
                check(VoxKernels.vf_memcpy_h2d(addr(out), host.storage().address() + host.offset() * host.dtype().bytes(),
                        bytes, stream), "cudaMemcpy(host->device)");
            } finally {
                if (host != src) host.close();
            }
        } else {
            Tensor host = Backends.cpu().copy(src);
            try {
                out.close();
                return copy(host);
            } finally {
                host.close();
            }
        }
        return out;
    }

    @Override public Tensor cast(Tensor src, DType to) {
        if (src.dtype() == to) return copy(src);
        if (!mine(src)) {
            Tensor up = copy(src);
            try {
                return cast(up, to);
            } finally {
                up.close();
            }
        }
        Tensor out = empty(to, src.shape());
        convert(out, src);
        return out;
    }

    @Override public void assign(Tensor dst, Tensor src) {
        if (!Arrays.equals(dst.shape(), src.shape()))
            throw new IllegalArgumentException("assign: shape " + Arrays.toString(src.shape()) + " into " + Arrays.toString(dst.shape()));
        if (!dst.isContiguous()) throw new IllegalArgumentException("assign into a non-contiguous view");
        if (!mine(dst)) throw new IllegalArgumentException("assign into " + dst + " from the " + device + " backend");
        dst.storage().bumpVersion();
        if (mine(src)) {
            convert(dst, src);
            return;
        }
        Tensor up = copy(src);
        try {
            convert(dst, up);
        } finally {
            up.close();
        }
    }

    // ---- elementwise --------------------------------------------------------------------------------------------

    /** An f32 view on this device of a float tensor (uploading or casting when needed). */
    private Tensor f32(Tensor t) {
        if (!t.dtype().isFloating()) throw new IllegalArgumentException("float op on an integer tensor " + t);
        if (mine(t) && t.dtype() == DType.F32) return t;
        return dense(t, DType.F32);
    }

    private Tensor unaryOp(int op, float p0, float p1, Tensor x) {
        Tensor xf = f32(x);
        try {
            Tensor out = empty(DType.F32, x.shape());
            Strided l = Strided.of(x.shape(), xf.strides());
            check(VoxKernels.vf_unary(op, p0, p1, l.rank(), l.shape(), addr(xf), l.strides()[0], addr(out), stream), "vf_unary(" + op + ")");
            return out;
        } finally {
            release(xf, x);
        }
    }

    @Override public Tensor unary(UnaryOp op, Tensor x) { return unaryOp(op.ordinal(), 0f, 0f, x); }

    @Override public Tensor affine(Tensor x, float alpha, float beta) { return unaryOp(OP_AFFINE, alpha, beta, x); }

    @Override public Tensor powScalar(Tensor x, float p) { return unaryOp(OP_POW, p, 0f, x); }

    @Override public Tensor binary(BinaryOp op, Tensor a, Tensor b) {
        int[] shape = Shapes.broadcast(a.shape(), b.shape());
        Tensor af = f32(a), bf = f32(b);
        try {
            Tensor out = empty(DType.F32, shape);
            Strided l = Strided.of(shape, af.expand(shape).strides(), bf.expand(shape).strides());
            check(VoxKernels.vf_binary(op.ordinal(), l.rank(), l.shape(), addr(af), l.strides()[0], addr(bf), l.strides()[1],
                    addr(out), stream), "vf_binary(" + op + ")");
            return out;
        } finally {
            release(af, a);
            release(bf, b);
        }
    }

    @Override public Tensor where(Tensor cond, Tensor a, Tensor b) {
        Tensor cf = mine(cond) && cond.dtype() == DType.F32 ? cond : dense(cond, DType.F32);
        return ternary("vf_where", cond, cf, a, f32(a), b, f32(b), VoxKernels::vf_where);
    }

    @Override public Tensor fma(Tensor a, Tensor b, Tensor c) {
        return ternary("vf_fma", a, f32(a), b, f32(b), c, f32(c), VoxKernels::vf_fma);
    }

    /** A strided three-operand kernel: vf_where or vf_fma. */
    private interface TernaryKernel {
        int run(int rank, int[] shape, long a, long[] aStrides, long b, long[] bStrides, long c, long[] cStrides, long out,
                long stream);
    }

    /**
     * out (dense f32 of the broadcast shape) = kernel over the f32 views af, bf, cf of a, b, c; the views made for the
     * call are released afterwards.
     */
    private Tensor ternary(String call, Tensor a, Tensor af, Tensor b, Tensor bf, Tensor c, Tensor cf, TernaryKernel kernel) {
        int[] shape = Shapes.broadcast(Shapes.broadcast(a.shape(), b.shape()), c.shape());
        try {
            Tensor out = empty(DType.F32, shape);
            Strided l = Strided.of(shape, af.expand(shape).strides(), bf.expand(shape).strides(), cf.expand(shape).strides());
            check(kernel.run(l.rank(), l.shape(), addr(af), l.strides()[0], addr(bf), l.strides()[1], addr(cf), l.strides()[2],
                    addr(out), stream), call);
            return out;
        } finally {
            release(af, a);
            release(bf, b);
            release(cf, c);
        }
    }

    // ---- reductions -----------------------------------------------------------------------------------------------

    @Override public Tensor reduce(ReduceOp op, Tensor x, int[] axes, boolean keepDims) {
        int r = x.dim();
        boolean[] red = new boolean[r];
        for (int a : axes) red[Shapes.axis(a, r)] = true;
        // kept axes first, reduced axes last: each output element is then one dense row
        int[] perm = new int[r];
        int p = 0;
        long inner = 1;
        for (int i = 0; i < r; i++) if (!red[i]) perm[p++] = i;
        for (int i = 0; i < r; i++) if (red[i]) { perm[p++] = i; inner *= x.size(i); }
        int[] outShape = keptShape(x.shape(), red, keepDims);
        long outer = Shapes.numel(keptShape(x.shape(), red, false));
        Tensor out = empty(DType.F32, outShape);
        if (outer == 0) return out;
        Tensor xf = f32(x);
        // Leading axes reduced, trailing kept (bias gradients): sum down the columns in place, no transposed copy.
        int lead = 0;
        while (lead < r && red[lead]) lead++;
        boolean leadingOnly = lead > 0 && lead < r && outer > 1;
        for (int i = lead; i < r; i++) leadingOnly &= !red[i];
        if (leadingOnly) {
            Tensor dx = dense(xf, DType.F32);
            try {
                check(VoxKernels.vf_reduce_cols(op.ordinal(), addr(dx), addr(out), inner, outer, stream), "vf_reduce_cols(" + op + ")");
                return out;
            } finally {
                release(dx, xf);
                release(xf, x);
            }
        }
        Tensor rows = dense(xf.permute(perm), DType.F32);
        try {
            check(VoxKernels.vf_reduce_rows(op.ordinal(), addr(rows), addr(out), outer, inner, stream), "vf_reduce_rows(" + op + ")");
            return out;
        } finally {
            release(rows, xf);
            release(xf, x);
        }
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

    // ---- linear algebra -----------------------------------------------------------------------------------------------

    @Override public Tensor matmul(Tensor a, Tensor b, boolean transA, boolean transB) {
        return CudaMatmul.matmul(this, blas, a, b, transA, transB);
    }

    /** Bias (and GELU) in cuBLASLt's epilogue for 16-bit GEMMs; the composite otherwise. */
    @Override public Tensor linear(Tensor x, Tensor weight, Tensor bias, boolean gelu) {
        Tensor fused = linearFused ? CudaMatmul.linear(this, lt, x, weight, bias, gelu, DType.F32) : null;
        return fused != null ? fused : Backend.super.linear(x, weight, bias, gelu);
    }

    /** The epilogue writes out directly (bf16 for the next GEMM under autocast) where cuBLASLt takes the case. */
    @Override public Tensor linear(Tensor x, Tensor weight, Tensor bias, boolean gelu, DType out) {
        Tensor fused = linearFused ? CudaMatmul.linear(this, lt, x, weight, bias, gelu, out) : null;
        return fused != null ? fused : Backend.super.linear(x, weight, bias, gelu, out);
    }

    /** The residual read by the GEMM's epilogue (beta = 1) where cuBLASLt takes the case; the composite otherwise. */
    @Override public Tensor linearResidual(Tensor x, Tensor weight, Tensor bias, Tensor residual) {
        Tensor fused = linearFused ? CudaMatmul.linearResidual(this, lt, x, weight, bias, residual) : null;
        return fused != null ? fused : Backend.super.linearResidual(x, weight, bias, residual);
    }

    /**
     * One launch for the group: a few rows (every block's adaLN when sampling) in the skinny kernel, many (every block's
     * cross-attention K/V) in one batched GEMM; the composite otherwise.
     */
    @Override public Tensor linearEach(Tensor x, Tensor[] weights, Tensor[] biases, DType out) {
        Tensor y = CudaMatmul.linearEach(this, x, weights, biases, out);
        return y != null ? y : Backend.super.linearEach(x, weights, biases, out);
    }

    /** bf16 under autocast: activations that only feed GEMMs and attention are written in the type those run in. */
    @Override public DType matmulInputType() { return bf16Activations && CudaAutocast.enabled() ? DType.BF16 : DType.F32; }

    /** -Dvoxflow.cuda.bf16Activations=false keeps f32 activations under autocast (for comparisons). */
    static volatile boolean bf16Activations = !"false".equals(System.getProperty("voxflow.cuda.bf16Activations"));

    /** -Dvoxflow.cuda.fusedLinear=false runs Linear as GEMM + bias + GELU passes (for comparisons). */
    static volatile boolean linearFused = !"false".equals(System.getProperty("voxflow.cuda.fusedLinear"));

    /** The cuBLASLt Linear (tests check which path ran). */
    CublasLtLinear lt() { return lt; }

    /** Package access for the op helpers. */
    Tensor denseOf(Tensor t, DType dtype) { return dense(t, dtype); }

    static void releaseTemp(Tensor temp, Tensor original) { release(temp, original); }

    long stream() { return stream; }

    // ---- fused ---------------------------------------------------------------------------------------------------------

    private static long rowsOf(Tensor t, long cols) { return cols == 0 ? 0 : t.numel() / cols; }

    @Override public Tensor softmax(Tensor x) {
        Tensor xf = dense(f32(x), DType.F32);
        try {
            Tensor y = empty(DType.F32, x.shape());
            long cols = x.dim() == 0 ? 1 : x.size(-1);
            check(VoxKernels.vf_softmax(addr(xf), addr(y), rowsOf(x, cols), cols, stream), "vf_softmax");
            return y;
        } finally {
            release(xf, x);
        }
    }

    @Override public Tensor softmaxBackward(Tensor y, Tensor dy) {
        Tensor yf = dense(f32(y), DType.F32);
        Tensor gf = dense(f32(dy).expand(y.shape()), DType.F32);
        try {
            Tensor dx = empty(DType.F32, y.shape());
            long cols = y.size(-1);
            check(VoxKernels.vf_softmax_backward(addr(yf), addr(gf), addr(dx), rowsOf(y, cols), cols, stream), "vf_softmax_backward");
            return dx;
        } finally {
            release(yf, y);
            release(gf, dy);
        }
    }

    @Override public Tensor[] normalize(Tensor x, float eps) {
        Tensor xf = dense(f32(x), DType.F32);
        try {
            long cols = x.size(-1);
            int[] rs = x.shape();
            rs[rs.length - 1] = 1;
            Tensor xhat = empty(DType.F32, x.shape());
            Tensor rstd = empty(DType.F32, rs);
            check(VoxKernels.vf_normalize(addr(xf), addr(xhat), addr(rstd), rowsOf(x, cols), cols, eps, stream), "vf_normalize");
            return new Tensor[] {xhat, rstd};
        } finally {
            release(xf, x);
        }
    }

    @Override public Tensor l2Normalize(Tensor x, float eps) {
        Tensor y = l2NormalizeKernel(x, eps, null, DType.F32);
        return y != null ? y : Backend.super.l2Normalize(x, eps);
    }

    @Override public Tensor l2Normalize(Tensor x, float eps, Tensor weight, DType out) {
        Tensor y = l2NormalizeKernel(x, eps, weight, out);
        return y != null ? y : Backend.super.l2Normalize(x, eps, weight, out);
    }

    /**
     * One row kernel: a [N, H, D] view with unit last stride (a q/k slice of packed qkv, f32 or 16-bit) is read in
     * place, the gains [H, D] (or [D]) multiply in the same pass and out is written in its type (f32, or x's 16-bit
     * type); null (the caller composes) otherwise.
     */
    private Tensor l2NormalizeKernel(Tensor x, float eps, Tensor weight, DType out) {
        int r = x.dim();
        boolean typeOk = out == DType.F32 || out == x.dtype();
        if (r == 0 || x.numel() == 0 || !x.dtype().isFloating() || !typeOk || !mine(x)) return null;
        long[] st = x.strides();
        long cols = x.size(-1);
        boolean inPlace = cols == 1 || st[r - 1] == 1;
        long outer = 1, inner = 1, so = 0, si = 0;
        if (inPlace && r == 3) { outer = x.size(0); inner = x.size(1); so = st[0]; si = st[1]; }
        else if (inPlace && r == 2) { outer = x.size(0); so = st[0]; }
        else if (!(inPlace && r == 1)) inPlace = false;
        Tensor wd = null;
        if (weight != null) {
            // gains shaped like x's trailing [inner, cols] (or [cols] with one row per outer index)
            int[] trailing = r == 3 ? new int[] {x.size(1), x.size(2)} : new int[] {x.size(-1)};
            if (!inPlace || !weight.dtype().isFloating() || !Arrays.equals(Shapes.broadcast(trailing, weight.shape()), trailing)
                    || Shapes.numel(weight.shape()) > Shapes.numel(trailing))
                return null;
            wd = dense(weight.expand(trailing), DType.F32);
        }
        Tensor src = inPlace ? x : dense(x, x.dtype());
        try {
            if (!inPlace) { outer = src.numel() / Math.max(cols, 1); inner = 1; so = cols; si = 0; }
            Tensor y = empty(out, x.shape());
            check(VoxKernels.vf_l2_normalize(addr(src), x.dtype().ordinal(), addr(y), out.ordinal(), wd == null ? 0 : addr(wd),
                    outer * inner, inner, so, si, cols, eps, stream), "vf_l2_normalize");
            return y;
        } finally {
            release(src, x);
            release(wd, weight);
        }
    }

    /**
     * How a per-row operand (a [B, 1, C] modulation chunk, a [C] weight, per-row [N, C] values) of a row kernel over x
     * [.., C] (rank <= 3) is addressed: {groupRows, G, R} with row r = (r / groupRows, r % groupRows) reading
     * t + g * G + i * R, its channels contiguous; null when t does not broadcast to x that way (or is not f32 here).
     */
    private long[] rowOperand(Tensor t, int[] shape) {
        int r = shape.length;
        if (t == null || r < 1 || r > 3 || t.dtype() != DType.F32 || !mine(t) || !Arrays.equals(Shapes.broadcast(shape, t.shape()), shape))
            return null;
        long[] st = t.expand(shape).strides();
        if (shape[r - 1] > 1 && st[r - 1] != 1) return null;
        if (r == 3) return new long[] {rowGroup(shape), st[0], st[1]};
        if (r == 2) return new long[] {rowGroup(shape), 0, st[0]};
        return new long[] {rowGroup(shape), 0, 0};
    }

    /** rowOperand's groupRows for x's shape: the rows of one instance ([B, L, C]: L), all rows ([N, C]), or 1. */
    private static long rowGroup(int[] shape) {
        return shape.length == 3 ? Math.max(shape[1], 1) : shape.length == 2 ? Math.max(shape[0], 1) : 1;
    }

    /**
     * Layer norm with its modulation or affine parameters in one row kernel, out written in its type. w and b
     * broadcast against x of rank <= 3 with unit stride along the channels ([B, 1, C] chunks of the adaLN output,
     * [C] weights, per-row [N, C]); other cases compose.
     */
    @Override public Tensor normalizeAffine(Tensor x, float eps, Tensor w, Tensor b, DType out) {
        if (w == null && b == null) return Backend.super.normalizeAffine(x, eps, null, null, out);
        int[] shape = x.shape();
        long[] wl = rowOperand(w, shape), bl = rowOperand(b, shape);
        if (wl == null || bl == null || x.numel() == 0 || !out.isFloating()) return Backend.super.normalizeAffine(x, eps, w, b, out);
        long cols = shape[shape.length - 1];
        // a 16-bit torso's stream normed into its own type: read in place (the register path), else converted first
        if (x.dtype() == out && (out == DType.BF16 || out == DType.F16) && mine(x)) {
            Tensor xd = dense(x, out), y = empty(out, shape);
            try {
                int rc = VoxKernels.vf_norm_affine(addr(xd), out.ordinal(), addr(y), out.ordinal(), addr(w), addr(b),
                        rowsOf(x, cols), cols, wl[0], wl[1], wl[2], bl[1], bl[2], eps, stream);
                if (rc != -1) {
                    check(rc, "vf_norm_affine");
                    return y;
                }
                y.close();
            } finally {
                release(xd, x);
            }
        }
        Tensor xf = dense(f32(x), DType.F32);
        try {
            Tensor y = empty(out, shape);
            check(VoxKernels.vf_norm_affine(addr(xf), DType.F32.ordinal(), addr(y), out.ordinal(), addr(w), addr(b),
                    rowsOf(x, cols), cols, wl[0], wl[1], wl[2], bl[1], bl[2], eps, stream), "vf_norm_affine");
            return y;
        } finally {
            release(xf, x);
        }
    }

    /**
     * The residual update and the next norm in one register-resident row kernel (widths that are multiples of 128 up
     * to 2048, the transformer's); h is read in its own type (a bf16 branch output under autocast). Other cases compose.
     */
    @Override public Tensor[] residualNormAffine(Tensor x, Tensor h, Tensor gate, float eps, Tensor w, Tensor b, DType out) {
        int[] shape = x.shape();
        // w and b both null (no affine parameters): the kernel takes null pointers and writes the normalized rows
        boolean affine = w != null || b != null;
        // (groupRows, the first of each operand's triple, comes from x's shape alone: the kernel takes it from w's)
        long[] none = {rowGroup(shape), 0, 0};
        long[] wl = affine ? rowOperand(w, shape) : none, bl = affine ? rowOperand(b, shape) : none,
                gl = gate == null ? none : rowOperand(gate, shape);
        // the stream keeps its type: f32, or a 16-bit torso's (the kernel takes h and out in that type then)
        DType xt = x.dtype().isFloating() && mine(x) ? x.dtype() : DType.F32;
        if (wl == null || bl == null || gl == null || x.numel() == 0 || !out.isFloating() || !h.dtype().isFloating()
                || !Arrays.equals(h.shape(), shape) || !mine(h))
            return Backend.super.residualNormAffine(x, h, gate, eps, w, b, out);
        long cols = shape[shape.length - 1];
        Tensor xd = xt == DType.F32 ? dense(f32(x), DType.F32) : dense(x, xt), hd = dense(h, h.dtype());
        Tensor x1 = empty(xt, shape), y = empty(out, shape);
        try {
            int rc = VoxKernels.vf_residual_norm(addr(xd), xt.ordinal(), addr(hd), h.dtype().ordinal(), gate == null ? 0 : addr(gate),
                    addr(x1), addr(y), out.ordinal(), affine ? addr(w) : 0, affine ? addr(b) : 0, rowsOf(x, cols), cols, wl[0],
                    gl[1], gl[2], wl[1], wl[2], bl[1], bl[2], eps, stream);
            if (rc == -1) { // not the register path's width, alignment or type combination
                x1.close();
                y.close();
                return Backend.super.residualNormAffine(x, h, gate, eps, w, b, out);
            }
            check(rc, "vf_residual_norm");
            return new Tensor[] {x1, y};
        } finally {
            release(xd, x);
            release(hd, h);
        }
    }

    @Override public Tensor normalizeBackward(Tensor dy, Tensor xhat, Tensor rstd) {
        Tensor gf = dense(f32(dy).expand(xhat.shape()), DType.F32);
        Tensor xf = dense(f32(xhat), DType.F32);
        Tensor rf = dense(f32(rstd), DType.F32);
        try {
            long cols = xhat.size(-1);
            Tensor dx = empty(DType.F32, xhat.shape());
            check(VoxKernels.vf_normalize_backward(addr(gf), addr(xf), addr(rf), addr(dx), rowsOf(xhat, cols), cols, stream),
                    "vf_normalize_backward");
            return dx;
        } finally {
            release(gf, dy);
            release(xf, xhat);
            release(rf, rstd);
        }
    }

    @Override public Tensor[] attention(Tensor q, Tensor k, Tensor v, int[] cuQ, int[] cuK, float scale) {
        return CudaAttention.forward(this, q, k, v, cuQ, cuK, scale);
    }

    @Override public Tensor attention(Tensor q, Tensor k, Tensor v, int[] cuQ, int[] cuK, float scale, DType out) {
        return CudaAttention.forward(this, q, k, v, cuQ, cuK, scale, out);
    }

    @Override public Tensor[] attentionBackward(Tensor dout, Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse,
                                                int[] cuQ, int[] cuK, float scale) {
        return CudaAttention.backward(this, dout, q, k, v, out, lse, cuQ, cuK, scale);
    }

    @Override public Tensor attentionJvp(Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse, Tensor dq, Tensor dk,
                                         Tensor dv, int[] cuQ, int[] cuK, float scale) {
        return CudaAttention.jvp(this, q, k, v, out, lse, dq, dk, dv, cuQ, cuK, scale);
    }

    // ---- flow sampling and distillation losses (vf_flow.cu: why fusing them pays is noted there) -----------------------

    @Override public Tensor[] flowStep(Tensor x, Tensor vCond, Tensor vNeg, float condWeight, float negWeight, float dt,
                                       float x0Scale, float x0VelocityScale) {
        Shapes.sameFloatShapes("flowStep", new String[] {"x", "vCond", "vNeg"}, x, vCond, vNeg);
        try (Temps tmp = new Temps()) { // views and other dtypes become dense f32 first
            Tensor xd = tmp.track(dense(x, DType.F32), x);
            Tensor cd = tmp.track(dense(vCond, DType.F32), vCond);
            Tensor nd = vNeg == null ? null : tmp.track(dense(vNeg, DType.F32), vNeg);
            Tensor xPrev = empty(DType.F32, x.shape()), x0 = empty(DType.F32, x.shape());
            check(VoxKernels.vf_flow_step(addr(xd), addr(cd), nd == null ? 0 : addr(nd), condWeight, negWeight, dt, x0Scale,
                    x0VelocityScale, addr(xPrev), addr(x0), x.numel(), stream), "vf_flow_step");
            return new Tensor[] {xPrev, x0};
        }
    }

    @Override public Tensor[] mdtVelocityLoss(Tensor pred, Tensor vT, Tensor g, Tensor t, int[] rowOffsets, boolean dNorm,
                                              float normEps, float lambda, boolean withGrad) {
        long[] seg = Shapes.velocityLossSegments(pred, vT, g, t, rowOffsets);
        int samples = rowOffsets.length - 1;
        long n = pred.numel();
        float gradScale = lambda * (1f / n); // as the CPU reference (and the composed backward rules) form it
        try (Temps tmp = new Temps()) {
            Tensor pd = tmp.track(dense(pred, DType.F32), pred);
            Tensor vd = tmp.track(dense(vT, DType.F32), vT);
            Tensor gd = tmp.track(dense(g, DType.F32), g);
            Tensor td = tmp.track(dense(t, DType.F32), t);
            Tensor loss = empty(DType.F32);
            Tensor grad = withGrad ? empty(DType.F32, pred.shape()) : null;
            check(VoxKernels.vf_mdt_velocity_loss(addr(pd), addr(vd), addr(gd), addr(td), seg, samples, dNorm ? 1 : 0, normEps,
                    lambda, gradScale, addr(loss), grad == null ? 0 : addr(grad), n, stream), "vf_mdt_velocity_loss");
            return new Tensor[] {loss, grad};
        }
    }

    // ---- shape / indexing ----------------------------------------------------------------------------------------------

    @Override public Tensor concat(Tensor[] xs, int axis) {
        int[] shape = Shapes.concatenated(xs, axis);
        int ax = Shapes.axis(axis, shape.length);
        Tensor out = empty(xs[0].dtype(), shape);
        int at = 0;
        for (Tensor x : xs) {
            int w = x.size(ax);
            if (w > 0) {
                Tensor piece = out.slice(ax, at, at + w);
                Tensor src = mine(x) ? x : copy(x);
                try {
                    convert(piece, src);
                } finally {
                    release(src, x);
                }
            }
            at += w;
        }
        return out;
    }

    /** Index tensor on this device as dense I32 or I64 (floats converted to I64, as the reference's toInts). */
    private Tensor indices(Tensor idx) {
        DType t = idx.dtype() == DType.I32 || idx.dtype() == DType.I64 ? idx.dtype() : DType.I64;
        return dense(idx, t);
    }

    @Override public Tensor indexSelect(Tensor x, int axis, Tensor idx) {
        int ax = Shapes.axis(axis, x.dim());
        int[] s = x.shape();
        long n = s[ax], m = idx.numel();
        long inner = 1;
        for (int i = ax + 1; i < s.length; i++) inner *= s[i];
        int[] os = s.clone();
        os[ax] = Math.toIntExact(m);
        Tensor xf = dense(f32(x), DType.F32);
        Tensor id = indices(idx);
        try {
            Tensor out = empty(DType.F32, os);
            long total = out.numel();
            if (total == 0) return out;
            long outer = total / (m * inner);
            check(VoxKernels.vf_index_select(addr(xf), addr(id), id.dtype().ordinal(), addr(out), outer, n, m, inner, badIndex, stream), "vf_index_select");
            return out;
        } finally {
            release(xf, x);
            release(id, idx);
        }
    }

    @Override public Tensor indexAdd(Tensor src, int axis, Tensor idx, int size) {
        int ax = Shapes.axis(axis, src.dim());
        int[] s = src.shape();
        long m = idx.numel();
        if (s[ax] != m) throw new IllegalArgumentException("indexAdd: " + m + " indices for axis of size " + s[ax]);
        long inner = 1;
        for (int i = ax + 1; i < s.length; i++) inner *= s[i];
        int[] os = s.clone();
        os[ax] = size;
        Tensor out = zeros(DType.F32, os);
        long count = src.numel();
        if (count == 0) return out;
        Tensor sf = dense(f32(src), DType.F32);
        Tensor id = indices(idx);
        try {
            long outer = count / (m * inner);
            check(VoxKernels.vf_index_add(addr(sf), addr(id), id.dtype().ordinal(), addr(out), outer, m, size, inner, badIndex, stream), "vf_index_add");
            return out;
        } finally {
            release(sf, src);
            release(id, idx);
        }
    }

    // ---- sparse voxel structures (vf_sparse.cu) ---------------------------------------------------------------------

    /** Coordinates as a dense I32 [N, 4] tensor of this device. */
    private Tensor sparseCoords(Tensor coords) {
        if (coords.dim() != 2 || coords.size(1) != 4 || coords.dtype().isFloating())
            throw new IllegalArgumentException("sparse coordinates must be integer [N, 4], got " + coords);
        return dense(coords, DType.I32);
    }

    /** Uninitialized device scratch of at least `bytes` bytes (close it when done: stream-ordered, so at once). */
    private Tensor scratch(long bytes) { return empty(DType.I64, Math.toIntExact((bytes + 7) / 8)); }

    @Override public Tensor sparseNeighbours(Tensor coords) {
        Tensor c = sparseCoords(coords);
        try {
            int n = c.size(0);
            Tensor out = empty(DType.I32, n, 27);
            if (n == 0) return out;
            long[] bytes = new long[1];
            check(VoxKernels.vf_sparse_neighbours_scratch(n, bytes), "vf_sparse_neighbours_scratch");
            try (Tensor table = scratch(bytes[0])) {
                check(VoxKernels.vf_sparse_neighbours(addr(c), n, addr(table), bytes[0], addr(out), stream), "vf_sparse_neighbours");
            }
            return out;
        } finally {
            release(c, coords);
        }
    }

    @Override public SparsePooling sparseDownsample(Tensor coords, int batch, int factor) {
        if (batch < 0 || batch > (1 << 18)) throw new IllegalArgumentException("sparseDownsample: batch " + batch + " outside [0, 2^18]");
        if (factor < 1) throw new IllegalArgumentException("sparseDownsample: factor " + factor);
        Tensor c = sparseCoords(coords);
        int n = c.size(0);
        Tensor coarseCap = null, countsCap = null, perBatch = null, work = null;
        try {
            Tensor toCoarse = empty(DType.I32, n);
            if (n == 0) return new SparsePooling(empty(DType.I32, 0, 4), toCoarse, empty(DType.I32, 0), new int[batch + 1]);
            if (batch == 0) throw new IllegalArgumentException("sparseDownsample: " + n + " voxels in a batch of 0 instances");
            coarseCap = empty(DType.I32, n, 4);
            countsCap = empty(DType.I32, n);
            perBatch = empty(DType.I32, batch + 1);
            long[] bytes = new long[1];
            check(VoxKernels.vf_sparse_downsample_scratch(n, batch, bytes), "vf_sparse_downsample_scratch");
            work = scratch(bytes[0]);
            check(VoxKernels.vf_sparse_downsample(addr(c), n, batch, factor, addr(work), bytes[0], addr(coarseCap),
                    addr(countsCap), addr(toCoarse), addr(perBatch), stream), "vf_sparse_downsample");
            int[] rows = toInts(perBatch); // the one read-back: the coarse row counts size the outputs
            if (rows[batch] != 0)
                throw new IllegalArgumentException("sparseDownsample: coordinates have batch indices outside [0, " + batch + ")");
            int[] offsets = new int[batch + 1];
            for (int b = 0; b < batch; b++) offsets[b + 1] = offsets[b] + rows[b];
            int m = offsets[batch];
            if (m < 1 || m > n) throw new IllegalStateException("sparseDownsample: " + m + " coarse rows from " + n + " voxels");
            Tensor coarse = empty(DType.I32, m, 4), counts = empty(DType.I32, m);
            convert(coarse, coarseCap.slice(0, 0, m));
            convert(counts, countsCap.slice(0, 0, m));
            return new SparsePooling(coarse, toCoarse, counts, offsets);
        } finally {
            release(c, coords);
            for (Tensor t : new Tensor[] {coarseCap, countsCap, perBatch, work}) if (t != null) t.close();
        }
    }

    @Override public String toString() { return "CudaBackend[" + device + "]"; }

    /** Makes a list of temporaries closeable together. */
    static final class Temps implements AutoCloseable {
        private final List<Tensor[]> pairs = new ArrayList<>();

        Tensor track(Tensor temp, Tensor original) {
            pairs.add(new Tensor[] {temp, original});
            return temp;
        }

        @Override public void close() {
            for (Tensor[] p : pairs) release(p[0], p[1]);
        }
    }
}
