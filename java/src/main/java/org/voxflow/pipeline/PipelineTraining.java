package org.voxflow.pipeline;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.voxflow.distill.BatchSource;
import org.voxflow.distill.FlowMatchingObjective;
import org.voxflow.distill.GradientSync;
import org.voxflow.distill.GradientSyncProvider;
import org.voxflow.distill.InMemoryBatchSource;
import org.voxflow.distill.MdtDistObjective;
import org.voxflow.distill.MdtSettings;
import org.voxflow.distill.Sample;
import org.voxflow.distill.TrainResult;
import org.voxflow.distill.Trainer;
import org.voxflow.distill.TrainerConfig;
import org.voxflow.models.trellis.FlowModel;
import org.voxflow.models.trellis.TrellisCheckpoint;
import org.voxflow.models.trellis.TrellisInit;
import org.voxflow.nn.Module;
import org.voxflow.shapes.LatentNormalizer;
import org.voxflow.shapes.ShapeDataset;
import org.voxflow.shapes.ShapeFamily;
import org.voxflow.tensor.Backend;
import org.voxflow.tensor.DType;
import org.voxflow.tensor.Tensor;

/**
 * Trains a pipeline directory's teachers on the procedural shapes and distils its students: the glue between
 * the shape data, the objectives, the trainer and the pipeline files.
 */
public final class PipelineTraining {
    private PipelineTraining() {}

    /** The training shapes, voxelized at the pipeline's resolution. */
    public static List<ShapeData.Voxelized> trainingShapes(int perFamily, int resolution) {
        ShapeDataset ds = ShapeDataset.standard(perFamily);
        return ShapeData.voxelize(ds.items(ShapeDataset.Split.TRAIN), resolution);
    }

    /** The samples for a stage; stage 2 also needs the pipeline's normalizer. */
    public static List<Sample> samples(int stage, List<ShapeData.Voxelized> shapes, PipelineModels p) {
        return stage == 1 ? ShapeData.stage1(shapes, p.resolution, p.families.size()) : ShapeData.stage2(shapes, p.normalizer, p.families.size());
    }

    /** A new pipeline directory description (normalizer fitted on the training shapes). */
    public static PipelineModels create(Path dir, int resolution, List<ShapeData.Voxelized> shapes) {
        LatentNormalizer norm = ShapeData.fitNormalizer(shapes);
        return new PipelineModels(dir, resolution, ShapeFamily.ids(), norm, StageSpec.defaults(1), StageSpec.defaults(2), "");
    }

    /**
     * Flow-matching training of a stage's teacher with learned family tokens; writes the teacher checkpoint (EMA
     * weights when an EMA rate is set) and conditioner into the pipeline directory.
     */
    public static TrainResult trainTeacher(int stage, PipelineModels p, String className, Map<String, Object> modelArgs,
                                           int condTokens, int condChannels, double pUncond, List<Sample> samples,
                                           int batchSize, TrainerConfig cfg, boolean resume, Backend be) throws IOException {
        FlowModel model = TrellisCheckpoint.create(be, className, modelArgs, "stage " + stage + " model");
        TrellisInit.apply((Module) model, cfg.seed());
        FamilyConditioner cond = new FamilyConditioner(be, p.families.size(), condTokens, condChannels, cfg.seed() + 1);
        ConditionedFlow trainable = new ConditionedFlow(model, cond);
        FlowMatchingObjective objective = new FlowMatchingObjective(model, cond::apply, pUncond, 1.0, 1.0, 1e-5);
        GradientSync sync = GradientSyncProvider.fromEnvironment(be);
        BatchSource source = new InMemoryBatchSource(be, samples, batchSize, sync.rank(), sync.worldSize());
        Trainer trainer = new Trainer(cfg, trainable, objective, source, sync);
        if (resume) trainer.resume(cfg.outputDir());
        TrainResult r = trainer.train();
        if (!sync.isRoot()) return r; // rank 0 writes the pipeline files
        if (trainer.ema() != null && cfg.emaRates().length > 0) trainer.ema().copyTo(trainable.namedParameters(), cfg.emaRates()[0]);
        StageSpec spec = p.stage(stage);
        TrellisCheckpoint.save(model, p.dir.resolve(spec.teacher()), DType.F32);
        PipelineModels.saveConditioner(cond, condTokens, p.dir.resolve(spec.conditioner() + ".safetensors"));
        p.write();
        return r;
    }

    /**
     * MDT-dist (or the CM baseline) from the stage's teacher into a student initialised as a copy of the teacher;
     * writes the student checkpoint and records it in pipeline.json.
     */
    public static TrainResult distill(int stage, PipelineModels p, MdtSettings settings, List<Sample> samples, int batchSize,
                                      TrainerConfig cfg, boolean resume, Backend be) throws IOException {
        StageSpec spec = p.stage(stage);
        FlowModel teacher = p.loadModel(spec.teacher(), be);
        FlowModel student = p.loadModel(spec.teacher(), be);
        FamilyConditioner cond = p.loadConditioner(spec.conditioner(), be);
        for (Tensor t : cond.namedParameters().values()) t.setRequiresGrad(false);
        for (Tensor t : ((Module) teacher).namedParameters().values()) t.setRequiresGrad(false);
        MdtDistObjective objective = new MdtDistObjective(teacher, student, settings, cond::apply);
        GradientSync sync = GradientSyncProvider.fromEnvironment(be);
        Trainer trainer = new Trainer(cfg, (Module) student, objective,
                new InMemoryBatchSource(be, samples, batchSize, sync.rank(), sync.worldSize()), sync);
        if (resume) trainer.resume(cfg.outputDir());
        TrainResult r = trainer.train();
        if (!sync.isRoot()) return r; // rank 0 writes the pipeline files
        if (trainer.ema() != null && cfg.emaRates().length > 0) trainer.ema().copyTo(((Module) student).namedParameters(), cfg.emaRates()[0]);
        String name = "stage" + stage + "_student";
        TrellisCheckpoint.save(student, p.dir.resolve(name), DType.F32);
        String method = settings.mode() == MdtSettings.Mode.CM ? "cm" : "mdt-" + settings.mode().name().toLowerCase();
        PipelineModels updated = stage == 1 ? p.withStages(spec.withStudent(name, method), p.stage2)
                : p.withStages(p.stage1, spec.withStudent(name, method));
        updated.write();
        return r;
    }
}
