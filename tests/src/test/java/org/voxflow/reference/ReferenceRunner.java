package org.voxflow.reference;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.voxflow.autograd.Grad;
import org.voxflow.io.SafeTensorsFile;
import org.voxflow.models.trellis.FlowModel;
import org.voxflow.models.trellis.SLatFlowModel;
import org.voxflow.models.trellis.SparseStructureFlowModel;
import org.voxflow.models.trellis.TrellisCheckpoint;
import org.voxflow.sparse.SparseStructure;
import org.voxflow.sparse.SparseTensor;
import org.voxflow.tensor.Backend;
import org.voxflow.tensor.Tensor;

/** Reproduces one reference case and returns the relative error of every tensor it checks. */
final class ReferenceRunner {
    private ReferenceRunner() {}

    static Map<String, Double> run(Backend be, Path dir, String name, SafeTensorsFile f) throws Exception {
        String kind = f.metadata().get("kind");
        if (kind == null) throw new IllegalArgumentException(name + ": no 'kind' in metadata");
        try (var ng = Grad.noGrad()) {
            return switch (kind) {
                case "forward" -> forward(be, dir, f);
                case "sample" -> SamplerCase.run(be, dir, f);
                case "mdt_loss" -> MdtCase.run(be, dir, f);
                default -> throw new IllegalArgumentException(name + ": unknown case kind '" + kind + "'");
            };
        }
    }

    static FlowModel model(Backend be, Path dir, String name) {
        return TrellisCheckpoint.load(dir.resolve(name), be);
    }

    private static Map<String, Double> forward(Backend be, Path dir, SafeTensorsFile f) {
        FlowModel m = model(be, dir, f.metadata().get("model"));
        Tensor t = ReferenceCases.tensor(be, f, "t"), cond = ReferenceCases.tensor(be, f, "cond");
        Tensor out;
        if (m instanceof SparseStructureFlowModel ss) {
            out = ss.forward(ReferenceCases.tensor(be, f, "x"), t, cond);
        } else {
            SLatFlowModel sl = (SLatFlowModel) m;
            SparseStructure s = new SparseStructure(f.ints("coords"), t.size(0));
            out = sl.forward(new SparseTensor(s, ReferenceCases.tensor(be, f, "feats")), t, cond).feats();
        }
        Map<String, Double> r = new LinkedHashMap<>();
        r.put("out", ReferenceCases.relErr(out.toFloats(), f.floats("out")));
        return r;
    }
}
