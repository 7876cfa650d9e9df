package org.voxflow.mesh;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.voxflow.shapes.Primitives;
import org.voxflow.shapes.SdfMesher;
import org.voxflow.shapes.Shape;
import org.voxflow.shapes.Vec3;
import org.voxflow.shapes.Voxelizer;

class SparseMarchingCubesTest {
    private static void assertClosedAndOutward(Mesh m) {
        MeshTopology.EdgeReport r = MeshTopology.analyze(m);
        assertTrue(r.watertight(), "not watertight: " + r);
        assertTrue(r.consistentlyOriented(), "inconsistent winding: " + r);
        assertTrue(m.signedVolume() > 0, "negative volume: outward winding expected");
    }

    @Test
    void sphereAreaAndVolumeWithinTolerance() {
        double r = 0.35;
        Mesh m = SdfMesher.mesh(Primitives.sphere(Vec3.of(0.01, -0.013, 0.007), r), 64);
        double area = 4 * Math.PI * r * r, vol = 4.0 / 3 * Math.PI * r * r * r;
        double areaErr = Math.abs(m.surfaceArea() - area) / area, volErr = Math.abs(m.signedVolume() - vol) / vol;
        System.out.printf("sphere r=0.35 R=64: area err %.4f%%, volume err %.4f%%, %d triangles%n", 100 * areaErr, 100 * volErr, m.triangleCount());
        assertTrue(areaErr < 0.02, "area error " + areaErr);
        assertTrue(volErr < 0.02, "volume error " + volErr);
        assertClosedAndOutward(m);
    }

    @Test
    void boxAreaAndVolumeWithinTolerance() {
        double hx = 0.41, hy = 0.33, hz = 0.29;
        Mesh m = SdfMesher.mesh(Primitives.box(Vec3.of(0.011, -0.017, 0.006), hx, hy, hz), 64);
        double area = 8 * (hx * hy + hy * hz + hx * hz), vol = 8 * hx * hy * hz;
        double areaErr = Math.abs(m.surfaceArea() - area) / area, volErr = Math.abs(m.signedVolume() - vol) / vol;
        System.out.printf("box 0.82x0.66x0.58 R=64: area err %.4f%%, volume err %.4f%%%n", 100 * areaErr, 100 * volErr);
        assertTrue(areaErr < 0.02, "area error " + areaErr);
        assertTrue(volErr < 0.02, "volume error " + volErr);
        assertClosedAndOutward(m);
    }

    @Test
    void sphereNormalsAreUnitAndPointOutward() {
        Vec3 c = Vec3.of(0.02, 0, -0.01);
        Mesh m = SdfMesher.mesh(Primitives.sphere(c, 0.3), 32);
        float[] p = m.positions(), n = m.normals();
        for (int v = 0; v < m.vertexCount(); v++) {
            double len = Math.sqrt(n[3 * v] * n[3 * v] + n[3 * v + 1] * n[3 * v + 1] + n[3 * v + 2] * n[3 * v + 2]);
            assertEquals(1, len, 1e-5);
            double dx = p[3 * v] - c.x(), dy = p[3 * v + 1] - c.y(), dz = p[3 * v + 2] - c.z();
            double cos = (dx * n[3 * v] + dy * n[3 * v + 1] + dz * n[3 * v + 2]) / Math.sqrt(dx * dx + dy * dy + dz * dz);
            assertTrue(cos > 0.95, "normal deviates from radial direction: cos " + cos);
        }
    }

    @Test
    void randomFieldsGiveClosedOrientedMeshesForAllCases() {
        // random values on a lattice whose border is outside: every cube configuration, ambiguous faces
        // included, shows up, and the surface must still close up with consistent winding
        int r = 10;
        SplittableRandom rng = new SplittableRandom(7);
        boolean[] seen = new boolean[256];
        for (int trial = 0; trial < 20; trial++) {
            float[] lattice = new float[(r + 1) * (r + 1) * (r + 1)];
            for (int x = 0; x <= r; x++) {
                for (int y = 0; y <= r; y++) {
                    for (int z = 0; z <= r; z++) {
                        boolean border = x == 0 || y == 0 || z == 0 || x == r || y == r || z == r;
                        lattice[(x * (r + 1) + y) * (r + 1) + z] = border ? 1f : (float) rng.nextDouble(-1, 1);
                    }
                }
            }
            int[] coords = new int[3 * r * r * r];
            float[] corners = new float[8 * r * r * r];
            int i = 0;
            for (int x = 0; x < r; x++) {
                for (int y = 0; y < r; y++) {
                    for (int z = 0; z < r; z++, i++) {
                        coords[3 * i] = x;
                        coords[3 * i + 1] = y;
                        coords[3 * i + 2] = z;
                        int config = 0;
                        for (int k = 0; k < 8; k++) {
                            float v = lattice[((x + (k >> 2 & 1)) * (r + 1) + y + (k >> 1 & 1)) * (r + 1) + z + (k & 1)];
                            corners[8 * i + k] = v;
                            if (v < 0) config |= 1 << k;
                        }
                        seen[config] = true;
                    }
                }
            }
            Mesh m = SparseMarchingCubes.extract(coords, corners, r);
            assertClosedAndOutward(m);
        }
        int covered = 0;
        for (boolean b : seen) if (b) covered++;
        assertTrue(covered > 200, "only " + covered + " of 256 cube cases exercised");
    }

    @Test
    void disagreeingSharedCornersAreAveragedIntoAWatertightMesh() {
        Shape s = Primitives.sphere(Vec3.ZERO, 0.3);
        int r = 32;
        int[] coords = Voxelizer.activeCoords(s.sdf(), r);
        float[] corners = org.voxflow.shapes.Stage2Latent.cornerValues(s.sdf(), coords, r);
        SplittableRandom rng = new SplittableRandom(3);
        for (int i = 0; i < corners.length; i++) corners[i] += (float) rng.nextDouble(-0.05, 0.05); // like generated latents
        Mesh m = SparseMarchingCubes.extract(coords, corners, r);
        assertClosedAndOutward(m);
        double vol = 4.0 / 3 * Math.PI * 0.027;
        assertEquals(vol, m.signedVolume(), 0.03 * vol);
    }

    @Test
    void verticesAreWeldedBetweenVoxels() {
        Mesh m = SdfMesher.mesh(Primitives.sphere(Vec3.ZERO, 0.3), 32);
        // a closed triangulated genus-0 surface has V - E + F = 2, which fails if edge vertices were duplicated
        MeshTopology.EdgeReport r = MeshTopology.analyze(m);
        assertEquals(2, m.vertexCount() - r.edges() + m.triangleCount());
    }

    @Test
    void emptyInputGivesEmptyMesh() {
        Mesh m = SparseMarchingCubes.extract(new int[0], new float[0], 16);
        assertTrue(m.isEmpty());
        Mesh allInside = SparseMarchingCubes.extract(new int[] {1, 1, 1}, new float[] {-1, -1, -1, -1, -1, -1, -1, -1}, 4);
        assertTrue(allInside.isEmpty());
    }

    @Test
    void singleCornerCaseHasExpectedTriangle() {
        // corner 0 inside at -1, the rest +1: one triangle through the three edge midpoints, facing away from corner 0
        float[] v = {-1, 1, 1, 1, 1, 1, 1, 1};
        Mesh m = SparseMarchingCubes.extract(new int[] {0, 0, 0}, v, 2);
        assertEquals(1, m.triangleCount());
        assertEquals(3, m.vertexCount());
        float[] n = m.normals();
        double s = 1 / Math.sqrt(3);
        for (int i = 0; i < 3; i++) {
            assertEquals(s, n[3 * i], 1e-6);
            assertEquals(s, n[3 * i + 1], 1e-6);
            assertEquals(s, n[3 * i + 2], 1e-6);
        }
        // midpoints of the three edges at corner (-0.5, -0.5, -0.5) of a 2^3 grid: 0.25 along each axis
        for (float p : m.positions()) assertTrue(p == -0.5f || p == -0.25f, "unexpected coordinate " + p);
    }
}
