package org.voxflow.bench.gpu;

// Run on the GPU host from the repository root (see benchmarks/run-gpu-bench.sh, which also runs the PyTorch side):
//
//   bin/voxflow-run org.voxflow.bench.gpu.GpuBenchReport --torch torch.json --json bench.json
//
// Options: --torch FILE (PyTorch numbers from benchmarks/python/torch_baselines.py, measured in the same device call),
// --json FILE (write every figure), --table FILE (the table alone), --only gemm,attention,stage1,stage2,sampling, -p NAME=V1,V2 (restrict a JMH @Param
// in the suites that have it; -p SUITE:NAME=V1,V2 in that suite only), -wi N, -i N, -r SECONDS, -f N (forks; default 0: every suite in this JVM, so the
// TRELLIS-large models are built once; -f 1 gives each parameter set its own JVM). Plain JMH works too:
//   bin/voxflow-bench -f 1 'org.voxflow.bench.gpu.Stage1ForwardBenchmark'

import java.io.IOException;
import java.lang.reflect.Field;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;
import org.voxflow.io.Json;
import org.voxflow.tensor.Backend;

/**
 * Runs the GPU benchmarks through JMH and prints one table with voxflow's figures next to PyTorch's (read from the
 * JSON that benchmarks/python/torch_baselines.py wrote in the same device call), then the two-stage sampling
 * latencies with the students' speedups next to the MDT-dist paper's (9.0x for 1 step, 6.5x for 2 steps).
 */
public final class GpuBenchReport {
    private GpuBenchReport() {}

    static final double PAPER_1STEP = 9.0, PAPER_2STEP = 6.5;

    private record Suite(String name, Class<?> cls) {}

    private static final List<Suite> SUITES = List.of(
            new Suite("gemm", GpuGemmBenchmark.class),
            new Suite("attention", GpuAttentionBenchmark.class),
            new Suite("stage1", Stage1ForwardBenchmark.class),
            new Suite("stage2", Stage2TrunkBenchmark.class),
            new Suite("sampling", TwoStageSamplingBenchmark.class));

    /** suite -> "param=value,param=value" -> ms per op. */
    private static final Map<String, Map<String, Double>> results = new LinkedHashMap<>();

    public static void main(String[] args) throws Exception {
        String torchFile = null, jsonFile = null, tableFile = null, only = null;
        Integer wi = null, it = null, r = null;
        int forks = 0;
        Map<String, String[]> params = new LinkedHashMap<>();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (i + 1 >= args.length) throw new IllegalArgumentException("option " + a + " needs a value");
            String v = args[++i];
            switch (a) {
                case "--torch" -> torchFile = v;
                case "--json" -> jsonFile = v;
                case "--table" -> tableFile = v;
                case "--only" -> only = v;
                case "-wi" -> wi = Integer.parseInt(v);
                case "-i" -> it = Integer.parseInt(v);
                case "-r" -> r = Integer.parseInt(v);
                case "-f" -> forks = Integer.parseInt(v);
                case "-p" -> {
                    int eq = v.indexOf('=');
                    if (eq < 1) throw new IllegalArgumentException("-p takes NAME=V1,V2, not " + v);
                    params.put(v.substring(0, eq), v.substring(eq + 1).split(","));
                }
                default -> throw new IllegalArgumentException("unknown option " + a
                        + " (known: --torch FILE, --json FILE, --table FILE, --only LIST, -p NAME=VALUES, -wi N, -i N, -r SECONDS, -f N)");
            }
        }
        Map<String, Object> torch = Map.of();
        if (torchFile != null) {
            Path p = Path.of(torchFile);
            if (Files.isRegularFile(p)) torch = Json.asMap(Json.parse(Files.readString(p)), torchFile);
            else System.out.println("[report] no PyTorch results at " + torchFile + ": the torch columns stay empty");
        }
        Backend be = GpuBench.backend();
        String device = GpuBench.device(be);
        System.out.println("[report] voxflow on " + device);

        for (Suite s : SUITES) {
            if (only != null && !List.of(only.split(",")).contains(s.name)) continue;
            ChainedOptionsBuilder ob = new OptionsBuilder()
                    .include("^" + s.cls.getName().replace(".", "\\.") + "\\.")
                    .forks(forks)
                    .jvmArgsAppend("--enable-native-access=ALL-UNNAMED");
            for (String prop : new String[] {"voxflow.bench.backend", "voxflow.bench.small", "voxflow.reference.dir"})
                if (System.getProperty(prop) != null) ob.jvmArgsAppend("-D" + prop + "=" + System.getProperty(prop));
            if (wi != null) ob.warmupIterations(wi);
            if (it != null) ob.measurementIterations(it);
            if (r != null && s.cls != TwoStageSamplingBenchmark.class)
                ob.warmupTime(TimeValue.seconds(r)).measurementTime(TimeValue.seconds(r));
            for (var e : params.entrySet()) {
                String k = e.getKey(); // "name" for every suite with that @Param, "suite:name" for one suite
                int colon = k.indexOf(':');
                if (colon >= 0 && !k.substring(0, colon).equals(s.name)) continue;
                String name = k.substring(colon + 1);
                if (hasParam(s.cls, name)) ob.param(name, e.getValue());
            }
            long t0 = System.nanoTime();
            try {
                for (RunResult res : new Runner(ob.build()).run()) {
                    Result<?> pr = res.getPrimaryResult();
                    List<String> kv = new ArrayList<>();
                    for (String k : res.getParams().getParamsKeys()) kv.add(k + "=" + res.getParams().getParam(k));
                    results.computeIfAbsent(s.name, x -> new LinkedHashMap<>()).put(key(kv.toArray(String[]::new)),
                            toMillis(pr.getScore(), pr.getScoreUnit()));
                }
            } catch (Exception e) {
                System.out.println("[report] suite " + s.name + " failed: " + e);
            }
            System.out.printf(Locale.ROOT, "[report] suite %s done in %.0f s%n", s.name, (System.nanoTime() - t0) / 1e9);
            if (jsonFile != null) writeJson(jsonFile, device, torch);
        }
        String table = table(device, torch);
        System.out.println();
        System.out.println(table);
        if (tableFile != null) Files.writeString(Path.of(tableFile), table);
        if (jsonFile != null) writeJson(jsonFile, device, torch);
    }

    private static boolean hasParam(Class<?> cls, String name) {
        for (Field f : cls.getDeclaredFields()) if (f.getName().equals(name) && f.isAnnotationPresent(Param.class)) return true;
        return false;
    }

    private static double toMillis(double score, String unit) {
        return switch (unit) {
            case "ms/op" -> score;
            case "us/op" -> score / 1e3;
            case "ns/op" -> score / 1e6;
            case "s/op" -> score * 1e3;
            default -> throw new IllegalArgumentException("unexpected JMH unit " + unit);
        };
    }

    /** "a=1,b=2" with the names sorted, whatever order they come in. */
    static String key(String... kv) {
        String[] c = kv.clone();
        java.util.Arrays.sort(c);
        return String.join(",", c);
    }

    private static double ours(String suite, String... kv) {
        Double v = results.getOrDefault(suite, Map.of()).get(key(kv));
        return v == null ? Double.NaN : v;
    }

    @SuppressWarnings("unchecked")
    private static double torchValue(Map<String, Object> torch, String... path) {
        Object o = torch;
        for (String p : path) {
            if (!(o instanceof Map)) return Double.NaN;
            o = ((Map<String, Object>) o).get(p);
        }
        return o instanceof Number n ? n.doubleValue() : Double.NaN;
    }

    private static final String ROW = "| %-44s | %-30s | %10s | %11s | %13s | %9s |%n";

    private static String row(String workload, String precision, double vox, double eager, double compiled, boolean higherIsBetter) {
        double ratio = higherIsBetter ? vox / eager : eager / vox;
        return String.format(Locale.ROOT, ROW, workload, precision, GpuBench.fmt(vox), GpuBench.fmt(eager), GpuBench.fmt(compiled),
                Double.isNaN(ratio) ? "-" : String.format(Locale.ROOT, "%.2fx", ratio));
    }

    static String table(String device, Map<String, Object> torch) {
        StringBuilder sb = new StringBuilder();
        Object torchDevice = torch.get("device"), torchVersion = torch.get("torch");
        sb.append("voxflow GPU benchmarks, voxflow and PyTorch in the same device call\n");
        sb.append("voxflow device: ").append(device).append('\n');
        sb.append("PyTorch device: ").append(torchDevice == null ? "(no PyTorch results)" : torchDevice + ", torch " + torchVersion).append('\n');
        sb.append("'vs torch' = voxflow speed / torch eager speed of the same precision (>1: voxflow faster)\n\n");
        sb.append(String.format(Locale.ROOT, ROW, "workload", "precision", "voxflow", "torch eager", "torch compile", "vs torch"));
        sb.append(String.format(Locale.ROOT, ROW, "-".repeat(44), "-".repeat(30), "-".repeat(10), "-".repeat(11), "-".repeat(13), "-".repeat(9)));

        // GEMM: TFLOP/s
        for (String shape : new String[] {"4096x1024x4096", "4096x4096x4096", "8192x8192x8192"}) {
            double f = GpuGemmBenchmark.flops(shape);
            String w = "GEMM " + shape + " x W^T, TFLOP/s";
            String[][] precs = {{"f32", "f32 (TF32 off)"}, {"tf32", "tf32"}, {"bf16", "bf16 in, f32 out (torch bf16)"},
                    {"autocast", "f32 in, bf16 autocast"}};
            for (String[] p : precs) {
                double ms = ours("gemm", "shape=" + shape, "precision=" + p[0]);
                sb.append(row(w, p[1], f / ms / 1e9, torchValue(torch, "gemm", shape, p[0], "tflops"), Double.NaN, true));
                w = "";
            }
        }
        // attention: TFLOP/s
        for (String kind : new String[] {"self4096", "cross1374"}) {
            double f = GpuAttentionBenchmark.flops(kind);
            String w = "attention " + (kind.startsWith("self") ? "self 2x4096x4096" : "cross 2x4096x1374") + " 16x64, TFLOP/s";
            String[][] precs = {{"f32", "f32"}, {"bf16", "bf16 (torch SDPA flash)"}, {"autocast", "f32 in, bf16 autocast"}};
            for (String[] p : precs) {
                double ms = ours("attention", "kind=" + kind, "precision=" + p[0]);
                sb.append(row(w, p[1], f / ms / 1e9, torchValue(torch, "attention", kind, p[0], "tflops"), Double.NaN, true));
                w = "";
            }
        }
        // model workloads: ms
        String[][] modelPrecs = {{"f32", "f32 (TF32 off)", "eager-f32", "compile-f32"}, {"tf32", "tf32", "eager-tf32", ""},
                {"autocast", "bf16 autocast, f32 weights", "eager-autocast", ""},
                {"autocast-graph", "bf16 autocast, CUDA graph", "eager-autocast", ""},
                {"", "bf16 weights (torch only)", "eager-bf16", "compile-bf16"}};
        for (String b : new String[] {"1", "2"}) {
            String w = "stage-1 forward, TRELLIS-large, batch " + b + ", ms";
            for (String[] p : modelPrecs) {
                double vox = p[0].isEmpty() ? Double.NaN : ours("stage1", "batch=" + b, "precision=" + p[0]);
                double eager = torchValue(torch, "stage1", b, p[2]);
                double comp = p[3].isEmpty() ? Double.NaN : torchValue(torch, "stage1", b, p[3]);
                sb.append(row(w, p[1], vox, eager, comp, false));
                w = "";
            }
        }
        String tokens = String.format(Locale.ROOT, "%,d", GpuBench.SMALL ? 0 : Stage2TrunkBenchmark.tokens());
        String w2 = "stage-2 trunk, 24 blocks, " + tokens + " tokens, ms";
        for (String[] p : modelPrecs) {
            double vox = p[0].isEmpty() ? Double.NaN : ours("stage2", "precision=" + p[0]);
            double eager = torchValue(torch, "stage2_trunk", p[2]);
            double comp = p[3].isEmpty() ? Double.NaN : torchValue(torch, "stage2_trunk", p[3]);
            sb.append(row(w2, p[1], vox, eager, comp, false));
            w2 = "";
        }

        // sampling
        sb.append("\nTwo-stage sampling, TRELLIS-large configs, batch 1, voxflow (ms per sample; stage 2 on the fixed ")
                .append(String.format(Locale.ROOT, "%,d", GpuBench.shell().rows())).append("-voxel structure)\n");
        sb.append("includes: both flow transformers and the Euler/CFG sampler; excludes: image encoder, sparse-structure decoder,\n");
        sb.append("SLat decoder (the paper's 9.0x / 6.5x are end-to-end, decoding included)\n");
        String srow = "| %-26s | %-40s | %10s | %9s | %9s |%n";
        sb.append(String.format(Locale.ROOT, srow, "precision", "sampler", "ms", "speedup", "paper"));
        sb.append(String.format(Locale.ROOT, srow, "-".repeat(26), "-".repeat(40), "-".repeat(10), "-".repeat(9), "-".repeat(9)));
        for (String prec : new String[] {"autocast", "autocast-graph", "tf32"}) {
            double teacher = ours("sampling", "sampler=teacher", "precision=" + prec);
            double s1 = ours("sampling", "sampler=student1", "precision=" + prec);
            double s2 = ours("sampling", "sampler=student2", "precision=" + prec);
            String label = switch (prec) {
                case "autocast" -> "bf16 autocast";
                case "autocast-graph" -> "bf16 autocast, CUDA graphs";
                default -> "tf32";
            };
            sb.append(String.format(Locale.ROOT, srow, label, "teacher 25 steps x 2 stages, CFG 5 / 3", GpuBench.fmt(teacher), "1.00x", "1x"));
            sb.append(String.format(Locale.ROOT, srow, "", "student 1 step x 2 stages", GpuBench.fmt(s1), speed(teacher, s1),
                    String.format(Locale.ROOT, "%.1fx", PAPER_1STEP)));
            sb.append(String.format(Locale.ROOT, srow, "", "student 2 steps x 2 stages", GpuBench.fmt(s2), speed(teacher, s2),
                    String.format(Locale.ROOT, "%.1fx", PAPER_2STEP)));
        }
        Object notes = torch.get("notes");
        if (notes instanceof List<?> l && !l.isEmpty()) {
            sb.append("\nPyTorch notes:\n");
            for (Object n : l) sb.append("  ").append(n).append('\n');
        }
        return sb.toString();
    }

    private static String speed(double teacher, double student) {
        double s = teacher / student;
        return Double.isNaN(s) ? "-" : String.format(Locale.ROOT, "%.1fx", s);
    }

    private static void writeJson(String file, String device, Map<String, Object> torch) throws IOException {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("device", device);
        out.put("voxflow_ms", results);
        if (!torch.isEmpty()) out.put("torch", torch);
        Path p = Path.of(file);
        Path tmp = p.resolveSibling(p.getFileName() + ".tmp");
        Files.writeString(tmp, Json.writePretty(sanitize(out)));
        Files.move(tmp, p, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    }

    /** JSON has no NaN: such figures become null. */
    @SuppressWarnings("unchecked")
    private static Object sanitize(Object o) {
        if (o instanceof Double d && (d.isNaN() || d.isInfinite())) return null;
        if (o instanceof Map<?, ?> m) {
            Map<String, Object> c = new LinkedHashMap<>();
            ((Map<String, Object>) m).forEach((k, v) -> c.put(k, sanitize(v)));
            return c;
        }
        if (o instanceof List<?> l) {
            List<Object> c = new ArrayList<>();
            for (Object v : l) c.add(sanitize(v));
            return c;
        }
        return o;
    }
}
