package org.voxflow.autograd;

import java.util.function.Function;
import org.voxflow.tensor.Tensor;

/**
 * Forward-mode differentiation: Jacobian-vector products computed alongside the forward pass (every op in
 * {@link F} propagates tangents). MDT-dist's continuous mode takes the student's JVP along (v_T, 1).
 */
public final class Jvp {
    private Jvp() {}

    /** Result of one forward-mode pass. */
    public record Result(Tensor value, Tensor tangent) {}

    /**
     * Evaluates fn at the primals, with tangent i riding along primal i (null = zero tangent). The primals
     * themselves are not touched: fn sees fresh views carrying the tangents. Runs without recording a graph.
     */
    public static Result jvp(Function<Tensor[], Tensor> fn, Tensor[] primals, Tensor[] tangents) {
        if (primals.length != tangents.length) throw new IllegalArgumentException("one tangent per primal");
        Tensor[] in = new Tensor[primals.length];
        for (int i = 0; i < in.length; i++) {
            in[i] = F.detach(primals[i]);
            if (tangents[i] != null) {
                if (!java.util.Arrays.equals(tangents[i].shape(), primals[i].shape()))
                    throw new IllegalArgumentException("tangent " + i + " has shape " + java.util.Arrays.toString(tangents[i].shape())
                            + ", primal " + java.util.Arrays.toString(primals[i].shape()));
                in[i].setTangent(F.detach(tangents[i]));
            }
        }
        try (var ng = Grad.noGrad()) {
            Tensor out = fn.apply(in);
            Tensor t = out.tangent() != null ? out.tangent() : F.tan(out);
            Tensor v = F.detach(out);
            return new Result(v, t);
        }
    }
}
