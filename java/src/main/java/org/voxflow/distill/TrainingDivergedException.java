package org.voxflow.distill;

import java.nio.file.Path;

/**
 * Training hit a NaN or infinite loss (or gradient) in a mode without loss scaling and stopped. Nothing was
 * written for the failing step; {@link #lastCheckpoint()} is the last good state to resume from (null if none).
 */
public class TrainingDivergedException extends RuntimeException {
    private final long step;
    private final String term;
    private final transient Path lastCheckpoint;

    public TrainingDivergedException(String message, long step, String term, Path lastCheckpoint) {
        super(message);
        this.step = step;
        this.term = term;
        this.lastCheckpoint = lastCheckpoint;
    }

    /** The 1-based number of the step that failed. */
    public long step() { return step; }

    /** The loss term that was not finite ("total" for the summed loss, "grad" for the gradient). */
    public String term() { return term; }

    public Path lastCheckpoint() { return lastCheckpoint; }
}
