package org.voxflow.eval;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.voxflow.mesh.Mesh;
import org.voxflow.shapes.Primitives;
import org.voxflow.shapes.SdfMesher;
import org.voxflow.shapes.Vec3;

class PointCloudMetricsTest {
    static float[] randomCloud(SplittableRandom rng, int n) {
        float[] p = new float[3 * n];
        for (int i = 0; i < p.length; i++) p[i] = (float) rng.nextDouble(-0.5, 0.5);
        return p;
    }

    @Test
    void kdTreeMatchesBruteForce() {
        SplittableRandom rng = new SplittableRandom(4);
        float[] pts = randomCloud(rng, 3000);
        KdTree t = new KdTree(pts);
        for (int q = 0; q < 500; q++) {
            double x = rng.nextDouble(-0.7, 0.7), y = rng.nextDouble(-0.7, 0.7), z = rng.nextDouble(-0.7, 0.7);
            double best = Double.POSITIVE_INFINITY;
            int bi = -1;
            for (int i = 0; i < 3000; i++) {
                double dx = x - pts[3 * i], dy = y - pts[3 * i + 1], dz = z - pts[3 * i + 2]; // double arithmetic, as in the tree
                double d = dx * dx + dy * dy + dz * dz;
                if (d < best) {
                    best = d;
                    bi = i;
                }
            }
            assertEquals(best, t.nearestSquaredDistance(x, y, z), 0.0);
            assertEquals(bi, t.nearestIndex(x, y, z));
        }
        assertEquals(Double.POSITIVE_INFINITY, new KdTree(new float[0]).nearestSquaredDistance(0, 0, 0));
    }

    @Test
    void chamferIsSymmetricAndZeroOnIdenticalSets() {
        SplittableRandom rng = new SplittableRandom(5);
        float[] a = randomCloud(rng, 700), b = randomCloud(rng, 900);
        assertEquals(0.0, PointCloudMetrics.chamferL1(a, a.clone()));
        assertEquals(0.0, PointCloudMetrics.chamferSquared(a, a.clone()));
        assertEquals(1.0, PointCloudMetrics.fScore(a, a.clone(), 0.01));
        assertEquals(PointCloudMetrics.chamferL1(a, b), PointCloudMetrics.chamferL1(b, a), 1e-15);
        assertEquals(PointCloudMetrics.chamferSquared(a, b), PointCloudMetrics.chamferSquared(b, a), 1e-15);
        assertTrue(PointCloudMetrics.chamferL1(a, b) > 0);
    }

    @Test
    void conventionsOnAHandExample() {
        float[] a = {0, 0, 0};
        float[] b = {0.003f, 0, 0, 0, 0.02f, 0};
        // a->b: 0.003; b->a: 0.003 and 0.02 (mean 0.0115). L1 = 0.5 (0.003 + 0.0115)
        assertEquals(0.5 * (0.003 + 0.0115), PointCloudMetrics.chamferL1(a, b), 1e-9);
        // PointFlow: 0.003^2 + (0.003^2 + 0.02^2) / 2, summed
        assertEquals(0.003 * 0.003 + (0.003 * 0.003 + 0.0004) / 2, PointCloudMetrics.chamferSquared(a, b), 1e-11);
        // tau = 0.01: precision (a as prediction) = 1, recall = 1/2, F = 2 * 0.5 / 1.5
        PointCloudMetrics.Reconstruction r = PointCloudMetrics.reconstruction(a, b, 0.01);
        assertEquals(1.0, r.precision());
        assertEquals(0.5, r.recall());
        assertEquals(2.0 / 3, r.fScore(), 1e-12);
    }

    @Test
    void surfaceSamplesLieOnTheMeshAreaWeightedAndSeeded() {
        Mesh sphere = SdfMesher.mesh(Primitives.sphere(Vec3.ZERO, 0.3), 32);
        float[] p = SurfaceSampler.sample(sphere, 2048, 11L);
        assertEquals(3 * 2048, p.length);
        for (int i = 0; i < 2048; i++) {
            double r = Math.sqrt(p[3 * i] * p[3 * i] + p[3 * i + 1] * p[3 * i + 1] + p[3 * i + 2] * p[3 * i + 2]);
            assertEquals(0.3, r, 0.003);
        }
        assertArrayEquals(p, SurfaceSampler.sample(sphere, 2048, 11L));

        // two triangles with areas 1/2 and 3/2 in the plane z = 0: about a quarter of the samples in the first
        Mesh two = Mesh.of(new float[] {0, 0, 0, 1, 0, 0, 0, 1, 0, 2, 0, 0, 5, 0, 0, 2, 1, 0}, new int[] {0, 1, 2, 3, 4, 5});
        float[] q = SurfaceSampler.sample(two, 20000, 3L);
        int first = 0;
        for (int i = 0; i < 20000; i++) if (q[3 * i] <= 1) first++;
        assertEquals(0.25, first / 20000.0, 0.015);
        assertEquals(0, SurfaceSampler.sample(Mesh.empty(), 10, 1L).length);
    }
}
