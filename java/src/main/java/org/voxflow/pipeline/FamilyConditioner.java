package org.voxflow.pipeline;

import org.voxflow.autograd.F;
import org.voxflow.nn.Module;
import org.voxflow.tensor.Backend;
import org.voxflow.tensor.Rng;
import org.voxflow.tensor.Tensor;

/**
 * Learned condition tokens per shape family, K tokens x C channels each, fed through the flow models'
 * cross-attention the way TRELLIS feeds image tokens. The raw condition is a one-hot family vector [B, 1, F];
 * tokens = onehot @ table, so the table learns by ordinary backprop while the teacher trains.
 */
public final class FamilyConditioner extends Module {
    private final Tensor table;
    private final int families, tokens, channels;

    public FamilyConditioner(Backend be, int families, int tokens, int channels, long seed) {
        super(be);
        this.families = families;
        this.tokens = tokens;
        this.channels = channels;
        table = param("tokens", families, tokens * channels);
        float[] v = new Rng(seed).normal(families * tokens * channels);
        be.assign(table, be.fromFloats(v, families, tokens * channels));
    }

    public int families() { return families; }

    /** [B, 1, F] one-hot (or any mixture) -> [B, K, C] tokens. */
    public Tensor apply(Tensor onehot) {
        int b = onehot.size(0);
        if (onehot.numel() != (long) b * families)
            throw new IllegalArgumentException("family condition must be [B, 1, " + families + "], got " + java.util.Arrays.toString(onehot.shape()));
        return F.reshape(F.matmul(F.reshape(onehot, b, families), table), b, tokens, channels);
    }

    /** The raw one-hot condition [B, 1, F] for family labels. */
    public static float[] oneHot(int[] labels, int families) {
        float[] v = new float[labels.length * families];
        for (int i = 0; i < labels.length; i++) v[i * families + labels[i]] = 1f;
        return v;
    }
}
