package org.voxflow.bench.gpu;

import java.util.Locale;
import org.voxflow.autograd.Grad;
import org.voxflow.models.trellis.SparseStructureFlowModel;
import org.voxflow.tensor.Backend;
import org.voxflow.tensor.MemoryScope;
import org.voxflow.tensor.Recording;
import org.voxflow.tensor.Tensor;

/**
 * A plain loop over the TRELLIS-large stage-1 forward (bf16 autocast, batch 1), eager and replayed from a CUDA graph,
 * for profilers (nsys, ncu) that want a short process with a known number of forwards rather than JMH's forks.
 *
 * <pre>bin/voxflow-run org.voxflow.bench.gpu.Stage1Profile [iterations] [--profile-one]</pre>
 * (with VOXFLOW_JAVA_OPTS=-Dvoxflow.bench.torso=f32 for the f32 residual stream, see GpuBench)
 *
 * With --profile-one, one eager forward after the warm-up runs between cudaProfilerStart and cudaProfilerStop, for
 * {@code ncu --profile-from-start off} (a kernel-by-kernel breakdown of exactly one forward).
 */
public final class Stage1Profile {
    private Stage1Profile() {}

    public static void main(String[] args) throws Exception {
        int iters = args.length > 0 ? Integer.parseInt(args[0]) : 10;
        boolean profileOne = java.util.Arrays.asList(args).contains("--profile-one");
        Backend be = GpuBench.backend();
        SparseStructureFlowModel model = GpuBench.stage1(be);
        int r = GpuBench.stage1Resolution();
        Tensor x = GpuBench.randn(be, 11, 1, 8, r, r, r), cond = GpuBench.randn(be, 12, 1, GpuBench.condTokens(), GpuBench.channels());
        Tensor t = MemoryScope.outside(() -> be.full(500f, 1));
        try (AutoCloseable prec = GpuBench.precision(be, "autocast")) {
            Tensor out = null;
            for (int i = 0; i < 3; i++) {
                try (var ng = Grad.noGrad(); MemoryScope s = MemoryScope.open()) {
                    Tensor y = model.forward(x, t, cond);
                    if (out == null) out = MemoryScope.outside(() -> be.copy(y));
                }
            }
            GpuBench.sync(be);
            if (profileOne) {
                if (be instanceof org.voxflow.cuda.CudaBackend cb) cb.profilerRange(true);
                try (var ng = Grad.noGrad(); MemoryScope s = MemoryScope.open()) { model.forward(x, t, cond); }
                GpuBench.sync(be);
                if (be instanceof org.voxflow.cuda.CudaBackend cb) cb.profilerRange(false);
                System.out.println("[profile] one forward profiled");
                return;
            }
            long t0 = System.nanoTime();
            for (int i = 0; i < iters; i++) {
                try (var ng = Grad.noGrad(); MemoryScope s = MemoryScope.open()) { model.forward(x, t, cond); }
            }
            GpuBench.sync(be);
            double eager = (System.nanoTime() - t0) / 1e6 / iters;
            Tensor o = out;
            Recording g = be.record(() -> {
                try (var ng = Grad.noGrad(); MemoryScope s = MemoryScope.open()) { be.assign(o, model.forward(x, t, cond)); }
            });
            g.replay();
            GpuBench.sync(be);
            t0 = System.nanoTime();
            for (int i = 0; i < iters; i++) g.replay();
            GpuBench.sync(be);
            double graph = (System.nanoTime() - t0) / 1e6 / iters;
            // one at a time, as the JMH benchmark times them: the replay call itself, and replay until synchronized
            long launch = 0;
            t0 = System.nanoTime();
            for (int i = 0; i < iters; i++) {
                long l0 = System.nanoTime();
                g.replay();
                launch += System.nanoTime() - l0;
                GpuBench.sync(be);
            }
            double latency = (System.nanoTime() - t0) / 1e6 / iters;
            System.out.printf(Locale.ROOT, "[profile] stage-1 forward TRELLIS-large b1 autocast, %s torso: eager %.2f ms, graph %.2f ms (%,d nodes)"
                    + " back to back; one at a time %.2f ms, of which the replay call %.3f ms%n", GpuBench.HALF_TORSO ? "16-bit" : "f32", eager, graph, g.operations(),
                    latency, launch / 1e6 / iters);
            g.close();
        }
    }
}
