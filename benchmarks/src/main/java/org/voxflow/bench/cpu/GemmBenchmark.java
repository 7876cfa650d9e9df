package org.voxflow.bench.cpu;

import static org.bytedeco.openblas.global.openblas.CblasNoTrans;
import static org.bytedeco.openblas.global.openblas.CblasRowMajor;
import static org.bytedeco.openblas.global.openblas.CblasTrans;
import static org.bytedeco.openblas.global.openblas.cblas_sgemm;

import java.util.concurrent.TimeUnit;
import org.bytedeco.javacpp.FloatPointer;
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
import org.voxflow.tensor.Backend;
import org.voxflow.tensor.Backends;
import org.voxflow.tensor.Rng;
import org.voxflow.tensor.Tensor;

/**
 * Single-precision GEMM C[M,N] = A[M,K] @ B: the engine's {@code Backends.cpu().matmul} against OpenBLAS
 * {@code cblas_sgemm} called directly on preallocated JavaCPP FloatPointers (the ceiling the engine can reach).
 *
 * <p>Shapes are "MxKxN" with an optional layout suffix:
 * <ul>
 *   <li>(none): A [M,K] @ B [K,N];</li>
 *   <li>{@code -NT}: linear layer, x [M,K] @ W^T with W [N,K] stored row-major ({@code transB = true});</li>
 *   <li>{@code -NTview}: the same product, W passed as the transposed view {@code W.transpose(0, 1)} with
 *       {@code transB = false} (the engine must recognise the column-major view and not copy it).</li>
 * </ul>
 * The engine allocates (and zero-fills) a fresh output per call, which is part of its cost; the output is closed at
 * once so off-heap memory stays flat. See {@link CpuBenchReport} for the command line.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class GemmBenchmark {

    @Param({"1024x1024x1024", "4096x1024x4096", "4096x1024x1024", "4096x1024x4096-NT", "4096x1024x4096-NTview"})
    public String shape;

    /** Parsed form of a shape parameter. */
    record Shape(int m, int k, int n, boolean transB, boolean view) {
        static Shape parse(String s) {
            String[] parts = s.split("-", 2);
            String[] d = parts[0].split("x");
            if (d.length != 3) throw new IllegalArgumentException("shape must be MxKxN[-NT|-NTview]: " + s);
            String layout = parts.length > 1 ? parts[1] : "";
            boolean tb = layout.equals("NT") || layout.equals("NTview");
            if (!layout.isEmpty() && !tb) throw new IllegalArgumentException("unknown layout '" + layout + "' in " + s);
            return new Shape(Integer.parseInt(d[0]), Integer.parseInt(d[1]), Integer.parseInt(d[2]), tb, layout.equals("NTview"));
        }

        double flops() { return 2.0 * m * k * n; }
    }

    private Shape sh;
    private final Backend be = Backends.cpu();

    // engine operands
    private Tensor a, b, bOperand;
    private boolean engineTransB;

    // direct OpenBLAS operands
    private FloatPointer pa, pb, pc;

    @Setup(Level.Trial)
    public void setup() {
        sh = Shape.parse(shape);
        Rng rng = new Rng(42);
        float[] va = uniform(rng, sh.m * sh.k);
        float[] vb = uniform(rng, sh.k * sh.n); // [K,N], or W [N,K] for the transposed-B layouts
        a = be.fromFloats(va, sh.m, sh.k);
        b = sh.transB ? be.fromFloats(vb, sh.n, sh.k) : be.fromFloats(vb, sh.k, sh.n);
        bOperand = sh.view ? b.transpose(0, 1) : b;
        engineTransB = sh.transB && !sh.view;

        pa = new FloatPointer((long) sh.m * sh.k).put(va);
        pb = new FloatPointer((long) sh.k * sh.n).put(vb);
        pc = new FloatPointer((long) sh.m * sh.n);

        // sanity: both paths agree on the first row (a wrong layout would fail here, not just run fast)
        openblas();
        try (Tensor c = be.matmul(a, bOperand, false, engineTransB)) {
            float[] row = c.slice(0, 0, 1).toFloats();
            float[] ref = new float[sh.n];
            pc.get(ref);
            for (int j = 0; j < sh.n; j++)
                if (Math.abs(row[j] - ref[j]) > 1e-3f * (1 + Math.abs(ref[j])))
                    throw new IllegalStateException(shape + ": engine and OpenBLAS differ at column " + j + ": " + row[j] + " vs " + ref[j]);
        }
    }

    static float[] uniform(Rng rng, int n) {
        float[] v = rng.uniform(n);
        for (int i = 0; i < n; i++) v[i] = 2f * v[i] - 1f;
        return v;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        a.close();
        b.close();
        pa.deallocate();
        pb.deallocate();
        pc.deallocate();
    }

    /** The engine: a fresh output tensor per call, freed before returning. */
    @Benchmark
    public long voxflow() {
        Tensor c = be.matmul(a, bOperand, false, engineTransB);
        try {
            return c.storage().address();
        } finally {
            c.close();
        }
    }

    /** The baseline: cblas_sgemm on preallocated FloatPointers, output reused. */
    @Benchmark
    public FloatPointer openblas() {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, sh.transB ? CblasTrans : CblasNoTrans, sh.m, sh.n, sh.k, 1f,
                pa, sh.k, pb, sh.transB ? sh.k : sh.n, 0f, pc, sh.n);
        return pc;
    }
}
