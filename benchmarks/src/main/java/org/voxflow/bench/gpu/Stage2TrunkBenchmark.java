package org.voxflow.bench.gpu;

import java.util.List;
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
import org.voxflow.autograd.F;
import org.voxflow.autograd.Grad;
import org.voxflow.nn.ModulatedCrossBlock;
import org.voxflow.nn.RowLayout;
import org.voxflow.tensor.Backend;
import org.voxflow.tensor.MemoryScope;
import org.voxflow.tensor.Tensor;

/**
 * The stage-2 transformer trunk of TRELLIS-large: its 24 modulated cross blocks (1024 channels, 16 heads, qk RMS
 * norm) on the tokens of the fixed ~20k-voxel structure after the 2x downsampling ({@link GpuBench#shell()}: 4,256
 * tokens) with 1374 condition tokens, run as SLatFlowModel runs them (ModulatedCrossBlock.runBlocks). ms per
 * pass of all 24 blocks ({@link #REPS} passes back to back, then one stream synchronization, as the PyTorch baselines
 * time theirs); the sparse input/output convolution blocks are not included (they are in the full
 * two-stage sampling benchmark). The blocks see only token rows, so -Dvoxflow.bench.trunkTokens=N runs N random
 * tokens instead (the target is stated at ~4,640; torch_baselines.py --trunk-tokens N matches it). The
 * condition rows are cast to the GEMM input type once per pass, as the model does.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED"})
@Warmup(iterations = 1, time = 1)
@Measurement(iterations = 3, time = 1)
public class Stage2TrunkBenchmark {
    static final int REPS = 4;

    /** autocast-graph: the 24-block pass recorded once as a CUDA graph and replayed, as stage-2 sampling can (its voxel
     *  structure, hence the token count, is fixed for all steps: see RecordedSampling). */
    @Param({"f32", "tf32", "autocast", "autocast-graph"})
    public String precision;

    private Backend be;
    private List<ModulatedCrossBlock> blocks;
    private Tensor x, emb, ctx;
    private RowLayout layout, ctxLayout;
    private int tokens;
    private AutoCloseable prec;
    private org.voxflow.tensor.Recording graph;
    private Tensor out;
    private final GpuBench.Meter meter = new GpuBench.Meter();

    static int tokens() {
        int n = Integer.getInteger("voxflow.bench.trunkTokens", 0);
        return n > 0 ? n : GpuBench.shell().downsample2().rows();
    }

    @Setup(Level.Trial)
    public void setup() {
        be = GpuBench.backend();
        blocks = GpuBench.trunk(be);
        tokens = tokens();
        int ch = GpuBench.channels(), l = GpuBench.condTokens();
        x = GpuBench.randn(be, 21, tokens, ch);
        emb = GpuBench.randn(be, 22, 1, ch);
        ctx = GpuBench.randn(be, 23, l, ch);
        layout = RowLayout.uniform(1, tokens);
        ctxLayout = RowLayout.uniform(1, l);
        prec = GpuBench.precision(be, precision);
        if (precision.endsWith("-graph")) {
            out = MemoryScope.outside(() -> be.zeros(org.voxflow.tensor.DType.F32, tokens, ch));
            pass(); // unrecorded first: casts, cuBLASLt plans, kernel attributes
            graph = be.record(this::pass);
        }
        GpuBench.sync(be);
    }

    /** The recorded body: one pass of the blocks into out. */
    private void pass() {
        try (var ng = Grad.noGrad(); MemoryScope s = MemoryScope.open()) { be.assign(out, blocksPass()); }
    }

    /**
     * One pass of the 24 blocks as SLatFlowModel runs them (the condition cast once to the GEMM type, TRELLIS-large's
     * use_fp16 torso unless -Dvoxflow.bench.torso=f32); no grad.
     */
    private Tensor blocksPass() {
        Tensor c = F.cast(ctx, F.matmulInputType(ctx));
        return ModulatedCrossBlock.runBlocks(blocks, x, layout, emb, c, ctxLayout, false, GpuBench.HALF_TORSO);
    }

    @Setup(Level.Iteration)
    public void startIteration() { meter.reset(); }

    @Benchmark
    @OperationsPerInvocation(REPS)
    public void trunk() {
        long t0 = System.nanoTime();
        for (int i = 0; i < REPS; i++) {
            if (graph != null) graph.replay();
            else try (var ng = Grad.noGrad(); MemoryScope s = MemoryScope.open()) { blocksPass(); }
        }
        GpuBench.sync(be);
        meter.add(System.nanoTime() - t0, REPS);
    }

    @TearDown(Level.Iteration)
    public void report() {
        System.out.printf("%n[voxflow] stage-2 trunk (%d blocks, %,d tokens, %d cond) %s: %.2f ms%n", blocks.size(), tokens,
                GpuBench.condTokens(), precision, meter.ms());
    }

    @TearDown(Level.Trial)
    public void tearDown() throws Exception {
        if (graph != null) graph.close();
        if (out != null) out.close();
        prec.close();
        x.close();
        emb.close();
        ctx.close();
    }
}
