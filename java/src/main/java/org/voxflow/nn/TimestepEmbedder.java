package org.voxflow.nn;

import org.voxflow.autograd.F;
import org.voxflow.tensor.Backend;
import org.voxflow.tensor.Tensor;

/**
 * 256-d sinusoid of t (callers pass t already multiplied by 1000, as TRELLIS does), then Linear-SiLU-Linear.
 * Layout [cos(t f_0..f_{h-1}), sin(t f_0..f_{h-1})], f_i = exp(-ln(10000) i / h), computed in f32 like PyTorch.
 */
public final class TimestepEmbedder extends Module {
    public static final int FREQ_DIM = 256;
    private final Linear fc1, fc2;

    public TimestepEmbedder(Backend be, int hidden) {
        super(be);
        Sequential mlp = child("mlp", new Sequential(be));
        fc1 = mlp.add("0", new Linear(be, FREQ_DIM, hidden));
        fc2 = mlp.add("2", new Linear(be, hidden, hidden));
    }

    /** The sinusoidal features [B, 256] of t [B]; a tangent on t flows through sin/cos. */
    public static Tensor sinusoid(Tensor t) {
        Tensor args = F.mul(F.reshape(t, t.size(0), 1), frequencies(t.backend()));
        return F.concat(new Tensor[] {F.cos(args), F.sin(args)}, 1);
    }

    /**
     * [1, 128] frequencies, uploaded once per backend: a per-call upload would synchronize the GPU stream every
     * forward (and cannot be recorded into a CUDA graph).
     */
    private static final java.util.Map<Backend, Tensor> FREQS = new java.util.concurrent.ConcurrentHashMap<>();

    private static Tensor frequencies(Backend be) {
        return FREQS.computeIfAbsent(be, b -> {
            int half = FREQ_DIM / 2;
            float[] freqs = new float[half];
            float c = (float) -Math.log(10000); // PyTorch multiplies the f32 arange by the scalar cast to f32
            for (int i = 0; i < half; i++) freqs[i] = (float) Math.exp(c * i / half);
            return org.voxflow.tensor.MemoryScope.outside(() -> b.fromFloats(freqs, 1, half));
        });
    }

    public Tensor forward(Tensor t) { return fc2.forward(F.silu(fc1.forward(sinusoid(t)))); }
}
