package org.voxflow.flow;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;
import org.voxflow.autograd.F;
import org.voxflow.tensor.Backend;
import org.voxflow.tensor.Backends;
import org.voxflow.tensor.MemoryScope;
import org.voxflow.tensor.Rng;
import org.voxflow.tensor.Tensor;

/** The lean sampler and the recorded-sampling front end on the CPU, which cannot record and samples each call. */
class RecordedSamplingTest {
    private final Backend cpu = Backends.cpu();

    /** A nonlinear field with a condition: v = tanh(x * c) + t / 1000. */
    private final VelocityField field = new VelocityField() {
        @Override public Tensor velocity(Tensor x, Tensor t1000, Tensor cond) {
            return F.add(F.tanh(F.mul(x, cond)), F.reshape(F.mul(t1000, 1e-3f), t1000.size(0), 1));
        }
        @Override public Batching batching() { return Batching.dense(2); }
    };

    @Test void leanSamplerEqualsTheFullOne() {
        try (MemoryScope s = MemoryScope.open()) {
            Rng r = new Rng(1);
            Tensor x = r.randn(cpu, 2, 5), c = r.randn(cpu, 2, 5), n = r.randn(cpu, 2, 5);
            EulerSampler es = new EulerSampler(FlowSchedule.TRELLIS);
            double[] grid = TimeGrid.trellis(7, 3.0);
            Guidance g = new Guidance(2.0, 0.4, 1.0);
            assertArrayEquals(es.sample(field, x, c, n, grid, g).sample().toFloats(), es.sampleFinal(field, x, c, n, grid, g).toFloats(), 0f);
        }
    }

    @Test void cpuSamplesEachCall() {
        try (MemoryScope s = MemoryScope.open()) {
            assertNull(cpu.record(() -> {}), "the CPU does not record");
            Rng r = new Rng(2);
            Tensor x = r.randn(cpu, 2, 5), c = r.randn(cpu, 2, 5);
            EulerSampler es = new EulerSampler(FlowSchedule.TRELLIS);
            double[] grid = {1, 0.5, 0};
            try (RecordedSampling rs = RecordedSampling.record(es, field, x, c, null, grid, Guidance.NONE)) {
                assertFalse(rs.recorded());
                assertArrayEquals(es.sampleFinal(field, x, c, null, grid, Guidance.NONE).toFloats(), rs.sample(x, c, null).toFloats(), 0f);
                Tensor x2 = r.randn(cpu, 2, 5);
                assertArrayEquals(es.sampleFinal(field, x2, c, null, grid, Guidance.NONE).toFloats(), rs.sample(x2, c, null).toFloats(), 0f);
                assertThrows(IllegalArgumentException.class, () -> rs.sample(r.randn(cpu, 3, 5), c, null));
            }
        }
    }
}
