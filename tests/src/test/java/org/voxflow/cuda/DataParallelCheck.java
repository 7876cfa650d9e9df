package org.voxflow.cuda;

import java.io.IOException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.voxflow.autograd.F;
import org.voxflow.cuda.dist.NcclGradientSync;
import org.voxflow.distill.AdamWConfig;
import org.voxflow.distill.Batch;
import org.voxflow.distill.ClipConfig;
import org.voxflow.distill.FlowMatchingObjective;
import org.voxflow.distill.GradientSync;
import org.voxflow.distill.InMemoryBatchSource;
import org.voxflow.distill.Losses;
import org.voxflow.distill.LrSchedule;
import org.voxflow.distill.Objective;
import org.voxflow.distill.Sample;
import org.voxflow.distill.Trainer;
import org.voxflow.distill.TrainerConfig;
import org.voxflow.io.Json;
import org.voxflow.models.trellis.SparseStructureFlowConfig;
import org.voxflow.models.trellis.SparseStructureFlowModel;
import org.voxflow.models.trellis.TrellisInit;
import org.voxflow.tensor.Backend;
import org.voxflow.tensor.Backends;
import org.voxflow.tensor.Rng;
import org.voxflow.tensor.Tensor;

/**
 * The multi-GPU equivalence check, run once per world size by the launcher:
 *
 * <pre>
 *   voxflow-launch --nproc-per-node 2 org.voxflow.cuda.DataParallelCheck --out OUT/w2
 *   voxflow-launch --nproc-per-node 1 org.voxflow.cuda.DataParallelCheck --out OUT/w1 --compare-with OUT/w2
 * </pre>
 *
 * A tiny TRELLIS stage-1 flow model (resolution 4, 48 channels, 2 blocks) trains on the GPU through the real
 * {@link Trainer} with AdamW, clipping, EMA and checkpoints, a global batch of 16 either way:
 * <ul>
 *   <li>{@code fm}: flow matching (random t, noise and condition dropout): W ranks x 8 samples x accumulation 2/W;</li>
 *   <li>{@code mse}: a deterministic regression: W ranks x 16/W samples in one micro-batch (one GPU: the whole
 *       batch in one forward);</li>
 *   <li>with one rank only: {@code mse} through the plain single-process trainer (no NCCL), which NCCL with one
 *       rank must reproduce, and, given {@code --compare-with}, {@code resume}: the 2-rank run's {@code fm}
 *       checkpoint of step 4 resumed on one GPU, which must end where the 2-rank run ended.</li>
 * </ul>
 * The replicas of the 2-rank run must be bit-identical; everything else agrees to float tolerance only: besides the
 * order of float sums, the backward of the per-token modulation (indexSelect) adds with atomicAdd, so even two
 * identical GPU runs differ in the last bits, which eight AdamW steps amplify to about 1e-5 (H100, 2026-11-25).
 * Every rank writes its final parameters; the one-rank run with {@code --compare-with} prints the differences,
 * writes {@code equivalence.json} and exits 1 when a check fails.
 */
public final class DataParallelCheck {
    static final int GLOBAL_BATCH = 16, STEPS = 8, RES = 4, CH = 8, CLASSES = 4;
    /** Pass when max |diff| <= ABS and ||diff|| / ||params moved|| <= REL. */
    static final double ABS = 1e-4, REL = 1e-3;

    private DataParallelCheck() {}

    public static void main(String[] args) throws Exception {
        Path out = null, compare = null;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--out" -> out = Path.of(args[++i]);
                case "--compare-with" -> compare = Path.of(args[++i]);
                default -> throw new IllegalArgumentException("unknown argument " + args[i]);
            }
        }
        if (out == null) throw new IllegalArgumentException("usage: DataParallelCheck --out DIR [--compare-with DIR_OF_THE_2_RANK_RUN]");
        Backend gpu = Backends.gpuOrNull();
        if (gpu == null) {
            System.out.println("no CUDA backend: " + CudaRuntime.reason());
            System.exit(2);
        }
        CudaBackend cuda = (CudaBackend) gpu;
        int status;
        try (NcclGradientSync sync = NcclGradientSync.create(cuda)) {
            status = run(cuda, cuda.describe(), sync, out, compare);
        }
        System.exit(status);
    }

    /** The check on any backend NCCL can reach (the GPU here; host memory against stub libraries in a rehearsal). */
    static int run(Backend be, String device, NcclGradientSync sync, Path out, Path compare) throws IOException {
        Files.createDirectories(out);
        int status = 0;
        int w = sync.worldSize(), r = sync.rank();
        log(sync, sync + " on " + device);
        if (w > 2) throw new IllegalStateException("the check compares 1 and 2 ranks; got a world of " + w);

        long t0 = System.nanoTime();
        Map<String, float[]> fm = train(be, sync, out.resolve("fm"), fmObjective(), 8, GLOBAL_BATCH / (8 * w), null);
        save(out.resolve("params_fm_rank" + r + ".bin"), fm);
        Map<String, float[]> mse = train(be, sync, out.resolve("mse"), null, GLOBAL_BATCH / w, 1, null);
        save(out.resolve("params_mse_rank" + r + ".bin"), mse);
        log(sync, String.format(Locale.ROOT, "trained fm and mse (%d steps each) in %.1f s", STEPS, (System.nanoTime() - t0) / 1e9));

        if (w == 1) {
            Map<String, Object> report = new LinkedHashMap<>();
            Map<String, float[]> init = initial(be);
            // NCCL with one rank vs the plain trainer
            Map<String, float[]> plain = train(be, GradientSync.local(), out.resolve("mse_local"), null, GLOBAL_BATCH, 1, null);
            status |= verdict(report, "nccl_world1_vs_local_mse", init, plain, mse, ABS, REL);
            if (compare != null) {
                Map<String, float[]> fm2 = load(compare.resolve("params_fm_rank0.bin"));
                Map<String, float[]> fm2b = load(compare.resolve("params_fm_rank1.bin"));
                Map<String, float[]> mse2 = load(compare.resolve("params_mse_rank0.bin"));
                Map<String, float[]> mse2b = load(compare.resolve("params_mse_rank1.bin"));
                status |= verdict(report, "replicas_fm_rank0_vs_rank1", init, fm2, fm2b, 0, 0);
                status |= verdict(report, "replicas_mse_rank0_vs_rank1", init, mse2, mse2b, 0, 0);
                status |= verdict(report, "fm_2gpu_vs_1gpu_accum2", init, fm, fm2, ABS, REL);
                status |= verdict(report, "mse_2gpu_x8_vs_1gpu_x16", init, mse, mse2, ABS, REL);
                // resume the 2-rank fm run's step-4 checkpoint on one GPU (accumulation 2: the same global batch)
                Path ck = compare.resolve("fm/checkpoints/step_00000004.safetensors");
                Map<String, float[]> res = train(be, sync, out.resolve("resume"), fmObjective(), 8, GLOBAL_BATCH / 8, ck);
                status |= verdict(report, "resume_2gpu_step4_on_1gpu_vs_2gpu_step8", init, res, fm2, ABS, REL);
                report.put("checkpoint_resumed", ck.toString());
            }
            report.put("device", device);
            report.put("nccl", sync.ncclVersion());
            report.put("tolerance", Map.of("max_abs", ABS, "rel_l2", REL));
            report.put("passed", status == 0);
            Files.writeString(out.resolve("equivalence.json"), Json.write(report) + "\n");
            System.out.println("equivalence: " + (status == 0 ? "PASSED" : "FAILED") + " -> " + out.resolve("equivalence.json"));
        }
        return status;
    }

    private static void log(GradientSync sync, String s) {
        System.out.println("[rank " + sync.rank() + "/" + sync.worldSize() + "] " + s);
    }

    /** 0 when within tolerance, else 1; records the numbers. */
    private static int verdict(Map<String, Object> report, String name, Map<String, float[]> init, Map<String, float[]> a,
                               Map<String, float[]> b, double abs, double rel) {
        double maxAbs = 0, diff2 = 0, moved2 = 0;
        for (String k : a.keySet()) {
            float[] x = a.get(k), y = b.get(k), z = init.get(k);
            if (y == null || y.length != x.length) throw new IllegalStateException(name + ": parameter " + k + " differs in shape");
            for (int i = 0; i < x.length; i++) {
                double d = (double) x[i] - y[i];
                maxAbs = Math.max(maxAbs, Math.abs(d));
                diff2 += d * d;
                double m = (double) x[i] - z[i];
                moved2 += m * m;
            }
        }
        double relL2 = Math.sqrt(diff2) / Math.max(Math.sqrt(moved2), 1e-30);
        boolean ok = maxAbs <= abs && relL2 <= rel;
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("max_abs_diff", maxAbs);
        m.put("rel_l2_diff", relL2);
        m.put("l2_moved", Math.sqrt(moved2));
        m.put("passed", ok);
        report.put(name, m);
        System.out.printf(Locale.ROOT, "%-42s max|diff| %.3e  ||diff||/||moved|| %.3e  (||moved|| %.3e)  %s%n",
                name, maxAbs, relL2, Math.sqrt(moved2), ok ? "ok" : "FAILED");
        return ok ? 0 : 1;
    }

    // ---- the toy ------------------------------------------------------------------------------------------------

    @SuppressWarnings("unchecked")
    static SparseStructureFlowModel model(Backend be) {
        String args = "{\"resolution\":" + RES + ",\"in_channels\":" + CH + ",\"model_channels\":48,\"cond_channels\":" + CLASSES
                + ",\"out_channels\":" + CH + ",\"num_blocks\":2,\"num_heads\":2,\"mlp_ratio\":2,\"patch_size\":1,\"qk_rms_norm\":true}";
        SparseStructureFlowModel m = new SparseStructureFlowModel(be, SparseStructureFlowConfig.fromArgs((Map<String, Object>) Json.parse(args), "toy"));
        TrellisInit.apply(m, 5);
        // TRELLIS zero-initialises the output and modulation layers; give them small values so every gradient is live
        Rng r = new Rng(6);
        for (Map.Entry<String, Tensor> e : m.namedParameters().entrySet()) {
            if (e.getKey().contains("adaLN_modulation") || e.getKey().startsWith("out_layer.")) {
                float[] v = r.normal((int) e.getValue().numel());
                for (int i = 0; i < v.length; i++) v[i] *= 0.02f;
                be.assign(e.getValue(), be.fromFloats(v, e.getValue().shape()));
            }
        }
        return m;
    }

    static Map<String, float[]> initial(Backend be) { return snapshot(model(be).namedParameters()); }

    /** Class c: a fixed +-1 pattern plus noise; the condition is one token, the class's one-hot. */
    static List<Sample> data(int n) {
        Rng rng = new Rng(1), pr = new Rng(99);
        int d = CH * RES * RES * RES;
        float[][] patterns = new float[CLASSES][d];
        for (float[] p : patterns) for (int i = 0; i < d; i++) p[i] = pr.nextDouble() < 0.5 ? -1f : 1f;
        List<Sample> out = new ArrayList<>();
        for (int k = 0; k < n; k++) {
            int c = k % CLASSES;
            float[] x = new float[d];
            for (int i = 0; i < d; i++) x[i] = patterns[c][i] + 0.1f * (float) rng.nextGaussian();
            float[] cond = new float[CLASSES];
            cond[c] = 1f;
            out.add(new Sample.Dense(x, new int[] {CH, RES, RES, RES}, cond, new int[] {1, CLASSES}));
        }
        return out;
    }

    interface ObjectiveFactory {
        Objective create(SparseStructureFlowModel m);
    }

    static ObjectiveFactory fmObjective() { return m -> new FlowMatchingObjective(m, c -> c, 0.1, 1.0, 1.0, 1e-5); }

    /** Deterministic: the velocity at t = 0.5 of x0 itself must be -x0 (no random draw at all). */
    static Objective mseObjective(SparseStructureFlowModel m) {
        return (Batch batch, Rng rng) -> {
            Backend be = batch.x0().backend();
            int b = batch.batchSize();
            float[] t = new float[b];
            java.util.Arrays.fill(t, 500f);
            Tensor v = m.forward(batch.x0(), be.fromFloats(t, b), batch.cond());
            Tensor loss = F.mean(F.square(F.add(v, batch.x0())));
            return new Losses(loss, Map.of("mse", loss.item()));
        };
    }

    static TrainerConfig config(Path out) {
        return TrainerConfig.builder(out, STEPS)
                .lr(LrSchedule.constant(1e-3))
                .adamW(new AdamWConfig(0.9, 0.999, 1e-8, 0.01))
                .clip(ClipConfig.fixed(1.0))
                .emaRates(0.99)
                .checkpointInterval(4)
                .keepCheckpoints(4)
                .seed(11)
                .progress(false)
                .stopOnSigterm(false)
                .build();
    }

    /**
     * Trains the toy on this rank's shard (perRank samples a micro-batch, accumulation micro-batches a step) and
     * returns the final parameters. factory null = the deterministic mse objective.
     */
    static Map<String, float[]> train(Backend be, GradientSync sync, Path out, ObjectiveFactory factory, int perRank,
                                      int accumulation, Path resumeFrom) {
        SparseStructureFlowModel m = model(be);
        TrainerConfig cfg = config(out).toBuilder().accumulation(accumulation).build();
        Objective obj = factory == null ? mseObjective(m) : factory.create(m);
        Trainer t = new Trainer(cfg, m, obj, new InMemoryBatchSource(be, data(40), perRank, sync.rank(), sync.worldSize()), sync);
        if (resumeFrom != null) t.resume(resumeFrom);
        t.train();
        return snapshot(m.namedParameters());
    }

    static Map<String, float[]> snapshot(Map<String, Tensor> params) {
        Map<String, float[]> m = new LinkedHashMap<>();
        params.forEach((k, v) -> m.put(k, v.toFloats()));
        return m;
    }

    static void save(Path file, Map<String, float[]> params) {
        try (ObjectOutputStream o = new ObjectOutputStream(Files.newOutputStream(file))) {
            o.writeObject(new LinkedHashMap<>(params));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @SuppressWarnings("unchecked")
    static Map<String, float[]> load(Path file) {
        try (ObjectInputStream in = new ObjectInputStream(Files.newInputStream(file))) {
            return (Map<String, float[]>) in.readObject();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file + " (did the 2-rank run finish?)", e);
        } catch (ClassNotFoundException e) {
            throw new IllegalStateException(e);
        }
    }
}
