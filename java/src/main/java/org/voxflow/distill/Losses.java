package org.voxflow.distill;

import java.util.Map;
import org.voxflow.tensor.Tensor;

/** A scalar loss to differentiate and the named terms to log (host floats). */
public record Losses(Tensor total, Map<String, Float> terms) {}
