package org.voxflow.cli;

import java.nio.file.Path;
import org.voxflow.distill.MdtSettings;
import org.voxflow.distill.TrainResult;
import org.voxflow.pipeline.PipelineModels;
import org.voxflow.pipeline.PipelineTraining;
import org.voxflow.tensor.Backends;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * `voxflow distill --method mdt|cm --steps 1|2 --model DIR --stage N`: distils the stage's teacher into a few-step
 * student (initialised from the teacher) with MDT-dist's VM + VD losses or the consistency-model baseline.
 * Defaults follow DESIGN.md's measurements for small models (lr 2e-6, teacher guidance 1 for VM and VD); the
 * paper's large-model values (w 40 / 100, lr 4e-8) are flags away.
 */
@Command(name = "distill", description = "Distil a stage's teacher into a 1- or 2-step student (MDT-dist or the CM baseline).")
final class DistillCommand implements Runnable {
    @Option(names = "--model", required = true, description = "pipeline directory with the teacher") Path model;
    @Option(names = "--stage", required = true) int stage;
    @Option(names = "--method", defaultValue = "mdt", description = "mdt or cm") String method;
    @Option(names = "--steps", defaultValue = "1", description = "student sampling steps (CM: its phases)") int steps;
    @Option(names = "--type", defaultValue = "discrete", description = "MDT velocity-matching mode: discrete or continuous (JVP)") String type;
    @Option(names = "--interval", defaultValue = "0.01") double interval;
    @Option(names = "--cfg-vm", defaultValue = "1.0", split = ",", description = "teacher guidance for VM (a list draws one per step)") double[] cfgVm;
    @Option(names = "--cfg-vd", defaultValue = "1.0", split = ",") double[] cfgVd;
    @Option(names = "--lambda-vm", defaultValue = "1.0") double lambdaVm;
    @Option(names = "--lambda-vd", defaultValue = "1.0") double lambdaVd;
    @Option(names = "--d-norm", defaultValue = "true", arity = "1") boolean dNorm;
    @Option(names = "--per-family", defaultValue = "24") int perFamily;
    @Mixin TrainingOptions training;

    @Override public void run() {
        if (stage != 1 && stage != 2) throw new Main.UserError("--stage must be 1 or 2");
        if (steps < 1) throw new Main.UserError("--steps must be >= 1");
        PipelineModels p = PipelineModels.read(model);
        MdtSettings.Mode mode = switch (method) {
            case "mdt" -> MdtSettings.Mode.parse(type);
            case "cm" -> MdtSettings.Mode.CM;
            default -> throw new Main.UserError("--method must be mdt or cm, got " + method);
        };
        MdtSettings s = new MdtSettings(mode, interval, 1e-5, cfgVm, cfgVd, lambdaVm, lambdaVd, dNorm, mode == MdtSettings.Mode.CM ? steps : 1, 1, 1);
        try {
            var shapes = PipelineTraining.trainingShapes(perFamily, p.resolution);
            var samples = PipelineTraining.samples(stage, shapes, p);
            System.out.printf("distilling stage-%d teacher with %s (%s) into a %d-step student on %d shapes%n", stage, method, mode, steps, samples.size());
            TrainResult r = PipelineTraining.distill(stage, p, s, samples, training.batch,
                    training.trainer(model.resolve("distill-stage" + stage + "-" + method), model.resolve(p.stage(stage).teacher()).toString()),
                    training.resume, Backends.byName(training.device));
            System.out.printf("stage-%d student: %d steps%s -> %s%n", stage, r.step(), r.completed() ? "" : " (stopped early)", model);
        } catch (java.io.IOException e) {
            throw new Main.UserError(e.getMessage());
        }
    }
}
