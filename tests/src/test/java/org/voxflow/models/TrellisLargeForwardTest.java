package org.voxflow.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.voxflow.autograd.Grad;
import org.voxflow.io.Json;
import org.voxflow.models.trellis.SLatFlowConfig;
import org.voxflow.models.trellis.SLatFlowModel;
import org.voxflow.models.trellis.SparseStructureFlowConfig;
import org.voxflow.models.trellis.SparseStructureFlowModel;
import org.voxflow.nn.Module;
import org.voxflow.sparse.SparseStructure;
import org.voxflow.sparse.SparseTensor;
import org.voxflow.tensor.Backend;
import org.voxflow.tensor.Backends;
import org.voxflow.tensor.MemoryScope;
import org.voxflow.tensor.Rng;
import org.voxflow.tensor.Tensor;

/**
 * TRELLIS-large configs (1024 channels, 24 blocks, 16 heads) instantiated with random weights and run forward
 * once on the CPU: stage 1 at 16^3 with 1374 condition tokens, stage 2 at 64^3 with ~20k active voxels. Tagged
 * slow (about a minute each on 2 cores); run with -Dvoxflow.test.excludedTags=gpu.
 */
@Tag("slow")
class TrellisLargeForwardTest {
    static final String STAGE1 = "{\"resolution\":16,\"in_channels\":8,\"model_channels\":1024,\"cond_channels\":1024,"
            + "\"out_channels\":8,\"num_blocks\":24,\"num_heads\":16,\"mlp_ratio\":4,\"patch_size\":1,\"pe_mode\":\"ape\","
            + "\"use_fp16\":true,\"qk_rms_norm\":true}";
    static final String STAGE2 = "{\"resolution\":64,\"in_channels\":8,\"model_channels\":1024,\"cond_channels\":1024,"
            + "\"out_channels\":8,\"num_blocks\":24,\"num_heads\":16,\"mlp_ratio\":4,\"patch_size\":2,\"num_io_res_blocks\":2,"
            + "\"io_block_channels\":[128],\"pe_mode\":\"ape\",\"qk_rms_norm\":true,\"use_fp16\":true}";

    static void randomize(Module m, long seed) {
        Rng rng = new Rng(seed);
        Backend be = m.backend();
        for (Tensor p : m.namedParameters().values()) {
            float[] v = rng.normal((int) p.numel());
            float s = (float) (0.5 / Math.sqrt(p.size(-1)));
            for (int i = 0; i < v.length; i++) v[i] *= s;
            try (MemoryScope scope = MemoryScope.open()) { // the staging copy is freed at once
                be.assign(p, be.fromFloats(v, p.shape()));
            }
        }
    }

    static long peakRssMb() throws Exception {
        for (String line : Files.readAllLines(Path.of("/proc/self/status")))
            if (line.startsWith("VmHWM:")) return Long.parseLong(line.replaceAll("\\D", "")) / 1024;
        return -1;
    }

    @SuppressWarnings("unchecked")
    @Test void stage1LargeForward() throws Exception {
        Backend be = Backends.cpu();
        var cfg = SparseStructureFlowConfig.fromArgs((Map<String, Object>) Json.parse(STAGE1), "stage1-large");
        SparseStructureFlowModel m = new SparseStructureFlowModel(be, cfg);
        randomize(m, 1);
        Rng rng = new Rng(2);
        try (var ng = Grad.noGrad(); MemoryScope scope = MemoryScope.open()) {
            long t0 = System.nanoTime();
            Tensor out = m.forward(rng.randn(be, 1, 8, 16, 16, 16), be.full(500f, 1), rng.randn(be, 1, 1374, 1024));
            double s = (System.nanoTime() - t0) / 1e9;
            System.out.printf("TRELLIS-large stage 1 forward (%,d params, 4096 tokens, 1374 cond): %.1f s, peak RSS %d MB%n",
                    m.parameterCount(), s, peakRssMb());
            assertEquals(List.of(1, 8, 16, 16, 16), java.util.Arrays.stream(out.shape()).boxed().toList());
            for (float v : out.toFloats()) assertTrue(Float.isFinite(v));
        }
    }

    @SuppressWarnings("unchecked")
    @Test void stage2LargeForward() throws Exception {
        Backend be = Backends.cpu();
        var cfg = SLatFlowConfig.fromArgs((Map<String, Object>) Json.parse(STAGE2), "stage2-large");
        SLatFlowModel m = new SLatFlowModel(be, cfg);
        randomize(m, 3);
        // a two-voxel-thick spherical shell at 64^3: about 20k active voxels
        List<Integer> c = new ArrayList<>();
        for (int x = 0; x < 64; x++)
            for (int y = 0; y < 64; y++)
                for (int z = 0; z < 64; z++) {
                    double r = Math.sqrt((x - 31.5) * (x - 31.5) + (y - 31.5) * (y - 31.5) + (z - 31.5) * (z - 31.5));
                    if (r > 26 && r <= 28.1) { c.add(0); c.add(x); c.add(y); c.add(z); }
                }
        SparseStructure s = new SparseStructure(c.stream().mapToInt(Integer::intValue).toArray(), 1);
        Rng rng = new Rng(4);
        try (var ng = Grad.noGrad(); MemoryScope scope = MemoryScope.open()) {
            long t0 = System.nanoTime();
            SparseTensor out = m.forward(new SparseTensor(s, rng.randn(be, s.rows(), 8)), be.full(500f, 1), rng.randn(be, 1, 1374, 1024));
            double sec = (System.nanoTime() - t0) / 1e9;
            System.out.printf("TRELLIS-large stage 2 forward (%,d params, %,d voxels -> %,d tokens): %.1f s, peak RSS %d MB%n",
                    m.parameterCount(), s.rows(), s.downsample2().rows(), sec, peakRssMb());
            assertEquals(s.rows(), out.feats().size(0));
            for (float v : out.feats().toFloats()) assertTrue(Float.isFinite(v));
        }
    }
}
