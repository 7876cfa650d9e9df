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
import org.voxflow.models.trellis.SparseStructureFlowModel;
import org.voxflow.tensor.Backend;
import org.voxflow.tensor.MemoryScope;
import org.voxflow.tensor.Tensor;

/**
 * One forward of TRELLIS-large's stage-1 flow model (SparseStructureFlowModel: 1024 channels, 24 blocks, 16 heads,
 * 16^3 latent, patch 1 = 4096 tokens, 1374 condition tokens) with random f32 weights, batch 1 or 2, no grad, ms per
 * forward: {@link #REPS} forwards back to back, then one stream synchronization, as the PyTorch baselines
 * (torch_baselines.py) and the GEMM and attention benchmarks time theirs. Stage1Profile also prints the latency of
 * one forward at a time (replay, then synchronize). Precisions: {@code f32}, {@code tf32}, {@code autocast} (bf16).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED"})
@Warmup(iterations = 1, time = 1)
@Measurement(iterations = 3, time = 1)
public class Stage1ForwardBenchmark {
    static final int REPS = 4;

    @Param({"1", "2"})
    public int batch;

    /** autocast-graph: bf16 autocast, the forward recorded once as a CUDA graph and replayed. */
    @Param({"f32", "tf32", "autocast", "autocast-graph"})
    public String precision;

    private org.voxflow.tensor.Recording graph;
    private Tensor out;

    private Backend be;
    private SparseStructureFlowModel model;
    private Tensor x, t, cond;
    private AutoCloseable prec;
    private final GpuBench.Meter meter = new GpuBench.Meter();

    @Setup(Level.Trial)
    public void setup() {
        be = GpuBench.backend();
        model = GpuBench.stage1(be);
        int r = GpuBench.stage1Resolution();
        x = GpuBench.randn(be, 11, batch, 8, r, r, r);
        t = MemoryScope.outside(() -> be.full(500f, batch));
        cond = GpuBench.randn(be, 12, batch, GpuBench.condTokens(), GpuBench.channels());
        prec = GpuBench.precision(be, precision);
        if (precision.endsWith("-graph")) {
            try (var ng = Grad.noGrad(); MemoryScope s = MemoryScope.open()) {
                Tensor first = model.forward(x, t, cond); // unrecorded: fills the caches the recording relies on
                out = MemoryScope.outside(() -> be.copy(first));
            }
            graph = be.record(() -> {
                try (var ng = Grad.noGrad(); MemoryScope s = MemoryScope.open()) { be.assign(out, model.forward(x, t, cond)); }
            });
            System.out.printf("%n[voxflow] stage-1 forward recorded: %,d graph nodes%n", graph.operations());
        }
        GpuBench.sync(be);
    }

    @Setup(Level.Iteration)
    public void startIteration() { meter.reset(); }

    @Benchmark
    @OperationsPerInvocation(REPS)
    public void forward() {
        long t0 = System.nanoTime();
        for (int i = 0; i < REPS; i++) {
            if (graph != null) graph.replay();
            else try (var ng = Grad.noGrad(); MemoryScope s = MemoryScope.open()) { model.forward(x, t, cond); }
        }
        GpuBench.sync(be);
        meter.add(System.nanoTime() - t0, REPS);
    }

    @TearDown(Level.Iteration)
    public void report() {
        System.out.printf("%n[voxflow] stage-1 forward (TRELLIS-large, %,d params) batch %d %s: %.2f ms%n", model.parameterCount(), batch,
                precision, meter.ms());
    }

    @TearDown(Level.Trial)
    public void tearDown() throws Exception {
        if (graph != null) { graph.close(); out.close(); }
        prec.close();
        x.close();
        t.close();
        cond.close();
    }
}
