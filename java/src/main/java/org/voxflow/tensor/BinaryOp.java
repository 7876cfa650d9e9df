package org.voxflow.tensor;

/** Elementwise functions of two broadcast tensors. Comparisons give 1 or 0 in f32. */
public enum BinaryOp { ADD, SUB, MUL, DIV, MAX, MIN, POW, GT, GE, LT, LE, EQ }
