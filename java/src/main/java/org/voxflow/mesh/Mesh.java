package org.voxflow.mesh;

import java.util.Arrays;

/**
 * Indexed triangle mesh: {@code positions} (x, y, z per vertex), {@code indices} (three vertex
 * indices per triangle, counter-clockwise seen from outside, so the right-hand normal points
 * out) and unit per-vertex {@code normals}.
 *
 * <p>The arrays are held as given, not copied: treat them as read-only.
 */
public final class Mesh {
    private final float[] positions;
    private final int[] indices;
    private final float[] normals;

    /** A mesh with the given normals ({@code normals == null} computes area-weighted ones). */
    public Mesh(float[] positions, int[] indices, float[] normals) {
        if (positions.length % 3 != 0) throw new IllegalArgumentException("positions length not a multiple of 3");
        if (indices.length % 3 != 0) throw new IllegalArgumentException("indices length not a multiple of 3");
        int v = positions.length / 3;
        for (int i : indices) if (i < 0 || i >= v) throw new IllegalArgumentException("index " + i + " out of range [0," + v + ")");
        if (normals != null && normals.length != positions.length) throw new IllegalArgumentException("normals length != positions length");
        this.positions = positions;
        this.indices = indices;
        this.normals = normals != null ? normals : vertexNormals(positions, indices);
    }

    /** A mesh with computed area-weighted vertex normals. */
    public static Mesh of(float[] positions, int[] indices) { return new Mesh(positions, indices, null); }

    public static Mesh empty() { return new Mesh(new float[0], new int[0], new float[0]); }

    public float[] positions() { return positions; }

    public int[] indices() { return indices; }

    public float[] normals() { return normals; }

    public int vertexCount() { return positions.length / 3; }

    public int triangleCount() { return indices.length / 3; }

    public boolean isEmpty() { return indices.length == 0; }

    /** Sum of triangle areas. */
    public double surfaceArea() {
        double sum = 0;
        for (int t = 0; t < indices.length; t += 3) {
            double[] n = faceCross(t);
            sum += 0.5 * Math.sqrt(n[0] * n[0] + n[1] * n[1] + n[2] * n[2]);
        }
        return sum;
    }

    /**
     * Enclosed volume by the divergence theorem, sum over triangles of det(a, b, c) / 6; positive
     * for a closed mesh with outward winding.
     */
    public double signedVolume() {
        double sum = 0;
        for (int t = 0; t < indices.length; t += 3) {
            int a = 3 * indices[t], b = 3 * indices[t + 1], c = 3 * indices[t + 2];
            double ax = positions[a], ay = positions[a + 1], az = positions[a + 2];
            double bx = positions[b], by = positions[b + 1], bz = positions[b + 2];
            double cx = positions[c], cy = positions[c + 1], cz = positions[c + 2];
            sum += ax * (by * cz - bz * cy) - ay * (bx * cz - bz * cx) + az * (bx * cy - by * cx);
        }
        return sum / 6;
    }

    /** {minX, minY, minZ, maxX, maxY, maxZ}; all zero for a mesh without vertices. */
    public float[] bounds() {
        if (positions.length == 0) return new float[6];
        float[] b = {Float.POSITIVE_INFINITY, Float.POSITIVE_INFINITY, Float.POSITIVE_INFINITY,
                Float.NEGATIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.NEGATIVE_INFINITY};
        for (int i = 0; i < positions.length; i++) {
            int a = i % 3;
            b[a] = Math.min(b[a], positions[i]);
            b[a + 3] = Math.max(b[a + 3], positions[i]);
        }
        return b;
    }

    /** (b - a) x (c - a) of the triangle starting at index offset t; its length is twice the area. */
    private double[] faceCross(int t) {
        int a = 3 * indices[t], b = 3 * indices[t + 1], c = 3 * indices[t + 2];
        double ux = positions[b] - positions[a], uy = positions[b + 1] - positions[a + 1], uz = positions[b + 2] - positions[a + 2];
        double vx = positions[c] - positions[a], vy = positions[c + 1] - positions[a + 1], vz = positions[c + 2] - positions[a + 2];
        return new double[] {uy * vz - uz * vy, uz * vx - ux * vz, ux * vy - uy * vx};
    }

    /**
     * Area-weighted vertex normals (sum of the unnormalised face cross products around each vertex,
     * normalised). A vertex with no area around it gets (0, 1, 0) so the result is always unit length.
     */
    public static float[] vertexNormals(float[] positions, int[] indices) {
        double[] acc = new double[positions.length];
        for (int t = 0; t < indices.length; t += 3) {
            int a = 3 * indices[t], b = 3 * indices[t + 1], c = 3 * indices[t + 2];
            double ux = positions[b] - positions[a], uy = positions[b + 1] - positions[a + 1], uz = positions[b + 2] - positions[a + 2];
            double vx = positions[c] - positions[a], vy = positions[c + 1] - positions[a + 1], vz = positions[c + 2] - positions[a + 2];
            double nx = uy * vz - uz * vy, ny = uz * vx - ux * vz, nz = ux * vy - uy * vx;
            for (int v : new int[] {a, b, c}) {
                acc[v] += nx;
                acc[v + 1] += ny;
                acc[v + 2] += nz;
            }
        }
        float[] out = new float[positions.length];
        for (int v = 0; v < out.length; v += 3) {
            double len = Math.sqrt(acc[v] * acc[v] + acc[v + 1] * acc[v + 1] + acc[v + 2] * acc[v + 2]);
            if (len > 1e-30) {
                out[v] = (float) (acc[v] / len);
                out[v + 1] = (float) (acc[v + 1] / len);
                out[v + 2] = (float) (acc[v + 2] / len);
            } else {
                out[v + 1] = 1f;
            }
        }
        return out;
    }

    @Override
    public String toString() {
        return "Mesh[" + vertexCount() + " vertices, " + triangleCount() + " triangles, bounds " + Arrays.toString(bounds()) + "]";
    }
}
