package org.voxflow.cli;

import java.nio.file.Path;
import org.voxflow.distill.AdamWConfig;
import org.voxflow.distill.ClipConfig;
import org.voxflow.distill.LrSchedule;
import org.voxflow.distill.TrainerConfig;
import picocli.CommandLine.Option;

/** Options every training command shares (mixed into train-teacher and distill). */
final class TrainingOptions {
    @Option(names = "--config", description = "JSON file of option values (keys = option names without dashes); flags override it") Path config;
    @Option(names = "--train-steps", defaultValue = "2000", description = "optimizer steps") long trainSteps;
    @Option(names = "--batch", defaultValue = "16", description = "samples per process and micro-batch (data-parallel: global batch = batch x WORLD_SIZE)") int batch;
    @Option(names = "--accumulation", defaultValue = "1", description = "micro-batches per optimizer step") int accumulation;
    @Option(names = "--lr", defaultValue = "1e-4") double lr;
    @Option(names = "--warmup", defaultValue = "0", description = "linear warm-up steps") long warmup;
    @Option(names = "--weight-decay", defaultValue = "0.0") double weightDecay;
    @Option(names = "--ema", split = ",", description = "EMA rates, e.g. 0.999 (the first one is exported)") double[] ema;
    @Option(names = "--clip", defaultValue = "1.0", description = "max grad norm (0 = off)") double clip;
    @Option(names = "--adaptive-clip", defaultValue = "true", description = "TRELLIS's adaptive clipper (95th percentile of the last 1000 norms)") boolean adaptiveClip;
    @Option(names = "--checkpoint-interval", defaultValue = "500") long checkpointInterval;
    @Option(names = "--seed", defaultValue = "0") long seed;
    @Option(names = "--device", defaultValue = "auto", description = "cpu, cuda or auto") String device;
    @Option(names = "--no-progress", description = "no progress bar") boolean noProgress;
    @Option(names = "--resume", description = "continue from the latest training checkpoint of this run (exactly: weights, optimizer, EMA, RNG, data order)") boolean resume;

    TrainerConfig trainer(Path outputDir, String teacherPath) {
        ClipConfig c = clip <= 0 ? ClipConfig.none() : adaptiveClip ? ClipConfig.trellis(clip) : ClipConfig.fixed(clip);
        return TrainerConfig.builder(outputDir, trainSteps).accumulation(accumulation)
                .lr(warmup > 0 ? new LrSchedule.LinearWarmup(lr, warmup) : LrSchedule.constant(lr))
                .adamW(AdamWConfig.defaults().withWeightDecay(weightDecay)).clip(c).emaRates(ema == null ? new double[0] : ema)
                .checkpointInterval(checkpointInterval).seed(seed).teacherPath(teacherPath).progress(!noProgress).build();
    }
}
