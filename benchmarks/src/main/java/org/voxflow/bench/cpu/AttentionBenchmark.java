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
 * Exact softmax attention, {@code Backends.cpu().attention} with dense batches passed as varlen offsets, against a
 * composed baseline of the same math: per (instance, head) a direct {@code cblas_sgemm} for scale * Q K^T into a
 * preallocated score matrix, a plain Java row softmax (with log-sum-exp, as the engine returns it), and a second
 * {@code cblas_sgemm} for P V written straight into the [N, H, D] output.
 *
 * <p>Cases are "B:LqxLk" (B instances, each Lq queries and Lk keys), 16 heads x 64: {@code 1:4096x4096} is
 * TRELLIS-style self-attention, {@code 1:4096x1374} cross-attention to 1374 conditioning tokens, {@code 4:1024x1024}
 * a 4-instance varlen batch. FLOPs counted: 4 * Lq * Lk * H * D per instance.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED"})
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 3)
public class AttentionBenchmark {
    public static final int HEADS = 16, HEAD_DIM = 64;

    @Param({"1:4096x4096", "1:4096x1374", "4:1024x1024"})
    public String shape;

    /** Parsed form of a case parameter. */
    record Case(int batch, int lq, int lk) {
        static Case parse(String s) {
            String[] bp = s.split(":");
            String[] d = bp[bp.length - 1].split("x");
            if (bp.length > 2 || d.length != 2) throw new IllegalArgumentException("case must be [B:]LqxLk: " + s);
            return new Case(bp.length == 2 ? Integer.parseInt(bp[0]) : 1, Integer.parseInt(d[0]), Integer.parseInt(d[1]));
        }

        double flops() { return 4.0 * batch * lq * lk * HEADS * HEAD_DIM; }
    }

    private final Backend be = Backends.cpu();
    private Case cs;
    private float scale;
    private Tensor q, k, v;
    private int[] cuQ, cuK;

    // composed baseline
    private FloatPointer pq, pk, pv, po, ps;
    private float[] row, lse;

    @Setup(Level.Trial)
    public void setup() {
        cs = Case.parse(shape);
        int nq = cs.batch * cs.lq, nk = cs.batch * cs.lk, hd = HEADS * HEAD_DIM;
        Rng rng = new Rng(7);
        float[] vq = rng.normal(nq * hd), vk = rng.normal(nk * hd), vv = rng.normal(nk * hd);
        q = be.fromFloats(vq, nq, HEADS, HEAD_DIM);
        k = be.fromFloats(vk, nk, HEADS, HEAD_DIM);
        v = be.fromFloats(vv, nk, HEADS, HEAD_DIM);
        cuQ = new int[cs.batch + 1];
        cuK = new int[cs.batch + 1];
        for (int b = 1; b <= cs.batch; b++) { cuQ[b] = b * cs.lq; cuK[b] = b * cs.lk; }
        scale = (float) (1.0 / Math.sqrt(HEAD_DIM));

        pq = new FloatPointer((long) nq * hd).put(vq);
        pk = new FloatPointer((long) nk * hd).put(vk);
        pv = new FloatPointer((long) nk * hd).put(vv);
        po = new FloatPointer((long) nq * hd);
        ps = new FloatPointer((long) cs.lq * cs.lk);
        row = new float[cs.lq * cs.lk];
        lse = new float[nq * HEADS];

        // sanity: the baseline computes what the engine computes
        composed();
        Tensor[] r = be.attention(q, k, v, cuQ, cuK, scale);
        try {
            float[] out = r[0].toFloats();
            float[] ref = new float[out.length];
            po.position(0).get(ref);
            float[] l = r[1].toFloats();
            for (int i = 0; i < out.length; i += 97)
                if (Math.abs(out[i] - ref[i]) > 1e-3f) throw new IllegalStateException(shape + ": out differs at " + i + ": " + out[i] + " vs " + ref[i]);
            for (int i = 0; i < l.length; i += 31)
                if (Math.abs(l[i] - lse[i]) > 1e-3f) throw new IllegalStateException(shape + ": lse differs at " + i);
        } finally {
            r[0].close();
            r[1].close();
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        q.close();
        k.close();
        v.close();
        for (FloatPointer p : new FloatPointer[] {pq, pk, pv, po, ps}) p.deallocate();
    }

    @Benchmark
    public long voxflow() {
        Tensor[] r = be.attention(q, k, v, cuQ, cuK, scale);
        long a = r[0].storage().address();
        r[0].close();
        r[1].close();
        return a;
    }

    @Benchmark
    public FloatPointer composed() {
        int ld = HEADS * HEAD_DIM, lq = cs.lq, lk = cs.lk;
        for (int b = 0; b < cs.batch; b++) {
            long q0 = (long) cuQ[b] * ld, k0 = (long) cuK[b] * ld;
            for (int h = 0; h < HEADS; h++) {
                long ho = (long) h * HEAD_DIM;
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, lq, lk, HEAD_DIM, scale,
                        pq.position(q0 + ho), ld, pk.position(k0 + ho), ld, 0f, ps.position(0), lk);
                ps.get(row, 0, lq * lk);
                for (int i = 0; i < lq; i++) {
                    int base = i * lk;
                    float max = Float.NEGATIVE_INFINITY;
                    for (int j = 0; j < lk; j++) max = Math.max(max, row[base + j]);
                    float sum = 0f;
                    for (int j = 0; j < lk; j++) {
                        float e = (float) Math.exp(row[base + j] - max);
                        row[base + j] = e;
                        sum += e;
                    }
                    float inv = 1f / sum;
                    for (int j = 0; j < lk; j++) row[base + j] *= inv;
                    lse[(cuQ[b] + i) * HEADS + h] = max + (float) Math.log(sum);
                }
                ps.put(row, 0, lq * lk);
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, lq, HEAD_DIM, lk, 1f, ps, lk,
                        pv.position(k0 + ho), ld, 0f, po.position(q0 + ho), ld);
            }
        }
        return po;
    }
}
