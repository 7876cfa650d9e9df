package org.voxflow.bench.gpu;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.voxflow.cuda.CudaAutocast;
import org.voxflow.cuda.CudaBackend;
import org.voxflow.io.Json;
import org.voxflow.models.trellis.SLatFlowConfig;
import org.voxflow.models.trellis.SLatFlowModel;
import org.voxflow.models.trellis.SparseStructureFlowConfig;
import org.voxflow.models.trellis.SparseStructureFlowModel;
import org.voxflow.nn.ModulatedCrossBlock;
import org.voxflow.nn.Module;
import org.voxflow.sparse.SparseStructure;
import org.voxflow.tensor.Backend;
import org.voxflow.tensor.Backends;
import org.voxflow.tensor.MemoryScope;
import org.voxflow.tensor.Rng;
import org.voxflow.tensor.Tensor;

/**
 * What the GPU benchmarks share: the backend, precision switches, TRELLIS-large configs, random weights and the
 * fixed stage-2 structure.
 *
 * <p>System properties: {@code voxflow.bench.backend} (default {@code cuda}; {@code cpu} runs the same code on the
 * CPU for a smoke test), {@code voxflow.bench.small=true} (tiny models in place of TRELLIS-large, for that test) and
 * {@code voxflow.bench.torso=f32} (the TRELLIS-large configs with use_fp16 off: an f32 residual stream under autocast
 * instead of TRELLIS's 16-bit torso, for comparison).
 *
 * <p>Models are built once per JVM and kept (about 2.2 GB of f32 weights each at TRELLIS-large size), so a report run
 * in one process ({@code -f 0}) builds each only once.
 */
final class GpuBench {
    private GpuBench() {}

    static final boolean SMALL = Boolean.getBoolean("voxflow.bench.small");

    /** use_fp16 of the TRELLIS-large configs (true, as TRELLIS ships them) unless -Dvoxflow.bench.torso=f32. */
    static final boolean HALF_TORSO = !"f32".equals(System.getProperty("voxflow.bench.torso", "half"));

    /** Stage 1 of TRELLIS-image-large (ss_flow_img_dit_L_16l8_fp16). */
    static final String STAGE1 = "{\"resolution\":16,\"in_channels\":8,\"model_channels\":1024,\"cond_channels\":1024,"
            + "\"out_channels\":8,\"num_blocks\":24,\"num_heads\":16,\"mlp_ratio\":4,\"patch_size\":1,\"pe_mode\":\"ape\","
            + "\"use_fp16\":true,\"qk_rms_norm\":true}";
    /** Stage 2 of TRELLIS-image-large (slat_flow_img_dit_L_64l8p2_fp16). */
    static final String STAGE2 = "{\"resolution\":64,\"in_channels\":8,\"model_channels\":1024,\"cond_channels\":1024,"
            + "\"out_channels\":8,\"num_blocks\":24,\"num_heads\":16,\"mlp_ratio\":4,\"patch_size\":2,\"num_io_res_blocks\":2,"
            + "\"io_block_channels\":[128],\"pe_mode\":\"ape\",\"qk_rms_norm\":true,\"use_fp16\":true}";
    static final String STAGE1_SMALL = "{\"resolution\":8,\"in_channels\":8,\"model_channels\":128,\"cond_channels\":128,"
            + "\"out_channels\":8,\"num_blocks\":2,\"num_heads\":2,\"mlp_ratio\":4,\"patch_size\":1,\"qk_rms_norm\":true}";
    static final String STAGE2_SMALL = "{\"resolution\":16,\"in_channels\":8,\"model_channels\":128,\"cond_channels\":128,"
            + "\"out_channels\":8,\"num_blocks\":2,\"num_heads\":2,\"mlp_ratio\":4,\"patch_size\":2,\"num_io_res_blocks\":2,"
            + "\"io_block_channels\":[32],\"qk_rms_norm\":true}";

    /** TRELLIS-large width, heads, condition tokens (DINOv2 ViT-L/14 with registers at 518 px: 1 + 4 + 37^2). */
    static int channels() { return SMALL ? 128 : 1024; }
    static int heads() { return SMALL ? 2 : 16; }
    static int condTokens() { return SMALL ? 16 : 1374; }
    static int blocks() { return SMALL ? 2 : 24; }
    static int stage1Resolution() { return SMALL ? 8 : 16; }

    static Backend backend() { return Backends.byName(System.getProperty("voxflow.bench.backend", "cuda")); }

    /** Waits for the GPU's queue (timing needs it: kernels run asynchronously). */
    static void sync(Backend be) {
        if (be instanceof CudaBackend c) c.synchronize();
    }

    static String device(Backend be) {
        return be instanceof CudaBackend c ? c.describe() : be.device() + " (" + Runtime.getRuntime().availableProcessors() + " cores)";
    }

    /**
     * Sets a precision until the returned handle closes: {@code f32} (plain f32 GEMM, TF32 off, autocast off),
     * {@code tf32} (f32 GEMM on TF32 tensor cores; attention stays f32), {@code autocast} (bf16 autocast of matmul and
     * attention, {@code -Dvoxflow.cuda.autocast=bf16}); {@code bf16} sets nothing here (the micro-benchmarks make
     * their inputs bf16 themselves).
     */
    static AutoCloseable precision(Backend be, String p) {
        CudaBackend cb = be instanceof CudaBackend c ? c : null;
        switch (p) {
            case "f32", "bf16" -> {
                if (cb != null) cb.setTf32(false);
                CudaAutocast.Scope s = CudaAutocast.use("off");
                return s::close;
            }
            case "tf32" -> {
                if (cb != null) cb.setTf32(true);
                CudaAutocast.Scope s = CudaAutocast.use("off");
                return () -> { s.close(); if (cb != null) cb.setTf32(false); };
            }
            case "autocast", "autocast-graph" -> { // -graph: the suite records its work as a CUDA graph
                if (cb != null) cb.setTf32(false);
                CudaAutocast.Scope s = CudaAutocast.use("bf16");
                return s::close;
            }
            default -> throw new IllegalArgumentException("precision " + p + " (f32, tf32, bf16, autocast, autocast-graph)");
        }
    }

    // ---- models ------------------------------------------------------------------------------------------------

    private static SparseStructureFlowModel stage1;
    private static SLatFlowModel stage2;
    private static List<ModulatedCrossBlock> trunk;
    private static SparseStructure shell;

    /** The config's arguments with use_fp16 set to HALF_TORSO. */
    @SuppressWarnings("unchecked")
    private static Map<String, Object> torso(String json) {
        Map<String, Object> args = new java.util.LinkedHashMap<>((Map<String, Object>) Json.parse(json));
        args.put("use_fp16", HALF_TORSO);
        return args;
    }

    static synchronized SparseStructureFlowModel stage1(Backend be) {
        if (stage1 == null || stage1.backend() != be) {
            var cfg = SparseStructureFlowConfig.fromArgs(torso(SMALL ? STAGE1_SMALL : STAGE1), "stage1");
            stage1 = MemoryScope.outside(() -> new SparseStructureFlowModel(be, cfg));
            randomize(stage1, 1);
        }
        return stage1;
    }

    static synchronized SLatFlowModel stage2(Backend be) {
        if (stage2 == null || stage2.backend() != be) {
            var cfg = SLatFlowConfig.fromArgs(torso(SMALL ? STAGE2_SMALL : STAGE2), "stage2");
            stage2 = MemoryScope.outside(() -> new SLatFlowModel(be, cfg));
            randomize(stage2, 3);
        }
        return stage2;
    }

    /** The stage-2 transformer trunk alone: TRELLIS-large's blocks (1024 ch, 16 heads, qk RMS norm, no cross qk norm). */
    static synchronized List<ModulatedCrossBlock> trunk(Backend be) {
        if (trunk == null || trunk.get(0).backend() != be) {
            List<ModulatedCrossBlock> list = new ArrayList<>();
            for (int i = 0; i < blocks(); i++) {
                ModulatedCrossBlock b = MemoryScope.outside(() -> new ModulatedCrossBlock(be, channels(), channels(), heads(), 4.0,
                        false, true, false));
                randomize(b, 100 + i);
                list.add(b);
            }
            trunk = list;
        }
        return trunk;
    }

    /**
     * The fixed stage-2 structure: a two-voxel-thick spherical shell at 64^3 (radius 26 to 28.1): 19,232 voxels, 4,256
     * tokens after the 2x downsampling (the shell of TrellisLargeForwardTest).
     */
    static synchronized SparseStructure shell() {
        if (shell == null) {
            int res = SMALL ? 16 : 64;
            double c = (res - 1) / 2.0, r0 = SMALL ? 5 : 26, r1 = SMALL ? 7.1 : 28.1;
            List<Integer> coords = new ArrayList<>();
            for (int x = 0; x < res; x++)
                for (int y = 0; y < res; y++)
                    for (int z = 0; z < res; z++) {
                        double r = Math.sqrt((x - c) * (x - c) + (y - c) * (y - c) + (z - c) * (z - c));
                        if (r > r0 && r <= r1) { coords.add(0); coords.add(x); coords.add(y); coords.add(z); }
                    }
            shell = new SparseStructure(coords.stream().mapToInt(Integer::intValue).toArray(), 1);
        }
        return shell;
    }

    private static Tensor pool;
    private static final int POOL = 1 << 23;

    /** One device-resident pool of N(0, 1) draws (32 MiB), made once per backend. */
    private static synchronized Tensor pool(Backend be) {
        if (pool == null || pool.backend() != be) pool = MemoryScope.outside(() -> new Rng(12345).randn(be, POOL));
        return pool;
    }

    /**
     * Random weights, drawn on the device: every parameter is a slice of one pool of N(0, 1) draws (at a random
     * offset; wrapped when larger than the pool) times 0.5 / sqrt(fan-in), as TrellisLargeForwardTest scales them.
     * Fast (no host-side draw per parameter) and finite through 24 blocks, which is all a timing needs.
     */
    static void randomize(Module m, long seed) {
        Backend be = m.backend();
        Tensor draws = pool(be);
        Rng rng = new Rng(seed);
        for (Tensor p : m.namedParameters().values()) {
            long n = p.numel();
            float scale = (float) (0.5 / Math.sqrt(p.size(-1)));
            try (MemoryScope one = MemoryScope.open()) {
                Tensor flat;
                if (n <= POOL) {
                    int off = rng.nextInt((int) (POOL - n + 1));
                    flat = draws.slice(0, off, off + (int) n);
                } else {
                    int reps = (int) ((n + POOL - 1) / POOL);
                    Tensor[] parts = new Tensor[reps];
                    for (int i = 0; i < reps; i++) parts[i] = draws;
                    flat = be.concat(parts, 0).slice(0, 0, (int) n);
                }
                be.assign(p, be.affine(flat.reshape(p.shape()), scale, 0f));
            }
        }
        sync(be);
    }

    /** N(0, 1) tensor that lives until closed (made outside every scope). */
    static Tensor randn(Backend be, long seed, int... shape) {
        return MemoryScope.outside(() -> new Rng(seed).randn(be, shape));
    }

    static String fmt(double v) {
        if (Double.isNaN(v)) return "-";
        if (v >= 100) return String.format(Locale.ROOT, "%.0f", v);
        if (v >= 10) return String.format(Locale.ROOT, "%.1f", v);
        return String.format(Locale.ROOT, "%.2f", v);
    }

    /** Per-iteration figure a benchmark prints: accumulated wall time of its invocations. */
    static final class Meter {
        private long nanos, count;

        void reset() { nanos = 0; count = 0; }

        void add(long ns, long ops) { nanos += ns; count += ops; }

        /** Milliseconds per operation. */
        double ms() { return count == 0 ? Double.NaN : nanos / 1e6 / count; }
    }
}
