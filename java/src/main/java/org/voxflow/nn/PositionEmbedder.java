package org.voxflow.nn;

/**
 * TRELLIS's AbsolutePositionEmbedder: per coordinate axis, [sin(x f_0..f_{k-1}), cos(x f_0..f_{k-1})] with
 * k = channels / 3 / 2 and f_i = 10000^(-i/k), axes side by side, zero-padded to `channels`.
 */
public final class PositionEmbedder {
    private PositionEmbedder() {}

    /** Embeddings [N, channels] (row-major) of integer coordinates [N, 3]. */
    public static float[] embed(int[] coords, int n, int channels) {
        int k = channels / 3 / 2;
        float[] freqs = new float[k];
        for (int i = 0; i < k; i++) freqs[i] = (float) (1.0 / Math.pow(10000, (float) i / k));
        float[] out = new float[n * channels];
        for (int r = 0; r < n; r++)
            for (int a = 0; a < 3; a++) {
                float x = coords[r * 3 + a];
                int base = r * channels + a * 2 * k;
                for (int i = 0; i < k; i++) {
                    float arg = x * freqs[i];
                    out[base + i] = (float) Math.sin(arg);
                    out[base + k + i] = (float) Math.cos(arg);
                }
            }
        return out;
    }
}
