package org.voxflow.tensor;

/** Elementwise functions of one tensor; the *_GRAD entries are the derivatives the backward rules need. */
public enum UnaryOp {
    NEG, ABS, EXP, LOG, SQRT, RSQRT, SQUARE, RECIPROCAL, SIN, COS, TANH, SIGMOID, SILU,
    /** GELU, tanh approximation (TRELLIS's MLP uses approximate="tanh"). */
    GELU_TANH,
    /** d silu(x)/dx. */
    SILU_GRAD,
    /** d gelu_tanh(x)/dx. */
    GELU_TANH_GRAD,
    /** 1 where x > 0, else 0. */
    STEP
}
