package org.voxflow.tensor;

/** Marker for the autograd layer's graph node type, so a tensor can point at the op that made it. */
public interface GradNode {}
