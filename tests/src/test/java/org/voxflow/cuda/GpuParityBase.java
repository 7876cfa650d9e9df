package org.voxflow.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.voxflow.tensor.Backend;
import org.voxflow.tensor.Backends;
import org.voxflow.tensor.MemoryScope;
import org.voxflow.tensor.Tensor;

/**
 * Shared set-up of the GPU parity tests: every op runs on the CPU reference and on the CUDA backend with the same
 * inputs and the results are compared. Skipped (not failed) where no GPU answers.
 */
@Tag("gpu")
abstract class GpuParityBase {
    static Backend cpu;
    static Backend gpu;

    final Random rnd = new Random(1234);
    private MemoryScope scope;

    @BeforeAll
    static void findGpu() {
        gpu = Backends.gpuOrNull();
        assumeTrue(gpu != null, "no CUDA device: " + CudaRuntime.reason());
        cpu = Backends.cpu();
    }

    @BeforeEach
    void openScope() { scope = MemoryScope.open(); }

    @AfterEach
    void closeScope() { scope.close(); }

    float[] randn(int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) rnd.nextGaussian();
        return v;
    }

    float[] uniform(int n, float lo, float hi) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = lo + (hi - lo) * rnd.nextFloat();
        return v;
    }

    static int numel(int... shape) {
        int n = 1;
        for (int d : shape) n *= d;
        return n;
    }

    /** The same values on both backends: {cpu, gpu}. */
    Tensor[] pair(float[] data, int... shape) { return new Tensor[] {cpu.fromFloats(data, shape), gpu.fromFloats(data, shape)}; }

    Tensor[] randnPair(int... shape) { return pair(randn(numel(shape)), shape); }

    /** Element-wise |actual - expected| <= atol + rtol |expected|; NaN matches NaN, infinities must be equal. */
    static void assertClose(String what, float[] expected, float[] actual, double atol, double rtol) {
        assertEquals(expected.length, actual.length, what + ": element count");
        double worst = 0;
        int at = -1;
        for (int i = 0; i < expected.length; i++) {
            float e = expected[i], a = actual[i];
            if (Float.isNaN(e) || Float.isNaN(a)) {
                if (Float.isNaN(e) != Float.isNaN(a)) fail(what + ": NaN mismatch at " + i + ": expected " + e + ", got " + a);
                continue;
            }
            if (Float.isInfinite(e) || Float.isInfinite(a)) {
                if (e != a) fail(what + ": at " + i + " expected " + e + ", got " + a);
                continue;
            }
            double err = Math.abs(a - e) - rtol * Math.abs(e);
            if (err > worst) { worst = err; at = i; }
        }
        if (worst > atol)
            fail(what + ": at " + at + " expected " + expected[at] + ", got " + actual[at] + " (|diff| beyond tolerance by "
                    + worst + ", atol " + atol + ", rtol " + rtol + ")");
    }

    static void assertSame(String what, Tensor expected, Tensor actual, double atol, double rtol) {
        assertEquals(Arrays.toString(expected.shape()), Arrays.toString(actual.shape()), what + ": shape");
        assertEquals(expected.dtype(), actual.dtype(), what + ": dtype");
        assertClose(what, expected.toFloats(), actual.toFloats(), atol, rtol);
    }
}
