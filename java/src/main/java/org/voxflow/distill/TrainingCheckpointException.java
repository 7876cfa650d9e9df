package org.voxflow.distill;

/**
 * A training checkpoint that cannot be written or used: missing, corrupted, or from another run (model, EMA
 * rates, tensors). The message names the file and every problem found.
 */
public class TrainingCheckpointException extends RuntimeException {
    public TrainingCheckpointException(String message) { super(message); }

    public TrainingCheckpointException(String message, Throwable cause) { super(message, cause); }
}
