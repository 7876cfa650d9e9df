package org.voxflow.reference;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.voxflow.flow.EulerSampler;
import org.voxflow.flow.FlowSchedule;
import org.voxflow.flow.Guidance;
import org.voxflow.flow.TimeGrid;
import org.voxflow.flow.VelocityField;
import org.voxflow.io.SafeTensorsFile;
import org.voxflow.models.trellis.SparseStructureFlowModel;
import org.voxflow.tensor.Backend;
import org.voxflow.tensor.Tensor;

/** The sampler cases: TRELLIS's guidance-interval Euler sampler and plain Euler with k steps. */
final class SamplerCase {
    private SamplerCase() {}

    static Map<String, Double> run(Backend be, Path dir, SafeTensorsFile f) {
        Map<String, String> md = f.metadata();
        var model = (SparseStructureFlowModel) ReferenceRunner.model(be, dir, md.get("model"));
        Tensor noise = ReferenceCases.tensor(be, f, "noise"), cond = ReferenceCases.tensor(be, f, "cond");
        Tensor neg = ReferenceCases.tensor(be, f, "neg_cond");
        VelocityField field = VelocityField.dense(model, noise.size(0));
        EulerSampler sampler = new EulerSampler(new FlowSchedule(Double.parseDouble(md.get("sigma_min"))));
        Guidance g = new Guidance(Double.parseDouble(md.get("cfg_strength")), Double.parseDouble(md.get("cfg_interval_lo")),
                Double.parseDouble(md.get("cfg_interval_hi")));
        double[] grid = TimeGrid.trellis(Integer.parseInt(md.get("steps")), Double.parseDouble(md.get("rescale_t")));
        EulerSampler.Result teacher = sampler.sample(field, noise, cond, neg, grid, g);
        Map<String, Double> r = new LinkedHashMap<>();
        r.put("teacher", ReferenceCases.relErr(teacher.sample().toFloats(), f.floats("teacher")));
        r.put("teacher_x0_first", ReferenceCases.relErr(teacher.predX0().get(0).toFloats(), f.floats("teacher_x0_first")));
        String plain = md.getOrDefault("plain_steps", "");
        for (String k : plain.split(",")) {
            if (k.isBlank()) continue;
            int steps = Integer.parseInt(k.trim());
            Tensor s = sampler.sample(field, noise, cond, null, TimeGrid.trellis(steps, 1.0), Guidance.NONE).sample();
            r.put("euler" + steps, ReferenceCases.relErr(s.toFloats(), f.floats("euler" + steps)));
        }
        return r;
    }
}
