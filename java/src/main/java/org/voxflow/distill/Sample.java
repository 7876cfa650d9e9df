package org.voxflow.distill;

import java.util.Arrays;

/** One training example held in host memory: a dense latent grid or a sparse latent, with its condition tokens. */
public sealed interface Sample permits Sample.Dense, Sample.Sparse {
    float[] cond();

    /** Shape of the condition tokens, e.g. [L, C]. */
    int[] condShape();

    /** Stage 1: a dense latent, e.g. [8, 16, 16, 16]. */
    record Dense(float[] x0, int[] shape, float[] cond, int[] condShape) implements Sample {
        public Dense {
            check(x0.length, shape, "latent");
            check(cond.length, condShape, "condition");
        }
    }

    /** Stage 2: feats [n, channels] at integer coordinates xyz [n, 3]. */
    record Sparse(int[] xyz, float[] feats, int channels, float[] cond, int[] condShape) implements Sample {
        public Sparse {
            if (xyz.length % 3 != 0) throw new IllegalArgumentException("sparse sample coords must be [n, 3], got " + xyz.length + " values");
            if (channels < 1 || feats.length != (xyz.length / 3) * channels)
                throw new IllegalArgumentException("sparse sample feats have " + feats.length + " values, " + xyz.length / 3
                        + " voxels x " + channels + " channels need " + (xyz.length / 3) * channels);
            check(cond.length, condShape, "condition");
        }

        public int voxels() { return xyz.length / 3; }
    }

    private static void check(int values, int[] shape, String what) {
        long n = 1;
        for (int d : shape) {
            if (d < 0) throw new IllegalArgumentException(what + " shape " + Arrays.toString(shape) + " has a negative dimension");
            n *= d;
        }
        if (n != values) throw new IllegalArgumentException(what + " has " + values + " values, shape " + Arrays.toString(shape) + " needs " + n);
    }
}
