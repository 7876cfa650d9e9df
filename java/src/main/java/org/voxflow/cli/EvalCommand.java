package org.voxflow.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.voxflow.eval.GenerativeMetrics;
import org.voxflow.eval.PairedAgreement;
import org.voxflow.eval.SurfaceSampler;
import org.voxflow.io.Json;
import org.voxflow.mesh.Camera;
import org.voxflow.mesh.Mesh;
import org.voxflow.mesh.MeshRenderer;
import org.voxflow.pipeline.Generator;
import org.voxflow.pipeline.PipelineModels;
import org.voxflow.shapes.SdfMesher;
import org.voxflow.shapes.ShapeDataset;
import org.voxflow.tensor.Backends;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * `voxflow eval`: generates shapes with the teacher and the students from the same noise and conditions, and
 * measures them: per method MMD-CD / COV-CD / 1-NNA-CD against the test split (PointFlow protocol, 2048 points
 * per shape), paired teacher-student agreement (IoU, Chamfer-L1, F-score) and latency. Writes report.json and a
 * PNG grid (rows = samples, columns = methods).
 */
@Command(name = "eval", description = "Measure teacher vs few-step students: MMD/COV/1-NNA, paired IoU/Chamfer, latency; JSON report + PNG grid.")
final class EvalCommand implements Runnable {
    @Option(names = "--model", description = "pipeline directory (default: the shipped model)") Path model;
    @Option(names = "--families", split = ",", description = "families to evaluate (default: all)") List<String> families;
    @Option(names = "--samples", defaultValue = "2", description = "samples per family") int samples;
    @Option(names = "--steps", defaultValue = "25,1,2", split = ",", description = "methods by step count; the teacher's count means the teacher") int[] steps;
    @Option(names = "--teacher-steps", description = "which entry of --steps is the guided teacher (default: the pipeline's, 25)") Integer teacherStepsOption;
    @Option(names = "--reference-per-family", defaultValue = "24", description = "dataset size per family whose test split is the reference") int refPerFamily;
    @Option(names = "--seed", defaultValue = "1000") long seed;
    @Option(names = "--device", defaultValue = "auto") String device;
    @Option(names = "--out", defaultValue = "eval") Path out;

    @Override public void run() {
        PipelineModels p = model == null ? PipelineModels.shippedDefault() : PipelineModels.read(model);
        List<String> fams = families == null ? p.families : families;
        for (String f : fams) if (!p.families.contains(f)) throw new Main.UserError("unknown family '" + f + "'");
        Generator g = new Generator(p, Backends.byName(device));
        int n = GenerativeMetrics.POINTS_PER_SHAPE;
        Map<Integer, List<Generator.Result>> results = new LinkedHashMap<>();
        Map<Integer, List<float[]>> points = new LinkedHashMap<>();
        Map<Integer, Double> ms = new LinkedHashMap<>();
        int teacherSteps = teacherStepsOption != null ? teacherStepsOption : p.stage1.teacherSteps();
        for (int k : steps) {
            Generator.Plan plan = Generator.Plan.forSteps(k, teacherSteps);
            List<Generator.Result> rs = new ArrayList<>();
            List<float[]> pts = new ArrayList<>();
            double total = 0;
            for (String f : fams)
                for (int i = 0; i < samples; i++) {
                    Generator.Result r = g.generate(f, plan, seed + i);
                    rs.add(r);
                    pts.add(r.mesh().triangleCount() == 0 ? new float[n * 3] : SurfaceSampler.sample(r.mesh(), n, seed + i));
                    total += r.stage1Ms() + r.stage2Ms();
                }
            results.put(k, rs);
            points.put(k, pts);
            ms.put(k, total / rs.size());
        }
        ShapeDataset ds = ShapeDataset.standard(refPerFamily);
        List<float[]> ref = new ArrayList<>();
        for (ShapeDataset.Item it : ds.items(ShapeDataset.Split.TEST))
            if (fams.contains(it.family().id())) ref.add(SurfaceSampler.sample(SdfMesher.mesh(it.shape(), p.resolution), n, it.seed()));
        if (ref.isEmpty()) throw new Main.UserError("no reference shapes in the test split for " + fams);
        Map<String, Object> report = new LinkedHashMap<>();
        report.put("families", fams);
        report.put("samples_per_family", (long) samples);
        report.put("reference_shapes", (long) ref.size());
        List<Object> methods = new ArrayList<>();
        for (int k : steps) {
            Map<String, Object> m = new LinkedHashMap<>();
            boolean teacher = k == teacherSteps;
            m.put("method", teacher ? "teacher" : "student");
            m.put("steps", (long) k);
            m.put("latency_ms", ms.get(k));
            GenerativeMetrics.Result gm = GenerativeMetrics.compute(points.get(k), ref);
            m.put("mmd_cd", gm.mmdCd());
            m.put("cov_cd", gm.covCd());
            m.put("one_nna_cd", gm.oneNnaCd());
            if (!teacher && results.containsKey(teacherSteps)) {
                List<PairedAgreement.Sample> ts = new ArrayList<>(), ss = new ArrayList<>();
                for (int i = 0; i < results.get(k).size(); i++) {
                    ts.add(new PairedAgreement.Sample(results.get(teacherSteps).get(i).occupancy(), points.get(teacherSteps).get(i)));
                    ss.add(new PairedAgreement.Sample(results.get(k).get(i).occupancy(), points.get(k).get(i)));
                }
                PairedAgreement.Summary s = PairedAgreement.compare(ts, ss);
                m.put("paired_iou", s.meanIou());
                m.put("paired_chamfer_l1", s.meanChamferL1());
                m.put("paired_fscore", s.meanFScore());
                m.put("speedup_vs_teacher", ms.get(teacherSteps) / ms.get(k));
            }
            methods.add(m);
            System.out.println(Json.write(m));
        }
        report.put("methods", methods);
        try {
            Files.createDirectories(out);
            Path tmp = Files.createTempFile(out, "report", ".tmp");
            Files.writeString(tmp, Json.writePretty(report), StandardCharsets.UTF_8);
            Files.move(tmp, out.resolve("report.json"), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            List<Mesh> meshes = new ArrayList<>();
            List<String> labels = new ArrayList<>();
            int rows = fams.size() * samples;
            for (int r = 0; r < rows; r++)
                for (int k : steps) {
                    Generator.Result res = results.get(k).get(r);
                    meshes.add(res.mesh());
                    labels.add(res.family() + (k == teacherSteps ? " teacher" : " " + k + "-step"));
                }
            MeshRenderer.writePng(MeshRenderer.renderGrid(meshes, labels, steps.length, 192, Camera.defaultView()), out.resolve("grid.png"));
        } catch (IOException e) {
            throw new Main.UserError("cannot write the report to " + out + ": " + e.getMessage());
        }
        System.out.println("wrote " + out.resolve("report.json") + " and " + out.resolve("grid.png"));
    }

}
