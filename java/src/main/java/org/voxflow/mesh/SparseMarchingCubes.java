package org.voxflow.mesh;

import java.util.Arrays;

/**
 * Marching cubes over a sparse set of voxels, each with its own 8 corner values.
 *
 * <p>Input: voxel coordinates (flat x, y, z triples) in an R^3 grid over [-0.5, 0.5]^3 and
 * {@code float[8N]} corner values, corner {@code k = dx * 4 + dy * 2 + dz} of voxel i at
 * {@code values[8 i + k]} (the stage-2 latent layout; units do not matter, only the zero
 * crossing). Negative is inside.
 *
 * <p>Neighbouring voxels store their shared corners separately, and generated latents need not
 * agree there, so values are first averaged per lattice corner; after that every lattice edge has
 * one value pair, its crossing point is computed once and shared (welded by edge id) by all
 * voxels around the edge, and the surface is closed wherever all voxels with a sign change are
 * present. Triangles follow {@link MarchingCubesTable}: counter-clockwise seen from outside.
 * Normals are area-weighted vertex normals.
 */
public final class SparseMarchingCubes {
    private SparseMarchingCubes() {}

    public static Mesh extract(int[] coords, float[] cornerValues, int r) {
        if (coords.length % 3 != 0) throw new IllegalArgumentException("coords length not a multiple of 3");
        int n = coords.length / 3;
        if (cornerValues.length != 8 * n) throw new IllegalArgumentException("need 8 corner values per voxel: " + cornerValues.length + " for " + n);
        long side = r + 1L;

        // 1. average the values per lattice corner
        LongIntHashMap cornerSlot = new LongIntHashMap(Math.max(16, 2 * n));
        int[] voxelCornerSlot = new int[8 * n];
        double[] sum = new double[8 * n];
        int[] count = new int[8 * n];
        for (int i = 0; i < n; i++) {
            int x = coords[3 * i], y = coords[3 * i + 1], z = coords[3 * i + 2];
            if (x < 0 || y < 0 || z < 0 || x >= r || y >= r || z >= r) {
                throw new IllegalArgumentException("voxel (" + x + "," + y + "," + z + ") outside grid " + r);
            }
            for (int k = 0; k < 8; k++) {
                float v = cornerValues[8 * i + k];
                if (!Float.isFinite(v)) throw new IllegalArgumentException("non-finite corner value at voxel " + i);
                long key = ((x + ((k >> 2) & 1)) * side + (y + ((k >> 1) & 1))) * side + (z + (k & 1));
                int slot = cornerSlot.putIfAbsent(key, cornerSlot.size());
                if (slot < 0) slot = cornerSlot.size() - 1;
                voxelCornerSlot[8 * i + k] = slot;
                sum[slot] += v;
                count[slot]++;
            }
        }

        // 2. per voxel: case lookup, welded edge vertices, triangles
        LongIntHashMap edgeVertex = new LongIntHashMap(Math.max(16, 3 * n));
        FloatList pos = new FloatList(3 * 3 * n);
        IntList tri = new IntList(3 * 4 * n);
        double[] val = new double[8];
        int[] ref = new int[12];
        for (int i = 0; i < n; i++) {
            int config = 0;
            for (int k = 0; k < 8; k++) {
                int slot = voxelCornerSlot[8 * i + k];
                val[k] = sum[slot] / count[slot];
                if (val[k] < 0) config |= 1 << k;
            }
            int[] table = MarchingCubesTable.TRIANGLES[config];
            if (table.length == 0) continue;
            int x = coords[3 * i], y = coords[3 * i + 1], z = coords[3 * i + 2];
            Arrays.fill(ref, -1);
            for (int e = 0; e < 12; e++) {
                int c0 = MarchingCubesTable.EDGE_CORNERS[e][0], c1 = MarchingCubesTable.EDGE_CORNERS[e][1];
                if ((val[c0] < 0) == (val[c1] < 0)) continue;
                int lx = x + ((c0 >> 2) & 1), ly = y + ((c0 >> 1) & 1), lz = z + (c0 & 1);
                int axis = MarchingCubesTable.EDGE_AXIS[e];
                long key = ((lx * side + ly) * side + lz) * 3 + axis;
                int existing = edgeVertex.putIfAbsent(key, pos.size() / 3);
                if (existing >= 0) {
                    ref[e] = existing;
                    continue;
                }
                ref[e] = pos.size() / 3;
                double t = val[c0] / (val[c0] - val[c1]);
                double px = lx, py = ly, pz = lz;
                if (axis == 0) px += t; else if (axis == 1) py += t; else pz += t;
                pos.add((float) (-0.5 + px / r));
                pos.add((float) (-0.5 + py / r));
                pos.add((float) (-0.5 + pz / r));
            }
            for (int v : table) tri.add(ref[v]);
        }
        return Mesh.of(pos.toArray(), tri.toArray());
    }
}
