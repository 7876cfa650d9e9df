package org.voxflow.pipeline;

import java.util.ArrayList;
import java.util.List;
import org.voxflow.autograd.Grad;
import org.voxflow.flow.EulerSampler;
import org.voxflow.flow.FlowSchedule;
import org.voxflow.flow.Guidance;
import org.voxflow.flow.TimeGrid;
import org.voxflow.flow.VelocityField;
import org.voxflow.mesh.Mesh;
import org.voxflow.mesh.SparseMarchingCubes;
import org.voxflow.models.trellis.CheckpointException;
import org.voxflow.models.trellis.FlowModel;
import org.voxflow.shapes.Stage1Latent;
import org.voxflow.shapes.Voxelizer;
import org.voxflow.sparse.SparseStructure;
import org.voxflow.tensor.Backend;
import org.voxflow.tensor.DType;
import org.voxflow.tensor.MemoryScope;
import org.voxflow.tensor.Rng;
import org.voxflow.tensor.Tensor;

/**
 * Two-stage generation, TRELLIS's pattern: stage 1 samples the structure latent and decodes it to active voxels;
 * stage 2 samples 8 corner distances per active voxel; sparse marching cubes turns them into a mesh. The teacher
 * runs its guided 25-step sampler; a distilled student runs 1 or 2 unguided Euler steps from the same noise.
 */
public final class Generator {
    private final PipelineModels p;
    private final Backend be;
    private final FlowModel[] teacher = new FlowModel[2], student = new FlowModel[2];
    private final FamilyConditioner[] cond = new FamilyConditioner[2];
    private final EulerSampler sampler = new EulerSampler(FlowSchedule.TRELLIS);

    public Generator(PipelineModels p, Backend be) {
        this.p = p;
        this.be = be;
        for (int s = 0; s < 2; s++) {
            StageSpec spec = p.stage(s + 1);
            teacher[s] = p.loadModel(spec.teacher(), be);
            cond[s] = p.loadConditioner(spec.conditioner(), be);
            if (spec.student() != null) student[s] = p.loadModel(spec.student(), be);
        }
    }

    public boolean hasStudents() { return student[0] != null && student[1] != null; }

    /** teacher = the guided teacher sampler with its own step count; otherwise the student with `steps` steps. */
    public record Plan(boolean teacher, int steps) {
        public static Plan forSteps(int steps, int teacherSteps) { return new Plan(steps == teacherSteps, steps); }
    }

    public record Result(String family, boolean[] occupancy, int[] xyz, float[] corners, Mesh mesh, double stage1Ms,
                         double stage2Ms, double decodeMs) {}

    public Result generate(String family, Plan plan, long seed) {
        int label = p.families.indexOf(family);
        if (label < 0) throw new IllegalArgumentException("unknown family '" + family + "' (known: " + String.join(", ", p.families) + ")");
        if (!plan.teacher() && !hasStudents())
            throw new CheckpointException(p.dir + ": no distilled student in this pipeline; use --steps " + p.stage1.teacherSteps()
                    + " (teacher) or distill one with `voxflow distill`");
        Rng rng = new Rng(seed);
        int r = p.resolution, h = r / 2;
        Tensor onehot = be.fromFloats(FamilyConditioner.oneHot(new int[] {label}, p.families.size()), 1, 1, p.families.size());
        try (var ng = Grad.noGrad(); MemoryScope scope = MemoryScope.open()) {
            long t0 = System.nanoTime();
            Tensor c1 = cond[0].apply(onehot);
            Tensor x1 = run(0, plan, VelocityField.of(model(0, plan), 1, null), rng.randn(be, 1, 8, h, h, h), c1);
            boolean[] occ = Stage1Latent.fromStage1Latent(x1.toFloats(), r);
            int[] xyz = Voxelizer.gridToCoords(occ, r);
            long t1 = System.nanoTime();
            int n = xyz.length / 3;
            float[] corners = new float[0];
            if (n > 0) {
                int[] coords = new int[n * 4];
                for (int i = 0; i < n; i++) System.arraycopy(xyz, i * 3, coords, i * 4 + 1, 3);
                SparseStructure s = new SparseStructure(coords, 1);
                Tensor x2 = run(1, plan, VelocityField.of(model(1, plan), 1, s), rng.randn(be, n, 8), cond[1].apply(onehot));
                corners = p.normalizer.denormalize(x2.toFloats());
            }
            long t2 = System.nanoTime();
            Mesh mesh = n > 0 ? SparseMarchingCubes.extract(xyz, corners, r) : Mesh.empty();
            long t3 = System.nanoTime();
            return new Result(family, occ, xyz, corners, mesh, (t1 - t0) / 1e6, (t2 - t1) / 1e6, (t3 - t2) / 1e6);
        }
    }

    private FlowModel model(int stage, Plan plan) { return plan.teacher() ? teacher[stage] : student[stage]; }

    private Tensor run(int stage, Plan plan, VelocityField field, Tensor noise, Tensor c) {
        StageSpec spec = p.stage(stage + 1);
        Tensor neg = be.zeros(DType.F32, c.shape());
        if (plan.teacher())
            return sampler.sample(field, noise, c, neg, TimeGrid.trellis(plan.steps(), spec.teacherRescaleT()), spec.guidance()).sample();
        return sampler.sample(field, noise, c, neg, TimeGrid.trellis(plan.steps(), spec.studentRescaleT()), Guidance.NONE).sample();
    }

    public PipelineModels models() { return p; }

    /** Families this pipeline was trained on. */
    public List<String> families() { return new ArrayList<>(p.families); }
}
