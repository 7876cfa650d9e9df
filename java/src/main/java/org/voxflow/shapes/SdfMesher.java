package org.voxflow.shapes;

import org.voxflow.mesh.Mesh;
import org.voxflow.mesh.SparseMarchingCubes;

/**
 * The full reference pipeline from an SDF to a mesh at resolution R: active voxels
 * ({@link Voxelizer}) -> corner SDFs in voxel units ({@link Stage2Latent}) -> sparse marching cubes.
 * This is the same path a generated stage-2 latent takes at decode time.
 */
public final class SdfMesher {
    private SdfMesher() {}

    public static Mesh mesh(Sdf sdf, int r) {
        int[] coords = Voxelizer.activeCoords(sdf, r);
        return SparseMarchingCubes.extract(coords, Stage2Latent.cornerValues(sdf, coords, r), r);
    }

    public static Mesh mesh(Shape shape, int r) { return mesh(shape.sdf(), r); }
}
