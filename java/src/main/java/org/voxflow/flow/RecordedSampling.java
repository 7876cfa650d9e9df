package org.voxflow.flow;

import org.voxflow.tensor.Backend;
import org.voxflow.tensor.MemoryScope;
import org.voxflow.tensor.Recording;
import org.voxflow.tensor.Tensor;

/**
 * Euler sampling of one field for a fixed shape, time grid and guidance, recorded once and replayed (a CUDA graph
 * on GPUs: the whole student pass, or the whole teacher loop, costs one launch instead of a host round trip per
 * op). Where the backend cannot record (the CPU) every call simply samples. Results equal
 * {@link EulerSampler#sampleFinal} on the same inputs: a replay runs the same kernels on the same values.
 *
 * <p>The recording keeps the field's structure (for stage 2: the voxels) and the grid; only the values of the
 * noise and the conditions change between calls, and they must keep the recorded shapes. The instance owns its
 * input and output buffers; close it to free them and the recording.
 */
public final class RecordedSampling implements AutoCloseable {
    private final Backend be;
    private final Tensor noiseIn, condIn, negIn, out;
    private final Recording recording; // null: sample eagerly
    private final EulerSampler sampler;
    private final VelocityField field;
    private final double[] grid;
    private final Guidance guidance;

    private RecordedSampling(Backend be, EulerSampler sampler, VelocityField field, double[] grid, Guidance guidance,
                             Tensor noiseIn, Tensor condIn, Tensor negIn, Tensor out, Recording recording) {
        this.be = be;
        this.sampler = sampler;
        this.field = field;
        this.grid = grid.clone();
        this.guidance = guidance;
        this.noiseIn = noiseIn;
        this.condIn = condIn;
        this.negIn = negIn;
        this.out = out;
        this.recording = recording;
    }

    /**
     * Samples once unrecorded from the given inputs (filling every cache the field uses), then records the same
     * sampling. The inputs fix the shapes; negCond may be null when guidance is off.
     */
    public static RecordedSampling record(EulerSampler sampler, VelocityField field, Tensor noise, Tensor cond,
                                          Tensor negCond, double[] grid, Guidance guidance) {
        Backend be = noise.backend();
        Tensor noiseIn = MemoryScope.outside(() -> be.copy(noise));
        Tensor condIn = MemoryScope.outside(() -> be.copy(cond));
        Tensor negIn = negCond == null ? null : MemoryScope.outside(() -> be.copy(negCond));
        Tensor out;
        try (MemoryScope warm = MemoryScope.open()) { // the unrecorded run: caches, cuBLAS heuristics, kernel setup
            Tensor first = sampler.sampleFinal(field, noiseIn, condIn, negIn, grid, guidance);
            out = MemoryScope.outside(() -> be.copy(first));
        }
        Recording rec = be.record(() -> {
            try (MemoryScope scope = MemoryScope.open()) {
                be.assign(out, sampler.sampleFinal(field, noiseIn, condIn, negIn, grid, guidance));
            }
        });
        return new RecordedSampling(be, sampler, field, grid, guidance, noiseIn, condIn, negIn, out, rec);
    }

    /** Whether calls replay a recording (false: the backend cannot record and each call samples). */
    public boolean recorded() { return recording != null; }

    /** Operations in the recording (0 when not recorded). */
    public long operations() { return recording == null ? 0 : recording.operations(); }

    /** The sample for these inputs (shapes as recorded), as a new tensor in the caller's scope. */
    public Tensor sample(Tensor noise, Tensor cond, Tensor negCond) {
        check("noise", noiseIn, noise);
        check("cond", condIn, cond);
        if (negIn != null) check("negCond", negIn, negCond);
        be.assign(noiseIn, noise);
        be.assign(condIn, cond);
        if (negIn != null) be.assign(negIn, negCond);
        if (recording == null) {
            try (MemoryScope scope = MemoryScope.open()) {
                be.assign(out, sampler.sampleFinal(field, noiseIn, condIn, negIn, grid, guidance));
            }
        } else {
            recording.replay();
        }
        return be.copy(out);
    }

    private static void check(String name, Tensor recorded, Tensor given) {
        if (given == null) throw new IllegalArgumentException(name + " is missing (it was recorded)");
        if (!java.util.Arrays.equals(recorded.shape(), given.shape()))
            throw new IllegalArgumentException(name + " has shape " + java.util.Arrays.toString(given.shape())
                    + " but the sampling was recorded for " + java.util.Arrays.toString(recorded.shape()));
    }

    @Override public void close() {
        if (recording != null) recording.close();
        noiseIn.close();
        condIn.close();
        if (negIn != null) negIn.close();
        out.close();
    }
}
