package org.voxflow.bench.dist;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.voxflow.cuda.CudaBackend;
import org.voxflow.cuda.CudaRuntime;
import org.voxflow.cuda.dist.NcclGradientSync;
import org.voxflow.distill.ClipConfig;
import org.voxflow.distill.FlowMatchingObjective;
import org.voxflow.distill.GradientBuckets;
import org.voxflow.distill.InMemoryBatchSource;
import org.voxflow.distill.LrSchedule;
import org.voxflow.distill.Sample;
import org.voxflow.distill.Trainer;
import org.voxflow.distill.TrainerConfig;
import org.voxflow.distill.TrainingLog;
import org.voxflow.io.Json;
import org.voxflow.models.trellis.SparseStructureFlowConfig;
import org.voxflow.models.trellis.SparseStructureFlowModel;
import org.voxflow.models.trellis.TrellisInit;
import org.voxflow.tensor.Backend;
import org.voxflow.tensor.Backends;
import org.voxflow.tensor.DType;
import org.voxflow.tensor.MemoryScope;
import org.voxflow.tensor.Rng;
import org.voxflow.tensor.Tensor;

/**
 * Data-parallel scaling (weak scaling: a fixed batch per GPU): full trainer steps of a TRELLIS stage-1 flow model
 * (flow matching, AdamW, clipping, EMA on rank 0) on W GPUs, one process each, started by the launcher:
 *
 * <pre>
 *   voxflow-launch --nproc-per-node 1 org.voxflow.bench.dist.DataParallelScaling --out OUT/scaling_w1.json
 *   voxflow-launch --nproc-per-node 2 org.voxflow.bench.dist.DataParallelScaling --out OUT/scaling_w2.json --baseline OUT/scaling_w1.json
 * </pre>
 *
 * Any world size (1, 2, 4, 8, ...: {@code --nproc-per-node N}). Each gradient path runs in turn on the same model and
 * communicator ({@code --modes}): {@code plain}, the all-reduce after backward, and {@code overlap}, the all-reduce in
 * buckets launched on the communication stream while backward runs. Rank 0 times each step (the trainer's
 * step_time_s: a step ends on every rank at the same collective, so rank 0's time is the group's); after
 * {@code --warmup} steps the step count is fitted to {@code --seconds}. Reports, per path, the step time and
 * samples/s, the time in the gradient all-reduce (after backward: host time in it; overlapped: the GPU time the
 * compute stream still waited for it after backward, i.e. the communication not hidden, and how many buckets left
 * during backward), the overlapped path's speed-up over the plain one, the bus bandwidth of a bare all-reduce, and
 * with {@code --baseline} (a one-GPU result) the scaling efficiency = samples/s on W GPUs / (W x samples/s on one),
 * per path. {@code --rounds R} repeats the sequence of paths R times (alternating, so drift hits both alike) and
 * pools the steps.
 *
 * <p>Options (defaults): --res 16 --channels 512 --blocks 8 --heads 8 --cond-tokens 128 --cond-channels 512
 * --batch-per-gpu 4 --warmup 2 --seconds 20 --tf32 true --allreduce-mb 256 --modes plain,overlap --rounds 1.
 */
public final class DataParallelScaling {
    private DataParallelScaling() {}

    public static void main(String[] args) throws Exception {
        Map<String, String> opt = defaults();
        Path out = null, baseline = null;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (!a.startsWith("--") || i + 1 >= args.length) throw new IllegalArgumentException("expected --name value, got " + a);
            String k = a.substring(2), v = args[++i];
            switch (k) {
                case "out" -> out = Path.of(v);
                case "baseline" -> baseline = Path.of(v);
                default -> {
                    if (!opt.containsKey(k)) throw new IllegalArgumentException("unknown option --" + k + " (known: " + opt.keySet() + ", out, baseline)");
                    opt.put(k, v);
                }
            }
        }
        if (!CudaRuntime.available()) {
            System.out.println("no CUDA backend: " + CudaRuntime.reason());
            System.exit(2);
        }
        CudaBackend cuda = (CudaBackend) Backends.gpuOrNull();
        cuda.setTf32(Boolean.parseBoolean(opt.get("tf32")));
        try (NcclGradientSync sync = NcclGradientSync.create(cuda)) {
            bench(cuda, cuda.describe(), sync, opt, out, baseline);
        }
    }

    static Map<String, String> defaults() {
        Map<String, String> opt = new LinkedHashMap<>();
        String[] kv = {"res", "16", "channels", "512", "blocks", "8", "heads", "8", "cond-tokens", "128", "cond-channels", "512",
                "batch-per-gpu", "4", "warmup", "2", "seconds", "20", "tf32", "true", "allreduce-mb", "256",
                "modes", "plain,overlap", "rounds", "1"};
        for (int i = 0; i < kv.length; i += 2) opt.put(kv[i], kv[i + 1]);
        return opt;
    }

    /** The benchmark on any backend NCCL can reach (the GPU; host memory against stub libraries in a rehearsal). */
    static void bench(Backend gpu, String device, NcclGradientSync sync, Map<String, String> opt, Path out, Path baseline) throws Exception {
        int res = Integer.parseInt(opt.get("res")), ch = Integer.parseInt(opt.get("channels"));
        int blocks = Integer.parseInt(opt.get("blocks")), heads = Integer.parseInt(opt.get("heads"));
        int condTokens = Integer.parseInt(opt.get("cond-tokens")), condCh = Integer.parseInt(opt.get("cond-channels"));
        int b = Integer.parseInt(opt.get("batch-per-gpu")), warmup = Integer.parseInt(opt.get("warmup"));
        double seconds = Double.parseDouble(opt.get("seconds"));

        int w = sync.worldSize();
        boolean root = sync.isRoot();
        say(sync, sync + " on " + device);

        // bare all-reduce bandwidth: one f32 "gradient" of --allreduce-mb MiB through the same bucketed path
        Map<String, Object> bw = new LinkedHashMap<>();
        int elems = Integer.parseInt(opt.get("allreduce-mb")) << 18;
        try (MemoryScope scope = MemoryScope.open()) {
            Tensor p = gpu.zeros(DType.F32, elems).setRequiresGrad(true);
            Map<String, Tensor> one = Map.of("x", p);
            int reps = 10;
            for (int i = 0; i < 3 + reps; i++) {
                if (i == 3) sync.resetStats();
                try (MemoryScope it = MemoryScope.open()) {
                    p.setGrad(gpu.full(1f, elems));
                    sync.allReduce(one);
                    p.setGrad(null);
                }
            }
            NcclGradientSync.Stats s = sync.stats();
            double algbw = s.bytes() / s.commSeconds() / 1e9;
            bw.put("bytes", 4L * elems);
            bw.put("ms", s.commSeconds() / reps * 1e3);
            bw.put("algbw_GBps", algbw);
            bw.put("busbw_GBps", algbw * 2.0 * (w - 1) / w);
            say(sync, String.format(Locale.ROOT, "all-reduce %d MiB f32 (ncclAvg, %d rank(s)): %.3f ms, algbw %.1f GB/s, busbw %.1f GB/s",
                    elems >> 18, w, s.commSeconds() / reps * 1e3, algbw, algbw * 2.0 * (w - 1) / w));
            p.setGrad(null);
        }

        String cfgJson = "{\"resolution\":" + res + ",\"in_channels\":8,\"model_channels\":" + ch + ",\"cond_channels\":" + condCh
                + ",\"out_channels\":8,\"num_blocks\":" + blocks + ",\"num_heads\":" + heads + ",\"mlp_ratio\":4,\"patch_size\":1,"
                + "\"qk_rms_norm\":true,\"share_mod\":false}";
        @SuppressWarnings("unchecked")
        SparseStructureFlowModel model = new SparseStructureFlowModel(gpu, SparseStructureFlowConfig.fromArgs((Map<String, Object>) Json.parse(cfgJson), "bench"));
        TrellisInit.apply(model, 1);
        long nParams = model.parameterCount();
        say(sync, String.format(Locale.ROOT, "model: stage-1 flow, %d^3 tokens, %d channels, %d blocks, %.1f M parameters; %d samples/GPU, global batch %d",
                res, ch, blocks, nParams / 1e6, b, b * w));
        List<Sample> data = data(Math.max(64, 4 * b * w), res, condTokens, condCh);
        Path work = Files.createTempDirectory("voxflow-scaling");

        List<String> modes = List.of(opt.get("modes").split(","));
        for (String m : modes)
            if (!m.equals("plain") && !m.equals("overlap")) throw new IllegalArgumentException("--modes: plain and/or overlap, got " + m);
        int rounds = Integer.parseInt(opt.get("rounds"));
        Map<String, List<Double>> stepTimes = new LinkedHashMap<>();
        Map<String, NcclGradientSync.Stats> stats = new LinkedHashMap<>();
        Map<String, Integer> statSteps = new LinkedHashMap<>();
        for (int round = 0; round < rounds; round++) {
            for (String mode : modes) {
                sync.setOverlap(mode.equals("overlap"));
                // warm-up run, then a run sized to the time budget (the same number of steps on every rank)
                List<Double> warm = run(gpu, sync, model, data, b, warmup, work.resolve(mode + round + "_warmup"));
                double perStep = warm.isEmpty() ? 1 : warm.get(warm.size() - 1);
                double planned = root ? Math.max(3, Math.min(200, Math.floor(seconds / perStep))) : 0;
                int steps = (int) sync.allReduceSum(new double[] {planned})[0];
                sync.resetStats();
                List<Double> times = run(gpu, sync, model, data, b, steps + 1, work.resolve(mode + round + "_timed"));
                stats.merge(mode, sync.stats(), DataParallelScaling::add);
                statSteps.merge(mode, steps + 1, Integer::sum);
                // the first step allocates the optimizer state (and, overlapped, plans the buckets)
                if (root) stepTimes.computeIfAbsent(mode, k -> new ArrayList<>()).addAll(times.subList(1, times.size()));
            }
        }
        sync.setOverlap(true);

        if (root) {
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("world_size", w);
            r.put("device", device);
            r.put("nccl", sync.ncclVersion());
            r.put("model", Map.of("resolution", res, "channels", ch, "blocks", blocks, "heads", heads, "parameters", nParams,
                    "cond_tokens", condTokens, "cond_channels", condCh));
            r.put("tf32", Boolean.parseBoolean(opt.get("tf32")));
            r.put("batch_per_gpu", b);
            r.put("global_batch", b * w);
            r.put("bucket_mb", Long.getLong("voxflow.dist.bucketMb", GradientBuckets.DEFAULT_BUCKET_BYTES >> 20));
            r.put("rounds", rounds);
            Map<String, Object> base = null;
            if (baseline != null && Files.exists(baseline)) {
                @SuppressWarnings("unchecked")
                Map<String, Object> m = (Map<String, Object>) Json.parse(Files.readString(baseline));
                base = m;
            }
            Map<String, Double> sps = new LinkedHashMap<>();
            for (String mode : modes) {
                double[] t = stepTimes.get(mode).stream().mapToDouble(Double::doubleValue).sorted().toArray();
                double mean = Arrays.stream(t).average().orElse(Double.NaN), median = t[t.length / 2];
                NcclGradientSync.Stats st = stats.get(mode);
                int n = statSteps.get(mode);
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("steps_timed", t.length);
                m.put("step_ms_mean", mean * 1e3);
                m.put("step_ms_median", median * 1e3);
                m.put("samples_per_s", b * w / mean);
                String detail;
                if (mode.equals("plain")) {
                    m.put("grad_allreduce_ms_per_step", st.commSeconds() / Math.max(1, st.calls()) * 1e3);
                    m.put("grad_fence_ms_per_step", st.fenceSeconds() / Math.max(1, st.calls()) * 1e3);
                    m.put("grad_bytes_per_step", st.bytes() / Math.max(1, st.calls()));
                    detail = String.format(Locale.ROOT, "all-reduce after backward %.2f ms/step (%.1f MB)",
                            st.commSeconds() / Math.max(1, st.calls()) * 1e3, st.bytes() / Math.max(1, st.calls()) / 1e6);
                } else {
                    long k = Math.max(1, st.overlappedSteps());
                    m.put("exposed_allreduce_ms_per_step", st.exposedSeconds() / k * 1e3);
                    m.put("finish_host_ms_per_step", st.finishSeconds() / k * 1e3);
                    m.put("buckets_per_step", (double) (st.bucketsDuringBackward() + st.bucketsAtFinish()) / k);
                    m.put("buckets_during_backward_per_step", (double) st.bucketsDuringBackward() / k);
                    m.put("grad_bytes_per_step", st.overlappedBytes() / k);
                    detail = String.format(Locale.ROOT, "all-reduce not hidden by backward %.2f ms/step; %.1f of %.1f buckets left during backward",
                            st.exposedSeconds() / k * 1e3, (double) st.bucketsDuringBackward() / k,
                            (double) (st.bucketsDuringBackward() + st.bucketsAtFinish()) / k);
                    if (st.overlappedSteps() != n) throw new IllegalStateException(n + " steps, " + st.overlappedSteps() + " of them overlapped");
                }
                sps.put(mode, b * w / mean);
                say(sync, String.format(Locale.ROOT, "%d GPU(s), %-7s: step %.1f ms mean (%.1f median) over %d steps, %.2f samples/s; %s",
                        w, mode, mean * 1e3, median * 1e3, t.length, b * w / mean, detail));
                if (base != null) {
                    double sps1 = baselineSps(base, mode);
                    if (sps1 > 0) {
                        m.put("baseline_samples_per_s", sps1);
                        m.put("speedup", b * w / mean / sps1);
                        m.put("efficiency", b * w / mean / (w * sps1));
                        say(sync, String.format(Locale.ROOT, "scaling (%s): %.2f samples/s on 1 GPU -> %.2f on %d: speedup %.2fx, efficiency %.1f%%",
                                mode, sps1, b * w / mean, w, b * w / mean / sps1, 100 * b * w / mean / (w * sps1)));
                    }
                }
                r.put(mode, m);
            }
            String best = sps.containsKey("overlap") ? "overlap" : modes.get(0);
            r.put("samples_per_s", sps.get(best)); // what a baseline file is read for
            if (sps.containsKey("overlap") && sps.containsKey("plain")) {
                r.put("overlap_speedup", sps.get("overlap") / sps.get("plain"));
                say(sync, String.format(Locale.ROOT, "overlapped vs after backward: %.3fx samples/s", sps.get("overlap") / sps.get("plain")));
            }
            if (base != null) r.put("efficiency", baselineSps(base, best) > 0 ? sps.get(best) / (w * baselineSps(base, best)) : null);
            r.put("allreduce", bw);
            String json = Json.write(r);
            System.out.println("result: " + json);
            if (out != null) {
                if (out.toAbsolutePath().getParent() != null) Files.createDirectories(out.toAbsolutePath().getParent());
                Files.writeString(out, json + "\n");
            }
        }
    }

    /** A baseline's samples/s for one path (a result of this version), or its only figure (an older result). */
    @SuppressWarnings("unchecked")
    private static double baselineSps(Map<String, Object> base, String mode) {
        if (base.get(mode) instanceof Map<?, ?> m && m.get("samples_per_s") instanceof Number n) return n.doubleValue();
        return base.get("samples_per_s") instanceof Number n ? n.doubleValue() : -1;
    }

    private static NcclGradientSync.Stats add(NcclGradientSync.Stats a, NcclGradientSync.Stats b) {
        return new NcclGradientSync.Stats(a.calls() + b.calls(), a.bytes() + b.bytes(), a.commSeconds() + b.commSeconds(),
                a.fenceSeconds() + b.fenceSeconds(), a.overlappedSteps() + b.overlappedSteps(),
                a.bucketsDuringBackward() + b.bucketsDuringBackward(), a.bucketsAtFinish() + b.bucketsAtFinish(),
                a.overlappedBytes() + b.overlappedBytes(), a.finishSeconds() + b.finishSeconds(), a.exposedSeconds() + b.exposedSeconds());
    }

    private static void say(NcclGradientSync sync, String s) {
        if (sync.isRoot()) System.out.println("[scaling] " + s);
    }

    /** Trains `steps` steps with a fresh optimizer; returns rank 0's step times in seconds (empty elsewhere). */
    private static List<Double> run(Backend gpu, NcclGradientSync sync, SparseStructureFlowModel model, List<Sample> data,
                                    int b, int steps, Path out) throws Exception {
        TrainerConfig cfg = TrainerConfig.builder(out, steps).lr(LrSchedule.constant(1e-5)).clip(ClipConfig.fixed(1.0))
                .emaRates(0.9999).checkpointInterval(0).keepCheckpoints(1).seed(3).progress(false).stopOnSigterm(false).build();
        Trainer t = new Trainer(cfg, model, new FlowMatchingObjective(model, c -> c, 0.1, 1.0, 1.0, 1e-5),
                new InMemoryBatchSource(gpu, data, b, sync.rank(), sync.worldSize()), sync);
        t.train();
        List<Double> times = new ArrayList<>();
        if (sync.isRoot())
            for (Map<String, Object> line : TrainingLog.read(t.logFile()))
                if (line.get("step_time_s") instanceof Number n) times.add(n.doubleValue());
        return times;
    }

    private static List<Sample> data(int n, int res, int condTokens, int condCh) {
        Rng rng = new Rng(42);
        List<Sample> out = new ArrayList<>();
        for (int i = 0; i < n; i++)
            out.add(new Sample.Dense(rng.normal(8 * res * res * res), new int[] {8, res, res, res},
                    rng.normal(condTokens * condCh), new int[] {condTokens, condCh}));
        return out;
    }
}
