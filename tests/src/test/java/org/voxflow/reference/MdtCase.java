package org.voxflow.reference;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.voxflow.autograd.Grad;
import org.voxflow.distill.Batch;
import org.voxflow.distill.Losses;
import org.voxflow.distill.MdtDistObjective;
import org.voxflow.distill.MdtSettings;
import org.voxflow.io.SafeTensorsFile;
import org.voxflow.models.trellis.FlowModel;
import org.voxflow.tensor.Backend;
import org.voxflow.tensor.Tensor;

/** The MDT-dist loss cases: every loss term and every student gradient. */
final class MdtCase {
    private MdtCase() {}

    static Map<String, Double> run(Backend be, Path dir, SafeTensorsFile f) {
        Map<String, String> md = f.metadata();
        FlowModel teacher = ReferenceRunner.model(be, dir, md.get("teacher"));
        FlowModel student = ReferenceRunner.model(be, dir, md.get("student"));
        if (!"zeros".equals(md.getOrDefault("neg_cond", "zeros")))
            throw new IllegalArgumentException("only zero negative conditions are supported, case has " + md.get("neg_cond"));
        double wVm = Double.parseDouble(md.get("cfg_teacher_vm")), wVd = Double.parseDouble(md.get("cfg_teacher_vd"));
        MdtSettings settings = new MdtSettings(MdtSettings.Mode.parse(md.get("distill_type")), Double.parseDouble(md.get("interval")),
                Double.parseDouble(md.get("sigma_min")), new double[] {wVm}, new double[] {wVd},
                Double.parseDouble(md.get("lambda_vm")), Double.parseDouble(md.get("lambda_vd")),
                Boolean.parseBoolean(md.get("d_norm").toLowerCase()), Integer.parseInt(md.get("multiphase")), 1, 1);
        MdtDistObjective objective = new MdtDistObjective(teacher, student, settings);
        Batch batch = Batch.dense(ReferenceCases.tensor(be, f, "x0"), ReferenceCases.tensor(be, f, "cond"));
        Map<String, Double> r = new LinkedHashMap<>();
        Losses l;
        try (var on = Grad.enabledScope()) {
            l = objective.terms(batch, ReferenceCases.tensor(be, f, "noise"), ReferenceCases.tensor(be, f, "noise_fake"),
                    ReferenceCases.tensor(be, f, "t"), wVm, wVd);
            Grad.backward(l.total());
        }
        for (String term : new String[] {"loss", "loss_vm", "loss_vd"})
            if (f.contains(term)) r.put(term, ReferenceCases.relErr(new float[] {l.terms().get(term)}, f.floats(term)));
        for (Map.Entry<String, Tensor> p : student.namedParameters().entrySet()) {
            String key = "grad." + p.getKey();
            if (!f.contains(key)) throw new AssertionError("reference case lacks " + key);
            Tensor g = p.getValue().grad();
            float[] got = g == null ? new float[(int) p.getValue().numel()] : g.toFloats();
            r.put(key, ReferenceCases.relErr(got, f.floats(key)));
        }
        return r;
    }
}
