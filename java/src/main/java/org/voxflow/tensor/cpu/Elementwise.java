package org.voxflow.tensor.cpu;

import org.voxflow.tensor.BinaryOp;
import org.voxflow.tensor.UnaryOp;

/** Scalar definitions of the elementwise ops: the math every backend must reproduce. */
final class Elementwise {
    private Elementwise() {}

    private static final float SQRT_2_OVER_PI = 0.7978845608028654f;
    private static final float GELU_C = 0.044715f;

    static void unary(UnaryOp op, float[] v) {
        switch (op) { // the common cheap ops get their own loops so the JIT can vectorize them
            case NEG -> { for (int i = 0; i < v.length; i++) v[i] = -v[i]; }
            case SQUARE -> { for (int i = 0; i < v.length; i++) v[i] = v[i] * v[i]; }
            case STEP -> { for (int i = 0; i < v.length; i++) v[i] = v[i] > 0 ? 1f : 0f; }
            default -> { for (int i = 0; i < v.length; i++) v[i] = unary(op, v[i]); }
        }
    }

    /** a[i] = a[i] op b[i] (b == null: a[i] op s). */
    static void binary(BinaryOp op, float[] a, float[] b, float s) {
        int n = a.length;
        if (b != null) {
            switch (op) {
                case ADD -> { for (int i = 0; i < n; i++) a[i] += b[i]; }
                case SUB -> { for (int i = 0; i < n; i++) a[i] -= b[i]; }
                case MUL -> { for (int i = 0; i < n; i++) a[i] *= b[i]; }
                case DIV -> { for (int i = 0; i < n; i++) a[i] /= b[i]; }
                default -> { for (int i = 0; i < n; i++) a[i] = binary(op, a[i], b[i]); }
            }
        } else {
            switch (op) {
                case ADD -> { for (int i = 0; i < n; i++) a[i] += s; }
                case SUB -> { for (int i = 0; i < n; i++) a[i] -= s; }
                case MUL -> { for (int i = 0; i < n; i++) a[i] *= s; }
                case DIV -> { for (int i = 0; i < n; i++) a[i] /= s; }
                default -> { for (int i = 0; i < n; i++) a[i] = binary(op, a[i], s); }
            }
        }
    }

    static float unary(UnaryOp op, float x) {
        switch (op) {
            case NEG: return -x;
            case ABS: return Math.abs(x);
            case EXP: return (float) Math.exp(x);
            case LOG: return (float) Math.log(x);
            case SQRT: return (float) Math.sqrt(x);
            case RSQRT: return (float) (1.0 / Math.sqrt(x));
            case SQUARE: return x * x;
            case RECIPROCAL: return 1f / x;
            case SIN: return (float) Math.sin(x);
            case COS: return (float) Math.cos(x);
            case TANH: return (float) Math.tanh(x);
            case SIGMOID: return sigmoid(x);
            case SILU: return x * sigmoid(x);
            case GELU_TANH: {
                float inner = SQRT_2_OVER_PI * (x + GELU_C * x * x * x);
                return 0.5f * x * (1f + (float) Math.tanh(inner));
            }
            case SILU_GRAD: {
                float s = sigmoid(x);
                return s * (1f + x * (1f - s));
            }
            case GELU_TANH_GRAD: {
                float inner = SQRT_2_OVER_PI * (x + GELU_C * x * x * x);
                float t = (float) Math.tanh(inner);
                float dInner = SQRT_2_OVER_PI * (1f + 3f * GELU_C * x * x);
                return 0.5f * (1f + t) + 0.5f * x * (1f - t * t) * dInner;
            }
            case STEP: return x > 0 ? 1f : 0f;
            default: throw new AssertionError(op);
        }
    }

    static float sigmoid(float x) {
        return x >= 0 ? (float) (1.0 / (1.0 + Math.exp(-x))) : (float) (Math.exp(x) / (1.0 + Math.exp(x)));
    }

    static float binary(BinaryOp op, float a, float b) {
        switch (op) {
            case ADD: return a + b;
            case SUB: return a - b;
            case MUL: return a * b;
            case DIV: return a / b;
            case MAX: return Float.isNaN(a) || Float.isNaN(b) ? Float.NaN : Math.max(a, b);
            case MIN: return Float.isNaN(a) || Float.isNaN(b) ? Float.NaN : Math.min(a, b);
            case POW: return pow(a, b);
            case GT: return a > b ? 1f : 0f;
            case GE: return a >= b ? 1f : 0f;
            case LT: return a < b ? 1f : 0f;
            case LE: return a <= b ? 1f : 0f;
            case EQ: return a == b ? 1f : 0f;
            default: throw new AssertionError(op);
        }
    }

    static float pow(float a, float p) {
        if (p == 2f) return a * a;
        if (p == 1f) return a;
        // sqrt, with pow's answers where they differ: pow(-0, 0.5) = +0 (the + 0 turns -0 into +0), pow(-inf, 0.5) = +inf
        if (p == 0.5f) return a == Float.NEGATIVE_INFINITY ? Float.POSITIVE_INFINITY : (float) Math.sqrt(a) + 0f;
        return (float) Math.pow(a, p);
    }

    /** Numerically stable softmax of v[base, base+n) in place. */
    static void softmaxRow(float[] v, int base, int n) {
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) max = Math.max(max, v[base + i]);
        double sum = 0;
        for (int i = 0; i < n; i++) {
            float e = FastExp.exp(v[base + i] - max);
            v[base + i] = e;
            sum += e;
        }
        float inv = (float) (1.0 / sum);
        for (int i = 0; i < n; i++) v[base + i] *= inv;
    }
}
