package org.voxflow.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Test;
import org.voxflow.autograd.Grad;
import org.voxflow.io.Json;
import org.voxflow.models.trellis.SLatFlowConfig;
import org.voxflow.models.trellis.SLatFlowModel;
import org.voxflow.nn.Module;
import org.voxflow.sparse.SparseFixtures;
import org.voxflow.sparse.SparseStructure;
import org.voxflow.sparse.SparseTensor;
import org.voxflow.tensor.DType;
import org.voxflow.tensor.MemoryScope;
import org.voxflow.tensor.Rng;
import org.voxflow.tensor.SparsePooling;
import org.voxflow.tensor.Tensor;

/**
 * The sparse structure maps built on the GPU (vf_sparse.cu: hash-table neighbour map, sort-based downsample) equal
 * the CPU reference exactly: same entries, same row order, on every structure of SparseFixtures (single voxel,
 * boundary voxels, empty instances, ~20k voxels at 64^3) plus a large hash-probing stress case; SparseStructure and
 * SparseTensor on the device; and a small two-level SLat model forward on the GPU against the CPU.
 */
class CudaSparseParityTest extends GpuParityBase {

    static List<SparseFixtures.Case> allCases() {
        List<SparseFixtures.Case> cs = new ArrayList<>(SparseFixtures.cases(11));
        Random r = new Random(12);
        cs.add(new SparseFixtures.Case("repeated coordinates",
                new int[] {0, 1, 1, 1, 0, 1, 1, 2, 0, 1, 1, 1, 0, 1, 1, 2, 0, 1, 1, 1, 1, 1, 1, 1}, 2));
        cs.add(new SparseFixtures.Case("far coordinates", new int[] {0, 32767, 32767, 32767, 0, 32766, 32767, 32767,
                0, 0, 0, 32767, 1, 0, 32767, 0, 1, 16000, 16001, 16002, 1, 16001, 16001, 16002}, 2));
        cs.add(new SparseFixtures.Case("random 128^3, 300k voxels, three instances", SparseFixtures.random(r, 128, 150000, 100000, 50000), 3));
        cs.add(new SparseFixtures.Case("many instances", SparseFixtures.random(r, 6, 20, 0, 30, 1, 7, 50, 0, 9, 40, 33, 2), 11));
        return cs;
    }

    static Tensor coords(org.voxflow.tensor.Backend be, int[] c) { return be.fromInts(c, c.length / 4, 4); }

    @Test
    void neighbourMapsEqualTheCpuExactly() {
        for (SparseFixtures.Case c : allCases()) {
            int n = c.rows();
            Tensor expected = cpu.sparseNeighbours(coords(cpu, c.coords()));
            Tensor actual = gpu.sparseNeighbours(coords(gpu, c.coords()));
            assertEquals(DType.I32, actual.dtype(), c.name());
            assertArrayEquals(new int[] {n, 27}, actual.shape(), c.name());
            Assertions.assertSame(gpu, actual.backend(), c.name());
            int[] e = expected.toInts();
            assertArrayEquals(e, actual.toInts(), c + ": neighbour map");
            if (n > 1000) assertTrue(SparseFixtures.present(e) > n, c + ": the case has neighbours to find");
        }
    }

    @Test
    void neighbourMapsFromAnyInputLayout() {
        int[] c = SparseFixtures.random(new Random(3), 16, 900, 500);
        int n = c.length / 4;
        int[] expected = cpu.sparseNeighbours(coords(cpu, c)).toInts();
        assertArrayEquals(expected, gpu.sparseNeighbours(coords(cpu, c)).toInts(), "host coordinates, uploaded");
        assertArrayEquals(expected, gpu.sparseNeighbours(gpu.cast(coords(gpu, c), DType.I64)).toInts(), "i64 coordinates");
        int[] wide = new int[n * 5];
        for (int i = 0; i < n; i++) System.arraycopy(c, i * 4, wide, i * 5 + 1, 4);
        assertArrayEquals(expected, gpu.sparseNeighbours(gpu.fromInts(wide, n, 5).slice(1, 1, 5)).toInts(), "strided view");
        assertArrayEquals(new int[] {0, 27}, gpu.sparseNeighbours(gpu.fromInts(new int[0], 0, 4)).shape(), "no voxels");
        int[] one = gpu.sparseNeighbours(gpu.fromInts(new int[] {0, 0, 0, 0}, 1, 4)).toInts();
        for (int k = 0; k < 27; k++) assertEquals(k == 13 ? 0 : -1, one[k], "single voxel offset " + k);
    }

    static void assertPooling(String what, SparsePooling e, SparsePooling a) {
        assertEquals(DType.I32, a.coords().dtype(), what);
        assertArrayEquals(e.coords().shape(), a.coords().shape(), what + ": coords shape");
        assertArrayEquals(e.toCoarse().shape(), a.toCoarse().shape(), what + ": toCoarse shape");
        assertArrayEquals(e.counts().shape(), a.counts().shape(), what + ": counts shape");
        assertArrayEquals(e.coords().toInts(), a.coords().toInts(), what + ": coarse coords and their order");
        assertArrayEquals(e.toCoarse().toInts(), a.toCoarse().toInts(), what + ": fine -> coarse rows");
        assertArrayEquals(e.counts().toInts(), a.counts().toInts(), what + ": counts");
        assertArrayEquals(e.offsets(), a.offsets(), what + ": per-instance offsets");
    }

    @Test
    void downsampleMapsEqualTheCpuExactly() {
        for (SparseFixtures.Case c : allCases())
            for (int f : new int[] {2, 3, 4}) {
                String what = c + " factor " + f;
                SparsePooling e = cpu.sparseDownsample(coords(cpu, c.coords()), c.batch(), f);
                SparsePooling a = gpu.sparseDownsample(coords(gpu, c.coords()), c.batch(), f);
                assertPooling(what, e, a);
                // chained: the next level from the device's own coarse coordinates
                if (e.rows() > 0) {
                    assertPooling(what + ", level 2", cpu.sparseDownsample(e.coords(), c.batch(), 2),
                            gpu.sparseDownsample(a.coords(), c.batch(), 2));
                    assertArrayEquals(cpu.sparseNeighbours(e.coords()).toInts(), gpu.sparseNeighbours(a.coords()).toInts(),
                            what + ": coarse neighbour map");
                }
            }
        SparsePooling none = gpu.sparseDownsample(gpu.fromInts(new int[0], 0, 4), 2, 2);
        assertArrayEquals(new int[] {0, 4}, none.coords().shape());
        assertArrayEquals(new int[] {0, 0, 0}, none.offsets());
        // batch indices beyond `batch` are reported (through the one read-back), as the CPU reports them
        Tensor twoInstances = gpu.fromInts(new int[] {0, 1, 1, 1, 1, 2, 2, 2}, 2, 4);
        Assertions.assertThrows(IllegalArgumentException.class, () -> gpu.sparseDownsample(twoInstances, 1, 2));
        Assertions.assertThrows(IllegalArgumentException.class, () -> cpu.sparseDownsample(twoInstances, 1, 2));
    }

    /** SparseStructure's device path: maps built and kept on the GPU, host coordinates downloaded only when asked. */
    @Test
    void structureAndPoolingOnTheDevice() {
        int[] c = SparseFixtures.random(new Random(5), 24, 2000, 0, 1500, 40);
        SparseStructure sc = new SparseStructure(c, 4), sg = new SparseStructure(c, 4);
        Tensor nb = sg.neighbourIndex(gpu);
        Assertions.assertSame(gpu, nb.backend());
        Assertions.assertSame(nb, sg.neighbourIndex(gpu), "cached");
        assertArrayEquals(sc.neighbourIndex(cpu).toInts(), nb.toInts());
        for (int k : new int[] {0, 4, 13, 22, 26})
            assertArrayEquals(sc.neighbourIndex(cpu, k).toInts(), sg.neighbourIndex(gpu, k).toInts(), "column " + k);
        SparseStructure lc = sc, lg = sg;
        for (int level = 0; level < 3; level++) {
            SparseStructure dc = lc.downsample2(cpu), dg = lg.downsample2(gpu);
            String what = "level " + level;
            assertEquals(dc.rows(), dg.rows(), what);
            assertArrayEquals(dc.layout().offsets(), dg.layout().offsets(), what + ": layout");
            Assertions.assertSame(gpu, dg.coordsTensor(gpu).backend(), what + ": coarse coordinates stay on the device");
            assertArrayEquals(dc.toCoarseIndex(cpu).toInts(), dg.toCoarseIndex(gpu).toInts(), what + ": toCoarse");
            assertArrayEquals(dc.neighbourIndex(cpu).toInts(), dg.neighbourIndex(gpu).toInts(), what + ": coarse neighbours");
            assertArrayEquals(dc.poolCounts(cpu).toInts(), dg.poolCounts(gpu).toInts(), what + ": counts");
            float[] se = dc.poolScale(cpu).toFloats(), sa = dg.poolScale(gpu).toFloats();
            for (int i = 0; i < se.length; i++)
                assertEquals(Float.floatToIntBits(se[i]), Float.floatToIntBits(sa[i]), what + ": pool scale bits at " + i);
            assertArrayEquals(dc.coords(), dg.coords(), what + ": host coordinates downloaded from the device");
            assertArrayEquals(dc.xyz(), dg.xyz(), what + ": xyz");
            // the device structure answers CPU requests too (copied across once)
            assertArrayEquals(dc.toCoarseIndex(cpu).toInts(), dg.toCoarseIndex(cpu).toInts(), what + ": toCoarse on the CPU");
            assertNotSame(dg.toCoarseIndex(cpu), dg.toCoarseIndex(gpu));
            lc = dc;
            lg = dg;
        }
        // pooling and upsampling of features
        Tensor[] x = randnPair(c.length / 4, 7);
        SparseTensor dc = new SparseTensor(sc, x[0]).downsample(), dg = new SparseTensor(sg, x[1]).downsample();
        Assertions.assertSame(sg.downsample2(gpu), dg.structure());
        Assertions.assertSame(gpu, dg.feats().backend());
        assertClose("pooled feats", dc.feats().toFloats(), dg.feats().toFloats(), 1e-6, 1e-6);
        assertClose("upsampled feats", dc.upsample().feats().toFloats(), dg.upsample().feats().toFloats(), 1e-6, 1e-6);
    }

    static final String SLAT = "{\"resolution\":32,\"in_channels\":8,\"model_channels\":64,\"cond_channels\":32,"
            + "\"out_channels\":8,\"num_blocks\":2,\"num_heads\":4,\"mlp_ratio\":2,\"patch_size\":4,\"num_io_res_blocks\":2,"
            + "\"io_block_channels\":[16,32],\"pe_mode\":\"ape\",\"qk_rms_norm\":true}";

    static void randomize(Module m, long seed) {
        Rng rng = new Rng(seed);
        var be = m.backend();
        for (Tensor p : m.namedParameters().values()) {
            float[] v = rng.normal((int) p.numel());
            float s = (float) (0.5 / Math.sqrt(p.size(-1)));
            for (int i = 0; i < v.length; i++) v[i] *= s;
            try (MemoryScope scope = MemoryScope.open()) {
                be.assign(p, be.fromFloats(v, p.shape()));
            }
        }
    }

    /** SLatFlowModel (two downsample levels, skip connections) on three instances: GPU (f32) against the CPU. */
    @SuppressWarnings("unchecked")
    @Test
    void slatForwardMatchesTheCpu() {
        if (gpu instanceof CudaBackend cb) cb.setTf32(false);
        var cfg = SLatFlowConfig.fromArgs((Map<String, Object>) Json.parse(SLAT), "slat-small");
        SLatFlowModel mc = new SLatFlowModel(cpu, cfg), mg = new SLatFlowModel(gpu, cfg);
        randomize(mc, 21);
        randomize(mg, 21);
        int[] c = SparseFixtures.random(new Random(22), 32, 1500, 300, 2500);
        SparseStructure sc = new SparseStructure(c, 3), sg = new SparseStructure(c, 3);
        int n = c.length / 4;
        Tensor[] x = randnPair(n, 8), cond = randnPair(3, 5, 32);
        Tensor[] t = pair(new float[] {100f, 500f, 900f}, 3);
        try (var off = CudaAutocast.use("off"); var ng = Grad.noGrad()) {
            float[] e = mc.forward(new SparseTensor(sc, x[0]), t[0], cond[0]).feats().toFloats();
            for (int call = 0; call < 2; call++) { // the second call runs on the cached device maps
                float[] a = mg.forward(new SparseTensor(sg, x[1]), t[1], cond[1]).feats().toFloats();
                double scale = 0;
                for (float v : e) scale = Math.max(scale, Math.abs(v));
                assertTrue(scale > 0.1, "output scale " + scale);
                assertClose("SLat forward, call " + call, e, a, 1e-4 * scale, 1e-4);
            }
        }
    }

    /**
     * Stage-2 sampling recorded as one CUDA graph (its voxel structure is fixed for all steps): a guided 4-step loop
     * under bf16 autocast replays to the eager result, on new noise and conditions too. The structure's maps are built
     * (and read back) during the unrecorded warm-up run, so the recorded body never touches the host. Not bit for bit:
     * the downsample's pooling sums with f32 atomics (vf_index.cu), so two eager runs already differ in the order of
     * those additions, and a bf16 rounding that flips carries through the later steps (seen: 1e-3 relative on one
     * element of 5,000+). The bar: relative L2 within 5e-3, every element within 5% of the output's scale.
     */
    @SuppressWarnings("unchecked")
    @Test
    void slatSamplingReplaysFromAGraph() {
        var cfg = SLatFlowConfig.fromArgs((Map<String, Object>) Json.parse(SLAT), "slat-small");
        SLatFlowModel m = new SLatFlowModel(gpu, cfg);
        randomize(m, 31);
        int[] c = SparseFixtures.random(new Random(32), 32, 700, 1200);
        SparseStructure st = new SparseStructure(c, 2);
        int n = c.length / 4;
        org.voxflow.flow.VelocityField f = org.voxflow.flow.VelocityField.sparse(m, st);
        org.voxflow.flow.EulerSampler s = new org.voxflow.flow.EulerSampler(org.voxflow.flow.FlowSchedule.TRELLIS);
        double[] grid = org.voxflow.flow.TimeGrid.trellis(4, 3.0);
        org.voxflow.flow.Guidance g = new org.voxflow.flow.Guidance(3.0, 0.5, 1.0);
        Rng r = new Rng(33);
        Tensor noise = r.randn(gpu, n, 8), cond = r.randn(gpu, 2, 5, 32), neg = gpu.zeros(DType.F32, 2, 5, 32);
        try (var ac = CudaAutocast.use("bf16"); var ng = Grad.noGrad()) {
            float[] eager = s.sampleFinal(f, noise, cond, neg, grid, g).toFloats();
            try (org.voxflow.flow.RecordedSampling rs = org.voxflow.flow.RecordedSampling.record(s, f, noise, cond, neg, grid, g)) {
                assertTrue(rs.recorded());
                assertReplay("replay", eager, rs.sample(noise, cond, neg).toFloats());
                Tensor noise2 = r.randn(gpu, n, 8), cond2 = r.randn(gpu, 2, 5, 32);
                float[] eager2 = s.sampleFinal(f, noise2, cond2, neg, grid, g).toFloats();
                assertReplay("replay on new inputs", eager2, rs.sample(noise2, cond2, neg).toFloats());
            }
        }
    }

    private static void assertReplay(String what, float[] eager, float[] replay) {
        assertEquals(eager.length, replay.length, what + ": length");
        double num = 0, den = 0, scale = 0;
        for (int i = 0; i < eager.length; i++) {
            double d = eager[i] - replay[i];
            num += d * d;
            den += (double) eager[i] * eager[i];
            scale = Math.max(scale, Math.abs(eager[i]));
        }
        double rel = Math.sqrt(num / den);
        assertTrue(rel <= 5e-3, what + ": relative L2 " + rel);
        assertClose(what, eager, replay, 0.05 * scale, 0);
    }

    /** Not a bar: prints device vs host build times of the maps for ~20k voxels at 64^3 (first and cached calls). */
    @Test
    void reportMapBuildTimes() {
        int[] c = SparseFixtures.shell(64, 26, 28.1, 1);
        for (int rep = 0; rep < 3; rep++) {
            long t0 = System.nanoTime();
            SparseStructure s = new SparseStructure(c, 1);
            s.neighbourIndex(gpu);
            SparseStructure d = s.downsample2(gpu);
            d.neighbourIndex(gpu);
            d.poolScale(gpu);
            ((CudaBackend) gpu).synchronize();
            long t1 = System.nanoTime();
            SparseStructure h = new SparseStructure(c, 1);
            h.neighbourIndex(cpu);
            h.downsample2(cpu).neighbourIndex(cpu);
            long t2 = System.nanoTime();
            System.out.printf("sparse maps for %d voxels at 64^3 (-> %d): GPU %.2f ms (incl. upload), CPU %.2f ms%n",
                    s.rows(), d.rows(), (t1 - t0) / 1e6, (t2 - t1) / 1e6);
        }
    }

    /** Mean milliseconds of body over runs (after one warm-up), temporaries freed each run. */
    static double millis(int runs, Runnable body) {
        try (MemoryScope s = MemoryScope.open()) { body.run(); }
        ((CudaBackend) gpu).synchronize();
        long t0 = System.nanoTime();
        for (int i = 0; i < runs; i++) try (MemoryScope s = MemoryScope.open()) { body.run(); }
        ((CudaBackend) gpu).synchronize();
        return (System.nanoTime() - t0) / 1e6 / runs;
    }

    /**
     * Not a bar: the gather-GEMM costs of SparseConv3d at TRELLIS-large's full-resolution sizes (~20k voxels at 64^3),
     * f32 and bf16 autocast: the gather alone (with its effective write bandwidth), its bf16 cast, and whole convs
     * (128 -> 128 channels, one gather; 2048 -> 128, offset by offset).
     */
    @Test
    void reportConvGatherCosts() {
        SparseStructure s = new SparseStructure(SparseFixtures.shell(64, 26, 28.1, 1), 1);
        int n = s.rows();
        Tensor nb = s.neighbourIndex(gpu);
        for (int ch : new int[] {128, 2048}) {
            Tensor x = MemoryScope.outside(() -> gpu.fromFloats(randn(n * ch), n, ch));
            if ((long) n * 27 * ch <= 1L << 28) {
                double g = millis(5, () -> gpu.indexSelect(x, 0, nb));
                Tensor gathered = MemoryScope.outside(() -> gpu.indexSelect(x, 0, nb));
                double c = millis(5, () -> gpu.cast(gathered, DType.BF16));
                System.out.printf("gather [%d x 27, %d] f32: %.3f ms (%.0f GB/s written); cast to bf16 %.3f ms%n",
                        n, ch, g, n * 27.0 * ch * 4 / g / 1e6, c);
                gathered.close();
            }
            Tensor col = s.neighbourIndex(gpu, 4);
            double g1 = millis(5, () -> gpu.indexSelect(x, 0, col));
            System.out.printf("gather one offset [%d, %d] f32: %.3f ms (%.0f GB/s written)%n", n, ch, g1, n * (double) ch * 4 / g1 / 1e6);
            var conv = new org.voxflow.sparse.SparseConv3d(gpu, ch, 128);
            randomize(conv, 5);
            SparseTensor in = new SparseTensor(s, x);
            try (var ng = Grad.noGrad()) {
                for (String mode : new String[] {"off", "bf16"})
                    try (var ac = CudaAutocast.use(mode)) {
                        double t = millis(3, () -> conv.forward(in));
                        System.out.printf("SparseConv3d %d -> 128 on %d voxels, autocast %s: %.3f ms%n", ch, n, mode, t);
                    }
            }
            x.close();
        }
    }
}
