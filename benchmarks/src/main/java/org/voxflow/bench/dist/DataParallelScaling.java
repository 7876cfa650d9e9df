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
 * Rank 0 times each step (the trainer's step_time_s: a step ends on every rank at the same collective, so rank 0's
 * time is the group's); after {@code --warmup} steps the step count is fitted to {@code --seconds}. Reports samples/s,
 * the time in the gradient all-reduce, the bus bandwidth of a bare 256 MiB all-reduce, and with {@code --baseline}
 * the scaling efficiency = samples/s on W GPUs / (W x samples/s on one).
 *
 * <p>Options (defaults): --res 16 --channels 512 --blocks 8 --heads 8 --cond-tokens 128 --cond-channels 512
 * --batch-per-gpu 4 --warmup 2 --seconds 20 --tf32 true --allreduce-mb 256.
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
                "batch-per-gpu", "4", "warmup", "2", "seconds", "20", "tf32", "true", "allreduce-mb", "256"};
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

        // warm-up run, then a run sized to the time budget (the same number of steps on every rank)
        List<Double> warm = run(gpu, sync, model, data, b, warmup, work.resolve("warmup"));
        double perStep = warm.isEmpty() ? 1 : warm.get(warm.size() - 1);
        double planned = root ? Math.max(3, Math.min(200, Math.floor(seconds / perStep))) : 0;
        int steps = (int) sync.allReduceSum(new double[] {planned})[0];
        sync.resetStats();
        List<Double> times = run(gpu, sync, model, data, b, steps + 1, work.resolve("timed"));
        NcclGradientSync.Stats st = sync.stats();

        if (root) {
            List<Double> timed = times.subList(1, times.size()); // the first step allocates the optimizer state
            double[] t = timed.stream().mapToDouble(Double::doubleValue).sorted().toArray();
            double mean = Arrays.stream(t).average().orElse(Double.NaN), median = t[t.length / 2];
            double sps = b * w / mean;
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("world_size", w);
            r.put("device", device);
            r.put("nccl", sync.ncclVersion());
            r.put("model", Map.of("resolution", res, "channels", ch, "blocks", blocks, "heads", heads, "parameters", nParams,
                    "cond_tokens", condTokens, "cond_channels", condCh));
            r.put("tf32", Boolean.parseBoolean(opt.get("tf32")));
            r.put("batch_per_gpu", b);
            r.put("global_batch", b * w);
            r.put("steps_timed", t.length);
            r.put("step_ms_mean", mean * 1e3);
            r.put("step_ms_median", median * 1e3);
            r.put("samples_per_s", sps);
            r.put("grad_allreduce_ms_per_step", st.commSeconds() / Math.max(1, st.calls()) * 1e3);
            r.put("grad_fence_ms_per_step", st.fenceSeconds() / Math.max(1, st.calls()) * 1e3);
            r.put("grad_bytes_per_step", st.bytes() / Math.max(1, st.calls()));
            r.put("allreduce", bw);
            say(sync, String.format(Locale.ROOT, "%d GPU(s): step %.1f ms mean (%.1f median) over %d steps, %.2f samples/s; gradient all-reduce %.2f ms/step (%.1f MB)",
                    w, mean * 1e3, median * 1e3, t.length, sps, st.commSeconds() / Math.max(1, st.calls()) * 1e3,
                    st.bytes() / Math.max(1, st.calls()) / 1e6));
            if (baseline != null && Files.exists(baseline)) {
                @SuppressWarnings("unchecked")
                Map<String, Object> base = (Map<String, Object>) Json.parse(Files.readString(baseline));
                double sps1 = ((Number) base.get("samples_per_s")).doubleValue();
                double eff = sps / (w * sps1);
                r.put("baseline_samples_per_s", sps1);
                r.put("speedup", sps / sps1);
                r.put("efficiency", eff);
                say(sync, String.format(Locale.ROOT, "scaling: %.2f samples/s on 1 GPU -> %.2f on %d: speedup %.2fx, efficiency %.1f%%",
                        sps1, sps, w, sps / sps1, 100 * eff));
            }
            String json = Json.write(r);
            System.out.println("result: " + json);
            if (out != null) {
                if (out.toAbsolutePath().getParent() != null) Files.createDirectories(out.toAbsolutePath().getParent());
                Files.writeString(out, json + "\n");
            }
        }
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
