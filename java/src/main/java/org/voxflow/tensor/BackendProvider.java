package org.voxflow.tensor;

/**
 * Found through {@link java.util.ServiceLoader}: lets the CUDA module plug in without the engine naming any
 * CUDA class (on a machine with no driver, merely loading those classes fails).
 */
public interface BackendProvider {
    /** "cuda", ... */
    String name();

    /** Probes the hardware; must not throw (catch Throwable inside). */
    boolean available();

    Backend create();
}
