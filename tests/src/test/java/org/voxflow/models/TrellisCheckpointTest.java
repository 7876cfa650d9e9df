package org.voxflow.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.voxflow.io.Json;
import org.voxflow.io.SafeDType;
import org.voxflow.io.SafeTensorsFile;
import org.voxflow.io.SafeTensorsWriter;
import org.voxflow.models.trellis.CheckpointException;
import org.voxflow.models.trellis.FlowModel;
import org.voxflow.models.trellis.SparseStructureFlowModel;
import org.voxflow.models.trellis.TrellisCheckpoint;
import org.voxflow.models.trellis.TrellisInit;
import org.voxflow.nn.Module;
import org.voxflow.tensor.Backends;
import org.voxflow.tensor.DType;
import org.voxflow.tensor.Tensor;

/** Loading and saving TRELLIS checkpoint pairs, and every way a checkpoint can be refused. */
class TrellisCheckpointTest {
    static final String ARGS = "{\"resolution\":4,\"in_channels\":8,\"model_channels\":32,\"cond_channels\":16,\"out_channels\":8,"
            + "\"num_blocks\":1,\"num_heads\":2,\"mlp_ratio\":2,\"patch_size\":1,\"qk_rms_norm\":true}";

    static Path write(Path dir, String name, String json) throws IOException {
        Files.writeString(dir.resolve(name + ".json"), json);
        return dir.resolve(name);
    }

    @SuppressWarnings("unchecked")
    static FlowModel model() {
        return TrellisCheckpoint.create(Backends.cpu(), "SparseStructureFlowModel", (Map<String, Object>) Json.parse(ARGS), "test");
    }

    @Test void roundTripInEveryFloatDtype(@TempDir Path dir) throws IOException {
        FlowModel m = model();
        TrellisInit.apply((Module) m, 3);
        for (DType dt : new DType[] {DType.F32, DType.F16, DType.BF16}) {
            Path p = dir.resolve("m_" + dt);
            TrellisCheckpoint.save(m, p, dt);
            FlowModel back = TrellisCheckpoint.load(p, Backends.cpu());
            assertEquals(SparseStructureFlowModel.CLASS_NAME, back.className());
            for (var e : m.stateDict().entrySet()) {
                float[] want = e.getValue().toFloats(), got = back.stateDict().get(e.getKey()).toFloats();
                for (int i = 0; i < want.length; i++) {
                    float expect = dt == DType.F32 ? want[i] : dt == DType.F16 ? DType.fromF16(DType.toF16(want[i])) : DType.fromBf16(DType.toBf16(want[i]));
                    assertEquals(expect, got[i], 0f, e.getKey() + "[" + i + "] in " + dt);
                }
            }
            try (var f = SafeTensorsFile.open(dir.resolve("m_" + dt + ".safetensors"))) {
                assertEquals(SafeDType.of(dt), f.info("input_layer.weight").dtype());
            }
        }
        try (var files = Files.list(dir)) {
            assertTrue(files.noneMatch(f -> f.getFileName().toString().endsWith(".tmp")), "temporary files left behind");
        }
    }

    @Test void missingFilesAreNamed(@TempDir Path dir) throws IOException {
        CheckpointException e = assertThrows(CheckpointException.class, () -> TrellisCheckpoint.load(dir.resolve("nope"), Backends.cpu()));
        assertTrue(e.getMessage().contains("nope.json") && e.getMessage().contains("no such"), e.getMessage());
        Path p = write(dir, "only_json", "{\"name\":\"SparseStructureFlowModel\",\"args\":" + ARGS + "}");
        e = assertThrows(CheckpointException.class, () -> TrellisCheckpoint.load(p, Backends.cpu()));
        assertTrue(e.getMessage().contains("only_json.safetensors"), e.getMessage());
    }

    @Test void malformedConfigsAreRefusedWithEveryProblemListed(@TempDir Path dir) throws IOException {
        Path bad = write(dir, "bad", "{\"name\": \"SparseStructureFlowModel\", \"args\": {");
        assertTrue(assertThrows(CheckpointException.class, () -> TrellisCheckpoint.load(bad, Backends.cpu())).getMessage().contains("not a TRELLIS model config"));
        Path cls = write(dir, "cls", "{\"name\":\"DiT\",\"args\":{}}");
        assertTrue(assertThrows(CheckpointException.class, () -> TrellisCheckpoint.load(cls, Backends.cpu())).getMessage().contains("unknown model class 'DiT'"));
        Path args = write(dir, "args", "{\"name\":\"SparseStructureFlowModel\",\"args\":{\"resolution\":\"big\",\"in_channels\":8,"
                + "\"model_channels\":32,\"cond_channels\":16,\"out_channels\":8,\"num_blocks\":1,\"num_heads\":3,\"flux\":1}}");
        String msg = assertThrows(CheckpointException.class, () -> TrellisCheckpoint.load(args, Backends.cpu())).getMessage();
        assertTrue(msg.contains("'resolution' must be an integer"), msg);
        assertTrue(msg.contains("unknown argument 'flux'"), msg);
        assertTrue(msg.contains("not divisible into 3 heads"), msg);
    }

    @Test void tensorMismatchesAreAllListed(@TempDir Path dir) throws IOException {
        FlowModel m = model();
        Path p = dir.resolve("m");
        TrellisCheckpoint.save(m, p, DType.F32);
        // rewrite the weights: drop one tensor, add one, change a shape and a dtype
        SafeTensorsWriter w = new SafeTensorsWriter();
        boolean first = true;
        for (var e : m.stateDict().entrySet()) {
            String k = e.getKey();
            Tensor t = e.getValue();
            long[] shape = java.util.Arrays.stream(t.shape()).asLongStream().toArray();
            if (k.equals("out_layer.bias")) continue;
            if (k.equals("input_layer.bias")) { w.addFloats(k, new long[] {shape[0] + 1}, new float[(int) shape[0] + 1]); continue; }
            if (first) { w.addInts(k, shape, new int[(int) t.numel()]); first = false; continue; }
            w.addFloats(k, shape, t.toFloats());
        }
        w.addFloats("extra.weight", new long[] {2}, new float[2]);
        w.write(dir.resolve("m.safetensors"));
        String msg = assertThrows(CheckpointException.class, () -> TrellisCheckpoint.load(p, Backends.cpu())).getMessage();
        assertTrue(msg.contains("missing tensor 'out_layer.bias'"), msg);
        assertTrue(msg.contains("unexpected tensor 'extra.weight'"), msg);
        assertTrue(msg.contains("tensor 'input_layer.bias' has shape [33]"), msg);
        assertTrue(msg.contains("has dtype I32"), msg);
        assertTrue(msg.contains("4 problem(s)"), msg);
    }

    @Test void truncatedAndNonFiniteWeightsAreRefused(@TempDir Path dir) throws IOException {
        FlowModel m = model();
        Path p = dir.resolve("m");
        TrellisCheckpoint.save(m, p, DType.F32);
        Path st = dir.resolve("m.safetensors");
        byte[] all = Files.readAllBytes(st);
        Files.write(st, java.util.Arrays.copyOf(all, all.length - 100));
        assertTrue(assertThrows(CheckpointException.class, () -> TrellisCheckpoint.load(p, Backends.cpu())).getMessage().contains("malformed safetensors"));
        Tensor w0 = m.stateDict().get("input_layer.weight");
        float[] v = w0.toFloats();
        v[5] = Float.NaN;
        w0.backend().assign(w0, w0.backend().fromFloats(v, w0.shape()));
        TrellisCheckpoint.save(m, p, DType.F32);
        String msg = assertThrows(CheckpointException.class, () -> TrellisCheckpoint.load(p, Backends.cpu())).getMessage();
        assertTrue(msg.contains("input_layer.weight") && msg.contains("non-finite") && msg.contains("element 5"), msg);
        assertArrayEquals(new int[] {32, 8}, w0.shape());
    }
}
