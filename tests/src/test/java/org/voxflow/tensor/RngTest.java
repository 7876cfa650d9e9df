package org.voxflow.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** The seeded generator: repeatable streams, exact save/restore, sane distributions. */
class RngTest {
    private final Backend be = Backends.cpu();

    @Test void sameSeedSameStream() {
        Rng a = new Rng(1234), b = new Rng(1234);
        assertArrayEquals(a.normal(1000), b.normal(1000));
        assertArrayEquals(a.uniform(1000), b.uniform(1000));
        for (int i = 0; i < 100; i++) assertEquals(a.nextInt(17), b.nextInt(17));
        assertArrayEquals(a.randn(be, 4, 5).toFloats(), b.randn(be, 4, 5).toFloats());
        assertArrayEquals(a.rand(be, 3).toFloats(), b.rand(be, 3).toFloats());
        assertEquals(a.draws(), b.draws());
    }

    @Test void differentSeedsDiffer() {
        assertFalse(Arrays.equals(new Rng(1).normal(16), new Rng(2).normal(16)));
    }

    @Test void drawsCountDoubles() {
        Rng r = new Rng(5);
        assertEquals(5, r.seed());
        assertEquals(0, r.draws());
        r.nextDouble();
        r.nextInt(3);
        assertEquals(2, r.draws());
        r.nextGaussian(); // Box-Muller: two uniforms
        assertEquals(4, r.draws());
        r.normal(10);
        assertEquals(24, r.draws());
        r.uniform(7);
        assertEquals(31, r.draws());
    }

    @Test void restoreContinuesTheStreamExactly() {
        Rng r = new Rng(99);
        r.normal(37);
        r.uniform(5);
        long seed = r.seed(), draws = r.draws();
        float[] next = r.normal(50);
        double nd = r.nextDouble();
        Rng s = Rng.restore(seed, draws);
        assertEquals(draws, s.draws());
        assertArrayEquals(next, s.normal(50));
        assertEquals(nd, s.nextDouble());
        assertEquals(r.draws(), s.draws());
        // restoring to 0 draws is a fresh generator
        assertArrayEquals(new Rng(99).uniform(8), Rng.restore(99, 0).uniform(8));
    }

    @Test void distributions() {
        Rng r = new Rng(2024);
        int n = 200_000;
        float[] u = r.uniform(n);
        double mu = 0;
        for (float x : u) {
            assertTrue(x >= 0f && x < 1f);
            mu += x;
        }
        assertEquals(0.5, mu / n, 0.005);
        float[] g = r.normal(n);
        double m = 0, v = 0;
        for (float x : g) { assertTrue(Float.isFinite(x)); m += x; }
        m /= n;
        for (float x : g) v += (x - m) * (x - m);
        v /= n;
        assertEquals(0, m, 0.01);
        assertEquals(1, v, 0.02);
        int[] counts = new int[7];
        for (int i = 0; i < 70_000; i++) counts[r.nextInt(7)]++;
        for (int c : counts) assertEquals(10_000, c, 500);
    }
}
