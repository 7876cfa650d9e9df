package org.voxflow.cuda;

import java.io.IOException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.voxflow.autograd.F;
import org.voxflow.cuda.dist.DistEnv;
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
 * The multi-GPU equivalence check, run once per world size by the launcher (or by the gpu-tagged
 * {@link DataParallelEquivalenceTest}, which starts these two runs itself):
 *
 * <pre>
 *   voxflow-launch --nproc-per-node 2 org.voxflow.cuda.DataParallelCheck --out OUT/w2
 *   voxflow-launch --nproc-per-node 1 org.voxflow.cuda.DataParallelCheck --out OUT/w1 --compare-with OUT/w2
 * </pre>
 *
 * Every training below runs twice, through the all-reduce overlapped with backward ({@code overlap}: bucket
 * collectives on the communication stream while backward runs) and through the all-reduce after backward
 * ({@code plain}), on one communicator with {@code --bucket-kb} KiB buckets (default 16: the toy's gradients span
 * many buckets). Before training, {@link #streamCheck} drives the overlapped path directly: every rank reports
 * gradients made by a long GPU computation in its own shuffled order, some missing or null, frees them at once and
 * refills the freed memory, over several steps; the averages must be exact. A rank that launched buckets out of
 * order would hang or mix buckets; a collective that did not wait for the compute stream would read stale buckets.
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
 * writes {@code equivalence.json} and exits 1 when a check fails (any rank exits 1 when its stream check fails).
 */
public final class DataParallelCheck {
    static final int GLOBAL_BATCH = 16, STEPS = 8, RES = 4, CH = 8, CLASSES = 4;
    /** Pass when max |diff| <= ABS and ||diff|| / ||params moved|| <= REL. */
    static final double ABS = 1e-4, REL = 1e-3;

    private DataParallelCheck() {}

    public static void main(String[] args) throws Exception {
        Path out = null, compare = null;
        long bucketKb = 16;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--out" -> out = Path.of(args[++i]);
                case "--compare-with" -> compare = Path.of(args[++i]);
                case "--bucket-kb" -> bucketKb = Long.parseLong(args[++i]);
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
        try (NcclGradientSync sync = NcclGradientSync.create(cuda, DistEnv.fromEnvironment(), bucketKb << 10, Duration.ofSeconds(300))) {
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

        String streamProblem = streamCheck(be, sync);
        log(sync, "stream check: " + (streamProblem == null ? "exact" : "FAILED: " + streamProblem));
        if (streamProblem != null) status = 1;

        long t0 = System.nanoTime();
        Map<String, Map<String, float[]>> fm = new LinkedHashMap<>(), mse = new LinkedHashMap<>();
        for (String mode : MODES) {
            sync.setOverlap(mode.equals("overlap"));
            long c0 = sync.stats().overlappedSteps();
            fm.put(mode, train(be, sync, out.resolve("fm_" + mode), fmObjective(), 8, GLOBAL_BATCH / (8 * w), null));
            save(out.resolve("params_fm_" + mode + "_rank" + r + ".bin"), fm.get(mode));
            mse.put(mode, train(be, sync, out.resolve("mse_" + mode), null, GLOBAL_BATCH / w, 1, null));
            save(out.resolve("params_mse_" + mode + "_rank" + r + ".bin"), mse.get(mode));
            long streamed = sync.stats().overlappedSteps() - c0;
            if (streamed != (mode.equals("overlap") ? 2L * STEPS : 0)) {
                log(sync, "FAILED: " + streamed + " overlapped steps in mode " + mode);
                status = 1;
            }
        }
        sync.setOverlap(true);
        NcclGradientSync.Stats st = sync.stats();
        log(sync, String.format(Locale.ROOT, "trained fm and mse (%d steps each), overlapped and plain, in %.1f s; overlapped: %d buckets"
                        + " launched during backward, %d at the end of it", STEPS, (System.nanoTime() - t0) / 1e9,
                st.bucketsDuringBackward(), st.bucketsAtFinish()));
        if (st.bucketsDuringBackward() == 0) {
            log(sync, "FAILED: no bucket left during backward: nothing was overlapped");
            status = 1;
        }

        if (w == 1) {
            Map<String, Object> report = new LinkedHashMap<>();
            Map<String, float[]> init = initial(be);
            // NCCL with one rank, both paths, vs the plain single-process trainer
            Map<String, float[]> local = train(be, GradientSync.local(), out.resolve("mse_local"), null, GLOBAL_BATCH, 1, null);
            for (String mode : MODES) status |= verdict(report, "nccl_world1_" + mode + "_vs_local_mse", init, local, mse.get(mode), ABS, REL);
            status |= verdict(report, "nccl_world1_overlap_vs_plain_fm", init, fm.get("overlap"), fm.get("plain"), ABS, REL);
            if (compare != null) {
                for (String mode : MODES) {
                    Map<String, float[]> fm2 = load(compare.resolve("params_fm_" + mode + "_rank0.bin"));
                    Map<String, float[]> fm2b = load(compare.resolve("params_fm_" + mode + "_rank1.bin"));
                    Map<String, float[]> mse2 = load(compare.resolve("params_mse_" + mode + "_rank0.bin"));
                    Map<String, float[]> mse2b = load(compare.resolve("params_mse_" + mode + "_rank1.bin"));
                    status |= verdict(report, "replicas_fm_" + mode + "_rank0_vs_rank1", init, fm2, fm2b, 0, 0);
                    status |= verdict(report, "replicas_mse_" + mode + "_rank0_vs_rank1", init, mse2, mse2b, 0, 0);
                    // each 2-GPU path against both 1-GPU paths: the paths must agree with each other, too
                    for (String one : MODES) {
                        status |= verdict(report, "fm_2gpu_" + mode + "_vs_1gpu_" + one + "_accum2", init, fm.get(one), fm2, ABS, REL);
                        status |= verdict(report, "mse_2gpu_x8_" + mode + "_vs_1gpu_x16_" + one, init, mse.get(one), mse2, ABS, REL);
                    }
                }
                // resume the 2-rank overlapped fm run's step-4 checkpoint on one GPU (accumulation 2: the same global batch)
                Path ck = compare.resolve("fm_overlap/checkpoints/step_00000004.safetensors");
                Map<String, float[]> res = train(be, sync, out.resolve("resume"), fmObjective(), 8, GLOBAL_BATCH / 8, ck);
                status |= verdict(report, "resume_2gpu_step4_on_1gpu_vs_2gpu_step8", init, res,
                        load(compare.resolve("params_fm_overlap_rank0.bin")), ABS, REL);
                report.put("checkpoint_resumed", ck.toString());
            }
            report.put("stream_check", streamProblem == null ? "exact" : streamProblem);
            report.put("device", device);
            report.put("nccl", sync.ncclVersion());
            report.put("tolerance", Map.of("max_abs", ABS, "rel_l2", REL));
            report.put("passed", status == 0);
            Files.writeString(out.resolve("equivalence.json"), Json.write(report) + "\n");
            System.out.println("equivalence: " + (status == 0 ? "PASSED" : "FAILED") + " -> " + out.resolve("equivalence.json"));
        }
        return status;
    }

    static final List<String> MODES = List.of("overlap", "plain");

    /**
     * Drives the overlapped path directly for a few steps; null when every average is exact, else what went wrong.
     * Gradients are integers plus quarters (exact sums and halves), each made behind a large matmul on the compute
     * stream, reported in a shuffled order that differs per rank and step (some parameters larger than a bucket, one
     * never reported, one reported null everywhere, one with a gradient on rank 0 only), then freed, with the freed
     * memory refilled with garbage before finishStep.
     */
    static String streamCheck(Backend be, NcclGradientSync sync) {
        int w = sync.worldSize(), r = sync.rank();
        int[] sizes = {3, 5000, 17, 1, 9000, 64, 2, 300, 4096, 7, 11, 12000, 5};
        Map<String, Tensor> params = new LinkedHashMap<>();
        for (int i = 0; i < sizes.length; i++) params.put("p" + i, be.zeros(org.voxflow.tensor.DType.F32, sizes[i]).setRequiresGrad(true));
        Tensor a = new Rng(5).randn(be, 1024, 1024), b = new Rng(6).randn(be, 1024, 1024);
        boolean was = sync.overlapsBackward();
        sync.setOverlap(true);
        try {
            for (int step = 1; step <= 4; step++) {
                try (org.voxflow.tensor.MemoryScope scope = org.voxflow.tensor.MemoryScope.open()) {
                    sync.beginStep(params);
                    List<Integer> order = new ArrayList<>();
                    for (int i = 0; i < sizes.length; i++) order.add(i);
                    Collections.shuffle(order, new java.util.Random(1000L * step + 7 * r));
                    for (int i : order) {
                        if (i == 6) continue;                                     // never reported
                        if (i == 9) { sync.gradReady("p9", null); continue; }     // null everywhere
                        if (i == 10 && r != 0) { sync.gradReady("p10", null); continue; } // rank 0 only
                        Tensor heavy = be.matmul(a, b, false, false);             // ~2 GFLOP ahead of the gradient
                        Tensor zero = be.affine(heavy.reshape(1024 * 1024).slice(0, 0, 1), 0f, 0f);
                        Tensor g = be.binary(org.voxflow.tensor.BinaryOp.ADD, be.fromFloats(values(r, i, step, sizes[i]), sizes[i]), zero);
                        sync.gradReady("p" + i, g);
                        g.close();
                        heavy.close();
                        Tensor junk = be.full(Float.NaN, sizes[i]); // likely the freed block of g
                        junk.close();
                    }
                    sync.finishStep();
                    for (int i = 0; i < sizes.length; i++) {
                        Tensor got = params.get("p" + i).grad();
                        if (i == 6 || i == 9) {
                            if (got != null) return "step " + step + ": p" + i + " has a gradient on no rank but got one";
                            continue;
                        }
                        float[] want = new float[sizes[i]];
                        for (int q = 0; q < w; q++) {
                            if (i == 10 && q != 0) continue;
                            float[] v = values(q, i, step, sizes[i]);
                            for (int j = 0; j < v.length; j++) want[j] += v[j];
                        }
                        for (int j = 0; j < want.length; j++) want[j] /= w;
                        if (got == null) return "step " + step + ": p" + i + " has no gradient";
                        float[] g = got.toFloats();
                        for (int j = 0; j < want.length; j++)
                            if (g[j] != want[j]) return "step " + step + ": p" + i + "[" + j + "] = " + g[j] + ", want " + want[j];
                    }
                    for (Tensor p : params.values()) p.setGrad(null);
                }
            }
            NcclGradientSync.Stats st = sync.stats();
            if (st.bucketsDuringBackward() == 0) return "no bucket was launched before finishStep";
            return null;
        } finally {
            sync.setOverlap(was);
        }
    }

    private static float[] values(int rank, int param, int step, int n) {
        float[] v = new float[n];
        for (int j = 0; j < n; j++) v[j] = (float) ((j % 1000) + 1000 * rank + 100 * param + 10 * step) + 0.25f * (j % 4);
        return v;
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
