package org.voxflow.mesh;

import java.util.HashMap;
import java.util.Map;

/** Edge-based checks of a triangle mesh: closedness (watertightness) and orientation consistency. */
public final class MeshTopology {
    /**
     * Edge statistics. {@code boundary}: undirected edges used by one triangle; {@code nonManifold}:
     * used by more than two; {@code misoriented}: edges used by two triangles in the same direction
     * (consistent winding traverses a shared edge once each way).
     */
    public record EdgeReport(int edges, int boundary, int nonManifold, int misoriented) {
        /** Every edge is shared by exactly two triangles. */
        public boolean watertight() { return edges > 0 && boundary == 0 && nonManifold == 0; }

        /** Watertight and every shared edge traversed once in each direction. */
        public boolean consistentlyOriented() { return watertight() && misoriented == 0; }
    }

    private MeshTopology() {}

    public static EdgeReport analyze(Mesh mesh) {
        int[] idx = mesh.indices();
        // per undirected edge: count of uses, and the sum of +1 (a<b) / -1 (a>b) directions
        Map<Long, int[]> edges = new HashMap<>(idx.length * 2);
        for (int t = 0; t < idx.length; t += 3) {
            for (int k = 0; k < 3; k++) {
                int a = idx[t + k], b = idx[t + (k + 1) % 3];
                long key = a < b ? ((long) a << 32) | b : ((long) b << 32) | a;
                int[] s = edges.computeIfAbsent(key, q -> new int[2]);
                s[0]++;
                s[1] += a < b ? 1 : -1;
            }
        }
        int boundary = 0, nonManifold = 0, misoriented = 0;
        for (int[] s : edges.values()) {
            if (s[0] == 1) boundary++;
            else if (s[0] > 2) nonManifold++;
            else if (s[1] != 0) misoriented++;
        }
        return new EdgeReport(edges.size(), boundary, nonManifold, misoriented);
    }
}
