package org.voxflow.autograd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.voxflow.io.Json;
import org.voxflow.models.trellis.SLatFlowConfig;
import org.voxflow.models.trellis.SLatFlowModel;
import org.voxflow.models.trellis.SparseStructureFlowConfig;
import org.voxflow.models.trellis.SparseStructureFlowModel;
import org.voxflow.models.trellis.TrellisInit;
import org.voxflow.nn.Module;
import org.voxflow.sparse.SparseStructure;
import org.voxflow.sparse.SparseTensor;
import org.voxflow.tensor.Backend;
import org.voxflow.tensor.Backends;
import org.voxflow.tensor.MemoryScope;
import org.voxflow.tensor.Rng;
import org.voxflow.tensor.Tensor;

/** Activation checkpointing gives the gradients of plain backward (both TRELLIS models, and a shared weight). */
class CheckpointTest {
    private final Backend cpu = Backends.cpu();

    private static void liven(Module m, Backend be) {
        Rng r = new Rng(6); // TRELLIS zero-initialises modulation and output layers: make every gradient non-zero
        for (Map.Entry<String, Tensor> e : m.namedParameters().entrySet())
            if (e.getKey().contains("adaLN_modulation") || e.getKey().startsWith("out_layer.")) {
                float[] v = r.normal((int) e.getValue().numel());
                for (int i = 0; i < v.length; i++) v[i] *= 0.05f;
                be.assign(e.getValue(), be.fromFloats(v, e.getValue().shape()));
            }
    }

    /** d(sum(out * w)) for every parameter and the input, with checkpointing on or off. */
    private static Map<String, float[]> grads(Module m, java.util.function.Function<Tensor, Tensor> forward, Tensor x) {
        m.zeroGrad();
        Map<String, float[]> out = new LinkedHashMap<>();
        try (MemoryScope s = MemoryScope.open()) {
            Tensor xin = F.detach(x).setRequiresGrad(true);
            Tensor y = forward.apply(xin);
            Tensor w = new Rng(9).randn(y.backend(), y.shape());
            Grad.backward(F.sum(F.mul(y, w)));
            out.put("input", xin.grad().toFloats());
            m.namedParameters().forEach((k, v) -> { assertNotNull(v.grad(), k); out.put(k, v.grad().toFloats()); });
        }
        return out;
    }

    private static void assertSame(Map<String, float[]> a, Map<String, float[]> b) {
        assertEquals(a.keySet(), b.keySet());
        for (String k : a.keySet()) {
            float[] p = a.get(k), q = b.get(k);
            double max = 0;
            for (float v : p) max = Math.max(max, Math.abs(v));
            assertArrayEquals(p, q, (float) (1e-5 * max + 1e-7), k); // same ops on the same values: equal up to sum order
        }
    }

    @SuppressWarnings("unchecked")
    @Test void stage1() {
        String args = "{\"resolution\":8,\"in_channels\":4,\"model_channels\":64,\"cond_channels\":16,\"out_channels\":4,"
                + "\"num_blocks\":3,\"num_heads\":2,\"mlp_ratio\":2,\"patch_size\":2,\"qk_rms_norm\":true,\"use_checkpoint\":true}";
        SparseStructureFlowModel m = new SparseStructureFlowModel(cpu, SparseStructureFlowConfig.fromArgs((Map<String, Object>) Json.parse(args), "t"));
        assertTrue(m.checkpointing(), "use_checkpoint sets it");
        TrellisInit.apply(m, 5);
        liven(m, cpu);
        Rng r = new Rng(1);
        Tensor x = r.randn(cpu, 2, 4, 8, 8, 8), t = cpu.fromFloats(new float[] {300, 800}, 2), c = r.randn(cpu, 2, 5, 16);
        Map<String, float[]> on = grads(m, xi -> m.forward(xi, t, c), x);
        m.setCheckpointing(false);
        Map<String, float[]> off = grads(m, xi -> m.forward(xi, t, c), x);
        assertSame(off, on);
    }

    @SuppressWarnings("unchecked")
    @Test void stage2() {
        String args = "{\"resolution\":8,\"in_channels\":4,\"model_channels\":32,\"cond_channels\":16,\"out_channels\":4,"
                + "\"num_blocks\":2,\"num_heads\":2,\"mlp_ratio\":2,\"patch_size\":2,\"num_io_res_blocks\":1,"
                + "\"io_block_channels\":[16],\"use_skip_connection\":true,\"qk_rms_norm\":true}";
        SLatFlowModel m = new SLatFlowModel(cpu, SLatFlowConfig.fromArgs((Map<String, Object>) Json.parse(args), "t"));
        TrellisInit.apply(m, 5);
        liven(m, cpu);
        java.util.List<Integer> c = new java.util.ArrayList<>();
        for (int b = 0; b < 2; b++)
            for (int x = 0; x < 8; x++) for (int y = 0; y < 8; y++) for (int z = 0; z < 8; z++)
                if ((x * 7 + y * 3 + z * 5 + b) % 4 == 0) { c.add(b); c.add(x); c.add(y); c.add(z); }
        SparseStructure s = new SparseStructure(c.stream().mapToInt(Integer::intValue).toArray(), 2);
        Rng r = new Rng(2);
        Tensor feats = r.randn(cpu, s.rows(), 4), t = cpu.fromFloats(new float[] {300, 800}, 2), cond = r.randn(cpu, 2, 3, 16);
        m.setCheckpointing(true);
        Map<String, float[]> on = grads(m, f -> m.forward(new SparseTensor(s, f), t, cond).feats(), feats);
        m.setCheckpointing(false);
        Map<String, float[]> off = grads(m, f -> m.forward(new SparseTensor(s, f), t, cond).feats(), feats);
        assertSame(off, on);
    }

    @Test void sharedWeightInsideAndOutsideTheSegment() {
        Rng r = new Rng(3);
        Tensor w = r.randn(cpu, 4, 4).setRequiresGrad(true), x = r.randn(cpu, 3, 4).setRequiresGrad(true);
        java.util.function.Function<Tensor[], Tensor> seg = in -> F.tanh(F.matmul(in[0], w));
        float[][] res = new float[2][];
        float[][] resX = new float[2][];
        for (int mode = 0; mode < 2; mode++) {
            w.setGrad(null);
            x.setGrad(null);
            try (MemoryScope s = MemoryScope.open()) {
                Tensor h = F.matmul(x, w); // w used before the segment too
                Tensor y = mode == 0 ? seg.apply(new Tensor[] {h}) : Checkpoint.run(seg, new Tensor[] {h}, List.of(w));
                Grad.backward(F.sum(F.square(y)));
                res[mode] = w.grad().toFloats();
                resX[mode] = x.grad().toFloats();
            }
        }
        assertArrayEquals(res[0], res[1], 1e-6f);
        assertArrayEquals(resX[0], resX[1], 1e-6f);
    }
}
