package org.voxflow.nn;

import org.voxflow.autograd.F;
import org.voxflow.tensor.Backend;
import org.voxflow.tensor.Tensor;

/** Linear -> GELU(tanh) -> Linear, named "mlp.0" and "mlp.2" like TRELLIS's FeedForwardNet. */
public final class FeedForward extends Module {
    private final Linear fc1, fc2;

    public FeedForward(Backend be, int channels, double mlpRatio) {
        super(be);
        Sequential mlp = child("mlp", new Sequential(be));
        int hidden = (int) (channels * mlpRatio);
        fc1 = mlp.add("0", new Linear(be, channels, hidden));
        fc2 = mlp.add("2", new Linear(be, hidden, channels));
    }

    /** The hidden layer is produced in F.matmulInputType (fc2's GEMM input), the output in f32. */
    public Tensor forward(Tensor x) { return forward(x, org.voxflow.tensor.DType.F32); }

    /** As forward(x), the output rounded to out. */
    public Tensor forward(Tensor x, org.voxflow.tensor.DType out) { return fc2.forward(fc1.forwardGelu(x, F.matmulInputType(x)), out); }
}
