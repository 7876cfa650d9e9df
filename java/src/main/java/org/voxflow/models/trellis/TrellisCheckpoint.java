package org.voxflow.models.trellis;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.voxflow.io.Json;
import org.voxflow.io.JsonException;
import org.voxflow.io.SafeDType;
import org.voxflow.io.SafeTensorInfo;
import org.voxflow.io.SafeTensorsException;
import org.voxflow.io.SafeTensorsFile;
import org.voxflow.io.SafeTensorsWriter;
import org.voxflow.tensor.Backend;
import org.voxflow.tensor.DType;
import org.voxflow.tensor.Tensor;

/**
 * TRELLIS checkpoints as published: {@code <name>.json} ({"name": class, "args": {...}}) beside
 * {@code <name>.safetensors} (state dict with TRELLIS parameter names, f32/f16/bf16). Loading builds the model
 * from its class and args and copies every tensor in, converting to f32; any mismatch fails with one message
 * listing every missing, unexpected, mis-shaped or mis-typed tensor.
 */
public final class TrellisCheckpoint {
    private TrellisCheckpoint() {}

    /** The checkpoint's two files from a path given with or without extension (".json"/".safetensors"). */
    public static Path[] files(Path nameOrFile) {
        String s = nameOrFile.toString();
        if (s.endsWith(".json")) s = s.substring(0, s.length() - 5);
        else if (s.endsWith(".safetensors")) s = s.substring(0, s.length() - 12);
        return new Path[] {Path.of(s + ".json"), Path.of(s + ".safetensors")};
    }

    /** Reads {"name", "args"} of a checkpoint's config file. */
    public static Map<String, Object> readConfig(Path json) {
        String text;
        try {
            text = Files.readString(json, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw new CheckpointException(json + ": no such checkpoint config file");
        } catch (IOException e) {
            throw new CheckpointException(json + ": cannot read checkpoint config: " + e.getMessage(), e);
        }
        try {
            Map<String, Object> m = Json.asMap(Json.parse(text), json.toString());
            Json.asString(m.get("name"), json + ": field \"name\"");
            Json.asMap(m.get("args"), json + ": field \"args\"");
            return m;
        } catch (JsonException e) {
            throw new CheckpointException(json + ": not a TRELLIS model config: " + e.getMessage(), e);
        }
    }

    /** Instantiates an untrained model of the named class (weights zero). */
    public static FlowModel create(Backend be, String className, Map<String, Object> args, String where) {
        return switch (className) {
            case SparseStructureFlowModel.CLASS_NAME -> new SparseStructureFlowModel(be, SparseStructureFlowConfig.fromArgs(args, where));
            case SLatFlowModel.CLASS_NAME -> new SLatFlowModel(be, SLatFlowConfig.fromArgs(args, where));
            default -> throw new CheckpointException(where + ": unknown model class '" + className + "' (known: "
                    + SparseStructureFlowModel.CLASS_NAME + ", " + SLatFlowModel.CLASS_NAME + ")");
        };
    }

    public static FlowModel load(Path nameOrFile, Backend be) {
        Path[] f = files(nameOrFile);
        Map<String, Object> cfg = readConfig(f[0]);
        FlowModel model = create(be, (String) cfg.get("name"), Json.asMap(cfg.get("args"), "args"), f[0].toString());
        loadWeights(model, f[1]);
        return model;
    }

    /** Copies every tensor of the safetensors file into the model, checking names, shapes and dtypes first. */
    public static void loadWeights(FlowModel model, Path safetensors) {
        if (!Files.exists(safetensors)) throw new CheckpointException(safetensors + ": no such checkpoint weights file");
        try (SafeTensorsFile file = SafeTensorsFile.open(safetensors)) {
            Map<String, Tensor> state = model.stateDict();
            List<String> problems = new ArrayList<>();
            for (Map.Entry<String, Tensor> e : state.entrySet()) {
                if (!file.contains(e.getKey())) { problems.add("missing tensor '" + e.getKey() + "' " + Arrays.toString(e.getValue().shape())); continue; }
                SafeTensorInfo info = file.info(e.getKey());
                long[] want = Arrays.stream(e.getValue().shape()).asLongStream().toArray();
                if (!Arrays.equals(info.shape(), want))
                    problems.add("tensor '" + e.getKey() + "' has shape " + Arrays.toString(info.shape()) + ", the model expects " + Arrays.toString(want));
                if (info.dtype() != SafeDType.F32 && info.dtype() != SafeDType.F16 && info.dtype() != SafeDType.BF16)
                    problems.add("tensor '" + e.getKey() + "' has dtype " + info.dtype() + ", expected F32, F16 or BF16");
            }
            for (String name : file.names())
                if (!state.containsKey(name)) problems.add("unexpected tensor '" + name + "' " + Arrays.toString(file.info(name).shape()));
            if (!problems.isEmpty())
                throw new CheckpointException(safetensors + ": " + problems.size() + " problem(s) loading into " + model.className()
                        + ":\n  - " + String.join("\n  - ", problems));
            for (Map.Entry<String, Tensor> e : state.entrySet()) {
                Tensor dst = e.getValue();
                float[] v = file.floats(e.getKey());
                for (int i = 0; i < v.length; i++)
                    if (!Float.isFinite(v[i]))
                        throw new CheckpointException(safetensors + ": tensor '" + e.getKey() + "' holds a non-finite value at element " + i);
                dst.backend().assign(dst, dst.backend().fromFloats(v, dst.shape()));
            }
        } catch (SafeTensorsException e) {
            throw new CheckpointException(safetensors + ": malformed safetensors file: " + e.getMessage(), e);
        } catch (IOException e) {
            throw new CheckpointException(safetensors + ": cannot read: " + e.getMessage(), e);
        }
    }

    /**
     * Writes {@code <prefix>.json} and {@code <prefix>.safetensors}, each to a temporary name first and renamed, so
     * a failure leaves any previous checkpoint intact.
     */
    public static void save(FlowModel model, Path nameOrFile, DType dtype) throws IOException {
        Path[] f = files(nameOrFile);
        if (f[0].getParent() != null) Files.createDirectories(f[0].getParent());
        SafeTensorsWriter w = new SafeTensorsWriter();
        for (Map.Entry<String, Tensor> e : model.stateDict().entrySet()) {
            long[] shape = Arrays.stream(e.getValue().shape()).asLongStream().toArray();
            w.addFloats(e.getKey(), SafeDType.of(dtype), shape, e.getValue().toFloats());
        }
        w.write(f[1]);
        Map<String, Object> cfg = new LinkedHashMap<>();
        cfg.put("name", model.className());
        cfg.put("args", model.args());
        writeAtomically(f[0], Json.writePretty(cfg));
    }

    static void writeAtomically(Path target, String text) throws IOException {
        Path dir = target.toAbsolutePath().getParent();
        Path tmp = Files.createTempFile(dir, target.getFileName().toString(), ".tmp");
        try {
            Files.writeString(tmp, text, StandardCharsets.UTF_8);
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
            }
        } finally {
            Files.deleteIfExists(tmp);
        }
    }
}
