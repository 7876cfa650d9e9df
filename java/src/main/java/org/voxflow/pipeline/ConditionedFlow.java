package org.voxflow.pipeline;

import org.voxflow.models.trellis.FlowModel;
import org.voxflow.nn.Module;

/** A flow model and its family conditioner trained together (the teacher's trainable parameters). */
public final class ConditionedFlow extends Module {
    public final FlowModel model;
    public final FamilyConditioner conditioner;

    public ConditionedFlow(FlowModel model, FamilyConditioner conditioner) {
        super(conditioner.backend());
        child("model", (Module) model);
        child("conditioner", conditioner);
        this.model = model;
        this.conditioner = conditioner;
    }
}
