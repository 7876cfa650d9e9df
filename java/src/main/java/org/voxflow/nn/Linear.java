package org.voxflow.nn;

import org.voxflow.autograd.F;
import org.voxflow.tensor.Backend;
import org.voxflow.tensor.DType;
import org.voxflow.tensor.Tensor;

/** y = x W^T + b with W [out, in] (PyTorch layout). */
public final class Linear extends Module {
    public final Tensor weight;
    public final Tensor bias;
    public final int in, out;

    public Linear(Backend be, int in, int out, boolean bias) {
        super(be);
        this.in = in;
        this.out = out;
        this.weight = param("weight", out, in);
        this.bias = bias ? param("bias", out) : null;
    }

    public Linear(Backend be, int in, int out) { this(be, in, out, true); }

    public Tensor forward(Tensor x) { return F.linear(x, weight, bias); }

    /** forward(x) rounded to out (the input of another GEMM or attention). */
    public Tensor forward(Tensor x, DType out) { return F.linear(x, weight, bias, out); }

    /** residual + forward(x) in residual's type (a residual update; see F.linearResidual). */
    public Tensor forwardResidual(Tensor x, Tensor residual) { return F.linearResidual(x, weight, bias, residual); }

    /** gelu(forward(x)), fused where the backend can (see F.linearGelu). */
    public Tensor forwardGelu(Tensor x) { return F.linearGelu(x, weight, bias); }

    /** forwardGelu(x) rounded to out. */
    public Tensor forwardGelu(Tensor x, DType out) { return F.linearGelu(x, weight, bias, out); }
}
