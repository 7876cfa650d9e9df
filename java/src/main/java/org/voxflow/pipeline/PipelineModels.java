package org.voxflow.pipeline;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.voxflow.io.Json;
import org.voxflow.io.JsonException;
import org.voxflow.io.SafeTensorsFile;
import org.voxflow.io.SafeTensorsWriter;
import org.voxflow.models.trellis.CheckpointException;
import org.voxflow.models.trellis.FlowModel;
import org.voxflow.models.trellis.TrellisCheckpoint;
import org.voxflow.shapes.LatentNormalizer;
import org.voxflow.tensor.Backend;
import org.voxflow.tensor.Tensor;

/**
 * A pipeline directory: pipeline.json (resolution, families, latent normalizer, per-stage checkpoint names and
 * sampler settings) beside TRELLIS checkpoint pairs for each stage's teacher (and distilled student) and a
 * conditioner file per stage. The shipped default lives in the engine jar under {@link #DEFAULT_RESOURCE}.
 */
public final class PipelineModels {
    public static final String FILE = "pipeline.json";
    public static final String DEFAULT_RESOURCE = "/org/voxflow/default-model/";
    static final String[] DEFAULT_FILES = {FILE, "stage1_teacher.json", "stage1_teacher.safetensors", "stage1_cond.safetensors",
            "stage1_student.json", "stage1_student.safetensors", "stage2_teacher.json", "stage2_teacher.safetensors",
            "stage2_cond.safetensors", "stage2_student.json", "stage2_student.safetensors"};

    public final Path dir;
    public final int resolution;
    public final List<String> families;
    public final LatentNormalizer normalizer;
    public final StageSpec stage1, stage2;
    public final String description;

    public PipelineModels(Path dir, int resolution, List<String> families, LatentNormalizer normalizer, StageSpec stage1,
                          StageSpec stage2, String description) {
        this.dir = dir;
        this.resolution = resolution;
        this.families = List.copyOf(families);
        this.normalizer = normalizer;
        this.stage1 = stage1;
        this.stage2 = stage2;
        this.description = description;
    }

    public static PipelineModels read(Path dir) {
        Path f = dir.resolve(FILE);
        if (!Files.isRegularFile(f)) throw new CheckpointException(dir + ": not a voxflow pipeline directory (no " + FILE + ")");
        try {
            Map<String, Object> m = Json.asMap(Json.parse(Files.readString(f, StandardCharsets.UTF_8)), f.toString());
            List<String> fams = new ArrayList<>();
            for (Object o : Json.asList(m.get("families"), f + ": families")) fams.add(Json.asString(o, f + ": family"));
            return new PipelineModels(dir, Json.asInt(m.get("resolution"), f + ": resolution"), fams,
                    LatentNormalizer.fromMap(Json.asMap(m.get("normalizer"), f + ": normalizer")),
                    StageSpec.fromMap(Json.asMap(m.get("stage1"), f + ": stage1"), f + ": stage1"),
                    StageSpec.fromMap(Json.asMap(m.get("stage2"), f + ": stage2"), f + ": stage2"),
                    m.get("description") instanceof String s ? s : "");
        } catch (IOException e) {
            throw new CheckpointException(f + ": cannot read: " + e.getMessage(), e);
        } catch (JsonException | IllegalArgumentException | ClassCastException e) {
            throw new CheckpointException(f + ": malformed pipeline description: " + e.getMessage(), e);
        }
    }

    public PipelineModels withStages(StageSpec s1, StageSpec s2) {
        return new PipelineModels(dir, resolution, families, normalizer, s1, s2, description);
    }

    public PipelineModels withDescription(String d) { return new PipelineModels(dir, resolution, families, normalizer, stage1, stage2, d); }

    public void write() throws IOException {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("format", "voxflow-pipeline-1");
        m.put("description", description);
        m.put("resolution", (long) resolution);
        m.put("families", families);
        m.put("normalizer", normalizer.toMap());
        m.put("stage1", stage1.toMap());
        m.put("stage2", stage2.toMap());
        Files.createDirectories(dir);
        Path tmp = Files.createTempFile(dir, FILE, ".tmp");
        try {
            Files.writeString(tmp, Json.writePretty(m), StandardCharsets.UTF_8);
            Files.move(tmp, dir.resolve(FILE), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    public StageSpec stage(int s) { return s == 1 ? stage1 : stage2; }

    public FlowModel loadModel(String name, Backend be) { return TrellisCheckpoint.load(dir.resolve(name), be); }

    public FamilyConditioner loadConditioner(String name, Backend be) {
        Path p = dir.resolve(name + ".safetensors");
        try (SafeTensorsFile f = SafeTensorsFile.open(p)) {
            if (!f.contains("tokens")) throw new CheckpointException(p + ": no tensor 'tokens'");
            long[] s = f.info("tokens").shape();
            int k = Integer.parseInt(f.metadata().getOrDefault("tokens_per_family", "0"));
            if (s.length != 2 || s[0] != families.size() || k <= 0 || s[1] % k != 0)
                throw new CheckpointException(p + ": tokens has shape " + java.util.Arrays.toString(s) + ", expected [" + families.size()
                        + ", K*C] with tokens_per_family metadata");
            FamilyConditioner c = new FamilyConditioner(be, (int) s[0], k, (int) (s[1] / k), 0);
            Tensor t = c.namedParameters().get("tokens");
            be.assign(t, be.fromFloats(f.floats("tokens"), t.shape()));
            return c;
        } catch (IOException e) {
            throw new CheckpointException(p + ": cannot read: " + e.getMessage(), e);
        }
    }

    public static void saveConditioner(FamilyConditioner c, int tokensPerFamily, Path file) throws IOException {
        Tensor t = c.namedParameters().get("tokens");
        new SafeTensorsWriter().metadata("tokens_per_family", Integer.toString(tokensPerFamily))
                .addFloats("tokens", new long[] {t.size(0), t.size(1)}, t.toFloats()).write(file);
    }

    /** The shipped default, unpacked from the jar into a temporary directory (deleted on exit). */
    public static PipelineModels shippedDefault() {
        try {
            Path dir = Files.createTempDirectory("voxflow-default-model");
            dir.toFile().deleteOnExit();
            for (String name : DEFAULT_FILES) {
                try (InputStream in = PipelineModels.class.getResourceAsStream(DEFAULT_RESOURCE + name)) {
                    if (in == null) continue; // students are optional
                    Files.copy(in, dir.resolve(name));
                    dir.resolve(name).toFile().deleteOnExit();
                }
            }
            if (!Files.exists(dir.resolve(FILE))) throw new CheckpointException("the engine jar carries no default model (" + DEFAULT_RESOURCE + ")");
            return read(dir);
        } catch (IOException e) {
            throw new CheckpointException("cannot unpack the default model: " + e.getMessage(), e);
        }
    }
}
