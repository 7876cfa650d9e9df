package org.voxflow.flow;

import org.voxflow.models.trellis.SLatFlowModel;
import org.voxflow.models.trellis.SparseStructureFlowModel;
import org.voxflow.sparse.SparseStructure;
import org.voxflow.sparse.SparseTensor;
import org.voxflow.tensor.Tensor;

/**
 * A flow model seen by samplers and objectives: the velocity v(x, t, cond) for a state tensor x at model time
 * t1000 = 1000 t ([B]), the scale TRELLIS's models take. Callers form t1000 the way the reference does (the
 * samplers from a double, the training losses by an f32 multiply) so results match to the last digit. Dense
 * fields move [B, C, R, R, R]; sparse fields move the feats [N, C] of a fixed structure.
 */
public interface VelocityField {
    Tensor velocity(Tensor x, Tensor t1000, Tensor cond);

    Batching batching();

    /** The field of either TRELLIS model: stage 1 over B dense latents, stage 2 on the voxels of a structure. */
    static VelocityField of(org.voxflow.models.trellis.FlowModel model, int batch, SparseStructure structure) {
        if (model instanceof SparseStructureFlowModel ss) return dense(ss, batch);
        if (model instanceof SLatFlowModel sl) {
            if (structure == null) throw new IllegalArgumentException("a stage-2 model needs the sparse structure of the batch");
            return sparse(sl, structure);
        }
        throw new IllegalArgumentException("no velocity field for " + model.className());
    }

    /** Stage 1 over a batch of B dense latents. */
    static VelocityField dense(SparseStructureFlowModel model, int batch) {
        Batching b = Batching.dense(batch);
        return new VelocityField() {
            @Override public Tensor velocity(Tensor x, Tensor t1000, Tensor cond) { return model.forward(x, t1000, cond); }
            @Override public Batching batching() { return b; }
        };
    }

    /** Stage 2 on the voxels of a structure. */
    static VelocityField sparse(SLatFlowModel model, SparseStructure structure) {
        Batching b = Batching.sparse(structure.layout());
        return new VelocityField() {
            @Override public Tensor velocity(Tensor x, Tensor t1000, Tensor cond) {
                return model.forward(new SparseTensor(structure, x), t1000, cond).feats();
            }
            @Override public Batching batching() { return b; }
        };
    }
}
