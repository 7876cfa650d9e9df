package org.voxflow.cli;

import java.nio.file.Path;
import java.util.Arrays;
import org.voxflow.flow.EulerSampler;
import org.voxflow.flow.FlowSchedule;
import org.voxflow.flow.Guidance;
import org.voxflow.flow.TimeGrid;
import org.voxflow.flow.VelocityField;
import org.voxflow.io.SafeDType;
import org.voxflow.io.SafeTensorsFile;
import org.voxflow.io.SafeTensorsWriter;
import org.voxflow.models.trellis.FlowModel;
import org.voxflow.models.trellis.SLatFlowModel;
import org.voxflow.models.trellis.SparseStructureFlowModel;
import org.voxflow.models.trellis.TrellisCheckpoint;
import org.voxflow.sparse.SparseStructure;
import org.voxflow.tensor.Backend;
import org.voxflow.tensor.Backends;
import org.voxflow.tensor.DType;
import org.voxflow.tensor.Rng;
import org.voxflow.tensor.Tensor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * `voxflow sample`: runs one flow model's sampler from seeded noise. Teacher settings (25 steps, rescale_t 3,
 * CFG 5 on [0.5, 1]) or a few-step student grid; conditions come from a safetensors file (tensor "cond"
 * [B, L, C]); stage-2 models also need "coords" [N, 4] there. Writes "sample" (and "coords") to --out.
 */
@Command(name = "sample", description = "Sample a TRELLIS flow model (teacher or few-step student) and write the latents.")
final class SampleCommand implements Runnable {
    @Option(names = "--model", required = true, description = "checkpoint (<name>.json + <name>.safetensors)") Path model;
    @Option(names = "--inputs", required = true, description = "safetensors with cond [B,L,C] (and coords [N,4] for stage 2)") Path inputs;
    @Option(names = "--steps", defaultValue = "25") int steps;
    @Option(names = "--rescale-t", defaultValue = "3.0") double rescaleT;
    @Option(names = "--cfg", defaultValue = "5.0", description = "guidance strength w (0 = none)") double cfg;
    @Option(names = "--cfg-interval", defaultValue = "0.5,1.0", split = ",") double[] interval;
    @Option(names = "--seed", defaultValue = "0") long seed;
    @Option(names = "--device", defaultValue = "auto", description = "cpu, cuda or auto") String device;
    @Option(names = "--out", required = true) Path out;

    @Override public void run() {
        Backend be = Backends.byName(device);
        FlowModel m = TrellisCheckpoint.load(model, be);
        try (SafeTensorsFile in = SafeTensorsFile.open(inputs)) {
            if (!in.contains("cond")) throw new Main.UserError(inputs + ": no tensor 'cond'");
            long[] cs = in.info("cond").shape();
            if (cs.length != 3) throw new Main.UserError(inputs + ": 'cond' must be [B, L, C], got " + Arrays.toString(cs));
            int b = (int) cs[0];
            Tensor cond = be.fromFloats(in.floats("cond"), (int) cs[0], (int) cs[1], (int) cs[2]);
            Rng rng = new Rng(seed);
            SparseStructure structure = null;
            int[] noiseShape;
            if (m instanceof SparseStructureFlowModel ss) {
                int r = ss.config().resolution();
                noiseShape = new int[] {b, ss.config().inChannels(), r, r, r};
            } else {
                if (!in.contains("coords")) throw new Main.UserError(inputs + ": a stage-2 model needs 'coords' [N, 4]");
                structure = new SparseStructure(in.ints("coords"), b);
                noiseShape = new int[] {structure.rows(), ((SLatFlowModel) m).config().inChannels()};
            }
            Tensor noise = rng.randn(be, noiseShape);
            Guidance g = cfg == 0 ? Guidance.NONE : new Guidance(cfg, interval[0], interval[1]);
            long t0 = System.nanoTime();
            Tensor sample = new EulerSampler(FlowSchedule.TRELLIS).sample(VelocityField.of(m, b, structure), noise, cond,
                    be.zeros(DType.F32, cond.shape()), TimeGrid.trellis(steps, rescaleT), g).sample();
            double ms = (System.nanoTime() - t0) / 1e6;
            SafeTensorsWriter w = new SafeTensorsWriter().metadata("steps", Integer.toString(steps)).metadata("seed", Long.toString(seed));
            w.addFloats("sample", SafeDType.F32, Arrays.stream(sample.shape()).asLongStream().toArray(), sample.toFloats());
            if (structure != null) w.addInts("coords", new long[] {structure.rows(), 4}, structure.coords());
            w.write(out);
            System.out.printf("sampled %s: %d steps in %.1f ms on %s -> %s%n", m.className(), steps, ms, be.device(), out);
        } catch (java.io.IOException e) {
            throw new Main.UserError(e.getMessage());
        }
    }
}
