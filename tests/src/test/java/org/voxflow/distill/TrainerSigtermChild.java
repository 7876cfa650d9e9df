package org.voxflow.distill;

import java.nio.file.Path;

/**
 * A separate JVM for {@link TrainerTest}'s SIGTERM check: trains the toy student slowly (far more steps than it
 * will get to run) with checkpoints only at the end, printing "running" once the first step is under way.
 */
final class TrainerSigtermChild {
    private TrainerSigtermChild() {}

    public static void main(String[] args) {
        Path out = Path.of(args[0]);
        ToyTraining.Tiny m = new ToyTraining.Tiny(1);
        boolean[] announced = {false};
        Objective slow = new ToyTraining.ToyObjective(m, c -> false, () -> {
            if (!announced[0]) {
                announced[0] = true;
                System.out.println("running");
                System.out.flush();
            }
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        TrainerConfig cfg = TrainerTest.config(out, 1_000_000, Precision.F32).checkpointInterval(0).stopOnSigterm(true).build();
        new Trainer(cfg, m, slow, ToyTraining.source()).train();
        System.out.println("returned");
    }
}
