package org.voxflow.bench.gpu;

import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.voxflow.autograd.Grad;
import org.voxflow.tensor.Backend;
import org.voxflow.tensor.DType;
import org.voxflow.tensor.MemoryScope;
import org.voxflow.tensor.Tensor;

/**
 * Attention forward (Backend.attention: out and log-sum-exp) at TRELLIS-large sizes, 16 heads x 64, batch
 * {@value #BATCH}: {@code self4096} (stage 1's 16^3 tokens attending to themselves) and {@code cross1374} (the same
 * queries to 1374 condition tokens). Precisions: {@code f32} (the f32 tiled kernel), {@code bf16} (bf16 inputs, the
 * tensor-core kernel) and {@code autocast} (f32 inputs cast to bf16 in the backend, cast included). Printed figure:
 * TFLOP/s = 4 B Lq Lk H D / time (QK^T and PV, no softmax).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED"})
@Warmup(iterations = 1, time = 500, timeUnit = TimeUnit.MILLISECONDS)
@Measurement(iterations = 3, time = 500, timeUnit = TimeUnit.MILLISECONDS)
public class GpuAttentionBenchmark {
    static final int REPS = 10, BATCH = 2, HEADS = 16, HEAD_DIM = 64, LQ = 4096;

    @Param({"self4096", "cross1374"})
    public String kind;

    @Param({"f32", "bf16", "autocast"})
    public String precision;

    private Backend be;
    private Tensor q, k, v;
    private int[] cuQ, cuK;
    private int lq, lk;
    private AutoCloseable prec;
    private final GpuBench.Meter meter = new GpuBench.Meter();

    static int keys(String kind) {
        return switch (kind) {
            case "self4096" -> 4096;
            case "cross1374" -> 1374;
            default -> throw new IllegalArgumentException("attention case " + kind + " (self4096, cross1374)");
        };
    }

    static double flops(String kind) { return 4.0 * BATCH * LQ * keys(kind) * HEADS * HEAD_DIM; }

    @Setup(Level.Trial)
    public void setup() {
        be = GpuBench.backend();
        lq = GpuBench.SMALL ? 256 : LQ;
        lk = GpuBench.SMALL ? Math.min(256, keys(kind)) : keys(kind);
        int heads = GpuBench.SMALL ? 2 : HEADS;
        q = GpuBench.randn(be, 1, BATCH * lq, heads, HEAD_DIM);
        k = GpuBench.randn(be, 2, BATCH * lk, heads, HEAD_DIM);
        v = GpuBench.randn(be, 3, BATCH * lk, heads, HEAD_DIM);
        if (precision.equals("bf16")) {
            Tensor[] t = {q, k, v};
            for (int i = 0; i < 3; i++) {
                Tensor x = t[i];
                t[i] = MemoryScope.outside(() -> be.cast(x, DType.BF16));
                x.close();
            }
            q = t[0];
            k = t[1];
            v = t[2];
        }
        cuQ = new int[BATCH + 1];
        cuK = new int[BATCH + 1];
        for (int b = 0; b <= BATCH; b++) { cuQ[b] = b * lq; cuK[b] = b * lk; }
        prec = GpuBench.precision(be, precision);
        GpuBench.sync(be);
    }

    @Setup(Level.Iteration)
    public void startIteration() { meter.reset(); }

    @Benchmark
    @OperationsPerInvocation(REPS)
    public void attention() {
        float scale = (float) (1 / Math.sqrt(HEAD_DIM));
        long t0 = System.nanoTime();
        try (var ng = Grad.noGrad()) {
            for (int i = 0; i < REPS; i++)
                try (MemoryScope s = MemoryScope.open()) {
                    be.attention(q, k, v, cuQ, cuK, scale);
                }
        }
        GpuBench.sync(be);
        meter.add(System.nanoTime() - t0, REPS);
    }

    @TearDown(Level.Iteration)
    public void report() {
        double f = 4.0 * BATCH * lq * lk * (GpuBench.SMALL ? 2 : HEADS) * HEAD_DIM;
        System.out.printf("%n[voxflow] attention %s (B=%d, %dx%d, %d heads x %d) %s: %.3f ms, %.1f TFLOP/s%n", kind, BATCH, lq, lk,
                GpuBench.SMALL ? 2 : HEADS, HEAD_DIM, precision, meter.ms(), f / meter.ms() / 1e9);
    }

    @TearDown(Level.Trial)
    public void tearDown() throws Exception {
        prec.close();
        q.close();
        k.close();
        v.close();
    }
}
