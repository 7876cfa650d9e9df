package org.voxflow.bench.gpu;

import java.util.Locale;
import java.util.Map;
import org.voxflow.autograd.Grad;
import org.voxflow.cuda.CudaBackend;
import org.voxflow.distill.AdamW;
import org.voxflow.distill.AdamWConfig;
import org.voxflow.distill.Batch;
import org.voxflow.distill.Losses;
import org.voxflow.distill.MdtDistObjective;
import org.voxflow.distill.MdtSettings;
import org.voxflow.io.Json;
import org.voxflow.models.trellis.SparseStructureFlowConfig;
import org.voxflow.models.trellis.SparseStructureFlowModel;
import org.voxflow.tensor.Backend;
import org.voxflow.tensor.MemoryScope;
import org.voxflow.tensor.Rng;
import org.voxflow.tensor.Tensor;

/**
 * GPU memory and time of one MDT-dist training step of a TRELLIS-large stage-1 student (555 M parameters) against a
 * TRELLIS-large teacher: VM + VD losses (discrete mode, the paper's guidance 40 / 100), backward, AdamW. Prints the
 * peak bytes held by tensors (weights, AdamW state, activations, autocast's weight copies) with activation
 * checkpointing of the transformer blocks on and off. The target: batch 8 fits an 80 GB card.
 *
 * <pre>bin/voxflow-run org.voxflow.bench.gpu.MdtStepMemory [--batch 8] [--checkpointing on,off] [--steps 2]</pre>
 */
public final class MdtStepMemory {
    private MdtStepMemory() {}

    @SuppressWarnings("unchecked")
    public static void main(String[] args) {
        int batch = 8, steps = 2, blocks = 0;
        String[] modes = {"on", "off"};
        for (int i = 0; i + 1 < args.length; i += 2) {
            switch (args[i]) {
                case "--batch" -> batch = Integer.parseInt(args[i + 1]);
                case "--steps" -> steps = Integer.parseInt(args[i + 1]);
                case "--checkpointing" -> modes = args[i + 1].split(",");
                case "--blocks" -> blocks = Integer.parseInt(args[i + 1]);
                default -> throw new IllegalArgumentException("unknown option " + args[i] + " (--batch N, --steps N, --checkpointing on,off)");
            }
        }
        Backend be = GpuBench.backend();
        CudaBackend cb = be instanceof CudaBackend c ? c : null;
        System.out.println("[mdt-memory] device " + GpuBench.device(be) + ", autocast " + org.voxflow.cuda.CudaAutocast.describe()
                + (blocks > 0 ? ", " + blocks + " blocks" : ""));
        String json = GpuBench.SMALL ? GpuBench.STAGE1_SMALL : GpuBench.STAGE1;
        if (blocks > 0) json = json.replaceAll("\"num_blocks\":\\d+", "\"num_blocks\":" + blocks);
        var cfg = SparseStructureFlowConfig.fromArgs((Map<String, Object>) Json.parse(json), "student");
        SparseStructureFlowModel teacher = MemoryScope.outside(() -> new SparseStructureFlowModel(be, cfg));
        GpuBench.randomize(teacher, 1);
        SparseStructureFlowModel student = MemoryScope.outside(() -> new SparseStructureFlowModel(be, cfg));
        GpuBench.randomize(student, 2);
        for (Tensor p : teacher.namedParameters().values()) p.setRequiresGrad(false); // frozen, as in distillation
        AdamW opt = MemoryScope.outside(() -> new AdamW(student.namedParameters(), AdamWConfig.defaults().withWeightDecay(0)));
        MdtDistObjective obj = new MdtDistObjective(teacher, student, MdtSettings.paper(MdtSettings.Mode.DISCRETE));
        int r = GpuBench.stage1Resolution();
        for (String mode : modes) {
            student.setCheckpointing(mode.equals("on"));
            Rng rng = new Rng(7);
            try {
                for (int s = 0; s < steps; s++) {
                    GpuBench.sync(be);
                    if (cb != null) cb.resetPeakMemory();
                    org.voxflow.tensor.Storage.resetPeak();
                    long t0 = System.nanoTime();
                    float loss;
                    try (MemoryScope scope = MemoryScope.open()) {
                        Tensor x0 = GpuBench.randn(be, 100 + s, batch, 8, r, r, r);
                        Tensor cond = GpuBench.randn(be, 200 + s, batch, GpuBench.condTokens(), GpuBench.channels());
                        student.zeroGrad();
                        Losses l = obj.loss(Batch.dense(x0, cond), rng);
                        Grad.backward(l.total());
                        opt.step(1e-6);
                        loss = l.terms().get("loss");
                        x0.close();
                        cond.close();
                    }
                    student.zeroGrad();
                    GpuBench.sync(be);
                    double sec = (System.nanoTime() - t0) / 1e9;
                    long[] m = cb != null ? cb.memoryStats() : new long[3];
                    System.out.printf(Locale.ROOT, "[mdt-memory] checkpointing %-3s batch %d step %d: %.2f s, loss %.4g, peak %.2f GB in tensors "
                            + "(%.2f GB live after the step; all backends: peak %.3f GB, live %.3f GB), pool reserved %.1f GB%n", mode, batch, s + 1, sec,
                            loss, m[1] / 1e9, m[0] / 1e9, org.voxflow.tensor.Storage.peakBytes() / 1e9, org.voxflow.tensor.Storage.liveBytes() / 1e9, m[2] / 1e9);
                }
            } catch (RuntimeException e) {
                long[] m = cb != null ? cb.memoryStats() : new long[3];
                System.out.printf(Locale.ROOT, "[mdt-memory] checkpointing %-3s batch %d: FAILED (%s) with %.1f GB in tensors at the peak%n", mode,
                        batch, e.getMessage().lines().findFirst().orElse(""), m[1] / 1e9);
                student.zeroGrad();
                System.gc();
            }
        }
    }
}
