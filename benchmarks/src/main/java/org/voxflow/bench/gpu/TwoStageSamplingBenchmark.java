package org.voxflow.bench.gpu;

import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.voxflow.flow.EulerSampler;
import org.voxflow.flow.FlowSchedule;
import org.voxflow.flow.Guidance;
import org.voxflow.flow.TimeGrid;
import org.voxflow.flow.VelocityField;
import org.voxflow.models.trellis.SLatFlowModel;
import org.voxflow.models.trellis.SparseStructureFlowModel;
import org.voxflow.sparse.SparseStructure;
import org.voxflow.tensor.Backend;
import org.voxflow.tensor.DType;
import org.voxflow.tensor.MemoryScope;
import org.voxflow.tensor.Tensor;

/**
 * Full two-stage flow sampling with TRELLIS-large models (random weights), batch 1, one image condition of 1374
 * tokens, ms per sample:
 * <ul>
 * <li>{@code teacher}: TRELLIS-image-large's samplers, 25 Euler steps with rescale_t 3 in each stage; stage 1 with
 *     CFG 5 on t in [0.5, 1], stage 2 with CFG 3 on [0.5, 1] (the guided steps evaluate the model twice, cond and
 *     zero cond: 19 of 25 steps, so 44 evaluations per stage);</li>
 * <li>{@code student1} / {@code student2}: MDT-dist students, 1 or 2 steps per stage, no CFG (1 or 2 evaluations per
 *     stage).</li>
 * </ul>
 * Stage 2 samples the feats of a fixed structure (the ~20k-voxel shell of {@link GpuBench#shell()}), not one decoded
 * from stage 1: what is timed is the two flow transformers and the sampler arithmetic. Not included: the image
 * encoder (DINOv2), the sparse-structure decoder between the stages, and the SLat decoders (mesh / Gaussians) that
 * the paper's end-to-end times include.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED"})
@Warmup(iterations = 1)
@Measurement(iterations = 3)
public class TwoStageSamplingBenchmark {
    @Param({"teacher", "student1", "student2"})
    public String sampler;

    /**
     * autocast-graph: each stage's whole sampling loop recorded once as a CUDA graph and replayed (stage 1's shape is
     * fixed; stage 2's voxel structure is fixed for all its steps, so it records per structure too).
     */
    @Param({"autocast", "autocast-graph", "tf32"})
    public String precision;

    private org.voxflow.flow.RecordedSampling stage1Graph, stage2Graph;

    private Backend be;
    private SparseStructureFlowModel stage1;
    private SLatFlowModel stage2;
    private SparseStructure structure;
    private Tensor noise1, noise2, cond, negCond;
    private AutoCloseable prec;
    private double[] grid;
    private Guidance g1, g2;
    private long ns1, ns2;
    private int evals1, evals2;

    @Setup(Level.Trial)
    public void setup() {
        be = GpuBench.backend();
        stage1 = GpuBench.stage1(be);
        stage2 = GpuBench.stage2(be);
        structure = GpuBench.shell();
        int r = GpuBench.stage1Resolution();
        noise1 = GpuBench.randn(be, 31, 1, 8, r, r, r);
        noise2 = GpuBench.randn(be, 32, structure.rows(), 8);
        cond = GpuBench.randn(be, 33, 1, GpuBench.condTokens(), GpuBench.channels());
        negCond = MemoryScope.outside(() -> be.zeros(DType.F32, 1, GpuBench.condTokens(), GpuBench.channels()));
        switch (sampler) {
            case "teacher" -> {
                grid = TimeGrid.trellis(25, 3.0);
                g1 = new Guidance(5.0, 0.5, 1.0);
                g2 = new Guidance(3.0, 0.5, 1.0);
            }
            case "student1", "student2" -> {
                grid = TimeGrid.trellis(sampler.equals("student1") ? 1 : 2, 3.0);
                g1 = g2 = Guidance.NONE;
            }
            default -> throw new IllegalArgumentException("sampler " + sampler + " (teacher, student1, student2)");
        }
        evals1 = evaluations(grid, g1);
        evals2 = evaluations(grid, g2);
        prec = GpuBench.precision(be, precision);
        if (precision.endsWith("-graph")) {
            long t0 = System.nanoTime();
            stage1Graph = org.voxflow.flow.RecordedSampling.record(new EulerSampler(FlowSchedule.TRELLIS), VelocityField.dense(stage1, 1),
                    noise1, cond, g1.strength() != 0 ? negCond : null, grid, g1);
            GpuBench.sync(be);
            System.out.printf("%n[voxflow] stage-1 %s sampling recorded: %,d graph nodes, %.0f ms to warm up and record%n", sampler,
                    stage1Graph.operations(), (System.nanoTime() - t0) / 1e6);
            t0 = System.nanoTime();
            stage2Graph = org.voxflow.flow.RecordedSampling.record(new EulerSampler(FlowSchedule.TRELLIS),
                    VelocityField.sparse(stage2, structure), noise2, cond, g2.strength() != 0 ? negCond : null, grid, g2);
            GpuBench.sync(be);
            System.out.printf("%n[voxflow] stage-2 %s sampling recorded: %,d graph nodes, %.0f ms to warm up and record%n", sampler,
                    stage2Graph.operations(), (System.nanoTime() - t0) / 1e6);
        }
        GpuBench.sync(be);
    }

    static int evaluations(double[] grid, Guidance g) {
        int n = 0;
        for (int i = 0; i + 1 < grid.length; i++) n += g.activeAt(grid[i]) ? 2 : 1;
        return n;
    }

    @Benchmark
    public void sample() {
        EulerSampler es = new EulerSampler(FlowSchedule.TRELLIS);
        try (MemoryScope s = MemoryScope.open()) {
            long t0 = System.nanoTime();
            if (stage1Graph != null) stage1Graph.sample(noise1, cond, g1.strength() != 0 ? negCond : null);
            else es.sampleFinal(VelocityField.dense(stage1, 1), noise1, cond, g1.strength() != 0 ? negCond : null, grid, g1);
            GpuBench.sync(be);
            long t1 = System.nanoTime();
            // TRELLIS would decode the stage-1 latent into the occupied voxels here; the structure is fixed instead
            if (stage2Graph != null) stage2Graph.sample(noise2, cond, g2.strength() != 0 ? negCond : null);
            else es.sampleFinal(VelocityField.sparse(stage2, structure), noise2, cond, g2.strength() != 0 ? negCond : null, grid, g2);
            GpuBench.sync(be);
            long t2 = System.nanoTime();
            ns1 = t1 - t0;
            ns2 = t2 - t1;
        }
    }

    @TearDown(Level.Iteration)
    public void report() {
        System.out.printf("%n[voxflow] two-stage sampling %s %s: %.1f ms (stage 1: %d evaluations, %.1f ms; stage 2 on %,d voxels:"
                + " %d evaluations, %.1f ms)%n", sampler, precision, (ns1 + ns2) / 1e6, evals1, ns1 / 1e6, structure.rows(), evals2, ns2 / 1e6);
    }

    @TearDown(Level.Trial)
    public void tearDown() throws Exception {
        if (stage1Graph != null) stage1Graph.close();
        if (stage2Graph != null) stage2Graph.close();
        prec.close();
        noise1.close();
        noise2.close();
        cond.close();
        negCond.close();
    }
}
