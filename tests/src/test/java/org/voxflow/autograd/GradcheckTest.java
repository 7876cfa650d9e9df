package org.voxflow.autograd;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.voxflow.tensor.Backend;
import org.voxflow.tensor.Backends;
import org.voxflow.tensor.Rng;
import org.voxflow.tensor.Tensor;

/** Reverse mode and forward mode of every differentiable op against central finite differences. */
class GradcheckTest {
    private static final Backend CPU = Backends.cpu();
    private static final double TOL = 2e-2;

    private static Tensor randn(long seed, int... shape) { return new Rng(seed).randn(CPU, shape); }

    private static Tensor positive(long seed, int... shape) {
        float[] v = new Rng(seed).uniform((int) java.util.Arrays.stream(shape).asLongStream().reduce(1, (a, b) -> a * b));
        for (int i = 0; i < v.length; i++) v[i] = 0.5f + v[i];
        return CPU.fromFloats(v, shape);
    }

    private static void check(String name, Function<Tensor[], Tensor> f, Tensor... in) {
        Gradcheck.Report r = Gradcheck.check(f, in, 1e-2, 7);
        assertTrue(r.maxRelError() < TOL, name + ": " + r.maxRelError() + " at " + r.where());
    }

    @Test void arithmeticWithBroadcasting() {
        check("add", x -> F.add(x[0], x[1]), randn(1, 3, 4), randn(2, 4));
        check("sub", x -> F.sub(x[0], x[1]), randn(1, 3, 4), randn(2, 3, 1));
        check("mul", x -> F.mul(x[0], x[1]), randn(1, 2, 3, 4), randn(2, 1, 4));
        check("div", x -> F.div(x[0], x[1]), randn(1, 3, 4), positive(2, 4));
        check("maximum", x -> F.maximum(x[0], x[1]), randn(1, 5, 4), randn(2, 5, 4));
        check("affine", x -> F.affine(x[0], 1.5f, -2f), randn(1, 6));
        check("pow", x -> F.pow(x[0], 3f), randn(1, 6));
        check("where", x -> F.where(F.greater(x[0], CPU.zeros(org.voxflow.tensor.DType.F32, 1)), x[0], x[1]), randn(4, 3, 4), randn(5, 3, 4));
    }

    @Test void unaryFunctions() {
        check("exp", x -> F.exp(x[0]), randn(1, 7));
        check("log", x -> F.log(x[0]), positive(1, 7));
        check("sqrt", x -> F.sqrt(x[0]), positive(1, 7));
        check("rsqrt", x -> F.rsqrt(x[0]), positive(1, 7));
        check("square", x -> F.square(x[0]), randn(1, 7));
        check("abs", x -> F.abs(x[0]), positive(1, 7));
        check("sin", x -> F.sin(x[0]), randn(1, 7));
        check("cos", x -> F.cos(x[0]), randn(1, 7));
        check("tanh", x -> F.tanh(x[0]), randn(1, 7));
        check("sigmoid", x -> F.sigmoid(x[0]), randn(1, 7));
        check("silu", x -> F.silu(x[0]), randn(1, 7));
        check("gelu", x -> F.gelu(x[0]), randn(1, 7));
    }

    @Test void reductions() {
        check("sum", x -> F.sum(x[0], new int[] {1}, false), randn(1, 3, 4, 2));
        check("mean", x -> F.mean(x[0], new int[] {0, 2}, true), randn(1, 3, 4, 2));
        check("var", x -> F.var(x[0], new int[] {-1}, false), randn(1, 3, 5));
        check("max", x -> F.max(x[0], new int[] {1}, false), randn(1, 3, 5));
    }

    @Test void matmulAllTransposesAndBatchBroadcast() {
        for (boolean ta : new boolean[] {false, true})
            for (boolean tb : new boolean[] {false, true}) {
                Tensor a = ta ? randn(1, 2, 4, 3) : randn(1, 2, 3, 4);
                Tensor b = tb ? randn(2, 5, 4) : randn(2, 4, 5);
                check("matmul " + ta + tb, x -> F.matmul(x[0], x[1], ta, tb), a, b);
            }
        check("linear", x -> F.linear(x[0], x[1], x[2]), randn(1, 2, 3, 4), randn(2, 5, 4), randn(3, 5));
        check("linear without bias", x -> F.linear(x[0], x[1], null), randn(1, 3, 4), randn(2, 5, 4));
        check("fma broadcast", x -> F.fma(x[0], x[1], x[2]), randn(1, 2, 3, 4), randn(2, 2, 1, 4), randn(3, 3, 4));
    }

    @Test void viewsAndShapes() {
        check("reshape", x -> F.mul(F.reshape(x[0], 4, 3), x[1]), randn(1, 2, 6), randn(2, 4, 3));
        check("permute", x -> F.mul(F.permute(x[0], 2, 0, 1), x[1]), randn(1, 2, 3, 4), randn(2, 4, 2, 3));
        check("slice", x -> F.slice(x[0], 1, 1, 3), randn(1, 2, 4));
        check("expand", x -> F.mul(F.expand(x[0], 3, 4), x[1]), randn(1, 1, 4), randn(2, 3, 4));
        check("concat", x -> F.concat(new Tensor[] {x[0], x[1]}, 1), randn(1, 2, 3), randn(2, 2, 1));
        check("chunk", x -> F.mul(F.chunk(x[0], 2, -1)[1], F.chunk(x[0], 2, -1)[0]), randn(1, 3, 4));
        check("contiguous", x -> F.contiguous(F.transpose(x[0], 0, 1)), randn(1, 3, 4));
    }

    @Test void indexing() {
        Tensor idx = CPU.fromInts(new int[] {2, 0, -1, 2}, 4);
        check("indexSelect", x -> F.indexSelect(x[0], 0, idx), randn(1, 3, 2));
        check("indexAdd", x -> F.indexAdd(x[0], 0, idx, 3), randn(1, 4, 2));
        check("scatterMean", x -> F.scatterMean(x[0], 0, idx, 3), randn(1, 4, 2));
    }

    @Test void fusedOps() {
        check("softmax", x -> F.softmax(x[0]), randn(1, 3, 5));
        check("normalize", x -> F.normalize(x[0], 1e-6f), randn(1, 3, 6));
        check("layerNorm", x -> F.layerNorm(x[0], x[1], x[2], 1e-6f), randn(1, 3, 6), randn(2, 6), randn(3, 6));
        check("l2Normalize", x -> F.l2Normalize(x[0], 1e-12f), randn(1, 3, 6));
        int[] cuQ = {0, 3, 4, 4}, cuK = {0, 2, 5, 5};
        check("attention varlen", x -> F.attention(x[0], x[1], x[2], cuQ, cuK, 0.4f), randn(1, 4, 2, 3), randn(2, 5, 2, 3), randn(3, 5, 2, 2));
        check("attention dense", x -> F.attention(x[0], x[1], x[2]), randn(1, 2, 3, 2, 4), randn(2, 2, 5, 2, 4), randn(3, 2, 5, 2, 4));
    }

    @Test void gradientsAccumulateAcrossBackwardCalls() {
        Tensor x = randn(1, 3).setRequiresGrad(true);
        Grad.backward(F.sum(F.mul(x, 2f)));
        Grad.backward(F.sum(F.mul(x, 3f)));
        for (float g : x.grad().toFloats()) org.junit.jupiter.api.Assertions.assertEquals(5f, g, 1e-6f);
    }

    @Test void noGradRecordsNothing() {
        Tensor x = randn(1, 3).setRequiresGrad(true);
        try (var ng = Grad.noGrad()) {
            Tensor y = F.mul(x, x);
            org.junit.jupiter.api.Assertions.assertFalse(y.requiresGrad());
        }
        org.junit.jupiter.api.Assertions.assertTrue(F.mul(x, x).requiresGrad());
        org.junit.jupiter.api.Assertions.assertFalse(F.detach(x).requiresGrad());
    }
}
