package org.voxflow.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.voxflow.distill.TrainResult;
import org.voxflow.models.trellis.SLatFlowModel;
import org.voxflow.models.trellis.SparseStructureFlowModel;
import org.voxflow.pipeline.PipelineModels;
import org.voxflow.pipeline.PipelineTraining;
import org.voxflow.pipeline.ShapeData;
import org.voxflow.tensor.Backends;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * `voxflow train-teacher --stage 1|2 --out DIR`: flow-matching training of a TRELLIS-architecture teacher with
 * learned family tokens on the procedural shapes; writes the checkpoint pair, the conditioner and pipeline.json
 * into DIR, and the JSONL log, loss plot and training checkpoints under DIR/train-stage<N>-teacher/.
 */
@Command(name = "train-teacher", description = "Train a stage-1 or stage-2 teacher (flow matching, CFG dropout) on the procedural shapes.")
final class TrainTeacherCommand implements Runnable {
    @Option(names = "--stage", required = true) int stage;
    @Option(names = "--out", required = true, description = "pipeline directory (created with the latent normalizer if new)") Path out;
    @Option(names = "--per-family", defaultValue = "24", description = "shapes per family (10% go to the test split)") int perFamily;
    @Option(names = "--resolution", defaultValue = "32") int resolution;
    @Option(names = "--model-channels", defaultValue = "128") int channels;
    @Option(names = "--blocks", defaultValue = "4") int blocks;
    @Option(names = "--heads", defaultValue = "4") int heads;
    @Option(names = "--mlp-ratio", defaultValue = "4") double mlpRatio;
    @Option(names = "--patch", defaultValue = "2", description = "patch size (stage 1: tokens = (R/2/patch)^3; stage 2: must be 2)") int patch;
    @Option(names = "--io-channels", defaultValue = "64", description = "stage 2: residual-block channels at full resolution") int ioChannels;
    @Option(names = "--cond-tokens", defaultValue = "4") int condTokens;
    @Option(names = "--cond-channels", defaultValue = "64") int condChannels;
    @Option(names = "--p-uncond", defaultValue = "0.1", description = "condition dropout for CFG") double pUncond;
    @Mixin TrainingOptions training;

    @Override public void run() {
        if (stage != 1 && stage != 2) throw new Main.UserError("--stage must be 1 or 2");
        try {
            List<ShapeData.Voxelized> shapes = PipelineTraining.trainingShapes(perFamily, resolution);
            PipelineModels p = Files.exists(out.resolve(PipelineModels.FILE)) ? PipelineModels.read(out)
                    : PipelineTraining.create(out, resolution, shapes);
            if (p.resolution != resolution) throw new Main.UserError(out + " holds a pipeline at resolution " + p.resolution);
            Map<String, Object> args = new LinkedHashMap<>();
            String cls;
            if (stage == 1) {
                cls = SparseStructureFlowModel.CLASS_NAME;
                args.put("resolution", (long) resolution / 2);
                args.put("patch_size", (long) patch);
            } else {
                cls = SLatFlowModel.CLASS_NAME;
                args.put("resolution", (long) resolution);
                args.put("patch_size", 2L);
                args.put("num_io_res_blocks", 2L);
                args.put("io_block_channels", List.of((long) ioChannels));
            }
            args.put("in_channels", 8L);
            args.put("model_channels", (long) channels);
            args.put("cond_channels", (long) condChannels);
            args.put("out_channels", 8L);
            args.put("num_blocks", (long) blocks);
            args.put("num_heads", (long) heads);
            args.put("mlp_ratio", mlpRatio);
            args.put("qk_rms_norm", true);
            var samples = PipelineTraining.samples(stage, shapes, p);
            System.out.printf("training stage-%d teacher on %d shapes (%d families) at %d^3%n", stage, samples.size(), p.families.size(), resolution);
            TrainResult r = PipelineTraining.trainTeacher(stage, p, cls, args, condTokens, condChannels, pUncond, samples, training.batch,
                    training.trainer(out.resolve("train-stage" + stage + "-teacher"), null), training.resume, Backends.byName(training.device));
            System.out.printf("stage-%d teacher: %d steps%s -> %s%n", stage, r.step(), r.completed() ? "" : " (stopped early)", out);
        } catch (java.io.IOException e) {
            throw new Main.UserError(e.getMessage());
        }
    }
}
