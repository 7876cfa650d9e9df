package org.voxflow.tensor;

/**
 * Device work recorded once by {@link Backend#record} and replayed with one launch (a CUDA graph on GPUs). A replay
 * repeats exactly the recorded operations on exactly the recorded memory: the body's inputs and outputs must be
 * tensors made before recording, refilled ({@link Backend#assign}) before and read after each replay, and every
 * value the body depends on must be in those tensors or fixed (shapes, scalars and host constants are baked in).
 */
public interface Recording extends AutoCloseable {
    /** Queues one replay on the backend's stream (asynchronous, like any op). */
    void replay();

    /** Operations recorded (graph nodes), for reports. */
    long operations();

    /** Frees the recording. */
    @Override void close();
}
