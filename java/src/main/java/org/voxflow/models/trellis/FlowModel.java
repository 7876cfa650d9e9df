package org.voxflow.models.trellis;

import java.util.Map;
import org.voxflow.tensor.Tensor;

/** What a checkpoint needs of a TRELLIS flow model: its class name, its arguments and its state dict. */
public interface FlowModel {
    String className();

    Map<String, Object> args();

    Map<String, Tensor> stateDict();

    Map<String, Tensor> namedParameters();

    long parameterCount();

    /**
     * Activation checkpointing of the transformer blocks while training (TRELLIS's use_checkpoint, which sets the
     * initial value): blocks keep only their inputs and recompute in backward (see autograd.Checkpoint).
     */
    void setCheckpointing(boolean on);

    boolean checkpointing();
}
