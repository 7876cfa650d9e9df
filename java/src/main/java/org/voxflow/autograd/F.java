package org.voxflow.autograd;

import java.util.Arrays;
import java.util.function.Supplier;
import org.voxflow.tensor.Backend;
import org.voxflow.tensor.BinaryOp;
import org.voxflow.tensor.DType;
import org.voxflow.tensor.ReduceOp;
import org.voxflow.tensor.Shapes;
import org.voxflow.tensor.Tensor;
import org.voxflow.tensor.UnaryOp;

/**
 * The differentiable ops. Each op sits in one place with its three rules: forward (a {@link Backend} primitive),
 * backward (vector-Jacobian product, written with these same ops) and forward-mode tangent (Jacobian-vector
 * product, computed when any input carries a {@link Tensor#tangent()}; see {@link Jvp}).
 *
 * <pre>
 * op              backward (g = dL/dout)                     tangent (dx = input tangents)
 * a + b           sumTo(g, a), sumTo(g, b)                   da + db
 * a * b           g b, g a                                    da b + a db
 * a / b           g / b, -g a / b^2                           da / b - a db / b^2
 * f(x) unary      g f'(x)                                     f'(x) dx
 * sum/mean        broadcast g back                            sum/mean(dx)
 * matmul          g op(B)^T, op(A)^T g                        dA op(B) + op(A) dB
 * softmax         y (g - sum(g y))                            y (dx - sum(dx y))
 * normalize       rstd (g - mean g - xhat mean(g xhat))       same with dx (symmetric Jacobian)
 * attention       flash-style backward                        d(PV) along (dq, dk, dv)
 * mdt loss        g (lambda/n) 2 (pred - target), to pred       sum(dL/dpred dpred)
 * views           the inverse view                            the same view of dx
 * </pre>
 */
public final class F {
    private F() {}

    // ---- recording ---------------------------------------------------------------------------------------------

    private static Tensor record(String op, Tensor out, Tensor[] inputs, Node.Backward rule, Supplier<Tensor> tangent) {
        if (Grad.enabled()) {
            for (Tensor in : inputs) {
                if (in != null && in.requiresGrad()) {
                    out.setRequiresGrad(true);
                    out.setGradFn(new Node(op, inputs, rule));
                    break;
                }
            }
        }
        if (IN_TANGENT_RULE.get()[0] > 0) return out; // a tangent rule's own ops carry no tangents
        for (Tensor in : inputs) {
            if (in != null && in.tangent() != null) {
                int[] depth = IN_TANGENT_RULE.get();
                depth[0]++;
                try (var ng = Grad.noGrad()) {
                    out.setTangent(tangent.get());
                } finally {
                    depth[0]--;
                }
                break;
            }
        }
        return out;
    }

    private static final ThreadLocal<int[]> IN_TANGENT_RULE = ThreadLocal.withInitial(() -> new int[1]);

    /** The tangent of x, zeros when it carries none. */
    static Tensor tan(Tensor x) {
        return x.tangent() != null ? x.tangent() : x.backend().zeros(DType.F32, x.shape());
    }

    private static Backend be(Tensor a) { return a.backend(); }

    private static Backend be(Tensor a, Tensor b) {
        if (a.backend() != b.backend())
            throw new IllegalArgumentException("tensors on different devices: " + a.device() + " and " + b.device());
        return a.backend();
    }

    /** A view of x cut from the graph (and from any tangent). */
    public static Tensor detach(Tensor x) {
        return new Tensor(x.storage(), x.shape(), x.strides(), x.offset());
    }

    /** Sums g over the axes that broadcasting added or stretched, giving the given shape. */
    public static Tensor sumTo(Tensor g, int[] shape) {
        int[] gs = g.shape();
        if (Arrays.equals(gs, shape)) return g;
        int lead = gs.length - shape.length;
        int[] axes = new int[gs.length];
        int n = 0;
        for (int i = 0; i < gs.length; i++) {
            if (i < lead || (shape[i - lead] == 1 && gs[i] != 1)) axes[n++] = i;
        }
        Tensor s = n == 0 ? g : sum(g, Arrays.copyOf(axes, n), true);
        return reshape(s, shape);
    }

    // ---- elementwise binary ----------------------------------------------------------------------------------

    public static Tensor add(Tensor a, Tensor b) {
        return record("add", be(a, b).binary(BinaryOp.ADD, a, b), new Tensor[] {a, b},
                g -> new Tensor[] {sumTo(g, a.shape()), sumTo(g, b.shape())},
                () -> add(tan(a), tan(b)));
    }

    public static Tensor sub(Tensor a, Tensor b) {
        return record("sub", be(a, b).binary(BinaryOp.SUB, a, b), new Tensor[] {a, b},
                g -> new Tensor[] {sumTo(g, a.shape()), sumTo(neg(g), b.shape())},
                () -> sub(tan(a), tan(b)));
    }

    public static Tensor mul(Tensor a, Tensor b) {
        return record("mul", be(a, b).binary(BinaryOp.MUL, a, b), new Tensor[] {a, b},
                g -> new Tensor[] {a.requiresGrad() ? sumTo(mul(g, b), a.shape()) : null,
                                   b.requiresGrad() ? sumTo(mul(g, a), b.shape()) : null},
                () -> add(mul(tan(a), b), mul(a, tan(b))));
    }

    public static Tensor div(Tensor a, Tensor b) {
        return record("div", be(a, b).binary(BinaryOp.DIV, a, b), new Tensor[] {a, b},
                g -> new Tensor[] {a.requiresGrad() ? sumTo(div(g, b), a.shape()) : null,
                                   b.requiresGrad() ? sumTo(neg(div(mul(g, a), mul(b, b))), b.shape()) : null},
                () -> sub(div(tan(a), b), div(mul(a, tan(b)), mul(b, b))));
    }

    /** a * b + c with broadcasting, rounded like mul then add (see {@link Backend#fma}): one pass on GPUs. */
    public static Tensor fma(Tensor a, Tensor b, Tensor c) {
        Tensor out = be(a, b).fma(a, b, c);
        return record("fma", out, new Tensor[] {a, b, c},
                g -> new Tensor[] {a.requiresGrad() ? sumTo(mul(g, b), a.shape()) : null,
                                   b.requiresGrad() ? sumTo(mul(g, a), b.shape()) : null,
                                   c.requiresGrad() ? sumTo(g, c.shape()) : null},
                () -> add(add(mul(tan(a), b), mul(a, tan(b))), tan(c)));
    }

    /** Elementwise maximum; ties send the gradient to a. */
    public static Tensor maximum(Tensor a, Tensor b) {
        Tensor out = be(a, b).binary(BinaryOp.MAX, a, b);
        return record("maximum", out, new Tensor[] {a, b}, g -> {
            Tensor m = be(a).binary(BinaryOp.GE, a, b);
            return new Tensor[] {sumTo(mul(g, m), a.shape()), sumTo(mul(g, rsub(m, 1f)), b.shape())};
        }, () -> {
            Tensor m = be(a).binary(BinaryOp.GE, a, b);
            return add(mul(tan(a), m), mul(tan(b), rsub(m, 1f)));
        });
    }

    /** Elementwise comparison a > b as 1/0 (no gradient). */
    public static Tensor greater(Tensor a, Tensor b) { return be(a, b).binary(BinaryOp.GT, a, b); }

    /** cond != 0 ? a : b; cond takes no gradient. */
    public static Tensor where(Tensor cond, Tensor a, Tensor b) {
        Tensor out = be(a, b).where(cond, a, b);
        return record("where", out, new Tensor[] {a, b}, g -> {
            Tensor z = be(g).zeros(DType.F32, 1);
            return new Tensor[] {sumTo(be(g).where(cond, g, z), a.shape()), sumTo(be(g).where(cond, z, g), b.shape())};
        }, () -> be(a).where(cond, tan(a), tan(b)));
    }

    // ---- scalars ---------------------------------------------------------------------------------------------

    /** alpha * x + beta. */
    public static Tensor affine(Tensor x, float alpha, float beta) {
        return record("affine", be(x).affine(x, alpha, beta), new Tensor[] {x},
                g -> new Tensor[] {affine(g, alpha, 0f)}, () -> affine(tan(x), alpha, 0f));
    }

    public static Tensor mul(Tensor x, float s) { return affine(x, s, 0f); }

    public static Tensor add(Tensor x, float s) { return affine(x, 1f, s); }

    /** s - x. */
    public static Tensor rsub(Tensor x, float s) { return affine(x, -1f, s); }

    public static Tensor neg(Tensor x) { return affine(x, -1f, 0f); }

    public static Tensor pow(Tensor x, float p) {
        return record("pow", be(x).powScalar(x, p), new Tensor[] {x},
                g -> new Tensor[] {mul(g, mul(pow(x, p - 1f), p))},
                () -> mul(tan(x), mul(pow(x, p - 1f), p)));
    }

    // ---- elementwise unary -------------------------------------------------------------------------------------

    private static Tensor unary(UnaryOp op, Tensor x, Supplier<Tensor> derivative) {
        Tensor out = be(x).unary(op, x);
        return record(op.name().toLowerCase(), out, new Tensor[] {x},
                g -> new Tensor[] {mul(g, derivative.get())}, () -> mul(tan(x), derivative.get()));
    }

    private static Tensor unaryOfOut(UnaryOp op, Tensor x, java.util.function.Function<Tensor, Tensor> derivFromOut) {
        Tensor out = be(x).unary(op, x);
        Tensor y = detach(out);
        return record(op.name().toLowerCase(), out, new Tensor[] {x},
                g -> new Tensor[] {mul(g, derivFromOut.apply(y))}, () -> mul(tan(x), derivFromOut.apply(y)));
    }

    public static Tensor exp(Tensor x) { return unaryOfOut(UnaryOp.EXP, x, y -> y); }

    public static Tensor log(Tensor x) { return unary(UnaryOp.LOG, x, () -> be(x).unary(UnaryOp.RECIPROCAL, x)); }

    public static Tensor sqrt(Tensor x) { return unaryOfOut(UnaryOp.SQRT, x, y -> be(y).affine(be(y).unary(UnaryOp.RECIPROCAL, y), 0.5f, 0f)); }

    public static Tensor rsqrt(Tensor x) { return unaryOfOut(UnaryOp.RSQRT, x, y -> be(y).affine(be(y).powScalar(y, 3f), -0.5f, 0f)); }

    public static Tensor square(Tensor x) { return unary(UnaryOp.SQUARE, x, () -> be(x).affine(x, 2f, 0f)); }

    public static Tensor abs(Tensor x) {
        return unary(UnaryOp.ABS, x, () -> be(x).affine(be(x).unary(UnaryOp.STEP, x), 2f, -1f));
    }

    public static Tensor sin(Tensor x) { return unary(UnaryOp.SIN, x, () -> be(x).unary(UnaryOp.COS, x)); }

    public static Tensor cos(Tensor x) { return unary(UnaryOp.COS, x, () -> be(x).affine(be(x).unary(UnaryOp.SIN, x), -1f, 0f)); }

    public static Tensor tanh(Tensor x) {
        return unaryOfOut(UnaryOp.TANH, x, y -> be(y).affine(be(y).unary(UnaryOp.SQUARE, y), -1f, 1f));
    }

    public static Tensor sigmoid(Tensor x) {
        return unaryOfOut(UnaryOp.SIGMOID, x, y -> be(y).binary(BinaryOp.MUL, y, be(y).affine(y, -1f, 1f)));
    }

    public static Tensor silu(Tensor x) { return unary(UnaryOp.SILU, x, () -> be(x).unary(UnaryOp.SILU_GRAD, x)); }

    /** GELU with the tanh approximation (PyTorch approximate="tanh"). */
    public static Tensor gelu(Tensor x) { return unary(UnaryOp.GELU_TANH, x, () -> be(x).unary(UnaryOp.GELU_TANH_GRAD, x)); }

    // ---- reductions ------------------------------------------------------------------------------------------

    private static int[] allAxes(Tensor x) {
        int[] a = new int[x.dim()];
        for (int i = 0; i < a.length; i++) a[i] = i;
        return a;
    }

    private static int[] keptShape(int[] shape, int[] axes) {
        int[] s = shape.clone();
        for (int a : axes) s[Shapes.axis(a, shape.length)] = 1;
        return s;
    }

    public static Tensor sum(Tensor x, int[] axes, boolean keepDims) {
        int[] kept = keptShape(x.shape(), axes);
        return record("sum", be(x).reduce(ReduceOp.SUM, x, axes, keepDims), new Tensor[] {x},
                g -> new Tensor[] {expand(reshape(g, kept), x.shape())},
                () -> sum(tan(x), axes, keepDims));
    }

    public static Tensor sum(Tensor x) { return sum(x, allAxes(x), false); }

    public static Tensor mean(Tensor x, int[] axes, boolean keepDims) {
        int[] kept = keptShape(x.shape(), axes);
        long n = x.numel() / Math.max(1, Shapes.numel(kept));
        return record("mean", be(x).reduce(ReduceOp.MEAN, x, axes, keepDims), new Tensor[] {x},
                g -> new Tensor[] {expand(mul(reshape(g, kept), 1f / n), x.shape())},
                () -> mean(tan(x), axes, keepDims));
    }

    public static Tensor mean(Tensor x) { return mean(x, allAxes(x), false); }

    /** Biased variance (divides by n), as the norms use. */
    public static Tensor var(Tensor x, int[] axes, boolean keepDims) {
        Tensor c = sub(x, mean(x, axes, true));
        return mean(mul(c, c), axes, keepDims);
    }

    /** Maximum over axes; the gradient is shared equally among tied maxima. */
    public static Tensor max(Tensor x, int[] axes, boolean keepDims) {
        int[] kept = keptShape(x.shape(), axes);
        Tensor out = be(x).reduce(ReduceOp.MAX, x, axes, keepDims);
        Supplier<Tensor> mask = () -> {
            Tensor m = be(x).binary(BinaryOp.EQ, x, out.reshape(kept));
            return be(x).binary(BinaryOp.DIV, m, be(x).reduce(ReduceOp.SUM, m, axes, true));
        };
        return record("max", out, new Tensor[] {x},
                g -> new Tensor[] {mul(expand(reshape(g, kept), x.shape()), mask.get())},
                () -> sum(mul(tan(x), mask.get()), axes, keepDims));
    }

    // ---- linear algebra --------------------------------------------------------------------------------------

    /** op(a) @ op(b) with batch broadcasting (see {@link Backend#matmul}). */
    public static Tensor matmul(Tensor a, Tensor b, boolean ta, boolean tb) {
        Tensor out = be(a, b).matmul(a, b, ta, tb);
        return record("matmul", out, new Tensor[] {a, b}, g -> {
            Tensor ga = null, gb = null;
            if (a.requiresGrad()) ga = sumTo(ta ? matmul(b, g, tb, true) : matmul(g, b, false, !tb), a.shape());
            if (b.requiresGrad()) gb = sumTo(tb ? matmul(g, a, true, ta) : matmul(a, g, !ta, false), b.shape());
            return new Tensor[] {ga, gb};
        }, () -> {
            Tensor t = null;
            if (a.tangent() != null) t = matmul(a.tangent(), b, ta, tb);
            if (b.tangent() != null) { Tensor u = matmul(a, b.tangent(), ta, tb); t = t == null ? u : add(t, u); }
            return t;
        });
    }

    public static Tensor matmul(Tensor a, Tensor b) { return matmul(a, b, false, false); }

    /**
     * x @ weight^T + bias, PyTorch's Linear layout (weight [out, in]); one op so that GPUs can add the bias in the
     * GEMM's epilogue. The rules are matmul's and add's, in the same order as composing them.
     */
    public static Tensor linear(Tensor x, Tensor weight, Tensor bias) {
        Tensor y = be(x).linear(x, weight, bias, false);
        Tensor[] in = bias == null ? new Tensor[] {x, weight} : new Tensor[] {x, weight, bias};
        return record("linear", y, in, g -> {
            Tensor gx = x.requiresGrad() ? sumTo(matmul(g, weight, false, false), x.shape()) : null;
            Tensor gw = weight.requiresGrad() ? sumTo(matmul(g, x, true, false), weight.shape()) : null;
            if (bias == null) return new Tensor[] {gx, gw};
            return new Tensor[] {gx, gw, bias.requiresGrad() ? sumTo(g, bias.shape()) : null};
        }, () -> {
            Tensor t = null;
            if (x.tangent() != null) t = matmul(x.tangent(), weight, false, true);
            if (weight.tangent() != null) { Tensor u = matmul(x, weight.tangent(), false, true); t = t == null ? u : add(t, u); }
            if (t == null) t = be(x).zeros(DType.F32, y.shape());
            return bias == null ? t : add(t, tan(bias));
        });
    }

    /**
     * gelu(linear(x, weight, bias)). Where nothing is recorded and no tangent rides along (sampling), the backend
     * runs it as one op (on GPUs the GELU joins the bias in the GEMM epilogue); otherwise it composes the two ops.
     */
    public static Tensor linearGelu(Tensor x, Tensor weight, Tensor bias) {
        if (plain(x, weight, bias)) return be(x).linear(x, weight, bias, true);
        return gelu(linear(x, weight, bias));
    }

    // ---- inference forms ---------------------------------------------------------------------------------------
    // Ops whose result only feeds matrix products, rounded to the type those run in (see Backend#matmulInputType).
    // With nothing to differentiate they are one backend op each (one kernel on GPUs, no separate cast); otherwise
    // they compose the recorded ops and a recorded cast, so gradients and tangents are the ordinary ones.

    /** The type for activations that only feed matrix products: the backend's choice when no graph is recorded. */
    public static DType matmulInputType(Tensor x) { return Grad.enabled() ? DType.F32 : be(x).matmulInputType(); }

    /** Nothing recorded for these inputs and no tangents: the fused inference form may run. */
    private static boolean plain(Tensor... xs) {
        for (Tensor x : xs)
            if (x != null && ((Grad.enabled() && x.requiresGrad()) || x.tangent() != null)) return false;
        return true;
    }

    /** residual + linear(x, weight, bias) in residual's type (see Backend#linearResidual). */
    public static Tensor linearResidual(Tensor x, Tensor weight, Tensor bias, Tensor residual) {
        if (plain(x, weight, bias, residual)) return be(x).linearResidual(x, weight, bias, residual);
        return cast(add(residual, linear(x, weight, bias)), residual.dtype());
    }

    /** linear(x, weight, bias) rounded to out. */
    public static Tensor linear(Tensor x, Tensor weight, Tensor bias, DType out) {
        if (plain(x, weight, bias)) return be(x).linear(x, weight, bias, false, out);
        return cast(linear(x, weight, bias), out);
    }

    /**
     * Layers on the same x, rounded to out: [G, rows of x, n] with slice g = linear(x, weights[g], biases[g]) (biases
     * null or holding nulls: no bias). One backend op when nothing is differentiated, else the recorded linears.
     */
    public static Tensor linearEach(Tensor x, Tensor[] weights, Tensor[] biases, DType out) {
        Tensor[] all = new Tensor[1 + 2 * weights.length];
        all[0] = x;
        for (int g = 0; g < weights.length; g++) {
            all[1 + g] = weights[g];
            all[1 + weights.length + g] = biases == null ? null : biases[g];
        }
        if (plain(all)) return be(x).linearEach(x, weights, biases, out);
        Tensor[] ys = new Tensor[weights.length];
        for (int g = 0; g < ys.length; g++) {
            Tensor y = linear(x, weights[g], biases == null ? null : biases[g], out);
            ys[g] = reshape(y, 1, Math.toIntExact(y.numel() / y.size(-1)), y.size(-1));
        }
        return concat(ys, 0);
    }

    /** linearGelu(x, weight, bias) rounded to out. */
    public static Tensor linearGelu(Tensor x, Tensor weight, Tensor bias, DType out) {
        if (plain(x, weight, bias)) return be(x).linear(x, weight, bias, true, out);
        return cast(linearGelu(x, weight, bias), out);
    }

    /**
     * normalize(x, eps) * w + b rounded to out: layer norm with adaLN modulation or its affine parameters (w and b
     * both null: none).
     */
    public static Tensor normalizeAffine(Tensor x, float eps, Tensor w, Tensor b, DType out) {
        if (plain(x, w, b)) return be(x).normalizeAffine(x, eps, w, b, out);
        return cast(w == null && b == null ? normalize(x, eps) : fma(normalize(x, eps), w, b), out);
    }

    /**
     * {x1, normalizeAffine(x1, eps, w, b, out)} with x1 = gate == null ? x + h : h * gate + x in x's type: a residual
     * update and the next layer norm (one pass on GPUs).
     */
    public static Tensor[] residualNormAffine(Tensor x, Tensor h, Tensor gate, float eps, Tensor w, Tensor b, DType out) {
        if (plain(x, h, gate, w, b)) return be(x).residualNormAffine(x, h, gate, eps, w, b, out);
        Tensor x1 = cast(gate == null ? add(x, h) : fma(h, gate, x), x.dtype());
        return new Tensor[] {x1, normalizeAffine(x1, eps, w, b, out)};
    }

    /** l2Normalize(x, eps) * weight (null: none) rounded to out. */
    public static Tensor l2Normalize(Tensor x, float eps, Tensor weight, DType out) {
        if (plain(x, weight)) return be(x).l2Normalize(x, eps, weight, out);
        Tensor y = l2Normalize(x, eps);
        return cast(weight == null ? y : mul(y, weight), out);
    }

    /** attention(q, k, v, cuQ, cuK, scale) rounded to out. */
    public static Tensor attention(Tensor q, Tensor k, Tensor v, int[] cuQ, int[] cuK, float scale, DType out) {
        if (plain(q, k, v)) return be(q).attention(q, k, v, cuQ, cuK, scale, out);
        return cast(attention(q, k, v, cuQ, cuK, scale), out);
    }

    // ---- views -------------------------------------------------------------------------------------------------

    public static Tensor reshape(Tensor x, int... shape) {
        int[] from = x.shape();
        return record("reshape", x.reshape(shape), new Tensor[] {x},
                g -> new Tensor[] {reshape(g, from)}, () -> reshape(tan(x), shape));
    }

    public static Tensor permute(Tensor x, int... perm) {
        int[] inv = new int[perm.length];
        for (int i = 0; i < perm.length; i++) inv[Shapes.axis(perm[i], perm.length)] = i;
        return record("permute", x.permute(perm), new Tensor[] {x},
                g -> new Tensor[] {permute(g, inv)}, () -> permute(tan(x), perm));
    }

    public static Tensor transpose(Tensor x, int a, int b) {
        int[] perm = new int[x.dim()];
        for (int i = 0; i < perm.length; i++) perm[i] = i;
        a = Shapes.axis(a, perm.length);
        b = Shapes.axis(b, perm.length);
        perm[a] = b;
        perm[b] = a;
        return permute(x, perm);
    }

    public static Tensor expand(Tensor x, int... shape) {
        int[] from = x.shape();
        return record("expand", x.expand(shape), new Tensor[] {x},
                g -> new Tensor[] {sumTo(g, from)}, () -> expand(tan(x), shape));
    }

    /** A size-1 axis inserted at axis: a view (no copy, whatever x's strides). */
    public static Tensor unsqueeze(Tensor x, int axis) {
        int ax = axis < 0 ? axis + x.dim() + 1 : axis;
        return record("unsqueeze", x.unsqueeze(ax), new Tensor[] {x}, g -> new Tensor[] {squeeze(g, ax)},
                () -> unsqueeze(tan(x), ax));
    }

    /** The size-1 axis removed: a view (a q/k/v slice of packed qkv stays in place). */
    public static Tensor squeeze(Tensor x, int axis) {
        int ax = Shapes.axis(axis, x.dim());
        return record("squeeze", x.squeeze(ax), new Tensor[] {x}, g -> new Tensor[] {unsqueeze(g, ax)},
                () -> squeeze(tan(x), ax));
    }

    /** Elements [start, end) along an axis. */
    public static Tensor slice(Tensor x, int axis, int start, int end) {
        int ax = Shapes.axis(axis, x.dim());
        int[] shape = x.shape();
        return record("slice", x.slice(ax, start, end), new Tensor[] {x}, g -> {
            int[] before = shape.clone(), after = shape.clone();
            before[ax] = start;
            after[ax] = shape[ax] - end;
            Tensor[] parts = {be(g).zeros(DType.F32, before), g, be(g).zeros(DType.F32, after)};
            return new Tensor[] {concat(parts, ax)};
        }, () -> slice(tan(x), ax, start, end));
    }

    /** Splits into `chunks` equal parts along an axis (PyTorch chunk with an exact division). */
    public static Tensor[] chunk(Tensor x, int chunks, int axis) {
        int n = x.size(axis);
        if (n % chunks != 0) throw new IllegalArgumentException("chunk " + n + " into " + chunks);
        Tensor[] out = new Tensor[chunks];
        for (int i = 0; i < chunks; i++) out[i] = slice(x, axis, i * n / chunks, (i + 1) * n / chunks);
        return out;
    }

    public static Tensor concat(Tensor[] xs, int axis) {
        int ax = Shapes.axis(axis, xs[0].dim());
        Tensor out = be(xs[0]).concat(xs, ax);
        return record("concat", out, xs, g -> {
            Tensor[] gs = new Tensor[xs.length];
            int at = 0;
            for (int i = 0; i < xs.length; i++) {
                int n = xs[i].size(ax);
                gs[i] = slice(g, ax, at, at + n);
                at += n;
            }
            return gs;
        }, () -> {
            Tensor[] ts = new Tensor[xs.length];
            for (int i = 0; i < xs.length; i++) ts[i] = tan(xs[i]);
            return concat(ts, ax);
        });
    }

    /** A dense copy (differentiable identity). */
    public static Tensor contiguous(Tensor x) {
        if (x.isContiguous()) return x;
        return record("contiguous", be(x).copy(x), new Tensor[] {x}, g -> new Tensor[] {g}, () -> contiguous(tan(x)));
    }

    // ---- indexing ----------------------------------------------------------------------------------------------

    /** Rows idx of x along axis (-1 gives zeros). */
    public static Tensor indexSelect(Tensor x, int axis, Tensor idx) {
        int n = x.size(axis);
        return record("indexSelect", be(x).indexSelect(x, axis, idx), new Tensor[] {x},
                g -> new Tensor[] {indexAdd(g, axis, idx, n)}, () -> indexSelect(tan(x), axis, idx));
    }

    /** Scatter-add of src's rows into `size` rows at idx (-1 skipped). */
    public static Tensor indexAdd(Tensor src, int axis, Tensor idx, int size) {
        return record("indexAdd", be(src).indexAdd(src, axis, idx, size), new Tensor[] {src},
                g -> new Tensor[] {indexSelect(g, axis, idx)}, () -> indexAdd(tan(src), axis, idx, size));
    }

    /** Mean of the src rows scattered to each of `size` rows (rows receiving none stay zero). */
    public static Tensor scatterMean(Tensor src, int axis, Tensor idx, int size) {
        int[] ids = idx.toInts();
        float[] count = new float[size];
        for (int id : ids) if (id >= 0) count[id]++;
        for (int i = 0; i < size; i++) count[i] = count[i] == 0 ? 0 : 1f / count[i];
        int[] cs = new int[src.dim()];
        Arrays.fill(cs, 1);
        cs[Shapes.axis(axis, src.dim())] = size;
        return mul(indexAdd(src, axis, idx, size), be(src).fromFloats(count, cs));
    }

    // ---- fused -------------------------------------------------------------------------------------------------

    /** Softmax over the last axis. */
    public static Tensor softmax(Tensor x) {
        Tensor out = be(x).softmax(x);
        Tensor y = detach(out);
        return record("softmax", out, new Tensor[] {x},
                g -> new Tensor[] {be(g).softmaxBackward(y, g)}, () -> be(x).softmaxBackward(y, tan(x)));
    }

    /** (x - mean) / sqrt(var + eps) over the last axis. */
    public static Tensor normalize(Tensor x, float eps) {
        Tensor[] r = be(x).normalize(x, eps);
        Tensor xhat = detach(r[0]), rstd = r[1];
        return record("normalize", r[0], new Tensor[] {x},
                g -> new Tensor[] {be(g).normalizeBackward(g, xhat, rstd)},
                () -> be(x).normalizeBackward(tan(x), xhat, rstd));
    }

    /** PyTorch LayerNorm over the last axis; weight and bias may be null (elementwise_affine=False). */
    public static Tensor layerNorm(Tensor x, Tensor weight, Tensor bias, float eps) {
        Tensor y = normalize(x, eps);
        if (weight != null && bias != null) return fma(y, weight, bias); // one pass, same rounding as mul then add
        if (weight != null) y = mul(y, weight);
        if (bias != null) y = add(y, bias);
        return y;
    }

    /**
     * x / max(||x||_2, eps) over the last axis (PyTorch F.normalize). With n the clamped norm and y the output:
     * backward (g - y sum(g y) [||x|| >= eps]) / n, tangent the same with dx (the clamp's tie sends the derivative
     * through the norm, as maximum does).
     */
    public static Tensor l2Normalize(Tensor x, float eps) {
        Tensor y = be(x).l2Normalize(x, eps);
        Tensor yd = detach(y);
        java.util.function.Function<Tensor, Tensor> rule = g -> {
            Tensor norm = sqrt(sum(mul(x, x), new int[] {-1}, true));
            Tensor n = maximum(norm, be(x).full(eps, 1));
            Tensor on = be(x).binary(BinaryOp.GE, norm, be(x).full(eps, 1)); // 1 where the norm is not clamped
            Tensor proj = mul(mul(yd, sum(mul(g, yd), new int[] {-1}, true)), on);
            return div(sub(g, proj), n);
        };
        return record("l2Normalize", y, new Tensor[] {x}, g -> new Tensor[] {rule.apply(g)}, () -> rule.apply(tan(x)));
    }

    /**
     * Attention with variable-length instances: q [Nq, H, D], k [Nk, H, D], v [Nk, H, Dv] -> [Nq, H, Dv]; see
     * {@link Backend#attention}.
     */
    public static Tensor attention(Tensor q, Tensor k, Tensor v, int[] cuQ, int[] cuK, float scale) {
        Tensor[] r = be(q).attention(q, k, v, cuQ, cuK, scale);
        Tensor out = detach(r[0]), lse = r[1];
        return record("attention", r[0], new Tensor[] {q, k, v},
                g -> be(g).attentionBackward(g, q, k, v, out, lse, cuQ, cuK, scale),
                () -> be(q).attentionJvp(q, k, v, out, lse, q.tangent(), k.tangent(), v.tangent(), cuQ, cuK, scale));
    }

    /** Dense scaled dot-product attention in the [B, L, H, D] layout (flash-attn's), scale 1/sqrt(D). */
    public static Tensor attention(Tensor q, Tensor k, Tensor v) {
        int b = q.size(0), lq = q.size(1), lk = k.size(1), h = q.size(2), d = q.size(3), dv = v.size(3);
        int[] cuQ = new int[b + 1], cuK = new int[b + 1];
        for (int i = 0; i <= b; i++) { cuQ[i] = i * lq; cuK[i] = i * lk; }
        Tensor o = attention(reshape(contiguous(q), b * lq, h, d), reshape(contiguous(k), b * lk, h, d),
                reshape(contiguous(v), b * lk, h, dv), cuQ, cuK, (float) (1.0 / Math.sqrt(d)));
        return reshape(o, b, lq, h, dv);
    }

    /**
     * One MDT-dist velocity-matching loss term (VM, or VD with its straight-through v_fake) as a single op over
     * {@link Backend#mdtVelocityLoss}: lambda * mean((pred + s - sg(s) - target)^2), target = vT - t_b gh with
     * gh = g / (||g_b||_2 + normEps) per sample when dNorm (else g). s - sg(s) is zero in value, so the op computes
     * the plain difference and s (null: absent) receives exactly pred's gradient, which is how VD's gradient reaches
     * the student's one-step sample. vT, g and t are constants (the objective builds them without grad): one that
     * carries a gradient or a tangent is refused rather than silently cut off. The forward pass also forms
     * dL/dpred (needed by both rules), so the backward rule is one scaling by the output's gradient.
     *
     * <p>Composed, this term is ~12 elementwise ops and a segmented reduction, each a full read and write of the
     * state; fused it reads pred, vT and g (g twice with dNorm) and writes one gradient: see vf_flow.cu.
     */
    public static Tensor mdtVelocityLoss(Tensor pred, Tensor straightThrough, Tensor vT, Tensor g, Tensor t,
                                         int[] rowOffsets, boolean dNorm, float normEps, float lambda) {
        String[] names = {"vT", "g", "t"};
        Tensor[] constants = {vT, g, t};
        for (int i = 0; i < constants.length; i++)
            if ((Grad.enabled() && constants[i].requiresGrad()) || constants[i].tangent() != null)
                throw new IllegalArgumentException("mdtVelocityLoss differentiates pred (and the straight-through tensor) only; "
                        + names[i] + " carries a gradient or tangent: detach it or compute it without grad");
        if (straightThrough != null && !Arrays.equals(straightThrough.shape(), pred.shape()))
            throw new IllegalArgumentException("mdtVelocityLoss: straight-through tensor of shape "
                    + Arrays.toString(straightThrough.shape()) + " for pred " + Arrays.toString(pred.shape()));
        Tensor[] inputs = straightThrough == null ? new Tensor[] {pred} : new Tensor[] {pred, straightThrough};
        boolean differentiable = false;
        for (Tensor in : inputs) differentiable |= (Grad.enabled() && in.requiresGrad()) || in.tangent() != null;
        Tensor[] r = be(pred).mdtVelocityLoss(pred, vT, g, t, rowOffsets, dNorm, normEps, lambda, differentiable);
        Tensor dPred = r[1];
        return record("mdtVelocityLoss", r[0], inputs, gOut -> {
            Tensor gp = mul(dPred, gOut);
            return inputs.length == 1 ? new Tensor[] {gp} : new Tensor[] {gp, gp};
        }, () -> {
            Tensor tangent = null;
            for (Tensor in : inputs) {
                if (in.tangent() == null) continue;
                Tensor part = sum(mul(dPred, in.tangent()));
                tangent = tangent == null ? part : add(tangent, part);
            }
            return tangent;
        });
    }

    /** Element type conversion; the gradient converts back. */
    public static Tensor cast(Tensor x, DType to) {
        if (x.dtype() == to) return x;
        DType from = x.dtype();
        return record("cast", be(x).cast(x, to), new Tensor[] {x},
                g -> new Tensor[] {be(g).cast(g, from)}, () -> be(x).cast(tan(x), to));
    }
}
