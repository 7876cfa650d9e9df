package org.voxflow.shapes;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.voxflow.io.Json;

class LatentTest {
    @Test
    void stage1RoundTripIsExact() {
        int r = 32;
        SplittableRandom rng = new SplittableRandom(1);
        boolean[] occ = new boolean[r * r * r];
        for (int i = 0; i < occ.length; i++) occ[i] = rng.nextInt(5) == 0;
        float[] lat = Stage1Latent.toStage1Latent(occ, r);
        assertEquals(8 * 16 * 16 * 16, lat.length);
        for (float v : lat) assertTrue(v == 1f || v == -1f);
        assertArrayEquals(occ, Stage1Latent.fromStage1Latent(lat));

        boolean[] shape = Voxelizer.activeGrid(ShapeFamily.MUG.sample(3L).sdf(), r);
        assertArrayEquals(shape, Stage1Latent.fromStage1Latent(Stage1Latent.toStage1Latent(shape, r)));
    }

    @Test
    void stage1LayoutIsSpaceToDepth() {
        int r = 32;
        boolean[] occ = new boolean[r * r * r];
        occ[(5 * r + 8) * r + 3] = true; // voxel (5, 8, 3) = block (2, 4, 1), offset (1, 0, 1) -> channel 5
        float[] lat = Stage1Latent.toStage1Latent(occ, r);
        int at = 5 * 4096 + (2 * 16 + 4) * 16 + 1;
        assertEquals(1f, lat[at]);
        int positives = 0;
        for (float v : lat) if (v > 0) positives++;
        assertEquals(1, positives);
        assertEquals(32, Stage1Latent.resolutionOf(lat.length));
        assertThrows(IllegalArgumentException.class, () -> Stage1Latent.fromStage1Latent(new float[8 * 15]));
    }

    @Test
    void stage2CornersAreVoxelUnitSdfClamped() {
        int r = 16;
        Sdf plane = (x, y, z) -> y - 0.01; // horizontal plane
        int[] coords = {3, 8, 2, 0, 0, 0};
        float[] v = Stage2Latent.cornerValues(plane, coords, r);
        for (int k = 0; k < 8; k++) {
            double y = Voxelizer.latticePosition(8 + (k >> 1 & 1), r);
            assertEquals((y - 0.01) * r, v[k], 1e-5);
            assertEquals(-Stage2Latent.CLAMP, v[8 + k]); // far below: clamped
        }
    }

    @Test
    void stage2ValuesOfActiveVoxelsStayInsideTheClamp() {
        Shape s = ShapeFamily.CAR.sample(9L);
        int r = 32;
        int[] coords = Voxelizer.activeCoords(s.sdf(), r);
        float[] v = Stage2Latent.cornerValues(s.sdf(), coords, r);
        for (float x : v) assertTrue(Math.abs(x) <= Math.sqrt(3) + 1e-4, "corner value " + x);
    }

    @Test
    void normalizerFitsAppliesInvertsAndSerializes() {
        SplittableRandom rng = new SplittableRandom(2);
        float[] a = new float[8 * 500], b = new float[8 * 300];
        for (int i = 0; i < a.length; i++) a[i] = (float) (rng.nextGaussian() * (1 + i % 8) + i % 8);
        for (int i = 0; i < b.length; i++) b[i] = (float) (rng.nextGaussian() * (1 + i % 8) + i % 8);
        LatentNormalizer n = LatentNormalizer.fit(List.of(a, b), 8);
        assertEquals(8, n.channels());
        float[] all = new float[a.length + b.length];
        System.arraycopy(a, 0, all, 0, a.length);
        System.arraycopy(b, 0, all, a.length, b.length);
        float[] z = n.normalize(all);
        for (int c = 0; c < 8; c++) {
            double s = 0, sq = 0;
            for (int i = c; i < z.length; i += 8) {
                s += z[i];
                sq += z[i] * z[i];
            }
            int rows = z.length / 8;
            assertEquals(0, s / rows, 1e-5);
            assertEquals(1, sq / rows, 1e-4);
        }
        float[] back = n.denormalize(z);
        for (int i = 0; i < all.length; i++) assertEquals(all[i], back[i], 1e-5);

        Map<String, Object> map = n.toMap();
        @SuppressWarnings("unchecked")
        Map<String, Object> parsed = (Map<String, Object>) Json.parse(Json.write(map));
        LatentNormalizer m = LatentNormalizer.fromMap(parsed);
        assertArrayEquals(n.mean(), m.mean());
        assertArrayEquals(n.std(), m.std());
    }

    @Test
    void constantChannelsDoNotBlowUp() {
        LatentNormalizer n = LatentNormalizer.fit(new float[] {1, 2, 1, 3, 1, 4}, 2);
        assertEquals(LatentNormalizer.MIN_STD, n.std()[0]);
        assertEquals(0f, n.normalize(new float[] {1, 3})[0]);
    }
}
