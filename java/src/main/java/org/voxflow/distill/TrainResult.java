package org.voxflow.distill;

import java.nio.file.Path;

/**
 * How {@link Trainer#train()} ended.
 *
 * @param step           optimizer steps completed (including earlier runs this one resumed)
 * @param completed      true when all configured steps ran
 * @param stopped        true when a stop request (SIGTERM) ended the run early, after writing a checkpoint
 * @param lastCheckpoint the newest checkpoint file, or null
 * @param skippedSteps   steps skipped for overflow under f16 loss scaling in this run
 */
public record TrainResult(long step, boolean completed, boolean stopped, Path lastCheckpoint, long skippedSteps) {}
