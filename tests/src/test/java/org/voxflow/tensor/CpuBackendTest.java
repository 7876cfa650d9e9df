package org.voxflow.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.voxflow.tensor.Oracle.assertClose;
import static org.voxflow.tensor.Oracle.broadcastIndex;
import static org.voxflow.tensor.Oracle.numel;
import static org.voxflow.tensor.Oracle.seq;
import static org.voxflow.tensor.Oracle.t;
import static org.voxflow.tensor.Oracle.unravel;

import java.util.Arrays;
import java.util.function.DoubleUnaryOperator;
import org.junit.jupiter.api.Test;

/** Every CpuBackend primitive (attention aside: CpuAttentionTest) against plain Java loops on small inputs. */
class CpuBackendTest {
    private final Backend be = Backends.cpu();
    private final Rng rng = new Rng(20260101);

    private float[] normal(int n, float scale) {
        float[] v = rng.normal(n);
        for (int i = 0; i < n; i++) v[i] *= scale;
        return v;
    }

    private float[] smallInts(int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = rng.nextInt(7) - 3;
        return v;
    }

    @Test void backendsLookup() {
        assertSame(be, Backends.byName("cpu"));
        assertEquals(Device.CPU, be.device());
        assertThrows(IllegalArgumentException.class, () -> Backends.byName("tpu"));
    }

    // ---- elementwise -----------------------------------------------------------------------------------------

    private static double silu(double x) { return x / (1 + Math.exp(-x)); }

    private static double gelu(double x) { return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x))); }

    private static double deriv(DoubleUnaryOperator f, double x) {
        double h = 1e-5;
        return (f.applyAsDouble(x + h) - f.applyAsDouble(x - h)) / (2 * h);
    }

    private static double unaryRef(UnaryOp op, double x) {
        return switch (op) {
            case NEG -> -x;
            case ABS -> Math.abs(x);
            case EXP -> Math.exp(x);
            case LOG -> Math.log(x);
            case SQRT -> Math.sqrt(x);
            case RSQRT -> 1 / Math.sqrt(x);
            case SQUARE -> x * x;
            case RECIPROCAL -> 1 / x;
            case SIN -> Math.sin(x);
            case COS -> Math.cos(x);
            case TANH -> Math.tanh(x);
            case SIGMOID -> 1 / (1 + Math.exp(-x));
            case SILU -> silu(x);
            case GELU_TANH -> gelu(x);
            case SILU_GRAD -> deriv(CpuBackendTest::silu, x);
            case GELU_TANH_GRAD -> deriv(CpuBackendTest::gelu, x);
            case STEP -> x > 0 ? 1 : 0;
        };
    }

    @Test void unaryOpsMatchTheMathOnAStridedView() {
        float[] base = normal(60, 3f);
        base[0] = 0f;
        base[1] = -0f;
        base[2] = 60f;
        base[3] = -60f; // sigmoid / silu must not overflow to NaN
        float[] pos = new float[60];
        for (int i = 0; i < 60; i++) pos[i] = Math.abs(base[i]) + 0.01f;
        for (UnaryOp op : UnaryOp.values()) {
            boolean positive = op == UnaryOp.LOG || op == UnaryOp.SQRT || op == UnaryOp.RSQRT || op == UnaryOp.RECIPROCAL;
            float[] in = positive ? pos : base;
            if (op == UnaryOp.EXP) in = Arrays.copyOf(base, 60); // avoid e^60 overflow noise in the comparison
            if (op == UnaryOp.EXP) { in[2] = 30f; in[3] = -30f; }
            // pass a transposed view: the backend must read logical order
            Tensor x = be.fromFloats(t(in, 6, 10), 10, 6).transpose(0, 1);
            Tensor y = be.unary(op, x);
            assertArrayEquals(new int[] {6, 10}, y.shape(), op.name());
            assertTrue(y.isDense());
            float[] exp = new float[60];
            for (int i = 0; i < 60; i++) exp[i] = (float) unaryRef(op, in[i]);
            boolean grad = op == UnaryOp.SILU_GRAD || op == UnaryOp.GELU_TANH_GRAD;
            assertClose(op.name(), exp, y.toFloats(), grad ? 2e-4 : 1e-6, grad ? 1e-4 : 2e-6);
        }
        assertEquals(0f, be.unary(UnaryOp.STEP, be.fromFloats(new float[] {0f}, 1)).item());
        assertTrue(Float.isNaN(be.unary(UnaryOp.LOG, be.fromFloats(new float[] {-1f}, 1)).item()));
        assertEquals(Float.NEGATIVE_INFINITY, be.unary(UnaryOp.LOG, be.fromFloats(new float[] {0f}, 1)).item());
    }

    private static float binaryRef(BinaryOp op, float a, float b) {
        return switch (op) {
            case ADD -> a + b;
            case SUB -> a - b;
            case MUL -> a * b;
            case DIV -> a / b;
            case MAX -> Math.max(a, b);
            case MIN -> Math.min(a, b);
            case POW -> (float) Math.pow(a, b);
            case GT -> a > b ? 1 : 0;
            case GE -> a >= b ? 1 : 0;
            case LT -> a < b ? 1 : 0;
            case LE -> a <= b ? 1 : 0;
            case EQ -> a == b ? 1 : 0;
        };
    }

    @Test void binaryOpsBroadcast() {
        int[][][] cases = {
            {{2, 3, 4}, {2, 3, 4}},
            {{2, 3, 4}, {4}},
            {{2, 1, 4}, {3, 1}},
            {{3, 1}, {1, 4}},
            {{1}, {2, 3}},
            {{2, 3}, {1}},
            {{2, 3}, {}},
            {{1, 3, 1}, {2, 1, 5}},
        };
        for (int[][] c : cases) {
            int[] sa = c[0], sb = c[1], so = Shapes.broadcast(sa, sb);
            for (BinaryOp op : BinaryOp.values()) {
                boolean cmp = op.ordinal() >= BinaryOp.GT.ordinal();
                float[] va = cmp ? smallInts(numel(sa)) : normal(numel(sa), 2f);
                float[] vb = cmp ? smallInts(numel(sb)) : normal(numel(sb), 2f);
                if (op == BinaryOp.POW) for (int i = 0; i < va.length; i++) va[i] = Math.abs(va[i]) + 0.1f;
                if (op == BinaryOp.DIV) for (int i = 0; i < vb.length; i++) vb[i] += vb[i] >= 0 ? 0.5f : -0.5f;
                Tensor out = be.binary(op, be.fromFloats(va, sa), be.fromFloats(vb, sb));
                assertArrayEquals(so, out.shape(), op + " " + Arrays.toString(sa) + " " + Arrays.toString(sb));
                float[] exp = new float[numel(so)];
                for (int i = 0; i < exp.length; i++) {
                    int[] idx = unravel(i, so);
                    exp[i] = binaryRef(op, va[broadcastIndex(idx, sa)], vb[broadcastIndex(idx, sb)]);
                }
                assertClose(op + " " + Arrays.toString(sa) + " " + Arrays.toString(sb), exp, out.toFloats(), 0, op == BinaryOp.POW ? 1e-6 : 0);
            }
        }
        assertThrows(IllegalArgumentException.class, () -> be.binary(BinaryOp.ADD, be.zeros(DType.F32, 2, 3), be.zeros(DType.F32, 3, 2)));
    }

    @Test void binaryOnViewsAndSpecialValues() {
        // a transposed view against an expanded view
        Tensor a = be.fromFloats(seq(6), 2, 3).transpose(0, 1); // [3,2]: a[i,j] = 3j + i
        Tensor b = be.fromFloats(new float[] {10, 20, 30}, 3, 1).expand(3, 2);
        assertArrayEquals(new float[] {10, 13, 21, 24, 32, 35}, be.binary(BinaryOp.ADD, a, b).toFloats());
        // bf16 operands compute in f32
        Tensor h = be.cast(be.fromFloats(new float[] {1.5f, -2f}, 2), DType.BF16);
        assertArrayEquals(new float[] {3f, 4f}, be.binary(BinaryOp.MUL, h, be.fromFloats(new float[] {2f, -2f}, 2)).toFloats());
        // NaN propagates through max/min; comparisons with NaN are false
        Tensor n = be.fromFloats(new float[] {Float.NaN, 1f}, 2);
        Tensor one = be.fromFloats(new float[] {1f, Float.NaN}, 2);
        float[] mx = be.binary(BinaryOp.MAX, n, one).toFloats();
        assertTrue(Float.isNaN(mx[0]) && Float.isNaN(mx[1]));
        float[] mn = be.binary(BinaryOp.MIN, one, n).toFloats();
        assertTrue(Float.isNaN(mn[0]) && Float.isNaN(mn[1]));
        assertArrayEquals(new float[] {0, 0}, be.binary(BinaryOp.EQ, n, one).toFloats());
        assertArrayEquals(new float[] {Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY},
                be.binary(BinaryOp.DIV, be.fromFloats(new float[] {1, -1}, 2), be.zeros(DType.F32, 1)).toFloats());
    }

    @Test void affinePowWhere() {
        float[] v = normal(12, 2f);
        Tensor x = be.fromFloats(v, 3, 4);
        float[] aff = be.affine(x.transpose(0, 1), 1.5f, -0.25f).toFloats();
        float[] vt = t(v, 3, 4);
        for (int i = 0; i < 12; i++) assertEquals(1.5f * vt[i] - 0.25f, aff[i], 0f);

        float[] pos = new float[12];
        for (int i = 0; i < 12; i++) pos[i] = Math.abs(v[i]) + 0.05f;
        Tensor px = be.fromFloats(pos, 3, 4);
        for (float p : new float[] {2f, 0.5f, 1f, 3f, -1f, 0f, 1.7f}) {
            float[] got = be.powScalar(px, p).toFloats();
            for (int i = 0; i < 12; i++) assertEquals(Math.pow(pos[i], p), got[i], 1e-6 * Math.abs(Math.pow(pos[i], p)), "pow " + p);
        }
        float[] special = {-0f, 0f, Float.NEGATIVE_INFINITY, Float.POSITIVE_INFINITY, Float.NaN, -4f, 4f};
        float[] sqrt = be.powScalar(be.fromFloats(special, special.length), 0.5f).toFloats();
        for (int i = 0; i < special.length; i++) // bit for bit Math.pow's special values (the sign of zero included)
            assertEquals(Float.floatToIntBits((float) Math.pow(special[i], 0.5)), Float.floatToIntBits(sqrt[i]), "pow(" + special[i] + ", 0.5)");
        float[] sq = be.powScalar(x, 2f).toFloats(); // negative bases with an integer exponent
        for (int i = 0; i < 12; i++) assertEquals(v[i] * v[i], sq[i], 0f);

        Tensor cond = be.fromFloats(new float[] {1, 0, 0}, 3, 1);
        Tensor a = be.fromFloats(seq(12), 3, 4);
        Tensor b = be.fromFloats(new float[] {-1, -2, -3, -4}, 4);
        assertArrayEquals(new float[] {0, 1, 2, 3, -1, -2, -3, -4, -1, -2, -3, -4}, be.where(cond, a, b).toFloats());
        Tensor icond = be.fromInts(new int[] {0, 5}, 2);
        assertArrayEquals(new float[] {7, 1}, be.where(icond, be.full(1f, 2), be.full(7f, 1)).toFloats());
    }

    // ---- reductions ------------------------------------------------------------------------------------------

    private static float[] reduceRef(ReduceOp op, float[] x, int[] shape, int[] axes, int[] outShape) {
        boolean[] red = new boolean[shape.length];
        for (int a : axes) red[Shapes.axis(a, shape.length)] = true;
        int nOut = numel(outShape);
        double[] acc = new double[nOut];
        int[] cnt = new int[nOut];
        Arrays.fill(acc, op == ReduceOp.MAX ? Double.NEGATIVE_INFINITY : op == ReduceOp.MIN ? Double.POSITIVE_INFINITY : 0);
        int[] keptStrides = new int[shape.length];
        int s = 1;
        for (int a = shape.length - 1; a >= 0; a--) if (!red[a]) { keptStrides[a] = s; s *= shape[a]; }
        for (int i = 0; i < x.length; i++) {
            int[] idx = unravel(i, shape);
            int o = 0;
            for (int a = 0; a < shape.length; a++) if (!red[a]) o += idx[a] * keptStrides[a];
            switch (op) {
                case SUM, MEAN -> acc[o] += x[i];
                case MAX -> acc[o] = Math.max(acc[o], x[i]);
                case MIN -> acc[o] = Math.min(acc[o], x[i]);
            }
            cnt[o]++;
        }
        float[] out = new float[nOut];
        for (int o = 0; o < nOut; o++) out[o] = (float) (op == ReduceOp.MEAN ? acc[o] / cnt[o] : acc[o]);
        return out;
    }

    @Test void reductionsOverAxesWithAndWithoutKeepDims() {
        int[] shape = {2, 3, 4, 5};
        float[] v = normal(120, 1f);
        Tensor x = be.fromFloats(v, shape);
        int[][] axesSets = {{0}, {1, 3}, {-1}, {2, 0}, {0, 1, 2, 3}, {}, {3, -1}};
        for (ReduceOp op : ReduceOp.values())
            for (int[] axes : axesSets)
                for (boolean keep : new boolean[] {false, true}) {
                    boolean[] red = new boolean[4];
                    for (int a : axes) red[Shapes.axis(a, 4)] = true;
                    int[] kept = new int[4];
                    int n = 0;
                    for (int a = 0; a < 4; a++) if (!red[a] || keep) kept[n++] = red[a] ? 1 : shape[a];
                    int[] outShape = Arrays.copyOf(kept, n);
                    Tensor y = be.reduce(op, x, axes, keep);
                    String what = op + " " + Arrays.toString(axes) + " keep=" + keep;
                    assertArrayEquals(outShape, y.shape(), what);
                    assertClose(what, reduceRef(op, v, shape, axes, outShape), y.toFloats(), 1e-6, 1e-6);
                }
        // a permuted view reduces in its logical layout
        Tensor p = x.permute(3, 1, 0, 2); // [5,3,2,4]
        float[] pv = be.copy(p).toFloats();
        assertClose(reduceRef(ReduceOp.SUM, pv, new int[] {5, 3, 2, 4}, new int[] {1, 3}, new int[] {5, 2}),
                be.reduce(ReduceOp.SUM, p, new int[] {1, 3}, false).toFloats(), 1e-6, 1e-6);
        // extremes and NaN
        Tensor s = be.fromFloats(new float[] {1, Float.NaN, 3, -5, 2, 4}, 2, 3);
        float[] mx = be.reduce(ReduceOp.MAX, s, new int[] {1}, false).toFloats();
        assertTrue(Float.isNaN(mx[0]));
        assertEquals(4f, mx[1]);
        assertEquals(-5f, be.reduce(ReduceOp.MIN, s.slice(0, 1, 2), new int[] {0, 1}, false).item());
        assertArrayEquals(new float[] {-4f, 2f + Float.NaN, 7f}, be.reduce(ReduceOp.SUM, s, new int[] {0}, false).toFloats());
        // reducing an empty axis
        Tensor e = be.zeros(DType.F32, 2, 0);
        assertArrayEquals(new float[] {0, 0}, be.reduce(ReduceOp.SUM, e, new int[] {1}, false).toFloats());
        assertArrayEquals(new float[] {Float.NEGATIVE_INFINITY, Float.NEGATIVE_INFINITY}, be.reduce(ReduceOp.MAX, e, new int[] {1}, false).toFloats());
    }

    // ---- matmul ----------------------------------------------------------------------------------------------

    /**
     * Batched reference product of logical A [batchA..., M, K] and B [batchB..., K, N] (dense arrays), with the batch
     * axes broadcast.
     */
    private static float[] bmm(float[] a, int[] sa, float[] b, int[] sb) {
        int m = sa[sa.length - 2], k = sa[sa.length - 1], n = sb[sb.length - 1];
        int[] ba = Arrays.copyOf(sa, sa.length - 2), bb = Arrays.copyOf(sb, sb.length - 2);
        int[] batch = Shapes.broadcast(ba, bb);
        int nb = numel(batch);
        float[] out = new float[nb * m * n];
        for (int bi = 0; bi < nb; bi++) {
            int[] idx = unravel(bi, batch);
            int oa = broadcastIndex(idx, ba) * m * k, ob = broadcastIndex(idx, bb) * k * n;
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++) {
                    double s = 0;
                    for (int p = 0; p < k; p++) s += (double) a[oa + i * k + p] * b[ob + p * n + j];
                    out[(bi * m + i) * n + j] = (float) s;
                }
        }
        return out;
    }

    @Test void matmulAllTransposeCombinations() {
        int m = 3, k = 5, n = 4;
        float[] a = normal(m * k, 1f), b = normal(k * n, 1f);
        float[] exp = bmm(a, new int[] {m, k}, b, new int[] {k, n});
        for (boolean ta : new boolean[] {false, true})
            for (boolean tb : new boolean[] {false, true}) {
                // dense operands laid out for the flags
                Tensor ta0 = ta ? be.fromFloats(t(a, m, k), k, m) : be.fromFloats(a, m, k);
                Tensor tb0 = tb ? be.fromFloats(t(b, k, n), n, k) : be.fromFloats(b, k, n);
                Tensor c = be.matmul(ta0, tb0, ta, tb);
                assertArrayEquals(new int[] {m, n}, c.shape());
                assertClose("dense ta=" + ta + " tb=" + tb, exp, c.toFloats(), 1e-5, 1e-5);
                // the same logical operands as transposed views (column-major: handed to BLAS with flipped flags)
                Tensor va = ta ? be.fromFloats(a, m, k).transpose(0, 1) : be.fromFloats(t(a, m, k), k, m).transpose(0, 1);
                Tensor vb = tb ? be.fromFloats(b, k, n).transpose(0, 1) : be.fromFloats(t(b, k, n), n, k).transpose(0, 1);
                assertClose("views ta=" + ta + " tb=" + tb, exp, be.matmul(va, vb, ta, tb).toFloats(), 1e-5, 1e-5);
            }
    }

    @Test void matmulOnStridedAndOffsetViews() {
        int m = 4, k = 3, n = 5;
        float[] a = normal(m * k, 1f), b = normal(k * n, 1f);
        float[] exp = bmm(a, new int[] {m, k}, b, new int[] {k, n});
        // rows with a leading dimension larger than the row (a column slice) and an element offset
        float[] wide = new float[m * (k + 4)];
        for (int i = 0; i < m; i++) System.arraycopy(a, i * k, wide, i * (k + 4) + 2, k);
        Tensor as = be.fromFloats(wide, m, k + 4).slice(1, 2, 2 + k);
        assertTrue(!as.isContiguous() && as.offset() == 2);
        // b as a row slice of a taller matrix (contiguous with an offset)
        float[] tall = new float[(k + 2) * n];
        System.arraycopy(b, 0, tall, n, k * n);
        Tensor bs = be.fromFloats(tall, k + 2, n).slice(0, 1, 1 + k);
        assertClose(exp, be.matmul(as, bs, false, false).toFloats(), 1e-5, 1e-5);
        // a transposed column slice (column-major with a leading dimension)
        float[] wideT = new float[k * (m + 3)]; // stores A^T [k, m] inside [k, m+3]
        for (int p = 0; p < k; p++) for (int i = 0; i < m; i++) wideT[p * (m + 3) + 1 + i] = a[i * k + p];
        Tensor av = be.fromFloats(wideT, k, m + 3).slice(1, 1, 1 + m).transpose(0, 1);
        assertClose(exp, be.matmul(av, bs, false, false).toFloats(), 1e-5, 1e-5);
        // an operand with no unit stride (stride-0 broadcast rows): must be copied, same result
        float[] row = normal(n, 1f);
        float[] bRep = new float[k * n];
        for (int p = 0; p < k; p++) System.arraycopy(row, 0, bRep, p * n, n);
        Tensor be0 = be.fromFloats(row, 1, n).expand(k, n);
        assertClose(bmm(a, new int[] {m, k}, bRep, new int[] {k, n}), be.matmul(be.fromFloats(a, m, k), be0, false, false).toFloats(), 1e-5, 1e-5);
        // every-other-element view (stride 2 in the last axis) from a permute of [.., 2]
        float[] pairs = new float[m * k * 2];
        for (int i = 0; i < m * k; i++) { pairs[2 * i] = a[i]; pairs[2 * i + 1] = 99f; }
        Tensor a2 = be.fromFloats(pairs, m, k, 2).permute(2, 0, 1).slice(0, 0, 1).reshape(m, k);
        assertClose(exp, be.matmul(a2, be.fromFloats(b, k, n), false, false).toFloats(), 1e-5, 1e-5);
        Tensor a3 = be.fromFloats(pairs, m, k, 2).permute(2, 0, 1).slice(0, 0, 1); // [1, m, k] strided, no reshape
        assertClose(exp, be.matmul(a3, be.fromFloats(b, k, n), false, false).toFloats(), 1e-5, 1e-5);
    }

    @Test void matmulBatchesBroadcast() {
        int m = 2, k = 3, n = 4;
        // [2,3,M,K] @ [K,N]: a 2-D right operand is shared by every batch
        float[] a = normal(6 * m * k, 1f), b = normal(k * n, 1f);
        Tensor c = be.matmul(be.fromFloats(a, 2, 3, m, k), be.fromFloats(b, k, n), false, false);
        assertArrayEquals(new int[] {2, 3, m, n}, c.shape());
        assertClose(bmm(a, new int[] {2, 3, m, k}, b, new int[] {k, n}), c.toFloats(), 1e-5, 1e-5);
        // [2,1,M,K] @ [3,K,N] -> [2,3,M,N]
        float[] a2 = normal(2 * m * k, 1f), b2 = normal(3 * k * n, 1f);
        Tensor c2 = be.matmul(be.fromFloats(a2, 2, 1, m, k), be.fromFloats(b2, 3, k, n), false, false);
        assertArrayEquals(new int[] {2, 3, m, n}, c2.shape());
        assertClose(bmm(a2, new int[] {2, 1, m, k}, b2, new int[] {3, k, n}), c2.toFloats(), 1e-5, 1e-5);
        // [K,M]^T-view batch: a stored [M, B, K] and permuted to [B, M, K] (batch stride K, row stride B*K)
        float[] st = new float[m * 3 * k];
        for (int bi = 0; bi < 3; bi++) for (int i = 0; i < m; i++) for (int p = 0; p < k; p++) st[(i * 3 + bi) * k + p] = a[(bi * m + i) * k + p];
        Tensor ap = be.fromFloats(st, m, 3, k).permute(1, 0, 2);
        float[] b3 = normal(3 * n * k, 1f); // B stored [3, N, K], used with transB
        float[] b3l = new float[3 * k * n];
        for (int bi = 0; bi < 3; bi++) System.arraycopy(t(Arrays.copyOfRange(b3, bi * n * k, (bi + 1) * n * k), n, k), 0, b3l, bi * k * n, k * n);
        Tensor c3 = be.matmul(ap, be.fromFloats(b3, 3, n, k), false, true);
        assertClose(bmm(Arrays.copyOf(a, 3 * m * k), new int[] {3, m, k}, b3l, new int[] {3, k, n}), c3.toFloats(), 1e-5, 1e-5);
        // the left operand 2-D, right batched
        Tensor c4 = be.matmul(be.fromFloats(Arrays.copyOf(a, m * k), m, k), be.fromFloats(b2, 3, k, n), false, false);
        assertArrayEquals(new int[] {3, m, n}, c4.shape());
        assertClose(bmm(Arrays.copyOf(a, m * k), new int[] {m, k}, b2, new int[] {3, k, n}), c4.toFloats(), 1e-5, 1e-5);
        // an expanded batch (stride 0) on the left
        Tensor c5 = be.matmul(be.fromFloats(Arrays.copyOf(a, m * k), 1, m, k).expand(3, m, k), be.fromFloats(b2, 3, k, n), false, false);
        assertClose(c4.toFloats(), c5.toFloats(), 0, 0);
    }

    @Test void matmulEdgeShapesAndErrors() {
        // vectors as 1-row / 1-column matrices, K = 1
        float[] a = normal(5, 1f), b = normal(5, 1f);
        double dot = 0;
        for (int i = 0; i < 5; i++) dot += (double) a[i] * b[i];
        assertEquals(dot, be.matmul(be.fromFloats(a, 1, 5), be.fromFloats(b, 5, 1), false, false).item(), 1e-5);
        assertEquals(dot, be.matmul(be.fromFloats(a, 1, 5), be.fromFloats(b, 1, 5), false, true).item(), 1e-5);
        assertEquals(dot, be.matmul(be.fromFloats(a, 5, 1), be.fromFloats(b, 5, 1), true, false).item(), 1e-5);
        Tensor outer = be.matmul(be.fromFloats(a, 5, 1), be.fromFloats(b, 1, 5), false, false);
        float[] o = outer.toFloats();
        for (int i = 0; i < 5; i++) for (int j = 0; j < 5; j++) assertEquals(a[i] * b[j], o[i * 5 + j], 1e-6);
        // a column of a transposed matrix ([5,1] with row stride 1)
        Tensor col = be.fromFloats(a, 1, 5).transpose(0, 1);
        assertEquals(dot, be.matmul(be.fromFloats(b, 1, 5), col, false, false).item(), 1e-5);
        // K = 0 gives zeros, M = 0 an empty result
        Tensor z = be.matmul(be.zeros(DType.F32, 3, 0), be.zeros(DType.F32, 0, 2), false, false);
        assertArrayEquals(new int[] {3, 2}, z.shape());
        assertArrayEquals(new float[6], z.toFloats());
        assertEquals(0, be.matmul(be.zeros(DType.F32, 0, 4), be.zeros(DType.F32, 4, 2), false, false).numel());
        // bf16 operands are cast to f32
        float[] a2 = {1, 2, 3, 4}, b2 = {0.5f, -1, 2, 0.25f};
        Tensor hb = be.matmul(be.cast(be.fromFloats(a2, 2, 2), DType.BF16), be.cast(be.fromFloats(b2, 2, 2), DType.F16), false, false);
        assertEquals(DType.F32, hb.dtype());
        assertArrayEquals(new float[] {4.5f, -0.5f, 9.5f, -2f}, hb.toFloats());
        // errors
        assertThrows(IllegalArgumentException.class, () -> be.matmul(be.zeros(DType.F32, 2, 3), be.zeros(DType.F32, 2, 3), false, false));
        assertThrows(IllegalArgumentException.class, () -> be.matmul(be.zeros(DType.F32, 3), be.zeros(DType.F32, 3, 2), false, false));
        assertThrows(IllegalArgumentException.class, () -> be.matmul(be.zeros(DType.F32, 2, 2, 3), be.zeros(DType.F32, 3, 3, 2), false, false));
    }

    // ---- softmax / normalize ---------------------------------------------------------------------------------

    private static double[] softmaxRef(float[] x, int n) {
        double[] y = new double[x.length];
        for (int base = 0; base < x.length; base += n) {
            double mx = Double.NEGATIVE_INFINITY;
            for (int i = 0; i < n; i++) mx = Math.max(mx, x[base + i]);
            double s = 0;
            for (int i = 0; i < n; i++) s += Math.exp(x[base + i] - mx);
            for (int i = 0; i < n; i++) y[base + i] = Math.exp(x[base + i] - mx) / s;
        }
        return y;
    }

    @Test void softmaxIsStableAndReadsViews() {
        float[] v = normal(4 * 5, 2f);
        v[0] = 1000f;
        v[1] = 1001f; // would overflow exp without the max shift
        v[5] = Float.NEGATIVE_INFINITY;
        v[6] = Float.NEGATIVE_INFINITY;
        Tensor y = be.softmax(be.fromFloats(v, 2, 2, 5));
        assertArrayEquals(new int[] {2, 2, 5}, y.shape());
        float[] got = y.toFloats();
        assertClose(softmaxRef(v, 5), got, 1e-7, 3e-6);
        assertEquals(0f, got[5]);
        for (int r = 0; r < 4; r++) {
            double s = 0;
            for (int i = 0; i < 5; i++) s += got[r * 5 + i];
            assertEquals(1.0, s, 1e-6);
        }
        // over the last axis of a transposed view
        Tensor tv = be.fromFloats(v, 4, 5).transpose(0, 1); // [5,4]
        assertClose(softmaxRef(t(v, 4, 5), 4), be.softmax(tv).toFloats(), 1e-7, 3e-6);
    }

    @Test void softmaxAccurateAcrossTheExpRange() {
        // arguments from 0 down past the f32 exp underflow, in many rows of different widths
        for (int n : new int[] {1, 7, 64, 1000}) {
            float[] v = new float[8 * n];
            for (int i = 0; i < v.length; i++) v[i] = (float) (-95 * rng.nextDouble());
            for (int r = 0; r < 8; r++) v[r * n + rng.nextInt(n)] = 0f; // each row's max at 0: exponents span [-95, 0]
            float[] got = be.softmax(be.fromFloats(v, 8, n)).toFloats();
            double[] ref = softmaxRef(v, n);
            // absolute error small against the row's mass; relative error tight where the terms matter (x >= -20:
            // the kernel's fast exp loses about |x| * 6e-8 relative accuracy further out, on terms below 1e-9)
            assertClose("n=" + n, Oracle.toFloat(ref), got, 1e-9, 3e-6);
            for (int i = 0; i < v.length; i++)
                if (v[i] >= -20f) assertEquals(ref[i], got[i], 2e-6 * ref[i], "n=" + n + " x=" + v[i]);
        }
        assertArrayEquals(new float[] {1f}, be.softmax(be.fromFloats(new float[] {-3f}, 1, 1)).toFloats());
        float[] nan = be.softmax(be.fromFloats(new float[] {1f, Float.NaN}, 1, 2)).toFloats();
        assertTrue(Float.isNaN(nan[0]) && Float.isNaN(nan[1]));
    }

    @Test void softmaxBackwardMatchesFormulaAndFiniteDifferences() {
        int rows = 3, n = 6;
        float[] x = normal(rows * n, 1f), dyRow = normal(n, 1f);
        Tensor y = be.softmax(be.fromFloats(x, rows, n));
        Tensor dy = be.fromFloats(dyRow, n).expand(rows, n); // broadcast upstream gradient
        float[] g = be.softmaxBackward(y, dy).toFloats();
        double[] yr = softmaxRef(x, n);
        for (int r = 0; r < rows; r++) {
            double dot = 0;
            for (int i = 0; i < n; i++) dot += dyRow[i] * yr[r * n + i];
            for (int i = 0; i < n; i++) {
                assertEquals(yr[r * n + i] * (dyRow[i] - dot), g[r * n + i], 1e-6);
                // d/dx_i of sum_j dy_j softmax(x)_j
                float[] xp = x.clone(), xm = x.clone();
                double h = 1e-3;
                xp[r * n + i] += (float) h;
                xm[r * n + i] -= (float) h;
                double lp = 0, lm = 0;
                double[] yp = softmaxRef(xp, n), ym = softmaxRef(xm, n);
                for (int j = 0; j < n; j++) { lp += dyRow[j] * yp[r * n + j]; lm += dyRow[j] * ym[r * n + j]; }
                double hEff = (double) xp[r * n + i] - xm[r * n + i];
                assertEquals((lp - lm) / hEff, g[r * n + i], 1e-4);
            }
        }
    }

    private static double[][] normalizeRef(float[] x, int n, double eps) {
        int rows = x.length / n;
        double[] xh = new double[x.length], rstd = new double[rows];
        for (int r = 0; r < rows; r++) {
            double mean = 0;
            for (int i = 0; i < n; i++) mean += x[r * n + i];
            mean /= n;
            double var = 0;
            for (int i = 0; i < n; i++) var += (x[r * n + i] - mean) * (x[r * n + i] - mean);
            var /= n;
            rstd[r] = 1 / Math.sqrt(var + eps);
            for (int i = 0; i < n; i++) xh[r * n + i] = (x[r * n + i] - mean) * rstd[r];
        }
        return new double[][] {xh, rstd};
    }

    @Test void normalizeAndItsBackward() {
        int n = 8;
        float[] x = normal(2 * 3 * n, 3f);
        for (int i = 0; i < x.length; i++) x[i] += 5f; // a mean far from zero
        float eps = 1e-5f;
        Tensor[] r = be.normalize(be.fromFloats(x, 2, 3, n), eps);
        assertArrayEquals(new int[] {2, 3, n}, r[0].shape());
        assertArrayEquals(new int[] {2, 3, 1}, r[1].shape());
        double[][] ref = normalizeRef(x, n, eps);
        assertClose(ref[0], r[0].toFloats(), 1e-5, 1e-5);
        assertClose(ref[1], r[1].toFloats(), 0, 1e-5);
        // a constant row: xhat 0, rstd 1/sqrt(eps)
        Tensor[] c = be.normalize(be.full(4f, 1, 4), eps);
        assertArrayEquals(new float[4], c[0].toFloats());
        assertEquals(1 / Math.sqrt(eps), c[1].item(), 1e-2);
        // transposed input
        Tensor xt = be.fromFloats(x, 6, n).transpose(0, 1); // [n, 6]
        assertClose(normalizeRef(t(x, 6, n), 6, eps)[0], be.normalize(xt, eps)[0].toFloats(), 1e-5, 1e-5);

        // backward: gradient of L(x) = sum(dy * xhat(x)), checked by central differences of the double reference
        float[] dy = normal(x.length, 1f);
        float[] dx = be.normalizeBackward(be.fromFloats(dy, 2, 3, n), r[0], r[1]).toFloats();
        for (int i = 0; i < x.length; i++) {
            float[] xp = x.clone(), xm = x.clone();
            xp[i] += 1e-2f;
            xm[i] -= 1e-2f;
            double lp = 0, lm = 0;
            double[] yp = normalizeRef(xp, n, eps)[0], ym = normalizeRef(xm, n, eps)[0];
            for (int j = 0; j < x.length; j++) { lp += dy[j] * yp[j]; lm += dy[j] * ym[j]; }
            double num = (lp - lm) / ((double) xp[i] - xm[i]);
            assertEquals(num, dx[i], 2e-4 * (1 + Math.abs(num)), "dx[" + i + "]");
        }
        // a broadcast dy
        float[] dyRow = normal(n, 1f);
        float[] dx2 = be.normalizeBackward(be.fromFloats(dyRow, n), r[0], r[1]).toFloats();
        float[] dyFull = new float[x.length];
        for (int i = 0; i < x.length; i++) dyFull[i] = dyRow[i % n];
        assertClose(be.normalizeBackward(be.fromFloats(dyFull, 2, 3, n), r[0], r[1]).toFloats(), dx2, 0, 0);
    }

    // ---- shape / indexing ------------------------------------------------------------------------------------

    @Test void concatAlongEveryAxis() {
        Tensor a = be.fromFloats(seq(6), 2, 3);
        Tensor b = be.fromFloats(new float[] {10, 11}, 2, 1);
        Tensor c = be.fromFloats(new float[] {20, 21, 22, 23}, 2, 2);
        Tensor cat1 = be.concat(new Tensor[] {a, b, c}, 1);
        assertArrayEquals(new int[] {2, 6}, cat1.shape());
        assertArrayEquals(new float[] {0, 1, 2, 10, 20, 21, 3, 4, 5, 11, 22, 23}, cat1.toFloats());
        assertArrayEquals(cat1.toFloats(), be.concat(new Tensor[] {a, b, c}, -1).toFloats());
        Tensor cat0 = be.concat(new Tensor[] {a, be.fromFloats(new float[] {7, 8, 9}, 1, 3)}, 0);
        assertArrayEquals(new int[] {3, 3}, cat0.shape());
        assertArrayEquals(new float[] {0, 1, 2, 3, 4, 5, 7, 8, 9}, cat0.toFloats());
        // views and an empty part
        Tensor at = a.transpose(0, 1); // [3,2] = 0 3 / 1 4 / 2 5
        Tensor cat2 = be.concat(new Tensor[] {at, be.zeros(DType.F32, 0, 2), at.slice(0, 1, 2)}, 0);
        assertArrayEquals(new float[] {0, 3, 1, 4, 2, 5, 1, 4}, cat2.toFloats());
        // middle axis of a 3-D tensor
        Tensor x = be.fromFloats(seq(8), 2, 2, 2), y = be.fromFloats(new float[] {-1, -2}, 2, 1, 1).expand(2, 1, 2);
        assertArrayEquals(new float[] {0, 1, 2, 3, -1, -1, 4, 5, 6, 7, -2, -2}, be.concat(new Tensor[] {x, y}, 1).toFloats());
        // integers keep their dtype
        Tensor i32 = be.concat(new Tensor[] {be.fromInts(new int[] {1, 2}, 2), be.fromInts(new int[] {3}, 1)}, 0);
        assertEquals(DType.I32, i32.dtype());
        assertArrayEquals(new int[] {1, 2, 3}, i32.toInts());
        Tensor i64 = be.concat(new Tensor[] {be.fromLongs(new long[] {1L << 40}, 1), be.fromLongs(new long[] {-7}, 1)}, 0);
        assertEquals(DType.I64, i64.dtype());
        assertArrayEquals(new long[] {1L << 40, -7}, i64.toLongs());
        // bf16 keeps its dtype and values
        Tensor h = be.concat(new Tensor[] {be.cast(a, DType.BF16), be.cast(b, DType.BF16)}, 1);
        assertEquals(DType.BF16, h.dtype());
        assertArrayEquals(new float[] {0, 1, 2, 10, 3, 4, 5, 11}, h.toFloats());
        // errors
        assertThrows(IllegalArgumentException.class, () -> be.concat(new Tensor[0], 0));
        assertThrows(IllegalArgumentException.class, () -> be.concat(new Tensor[] {a, c}, 0));
        assertThrows(IllegalArgumentException.class, () -> be.concat(new Tensor[] {a, be.zeros(DType.F32, 6)}, 0));
        assertThrows(IllegalArgumentException.class, () -> be.concat(new Tensor[] {a, be.fromInts(new int[6], 2, 3)}, 0));
    }

    @Test void indexSelectWithMissingNeighbours() {
        Tensor x = be.fromFloats(seq(12), 4, 3);
        Tensor idx = be.fromInts(new int[] {2, -1, 0, 2}, 4);
        Tensor s = be.indexSelect(x, 0, idx);
        assertArrayEquals(new int[] {4, 3}, s.shape());
        assertArrayEquals(new float[] {6, 7, 8, 0, 0, 0, 0, 1, 2, 6, 7, 8}, s.toFloats());
        // inner axis with I64 indices, on a 3-D tensor
        Tensor y = be.fromFloats(seq(24), 2, 4, 3);
        Tensor s1 = be.indexSelect(y, 1, be.fromLongs(new long[] {3, -1, 1}, 3));
        assertArrayEquals(new int[] {2, 3, 3}, s1.shape());
        float[] exp = new float[18];
        int[] ids = {3, -1, 1};
        for (int o = 0; o < 2; o++) for (int j = 0; j < 3; j++) for (int i = 0; i < 3; i++)
            exp[(o * 3 + j) * 3 + i] = ids[j] < 0 ? 0 : o * 12 + ids[j] * 3 + i;
        assertArrayEquals(exp, s1.toFloats());
        // last axis, strided source, negative axis
        Tensor s2 = be.indexSelect(x.transpose(0, 1), -1, be.fromInts(new int[] {3, 3, -1}, 3)); // x^T [3,4]
        assertArrayEquals(new float[] {9, 9, 0, 10, 10, 0, 11, 11, 0}, s2.toFloats());
        // empty index list
        assertArrayEquals(new int[] {0, 3}, be.indexSelect(x, 0, be.fromInts(new int[0], 0)).shape());
        assertThrows(IndexOutOfBoundsException.class, () -> be.indexSelect(x, 0, be.fromInts(new int[] {4}, 1)));
        assertThrows(IndexOutOfBoundsException.class, () -> be.indexSelect(x, 0, be.fromInts(new int[] {-2}, 1)));
    }

    @Test void indexAddAccumulatesAndSkipsMissing() {
        float[] sv = normal(10, 1f);
        Tensor src = be.fromFloats(sv, 5, 2);
        int[] ids = {1, -1, 1, 0, 3};
        Tensor out = be.indexAdd(src, 0, be.fromInts(ids, 5), 4);
        assertArrayEquals(new int[] {4, 2}, out.shape());
        float[] exp = new float[8];
        for (int j = 0; j < 5; j++) if (ids[j] >= 0) for (int c = 0; c < 2; c++) exp[ids[j] * 2 + c] += sv[j * 2 + c];
        assertClose(exp, out.toFloats(), 1e-7, 0);
        assertEquals(0f, out.toFloats()[4]); // row 2 untouched
        // inner axis, I64 indices, strided source
        Tensor s3 = be.fromFloats(seq(12), 2, 2, 3).permute(0, 2, 1); // [2,3,2]: s3[o,j,c] = 6o + 3c + j
        Tensor o3 = be.indexAdd(s3, 1, be.fromLongs(new long[] {2, 0, 2}, 3), 3);
        assertArrayEquals(new int[] {2, 3, 2}, o3.shape());
        float[] e3 = new float[12];
        long[] id3 = {2, 0, 2};
        for (int o = 0; o < 2; o++) for (int j = 0; j < 3; j++) for (int c = 0; c < 2; c++) e3[(o * 3 + (int) id3[j]) * 2 + c] += 6 * o + 3 * c + j;
        assertArrayEquals(e3, o3.toFloats());
        // indexAdd is indexSelect's adjoint: <select(x), g> == <x, add(g)>
        float[] xv = normal(12, 1f), gv = normal(15, 1f);
        Tensor sel = be.fromInts(new int[] {3, -1, 0, 3, 1}, 5);
        float[] sx = be.indexSelect(be.fromFloats(xv, 4, 3), 0, sel).toFloats();
        float[] ag = be.indexAdd(be.fromFloats(gv, 5, 3), 0, sel, 4).toFloats();
        double l = 0, r = 0;
        for (int i = 0; i < 15; i++) l += (double) sx[i] * gv[i];
        for (int i = 0; i < 12; i++) r += (double) xv[i] * ag[i];
        assertEquals(l, r, 1e-5);
        assertThrows(IndexOutOfBoundsException.class, () -> be.indexAdd(src, 0, be.fromInts(new int[] {0, 0, 0, 0, 4}, 5), 4));
        assertThrows(IllegalArgumentException.class, () -> be.indexAdd(src, 0, be.fromInts(new int[] {0, 1}, 2), 4));
    }
}
