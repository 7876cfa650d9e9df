package org.voxflow.distill;

import org.voxflow.tensor.Rng;

/**
 * A training objective: builds the loss graph of one batch (the trainer runs backward and the optimizer). Every
 * random draw (t, noise, condition dropout) comes from the generator passed in, so runs repeat bit for bit.
 */
public interface Objective {
    Losses loss(Batch batch, Rng rng);
}
