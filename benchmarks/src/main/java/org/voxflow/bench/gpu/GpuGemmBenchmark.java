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
import org.voxflow.tensor.Backend;
import org.voxflow.tensor.DType;
import org.voxflow.tensor.MemoryScope;
import org.voxflow.tensor.Tensor;

/**
 * GEMM on the GPU through the engine's Backend.matmul, in the linear-layer layout x[M,K] @ W[N,K]^T (transB), the
 * output f32 (a fresh tensor each call, as in the models). Precisions: {@code f32} (cuBLAS SGEMM-class, TF32 off),
 * {@code tf32}, {@code bf16} (bf16 inputs, f32 accumulation and output) and {@code autocast} (f32 inputs cast to bf16
 * inside the backend on every call: the cast is part of the time). {@value #REPS} GEMMs per invocation, then one
 * stream synchronize; the score is ms per GEMM and the printed figure TFLOP/s = 2 M N K / time.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED"})
@Warmup(iterations = 1, time = 500, timeUnit = TimeUnit.MILLISECONDS)
@Measurement(iterations = 3, time = 500, timeUnit = TimeUnit.MILLISECONDS)
public class GpuGemmBenchmark {
    static final int REPS = 10;

    /** MxKxN. */
    @Param({"4096x1024x4096", "4096x4096x4096", "8192x8192x8192"})
    public String shape;

    @Param({"f32", "tf32", "bf16", "autocast"})
    public String precision;

    private Backend be;
    private Tensor a, w;
    private AutoCloseable prec;
    private int m, k, n;
    private final GpuBench.Meter meter = new GpuBench.Meter();

    static double flops(String shape) {
        String[] d = shape.split("x");
        return 2.0 * Long.parseLong(d[0]) * Long.parseLong(d[1]) * Long.parseLong(d[2]);
    }

    @Setup(Level.Trial)
    public void setup() {
        be = GpuBench.backend();
        String[] d = shape.split("x");
        m = Integer.parseInt(d[0]);
        k = Integer.parseInt(d[1]);
        n = Integer.parseInt(d[2]);
        if (GpuBench.SMALL) { m = Math.min(m, 256); k = Math.min(k, 256); n = Math.min(n, 256); }
        a = GpuBench.randn(be, 1, m, k);
        w = GpuBench.randn(be, 2, n, k);
        if (precision.equals("bf16")) {
            Tensor a16 = MemoryScope.outside(() -> be.cast(a, DType.BF16)), w16 = MemoryScope.outside(() -> be.cast(w, DType.BF16));
            a.close();
            w.close();
            a = a16;
            w = w16;
        }
        prec = GpuBench.precision(be, precision);
        GpuBench.sync(be);
    }

    @Setup(Level.Iteration)
    public void startIteration() { meter.reset(); }

    @Benchmark
    @OperationsPerInvocation(REPS)
    public void matmul() {
        long t0 = System.nanoTime();
        for (int i = 0; i < REPS; i++)
            try (MemoryScope s = MemoryScope.open()) {
                be.matmul(a, w, false, true);
            }
        GpuBench.sync(be);
        meter.add(System.nanoTime() - t0, REPS);
    }

    @TearDown(Level.Iteration)
    public void report() {
        System.out.printf("%n[voxflow] GEMM %dx%dx%d %s: %.3f ms, %.1f TFLOP/s%n", m, k, n, precision, meter.ms(),
                2.0 * m * n * k / meter.ms() / 1e9);
    }

    @TearDown(Level.Trial)
    public void tearDown() throws Exception {
        prec.close();
        a.close();
        w.close();
    }
}
