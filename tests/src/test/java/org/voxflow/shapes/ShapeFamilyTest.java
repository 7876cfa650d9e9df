package org.voxflow.shapes;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.voxflow.mesh.Mesh;
import org.voxflow.mesh.MeshTopology;

class ShapeFamilyTest {
    @Test
    void idsAreStableLowerCaseAndLabelsAreOrdinals() {
        assertTrue(ShapeFamily.values().length >= 10);
        Set<String> ids = new HashSet<>();
        for (ShapeFamily f : ShapeFamily.values()) {
            assertTrue(f.id().matches("[a-z]+"), f.id());
            assertTrue(ids.add(f.id()));
            assertEquals(f, ShapeFamily.fromId(f.id().toUpperCase()));
            assertEquals(f.ordinal(), f.label());
            assertEquals(f, ShapeFamily.fromLabel(f.label()));
        }
        assertEquals(0, ShapeFamily.fromId("chair").label());
        assertThrows(IllegalArgumentException.class, () -> ShapeFamily.fromId("spaceship"));
    }

    @ParameterizedTest
    @EnumSource(ShapeFamily.class)
    void everyFamilyGivesNonEmptyBoundedDeterministicShapes(ShapeFamily family) {
        int r = 32;
        for (long seed = 0; seed < 4; seed++) {
            Shape s = family.sample(seed);
            double lim = 0.5 - ShapeFamily.MARGIN + 1e-9;
            assertTrue(s.bounds().minX() >= -lim && s.bounds().maxX() <= lim, family + " x bounds");
            assertTrue(s.bounds().minY() >= -lim && s.bounds().maxY() <= lim, family + " y bounds");
            assertTrue(s.bounds().minZ() >= -lim && s.bounds().maxZ() <= lim, family + " z bounds");
            // nothing reaches the cube's faces: the SDF is positive all over them
            for (int i = 0; i <= 8; i++) {
                for (int j = 0; j <= 8; j++) {
                    double u = -0.5 + i / 8.0, v = -0.5 + j / 8.0;
                    for (double w : new double[] {-0.5, 0.5}) {
                        assertTrue(s.distance(w, u, v) > 0 && s.distance(u, w, v) > 0 && s.distance(u, v, w) > 0, family + " touches the cube");
                    }
                }
            }
            int[] coords = Voxelizer.activeCoords(s.sdf(), r);
            assertTrue(coords.length / 3 > 50, family + " seed " + seed + " has only " + coords.length / 3 + " voxels");
            // same seed, fresh generator: same voxels
            int[] again = Voxelizer.activeCoords(family.sample(new SplittableRandom(seed)).sdf(), r);
            assertEquals(coords.length, again.length);
            assertTrue(java.util.Arrays.equals(coords, again));
        }
        assertTrue(Voxelizer.activeCoords(family.sample(0).sdf(), r).length != Voxelizer.activeCoords(family.sample(1).sdf(), r).length
                || !java.util.Arrays.equals(Voxelizer.activeCoords(family.sample(0).sdf(), r), Voxelizer.activeCoords(family.sample(1).sdf(), r)),
                family + ": seeds 0 and 1 give the same shape");
    }

    @ParameterizedTest
    @EnumSource(ShapeFamily.class)
    void everyFamilyMeshesWatertightAtR64(ShapeFamily family) {
        Mesh m = SdfMesher.mesh(family.sample(ShapeDataset.seedFor(0, family, 0)), 64);
        MeshTopology.EdgeReport rep = MeshTopology.analyze(m);
        assertTrue(rep.consistentlyOriented(), family + ": " + rep);
        assertTrue(m.signedVolume() > 0.005, family + " volume " + m.signedVolume());
    }

    @ParameterizedTest
    @EnumSource(ShapeFamily.class)
    void voxelCountIsPinnedForAFixedSeed(ShapeFamily family) {
        // regression guard: the active-voxel count at R = 32 of each family's seed-42 shape. A change
        // here means the family's parameters or the voxelizer changed, and with them every dataset.
        int n = Voxelizer.activeCoords(family.sample(42L).sdf(), 32).length / 3;
        assertEquals(PINNED_COUNTS.get(family), n, family.id());
    }

    private static final java.util.Map<ShapeFamily, Integer> PINNED_COUNTS = new java.util.EnumMap<>(java.util.Map.ofEntries(
            java.util.Map.entry(ShapeFamily.CHAIR, 1626),
            java.util.Map.entry(ShapeFamily.TABLE, 3428),
            java.util.Map.entry(ShapeFamily.STOOL, 1536),
            java.util.Map.entry(ShapeFamily.SOFA, 2520),
            java.util.Map.entry(ShapeFamily.SHELF, 5120),
            java.util.Map.entry(ShapeFamily.LAMP, 4402),
            java.util.Map.entry(ShapeFamily.MUG, 6120),
            java.util.Map.entry(ShapeFamily.VASE, 4468),
            java.util.Map.entry(ShapeFamily.BOTTLE, 1716),
            java.util.Map.entry(ShapeFamily.AIRPLANE, 984),
            java.util.Map.entry(ShapeFamily.CAR, 1792),
            java.util.Map.entry(ShapeFamily.TORUS, 1652),
            java.util.Map.entry(ShapeFamily.CSG, 3229)));
}
