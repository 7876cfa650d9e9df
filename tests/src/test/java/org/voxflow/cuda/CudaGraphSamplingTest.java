package org.voxflow.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.Test;
import org.voxflow.flow.EulerSampler;
import org.voxflow.flow.FlowSchedule;
import org.voxflow.flow.Guidance;
import org.voxflow.flow.RecordedSampling;
import org.voxflow.flow.TimeGrid;
import org.voxflow.flow.VelocityField;
import org.voxflow.io.Json;
import org.voxflow.models.trellis.SparseStructureFlowConfig;
import org.voxflow.models.trellis.SparseStructureFlowModel;
import org.voxflow.models.trellis.TrellisInit;
import org.voxflow.tensor.Backend;
import org.voxflow.tensor.MemoryScope;
import org.voxflow.tensor.Recording;
import org.voxflow.tensor.Rng;
import org.voxflow.tensor.Tensor;

/**
 * CUDA graphs: a recorded teacher loop (25 guided steps) and student pass replay to exactly the eager result, on new
 * inputs too; recording refuses bodies that leak device memory or transfer to the host, and the backend keeps
 * working after a refused recording.
 */
class CudaGraphSamplingTest extends GpuParityBase {
    private static final int RES = 8, CH = 4;

    @SuppressWarnings("unchecked")
    private static SparseStructureFlowModel model(Backend be) {
        String args = "{\"resolution\":" + RES + ",\"in_channels\":" + CH + ",\"model_channels\":64,\"cond_channels\":32"
                + ",\"out_channels\":" + CH + ",\"num_blocks\":2,\"num_heads\":2,\"mlp_ratio\":2,\"patch_size\":1,\"qk_rms_norm\":true}";
        SparseStructureFlowModel m = new SparseStructureFlowModel(be, SparseStructureFlowConfig.fromArgs((Map<String, Object>) Json.parse(args), "toy"));
        TrellisInit.apply(m, 5);
        Rng r = new Rng(6); // live output/modulation layers (TRELLIS zero-initialises them)
        for (Map.Entry<String, Tensor> e : m.namedParameters().entrySet())
            if (e.getKey().contains("adaLN_modulation") || e.getKey().startsWith("out_layer.")) {
                float[] v = r.normal((int) e.getValue().numel());
                for (int i = 0; i < v.length; i++) v[i] *= 0.05f;
                be.assign(e.getValue(), be.fromFloats(v, e.getValue().shape()));
            }
        return m;
    }

    private void check(double[] grid, Guidance g) {
        SparseStructureFlowModel m = model(gpu);
        int b = 2;
        VelocityField f = VelocityField.dense(m, b);
        EulerSampler s = new EulerSampler(new FlowSchedule(0));
        Rng r = new Rng(3);
        Tensor noise = r.randn(gpu, b, CH, RES, RES, RES), cond = r.randn(gpu, b, 5, 32), neg = gpu.zeros(org.voxflow.tensor.DType.F32, b, 5, 32);
        float[] eager = s.sampleFinal(f, noise, cond, neg, grid, g).toFloats();
        try (RecordedSampling rs = RecordedSampling.record(s, f, noise, cond, neg, grid, g)) {
            assertTrue(rs.recorded());
            assertTrue(rs.operations() > 10, "operations " + rs.operations());
            assertArrayEquals(eager, rs.sample(noise, cond, neg).toFloats(), 0f, "replay equals eager sampling");
            Tensor noise2 = r.randn(gpu, b, CH, RES, RES, RES), cond2 = r.randn(gpu, b, 5, 32);
            float[] eager2 = s.sampleFinal(f, noise2, cond2, neg, grid, g).toFloats();
            for (int rep = 0; rep < 3; rep++)
                assertArrayEquals(eager2, rs.sample(noise2, cond2, neg).toFloats(), 0f, "replay on new inputs, round " + rep);
            assertThrows(IllegalArgumentException.class, () -> rs.sample(r.randn(gpu, 1, CH, RES, RES, RES), cond, neg));
        }
    }

    @Test void teacherLoopReplaysExactly() { check(TimeGrid.trellis(25, 3.0), new Guidance(3.0, 0.5, 1.0)); }

    @Test void studentPassReplaysExactly() { check(new double[] {1, 0}, Guidance.NONE); }

    @Test void twoStepStudentUnderAutocastReplaysExactly() {
        try (var ac = CudaAutocast.use("bf16")) { check(new double[] {1, 0.5, 0}, Guidance.NONE); }
    }

    @Test void refusesLeaksAndHostTransfersAndRecovers() {
        Tensor x = gpu.fromFloats(new float[] {1, 2, 3}, 3);
        IllegalStateException leak = assertThrows(IllegalStateException.class,
                () -> gpu.record(() -> MemoryScope.outside(() -> gpu.affine(x, 2f, 0f))));
        assertTrue(leak.getMessage().contains("alive"), leak.getMessage());
        IllegalStateException host = assertThrows(IllegalStateException.class, () -> gpu.record(() -> {
            try (MemoryScope s = MemoryScope.open()) { gpu.affine(x, 2f, 0f).toFloats(); }
        }));
        assertTrue(host.getMessage().contains("recording"), host.getMessage());
        // the stream works after both refusals, and a clean body records and replays
        Tensor y = gpu.zeros(org.voxflow.tensor.DType.F32, 3);
        try (Recording rec = gpu.record(() -> {
            try (MemoryScope s = MemoryScope.open()) { gpu.assign(y, gpu.affine(x, 2f, 1f)); }
        })) {
            assertArrayEquals(new float[] {0, 0, 0}, y.toFloats(), 0f, "recording does not execute");
            rec.replay();
            assertArrayEquals(new float[] {3, 5, 7}, y.toFloats(), 0f);
            gpu.assign(x, gpu.fromFloats(new float[] {0, 1, 2}, 3));
            rec.replay();
            assertArrayEquals(new float[] {1, 3, 5}, y.toFloats(), 0f);
            assertEquals(true, rec.operations() >= 2);
        }
    }
}
