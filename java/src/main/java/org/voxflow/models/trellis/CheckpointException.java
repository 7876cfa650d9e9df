package org.voxflow.models.trellis;

/** A checkpoint or model config that cannot be used; the message lists every offending field or tensor. */
public class CheckpointException extends RuntimeException {
    public CheckpointException(String message) { super(message); }
    public CheckpointException(String message, Throwable cause) { super(message, cause); }
}
