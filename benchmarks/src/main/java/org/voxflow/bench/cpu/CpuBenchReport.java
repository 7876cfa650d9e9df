package org.voxflow.bench.cpu;

// Build, then run from the repository root (the benchmarks module writes its runtime class path at package time):
//
//   cd /work/main && JAVA_HOME=/usr/lib/jvm/temurin-25-jdk-amd64 mvn -q -B -o install -DskipTests
//   /usr/lib/jvm/temurin-25-jdk-amd64/bin/java --enable-native-access=ALL-UNNAMED \
//       -cp benchmarks/target/voxflow-benchmarks-0.1.0-SNAPSHOT.jar:$(cat benchmarks/target/classpath.txt) \
//       org.voxflow.bench.cpu.CpuBenchReport -wi 2 -i 3 -r 1 -f 1
//
// Options (all optional): -wi N warm-up iterations, -i N measurement iterations, -r S seconds per iteration,
// -f N forks, -only gemm|attention, -p SHAPE[,SHAPE...] restrict the shapes (e.g. -p 1024x1024x1024),
// -rounds N repeat every engine/baseline pair N times and keep each side's best round (default 1),
// -stat mean|min score by JMH's mean over the measurement iterations (default) or by the fastest iteration
// (a steadier capability estimate when other processes share the cores).
// Without -wi/-i/-r/-f the annotations on the benchmark classes apply. Plain JMH works too:
//   java --enable-native-access=ALL-UNNAMED -cp <same> org.openjdk.jmh.Main 'org.voxflow.bench.cpu.*'
//
// Each shape is its own JMH run holding both methods, so the engine and its baseline are measured back to back
// (a few seconds apart): on a shared 2-core machine this keeps their ratio honest when other load comes and goes.

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.ToDoubleFunction;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.results.BenchmarkResult;
import org.openjdk.jmh.results.IterationResult;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;

/**
 * Runs {@link GemmBenchmark} and {@link AttentionBenchmark} through JMH and prints GFLOP/s tables: the engine
 * against direct OpenBLAS (GEMM) and against the composed sgemm + Java softmax baseline (attention).
 */
public final class CpuBenchReport {
    private CpuBenchReport() {}

    /** One table: a benchmark class, its engine and baseline methods, and how to count a shape's FLOPs. */
    private record Suite(Class<?> cls, String engine, String baseline, String baselineName, ToDoubleFunction<String> flops) {}

    public static void main(String[] args) throws RunnerException {
        Integer wi = null, it = null, r = null, f = null;
        String only = null, shapes = null;
        int rounds = 1;
        boolean minStat = false;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (i + 1 >= args.length) throw new IllegalArgumentException("option " + a + " needs a value");
            String val = args[++i];
            switch (a) {
                case "-wi" -> wi = Integer.parseInt(val);
                case "-i" -> it = Integer.parseInt(val);
                case "-r" -> r = Integer.parseInt(val);
                case "-f" -> f = Integer.parseInt(val);
                case "-only" -> only = val;
                case "-p" -> shapes = val;
                case "-rounds" -> rounds = Integer.parseInt(val);
                case "-stat" -> {
                    if (!val.equals("mean") && !val.equals("min")) throw new IllegalArgumentException("-stat takes mean or min, not " + val);
                    minStat = val.equals("min");
                }
                default -> throw new IllegalArgumentException("unknown option " + a
                        + " (known: -wi N, -i N, -r SECONDS, -f N, -only gemm|attention, -p SHAPES, -rounds N, -stat mean|min)");
            }
        }
        List<Suite> suites = new ArrayList<>();
        if (only == null || only.equals("gemm"))
            suites.add(new Suite(GemmBenchmark.class, "voxflow", "openblas", "OpenBLAS", s -> GemmBenchmark.Shape.parse(s).flops()));
        if (only == null || only.equals("attention"))
            suites.add(new Suite(AttentionBenchmark.class, "voxflow", "composed", "sgemm+softmax", s -> AttentionBenchmark.Case.parse(s).flops()));
        if (suites.isEmpty()) throw new IllegalArgumentException("-only takes gemm or attention, not " + only);

        String loadBefore = loadAverage();
        // suite -> shape -> method -> best ms/op over rounds
        Map<Suite, Map<String, Map<String, Double>>> best = new LinkedHashMap<>();
        for (Suite suite : suites) {
            List<String> list = new ArrayList<>();
            for (String s : shapes != null ? shapes.split(",") : declaredShapes(suite.cls)) {
                try {
                    suite.flops.applyAsDouble(s);
                    list.add(s);
                } catch (RuntimeException e) {
                    if (shapes == null) throw e; // a -p list may hold shapes of the other suite
                }
            }
            Map<String, Map<String, Double>> table = new LinkedHashMap<>();
            best.put(suite, table);
            for (int round = 0; round < rounds; round++)
                for (String shape : list) {
                    ChainedOptionsBuilder ob = new OptionsBuilder()
                            .include("^" + suite.cls.getName().replace(".", "\\.") + "\\.(" + suite.engine + "|" + suite.baseline + ")$")
                            .param("shape", shape)
                            .jvmArgsAppend("--enable-native-access=ALL-UNNAMED");
                    if (wi != null) ob.warmupIterations(wi);
                    if (it != null) ob.measurementIterations(it);
                    if (r != null) ob.warmupTime(TimeValue.seconds(r)).measurementTime(TimeValue.seconds(r));
                    if (f != null) ob.forks(f);
                    for (RunResult res : new Runner(ob.build()).run()) {
                        String bench = res.getParams().getBenchmark();
                        String method = bench.substring(bench.lastIndexOf('.') + 1);
                        Result<?> pr = res.getPrimaryResult();
                        double ms = toMillis(pr.getScore(), pr.getScoreUnit());
                        if (minStat)
                            for (BenchmarkResult br : res.getBenchmarkResults())
                                for (IterationResult ir : br.getIterationResults())
                                    ms = Math.min(ms, toMillis(ir.getPrimaryResult().getScore(), ir.getPrimaryResult().getScoreUnit()));
                        table.computeIfAbsent(shape, x -> new LinkedHashMap<>()).merge(method, ms, Math::min);
                    }
                }
        }

        System.out.println();
        System.out.println("CPU benchmarks: " + Runtime.getRuntime().availableProcessors() + " cores, "
                + System.getProperty("java.vm.name") + " " + System.getProperty("java.version")
                + "; load average before " + loadBefore + ", after " + loadAverage()
                + (minStat ? "; fastest measurement iteration" : "; JMH mean") + (rounds > 1 ? ", best of " + rounds + " rounds" : ""));
        for (var e : best.entrySet()) {
            Suite s = e.getKey();
            System.out.println();
            System.out.println(s.cls == GemmBenchmark.class
                    ? "GEMM C[M,N] = A[M,K] B (MxKxN; -NT: B given as W[N,K] with transB; -NTview: W.transpose(0,1) view)"
                    : "Attention, " + AttentionBenchmark.HEADS + " heads x " + AttentionBenchmark.HEAD_DIM
                            + " (B:LqxLk; GFLOP/s = 4*B*Lq*Lk*H*D / time)");
            System.out.println(header(s.cls == GemmBenchmark.class ? "shape" : "case", "voxflow", s.baselineName));
            for (var row : e.getValue().entrySet()) {
                double flops = s.flops.applyAsDouble(row.getKey());
                System.out.println(row(row.getKey(), flops, row.getValue().get(s.engine), row.getValue().get(s.baseline)));
            }
        }
    }

    private static String[] declaredShapes(Class<?> cls) {
        try {
            return cls.getField("shape").getAnnotation(Param.class).value();
        } catch (NoSuchFieldException e) {
            throw new IllegalStateException(cls + " has no @Param shape", e);
        }
    }

    private static String loadAverage() {
        try {
            String[] f = Files.readString(Path.of("/proc/loadavg")).trim().split(" ");
            return f[0] + " " + f[1] + " " + f[2];
        } catch (IOException | RuntimeException e) {
            return "n/a";
        }
    }

    private static double toMillis(double v, String unit) {
        return switch (unit) {
            case "ms/op" -> v;
            case "s/op" -> v * 1e3;
            case "us/op" -> v * 1e-3;
            case "ns/op" -> v * 1e-6;
            default -> throw new IllegalStateException("unexpected score unit " + unit + " (use AverageTime mode)");
        };
    }

    private static String header(String first, String a, String b) {
        String h = String.format(Locale.ROOT, "%-24s %10s %12s %14s %16s %8s", first, a + " ms", a + " GFLOP/s",
                b + " ms", b + " GFLOP/s", "ratio");
        return h + "\n" + "-".repeat(h.length());
    }

    private static String row(String shape, double flops, Double engine, Double base) {
        String e = engine == null ? String.format(Locale.ROOT, "%10s %12s", "-", "-")
                : String.format(Locale.ROOT, "%10.2f %12.1f", engine, gflops(flops, engine));
        String b = base == null ? String.format(Locale.ROOT, "%14s %16s", "-", "-")
                : String.format(Locale.ROOT, "%14.2f %16.1f", base, gflops(flops, base));
        String ratio = engine == null || base == null ? "-" : String.format(Locale.ROOT, "%7.1f%%", 100 * base / engine);
        return String.format(Locale.ROOT, "%-24s %s %s %8s", shape, e, b, ratio);
    }

    private static double gflops(double flops, double ms) { return flops / (ms * 1e-3) / 1e9; }
}
