package org.voxflow.tensor;

import java.util.SplittableRandom;

/**
 * An explicit, seeded random generator: every random draw in voxflow takes one, so runs repeat bit for bit.
 * Normals use the Box-Muller transform on the generator's doubles. The state can be saved and restored
 * (checkpoints) because it is just (seed, draws).
 */
public final class Rng {
    private final long seed;
    private long draws;
    private SplittableRandom random;

    public Rng(long seed) {
        this.seed = seed;
        this.random = new SplittableRandom(seed);
    }

    /** Restores a generator to the state it had after `draws` doubles. */
    public static Rng restore(long seed, long draws) {
        Rng r = new Rng(seed);
        for (long i = 0; i < draws; i++) r.nextDouble();
        return r;
    }

    public long seed() { return seed; }

    public long draws() { return draws; }

    /** Uniform in [0, 1). */
    public double nextDouble() {
        draws++;
        return random.nextDouble();
    }

    /** Uniform integer in [0, bound). */
    public int nextInt(int bound) {
        return (int) Math.min(bound - 1, Math.floor(nextDouble() * bound));
    }

    public double nextGaussian() {
        double u1 = nextDouble(), u2 = nextDouble();
        return Math.sqrt(-2.0 * Math.log1p(-u1)) * Math.cos(2 * Math.PI * u2);
    }

    public float[] normal(int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) nextGaussian();
        return v;
    }

    public float[] uniform(int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) nextDouble();
        return v;
    }

    public Tensor randn(Backend be, int... shape) { return be.fromFloats(normal(Shapes.numelInt(shape)), shape); }

    public Tensor rand(Backend be, int... shape) { return be.fromFloats(uniform(Shapes.numelInt(shape)), shape); }
}
