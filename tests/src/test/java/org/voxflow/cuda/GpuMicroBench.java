package org.voxflow.cuda;

import java.util.Random;
import org.voxflow.tensor.BinaryOp;
import org.voxflow.tensor.DType;
import org.voxflow.tensor.MemoryScope;
import org.voxflow.tensor.ReduceOp;
import org.voxflow.tensor.Tensor;

/**
 * A quick GPU micro-benchmark (not JMH: one process, seconds): GEMM (f32, TF32, bf16), the attention kernels at
 * TRELLIS sizes, elementwise/row kernels and transfers. Each case is warmed up, then timed over several runs
 * with the stream synchronized around them. Run: bin/voxflow-run org.voxflow.cuda.GpuMicroBench
 */
public final class GpuMicroBench {
    private final CudaBackend gpu;
    private final Random rnd = new Random(7);

    private GpuMicroBench(CudaBackend gpu) { this.gpu = gpu; }

    public static void main(String[] args) {
        if (!CudaRuntime.available()) {
            System.out.println("no CUDA backend: " + CudaRuntime.reason());
            System.exit(2);
        }
        CudaBackend gpu = (CudaBackend) new CudaBackendProvider().create();
        System.out.println("device: " + gpu.describe());
        GpuMicroBench b = new GpuMicroBench(gpu);
        b.gemms();
        b.attention();
        b.memoryBound();
        long[] m = gpu.memoryStats();
        System.out.printf("memory: live %d MiB, peak %d MiB, pool reserved %d MiB%n", m[0] >> 20, m[1] >> 20, m[2] >> 20);
    }

    private Tensor randn(DType type, int... shape) {
        int n = 1;
        for (int d : shape) n *= d;
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) rnd.nextGaussian();
        Tensor t = gpu.fromFloats(v, shape);
        if (type == DType.F32) return t;
        Tensor c = gpu.cast(t, type);
        t.close();
        return c;
    }

    /** Mean milliseconds per run of body (its results freed each run). */
    private double time(int warmup, int runs, Runnable body) {
        for (int i = 0; i < warmup; i++) try (MemoryScope s = MemoryScope.open()) { body.run(); }
        gpu.synchronize();
        long t0 = System.nanoTime();
        for (int i = 0; i < runs; i++) try (MemoryScope s = MemoryScope.open()) { body.run(); }
        gpu.synchronize();
        return (System.nanoTime() - t0) / 1e6 / runs;
    }

    private void gemms() {
        int[][] sizes = {{4096, 4096, 4096}, {8192, 8192, 8192}, {16384, 1024, 4096}};
        for (int[] s : sizes) {
            int m = s[0], k = s[1], n = s[2];
            for (DType type : new DType[] {DType.F32, DType.BF16, DType.F16}) {
                for (boolean tf32 : type == DType.F32 ? new boolean[] {false, true} : new boolean[] {false}) {
                    try (MemoryScope scope = MemoryScope.open()) {
                        Tensor a = randn(type, m, k), b = randn(type, k, n);
                        gpu.setTf32(tf32);
                        double ms = time(2, 5, () -> gpu.matmul(a, b, false, false));
                        System.out.printf("matmul %-4s%s %5d x %5d x %5d: %8.3f ms  %7.1f TFLOP/s%n", type, tf32 ? "+TF32" : "     ",
                                m, k, n, ms, 2.0 * m * n * k / ms / 1e9);
                    }
                }
            }
        }
        gpu.setTf32(false);
    }

    private void attention() {
        // stage-1 dense self-attention (16^3 tokens), and cross-attention to 1374 image tokens, batch 2, 16 x 64
        int[][] cases = {{4096, 4096}, {4096, 1374}, {1000, 1000}};
        int heads = 16, d = 64, batch = 2;
        for (int[] c : cases) {
            int lq = c[0], lk = c[1];
            int[] cuQ = {0, lq, 2 * lq}, cuK = {0, lk, 2 * lk};
            try (MemoryScope scope = MemoryScope.open()) {
                Tensor q = randn(DType.F32, batch * lq, heads, d), k = randn(DType.F32, batch * lk, heads, d);
                Tensor v = randn(DType.F32, batch * lk, heads, d), g = randn(DType.F32, batch * lq, heads, d);
                float scale = 0.125f;
                Tensor[] fw = gpu.attention(q, k, v, cuQ, cuK, scale);
                double flops = 4.0 * batch * heads * (double) lq * lk * d;
                double f = time(2, 5, () -> gpu.attention(q, k, v, cuQ, cuK, scale));
                double bw = time(1, 3, () -> gpu.attentionBackward(g, q, k, v, fw[0], fw[1], cuQ, cuK, scale));
                double jv = time(1, 3, () -> gpu.attentionJvp(q, k, v, fw[0], fw[1], g, k, v, cuQ, cuK, scale));
                Tensor qb = gpu.cast(q, DType.BF16), kb = gpu.cast(k, DType.BF16), vb = gpu.cast(v, DType.BF16);
                double fb = time(2, 5, () -> gpu.attention(qb, kb, vb, cuQ, cuK, scale));
                Tensor[] fwb = gpu.attention(qb, kb, vb, cuQ, cuK, scale);
                double bb = time(1, 3, () -> gpu.attentionBackward(g, qb, kb, vb, fwb[0], fwb[1], cuQ, cuK, scale));
                Tensor qh = gpu.cast(q, DType.F16), kh = gpu.cast(k, DType.F16), vh = gpu.cast(v, DType.F16);
                double fh = time(2, 5, () -> gpu.attention(qh, kh, vh, cuQ, cuK, scale));
                System.out.printf("attention flash %d x %d x%d, %d x %d: bf16 fwd %.3f ms (%.1f TFLOP/s), bwd %.3f ms (%.1f); f16 fwd %.3f ms (%.1f TFLOP/s)%n",
                        lq, lk, batch, heads, d, fb, flops / fb / 1e9, bb, 2.5 * flops / bb / 1e9, fh, flops / fh / 1e9);
                System.out.printf("attention f32 %d x %d tokens x%d, %d heads x %d: fwd %.3f ms (%.1f TFLOP/s), bwd %.3f ms (%.1f), jvp %.3f ms (%.1f)%n",
                        lq, lk, batch, heads, d, f, flops / f / 1e9, bw, 2.5 * flops / bw / 1e9, jv, 2 * flops / jv / 1e9);
            }
        }
    }

    private void memoryBound() {
        int n = 1 << 26;
        try (MemoryScope scope = MemoryScope.open()) {
            Tensor a = randn(DType.F32, n), b = randn(DType.F32, n);
            double add = time(3, 10, () -> gpu.binary(BinaryOp.ADD, a, b));
            System.out.printf("binary add 64M f32: %.3f ms, %.0f GB/s%n", add, 12.0 * n / add / 1e6);
            Tensor bc = randn(DType.F32, 1024);
            Tensor a2 = a.reshape(n / 1024, 1024);
            double bcast = time(3, 10, () -> gpu.binary(BinaryOp.MUL, a2, bc));
            System.out.printf("broadcast mul [64K,1024]x[1024]: %.3f ms, %.0f GB/s%n", bcast, 8.0 * n / bcast / 1e6);
            double gelu = time(3, 10, () -> gpu.unary(org.voxflow.tensor.UnaryOp.GELU_TANH, a));
            System.out.printf("gelu 64M: %.3f ms, %.0f GB/s%n", gelu, 8.0 * n / gelu / 1e6);
            double sum = time(3, 10, () -> gpu.reduce(ReduceOp.SUM, a2, new int[] {1}, false));
            System.out.printf("row sum [64K,1024]: %.3f ms, %.0f GB/s%n", sum, 4.0 * n / sum / 1e6);
            double colsum = time(3, 10, () -> gpu.reduce(ReduceOp.SUM, a2, new int[] {0}, false));
            System.out.printf("column sum [64K,1024] over axis 0: %.3f ms, %.0f GB/s%n", colsum, 4.0 * n / colsum / 1e6);
            double sm = time(3, 10, () -> gpu.softmax(a2));
            System.out.printf("softmax [64K,1024]: %.3f ms, %.0f GB/s%n", sm, 8.0 * n / sm / 1e6);
            double ln = time(3, 10, () -> gpu.normalize(a2, 1e-6f));
            System.out.printf("normalize [64K,1024]: %.3f ms, %.0f GB/s%n", ln, 8.0 * n / ln / 1e6);
            double tr = time(3, 10, () -> gpu.copy(a2.transpose(0, 1)));
            System.out.printf("transpose copy [64K,1024]: %.3f ms, %.0f GB/s%n", tr, 8.0 * n / tr / 1e6);
            float[] host = new float[n];
            double h2d = time(1, 3, () -> gpu.fromFloats(host, n));
            double d2h = time(1, 3, () -> gpu.toFloats(a));
            System.out.printf("host->device 256 MB (float[]): %.1f ms, %.1f GB/s; device->host %.1f ms, %.1f GB/s%n",
                    h2d, 4.0 * n / h2d / 1e6, d2h, 4.0 * n / d2h / 1e6);
        }
    }
}
