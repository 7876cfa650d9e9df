package org.voxflow.distill;

/**
 * How the run treats numerics. The objective and model decide which ops run in reduced precision (weights and
 * optimizer state stay f32 master copies); this mode decides what the trainer does about overflow:
 * <ul>
 *   <li>{@code F32}, {@code BF16}: no loss scaling (bf16 has f32's range); a NaN/Inf loss or gradient is a hard
 *       stop naming the step and the term.</li>
 *   <li>{@code F16}: dynamic loss scaling ({@link LossScaler}); an overflow skips the step, shrinks the scale and
 *       is logged, and training goes on.</li>
 * </ul>
 */
public enum Precision {
    F32, BF16, F16;

    public boolean scalesLoss() { return this == F16; }
}
