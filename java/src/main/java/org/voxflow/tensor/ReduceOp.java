package org.voxflow.tensor;

/** Reductions over a set of axes. */
public enum ReduceOp { SUM, MEAN, MAX, MIN }
