package org.voxflow.distill;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.voxflow.flow.EulerSampler;
import org.voxflow.flow.FlowSchedule;
import org.voxflow.flow.Guidance;
import org.voxflow.flow.TimeGrid;
import org.voxflow.flow.VelocityField;
import org.voxflow.io.Json;
import org.voxflow.models.trellis.SparseStructureFlowConfig;
import org.voxflow.models.trellis.SparseStructureFlowModel;
import org.voxflow.models.trellis.TrellisInit;
import org.voxflow.nn.Module;
import org.voxflow.tensor.Backend;
import org.voxflow.tensor.Backends;
import org.voxflow.tensor.DType;
import org.voxflow.tensor.Rng;
import org.voxflow.tensor.Tensor;

/**
 * The whole method on the CPU at toy scale: train a small stage-1 teacher by flow matching on a two-class latent
 * distribution with two modes per class, distil it with MDT-dist (discrete VM + VD, teacher guidance 1) into a
 * 1-step student, and check that from the same noise and condition the student's single step lands clearly closer
 * to the teacher's guided 25-step samples than the teacher's own single step (which averages the two modes).
 *
 * <p>Measured (this configuration, CPU): undistilled 1-step MSE 0.565, distilled 0.396 (ratio 0.70). The
 * learning rate matters as DESIGN.md warns: 1e-4 helps for about 800 steps and then the VD term drives the student
 * away (ratio 3.6 after 2000 steps); 3e-4 collapses (ratio 7). 5e-5 for 2000 steps is the setting used here.
 */
class MdtEndToEndTest {
    static final int CLASSES = 2, MODES = 2, RES = 2, CH = 8;

    @SuppressWarnings("unchecked")
    static SparseStructureFlowModel tinyModel(Backend be) {
        String args = "{\"resolution\":" + RES + ",\"in_channels\":8,\"model_channels\":32,\"cond_channels\":" + CLASSES
                + ",\"out_channels\":8,\"num_blocks\":2,\"num_heads\":2,\"mlp_ratio\":2,\"patch_size\":1,\"qk_rms_norm\":true}";
        return new SparseStructureFlowModel(be, SparseStructureFlowConfig.fromArgs((Map<String, Object>) Json.parse(args), "toy"));
    }

    /** Class c: one of two fixed +-1 patterns (alternating) plus a little noise. */
    static List<Sample> data(int n, long seed) {
        Rng rng = new Rng(seed);
        int d = CH * RES * RES * RES;
        float[][] patterns = new float[CLASSES * MODES][d];
        Rng pr = new Rng(99);
        for (float[] p : patterns) for (int i = 0; i < d; i++) p[i] = pr.nextDouble() < 0.5 ? -1f : 1f;
        List<Sample> out = new ArrayList<>();
        for (int k = 0; k < n; k++) {
            int c = k % CLASSES;
            float[] x = new float[d];
            int mode = c * MODES + (k / CLASSES) % MODES;
            for (int i = 0; i < d; i++) x[i] = patterns[mode][i] + 0.1f * (float) rng.nextGaussian();
            float[] cond = new float[CLASSES];
            cond[c] = 1f;
            out.add(new Sample.Dense(x, new int[] {CH, RES, RES, RES}, cond, new int[] {1, CLASSES}));
        }
        return out;
    }

    static double meanSquaredDistance(Tensor a, Tensor b) {
        float[] x = a.toFloats(), y = b.toFloats();
        double s = 0;
        for (int i = 0; i < x.length; i++) s += (x[i] - y[i]) * (double) (x[i] - y[i]);
        return s / x.length;
    }

    @Test void distilledOneStepStudentTracksTheTwentyFiveStepTeacher(@TempDir Path dir) {
        Backend be = Backends.cpu();
        List<Sample> samples = data(64, 1);
        SparseStructureFlowModel teacher = tinyModel(be);
        TrellisInit.apply(teacher, 5);
        TrainerConfig teacherCfg = TrainerConfig.builder(dir.resolve("teacher"), 800).lr(LrSchedule.constant(2e-3))
                .clip(ClipConfig.fixed(1.0)).checkpointInterval(0).progress(false).seed(7).build();
        new Trainer(teacherCfg, teacher, new FlowMatchingObjective(teacher, c -> c, 0.1, 1.0, 1.0, 1e-5),
                new InMemoryBatchSource(be, samples, 16)).train();

        SparseStructureFlowModel student = tinyModel(be);
        for (var e : student.namedParameters().entrySet())
            be.assign(e.getValue(), teacher.namedParameters().get(e.getKey()));
        for (Tensor p : teacher.namedParameters().values()) p.setRequiresGrad(false);
        MdtSettings mdt = new MdtSettings(MdtSettings.Mode.DISCRETE, 0.01, 1e-5, new double[] {1}, new double[] {1}, 1, 1, true, 1, 1, 1);
        TrainerConfig distillCfg = TrainerConfig.builder(dir.resolve("student"), 2000).lr(LrSchedule.constant(5e-5))
                .clip(ClipConfig.fixed(1.0)).checkpointInterval(0).progress(false).seed(8).build();
        new Trainer(distillCfg, student, new MdtDistObjective(teacher, student, mdt), new InMemoryBatchSource(be, samples, 16)).train();

        // same noise and condition for all three samplers
        int n = 16;
        Rng rng = new Rng(123);
        Tensor noise = rng.randn(be, n, CH, RES, RES, RES);
        float[] c = new float[n * CLASSES];
        for (int i = 0; i < n; i++) c[i * CLASSES + i % CLASSES] = 1f;
        Tensor cond = be.fromFloats(c, n, 1, CLASSES), neg = be.zeros(DType.F32, n, 1, CLASSES);
        EulerSampler sampler = new EulerSampler(FlowSchedule.TRELLIS);
        Tensor teacher25 = sampler.sample(VelocityField.dense(teacher, n), noise, cond, neg, TimeGrid.trellis(25, 3), Guidance.always(1)).sample();
        Tensor teacher1 = sampler.sample(VelocityField.dense(teacher, n), noise, cond, neg, TimeGrid.trellis(1, 1), Guidance.NONE).sample();
        Tensor student1 = sampler.sample(VelocityField.dense(student, n), noise, cond, neg, TimeGrid.trellis(1, 1), Guidance.NONE).sample();
        double undistilled = meanSquaredDistance(teacher1, teacher25), distilled = meanSquaredDistance(student1, teacher25);
        System.out.printf("toy MDT-dist: MSE to the 25-step guided teacher: teacher 1-step %.4f, distilled student 1-step %.4f (ratio %.2f)%n",
                undistilled, distilled, distilled / undistilled);
        assertTrue(distilled < 0.8 * undistilled, "student 1-step MSE " + distilled + " vs undistilled 1-step " + undistilled);
    }
}
