package org.voxflow.mesh;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Marching cubes case table, generated at class load instead of typed in.
 *
 * <p>Corners are numbered {@code k = dx * 4 + dy * 2 + dz}; a corner is inside when its value is
 * negative. For each of the 256 sign patterns the table is built by walking the cube faces:
 * <ol>
 * <li>On each face, the crossing edges (one endpoint inside, one outside) are paired into
 *     segments. A face with four crossings is ambiguous; it is resolved by cutting off each
 *     inside corner on its own (inside corners never connect across the face diagonal). The
 *     rule depends only on the face's four signs, so two cubes sharing a face always choose the
 *     same segments, which is what makes the mesh watertight.</li>
 * <li>Each segment A-B on a face with outward normal n is oriented so that n x (B - A) points to
 *     the outside (positive) region. Every crossing edge borders two faces and is then entered
 *     from one and left through the other, so the segments chain into closed loops, and the
 *     neighbouring cube walks the shared segment in the opposite direction.</li>
 * <li>Each loop is triangulated as a fan, keeping the loop's direction, which makes triangles
 *     counter-clockwise seen from the outside (normals pointing to increasing values). The fan
 *     apex is chosen so that no fan diagonal joins two points of the same face (such a diagonal
 *     could coincide with one of the neighbour's, making an edge with four triangles); such an
 *     apex exists for every loop of every case, which the generator checks.</li>
 * </ol>
 */
final class MarchingCubesTable {
    /** EDGE_CORNERS[e] = {c0, c1}, c0 the lower corner along the edge's axis. */
    static final int[][] EDGE_CORNERS = new int[12][];
    /** Axis of edge e: 0 = x, 1 = y, 2 = z. */
    static final int[] EDGE_AXIS = new int[12];
    /** TRIANGLES[config]: edge indices, three per triangle; the vertex of a triangle corner lies on that edge. */
    static final int[][] TRIANGLES = new int[256][];

    private static final int[][] FACE_EDGES = new int[6][];
    private static final int[][] FACE_NORMAL = new int[6][];

    static {
        int e = 0;
        for (int a = 0; a < 8; a++) {
            for (int b = a + 1; b < 8; b++) {
                int diff = a ^ b;
                if (Integer.bitCount(diff) != 1) continue;
                EDGE_CORNERS[e] = new int[] {a, b};
                EDGE_AXIS[e] = diff == 4 ? 0 : diff == 2 ? 1 : 2;
                e++;
            }
        }
        for (int f = 0; f < 6; f++) {
            int axis = f / 2, side = f % 2, bit = 4 >> axis;
            List<Integer> fe = new ArrayList<>();
            for (int k = 0; k < 12; k++) {
                if (onFace(EDGE_CORNERS[k][0], bit, side) && onFace(EDGE_CORNERS[k][1], bit, side)) fe.add(k);
            }
            FACE_EDGES[f] = fe.stream().mapToInt(Integer::intValue).toArray();
            FACE_NORMAL[f] = new int[3];
            FACE_NORMAL[f][axis] = side == 1 ? 1 : -1;
        }
        for (int config = 0; config < 256; config++) build(config);
    }

    private MarchingCubesTable() {}

    private static boolean onFace(int corner, int bit, int side) {
        return ((corner & bit) != 0) == (side == 1);
    }

    private static boolean inside(int config, int corner) { return (config >> corner & 1) != 0; }

    private static boolean crossing(int config, int edge) {
        return inside(config, EDGE_CORNERS[edge][0]) != inside(config, EDGE_CORNERS[edge][1]);
    }

    private static double[] cornerPos(int c) { return new double[] {(c >> 2) & 1, (c >> 1) & 1, c & 1}; }

    private static double[] edgeMid(int edge) {
        double[] a = cornerPos(EDGE_CORNERS[edge][0]), b = cornerPos(EDGE_CORNERS[edge][1]);
        return new double[] {(a[0] + b[0]) / 2, (a[1] + b[1]) / 2, (a[2] + b[2]) / 2};
    }

    private static void build(int config) {
        int[] next = new int[12];
        Arrays.fill(next, -1);
        for (int f = 0; f < 6; f++) {
            int[] fe = FACE_EDGES[f];
            List<Integer> cross = new ArrayList<>();
            for (int k : fe) if (crossing(config, k)) cross.add(k);
            List<int[]> segments = new ArrayList<>();
            if (cross.size() == 2) {
                segments.add(new int[] {cross.get(0), cross.get(1)});
            } else if (cross.size() == 4) {
                // ambiguous face: one segment around each inside corner
                for (int corner = 0; corner < 8; corner++) {
                    if (!inside(config, corner)) continue;
                    int c = corner;
                    int[] around = Arrays.stream(fe).filter(k -> EDGE_CORNERS[k][0] == c || EDGE_CORNERS[k][1] == c).toArray();
                    if (around.length == 2) segments.add(around);
                }
            } else if (!cross.isEmpty()) {
                throw new IllegalStateException("odd number of crossings on a face");
            }
            for (int[] s : segments) {
                int a = s[0], b = s[1];
                if (!outsideOnLeft(config, f, a, b)) {
                    int t = a;
                    a = b;
                    b = t;
                }
                if (next[a] != -1) throw new IllegalStateException("edge " + a + " left twice in config " + config);
                next[a] = b;
            }
        }
        List<Integer> tris = new ArrayList<>();
        boolean[] seen = new boolean[12];
        for (int start = 0; start < 12; start++) {
            if (!crossing(config, start) || seen[start]) continue;
            List<Integer> loop = new ArrayList<>();
            for (int k = start; !seen[k]; k = next[k]) {
                if (next[k] == -1) throw new IllegalStateException("open loop in config " + config);
                seen[k] = true;
                loop.add(k);
            }
            triangulate(loop, tris);
        }
        TRIANGLES[config] = tris.stream().mapToInt(Integer::intValue).toArray();
    }

    /** Whether n x (B - A) points towards the outside endpoint of A's edge, n the face's outward normal. */
    private static boolean outsideOnLeft(int config, int face, int edgeA, int edgeB) {
        double[] a = edgeMid(edgeA), b = edgeMid(edgeB);
        int[] n = FACE_NORMAL[face];
        double dx = b[0] - a[0], dy = b[1] - a[1], dz = b[2] - a[2];
        double lx = n[1] * dz - n[2] * dy, ly = n[2] * dx - n[0] * dz, lz = n[0] * dy - n[1] * dx;
        int c0 = EDGE_CORNERS[edgeA][0];
        int out = inside(config, c0) ? EDGE_CORNERS[edgeA][1] : c0;
        double[] p = cornerPos(out);
        return lx * (p[0] - a[0]) + ly * (p[1] - a[1]) + lz * (p[2] - a[2]) > 0;
    }

    private static void triangulate(List<Integer> loop, List<Integer> tris) {
        int n = loop.size();
        for (int s = 0; s < n; s++) {
            boolean ok = true;
            for (int j = 2; j <= n - 2 && ok; j++) ok = !shareFace(loop.get(s), loop.get((s + j) % n));
            if (!ok) continue;
            for (int j = 1; j + 1 < n; j++) {
                tris.add(loop.get(s));
                tris.add(loop.get((s + j) % n));
                tris.add(loop.get((s + j + 1) % n));
            }
            return;
        }
        throw new IllegalStateException("no fan apex without in-face diagonals for loop " + loop);
    }

    private static boolean shareFace(int e1, int e2) {
        for (int[] fe : FACE_EDGES) {
            boolean h1 = false, h2 = false;
            for (int k : fe) {
                h1 |= k == e1;
                h2 |= k == e2;
            }
            if (h1 && h2) return true;
        }
        return false;
    }
}
