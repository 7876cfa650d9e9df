package org.voxflow.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class GenerativeMetricsTest {
    /** PointFlow Chamfer by brute force: squared NN distances, the two means summed. */
    private static double bruteCd(float[] a, float[] b) {
        return bruteMeanSq(a, b) + bruteMeanSq(b, a);
    }

    private static double bruteMeanSq(float[] from, float[] to) {
        double s = 0;
        for (int i = 0; i < from.length; i += 3) {
            double best = Double.POSITIVE_INFINITY;
            for (int j = 0; j < to.length; j += 3) {
                double dx = (double) from[i] - to[j], dy = (double) from[i + 1] - to[j + 1], dz = (double) from[i + 2] - to[j + 2];
                best = Math.min(best, dx * dx + dy * dy + dz * dz);
            }
            s += best;
        }
        return s / (from.length / 3);
    }

    private static List<float[]> clouds(SplittableRandom rng, int count, int points, double spread) {
        List<float[]> out = new ArrayList<>();
        for (int c = 0; c < count; c++) {
            double ox = rng.nextDouble(-spread, spread), oy = rng.nextDouble(-spread, spread);
            float[] p = new float[3 * points];
            for (int i = 0; i < points; i++) {
                p[3 * i] = (float) (ox + rng.nextGaussian() * 0.1);
                p[3 * i + 1] = (float) (oy + rng.nextGaussian() * 0.1);
                p[3 * i + 2] = (float) (rng.nextGaussian() * 0.1);
            }
            out.add(p);
        }
        return out;
    }

    @Test
    void matchesBruteForceDefinitions() {
        SplittableRandom rng = new SplittableRandom(8);
        List<float[]> gen = clouds(rng, 7, 64, 0.3), ref = clouds(rng, 6, 80, 0.3);
        int ng = gen.size(), nr = ref.size();
        double[][] gr = new double[ng][nr];
        for (int g = 0; g < ng; g++) for (int r = 0; r < nr; r++) gr[g][r] = bruteCd(gen.get(g), ref.get(r));

        double mmd = 0;
        for (int r = 0; r < nr; r++) {
            double best = Double.POSITIVE_INFINITY;
            for (int g = 0; g < ng; g++) best = Math.min(best, gr[g][r]);
            mmd += best / nr;
        }
        boolean[] covered = new boolean[nr];
        for (int g = 0; g < ng; g++) {
            int best = 0;
            for (int r = 1; r < nr; r++) if (gr[g][r] < gr[g][best]) best = r;
            covered[best] = true;
        }
        int cov = 0;
        for (boolean c : covered) if (c) cov++;

        List<float[]> pool = new ArrayList<>(ref);
        pool.addAll(gen);
        int correct = 0;
        for (int i = 0; i < pool.size(); i++) {
            double best = Double.POSITIVE_INFINITY;
            int bj = -1;
            for (int j = 0; j < pool.size(); j++) {
                if (j == i) continue;
                double d = bruteCd(pool.get(i), pool.get(j));
                if (d < best) {
                    best = d;
                    bj = j;
                }
            }
            if ((bj < nr) == (i < nr)) correct++;
        }

        GenerativeMetrics.Result res = GenerativeMetrics.compute(gen, ref);
        assertEquals(mmd, res.mmdCd(), 1e-12);
        assertEquals((double) cov / nr, res.covCd(), 0.0);
        assertEquals((double) correct / pool.size(), res.oneNnaCd(), 0.0);
        double[][] m = GenerativeMetrics.pairwiseChamfer(gen, ref);
        for (int g = 0; g < ng; g++) for (int r = 0; r < nr; r++) assertEquals(gr[g][r], m[g][r], 1e-12);
    }

    @Test
    void identicalSetsGiveFullCoverageAndZeroMmd() {
        SplittableRandom rng = new SplittableRandom(9);
        List<float[]> ref = clouds(rng, 5, 50, 1.0);
        GenerativeMetrics.Result r = GenerativeMetrics.compute(ref, ref);
        assertEquals(0.0, r.mmdCd());
        assertEquals(1.0, r.covCd());
        // each shape's nearest other member is its identical twin in the other set: all misclassified
        assertEquals(0.0, r.oneNnaCd());
    }

    @Test
    void pairedAgreementOfIdenticalOutputsIsPerfect() {
        SplittableRandom rng = new SplittableRandom(10);
        List<float[]> pts = clouds(rng, 3, 100, 0.2);
        List<PairedAgreement.Sample> t = new ArrayList<>(), s = new ArrayList<>();
        for (float[] p : pts) {
            boolean[] occ = new boolean[64];
            occ[rng.nextInt(64)] = true;
            t.add(new PairedAgreement.Sample(occ, p));
            s.add(new PairedAgreement.Sample(occ.clone(), p.clone()));
        }
        PairedAgreement.Summary sum = PairedAgreement.compare(t, s);
        assertEquals(1.0, sum.meanIou());
        assertEquals(0.0, sum.meanChamferL1());
        assertEquals(1.0, sum.meanFScore());
        assertEquals(3, sum.pairs().size());
    }
}
