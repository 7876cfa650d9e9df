package org.voxflow.mesh;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Minimal OBJ reader: {@code v}, {@code vn} and {@code f} (forms {@code a}, {@code a/t},
 * {@code a/t/n}, {@code a//n}; negative indices count from the end). Polygons are fan
 * triangulated. Normals are kept only when every face corner uses the normal with its own vertex
 * number (as {@link ObjWriter} writes them); otherwise they are recomputed.
 */
public final class ObjReader {
    private ObjReader() {}

    public static Mesh read(Path path) throws IOException {
        return parse(Files.readAllLines(path, StandardCharsets.UTF_8));
    }

    public static Mesh parse(List<String> lines) throws IOException {
        FloatList pos = new FloatList(), nrm = new FloatList();
        IntList tri = new IntList();
        boolean normalsMatch = true;
        int lineNo = 0;
        for (String raw : lines) {
            lineNo++;
            String line = raw.strip();
            if (line.isEmpty() || line.startsWith("#")) continue;
            String[] tok = line.split("\\s+");
            try {
                switch (tok[0]) {
                    case "v" -> {
                        for (int k = 1; k <= 3; k++) pos.add(Float.parseFloat(tok[k]));
                    }
                    case "vn" -> {
                        for (int k = 1; k <= 3; k++) nrm.add(Float.parseFloat(tok[k]));
                    }
                    case "f" -> {
                        int nv = pos.size() / 3, nn = nrm.size() / 3;
                        int[] corners = new int[tok.length - 1];
                        for (int k = 1; k < tok.length; k++) {
                            String[] parts = tok[k].split("/", -1);
                            int v = resolve(Integer.parseInt(parts[0]), nv);
                            corners[k - 1] = v;
                            if (parts.length < 3 || parts[2].isEmpty() || resolve(Integer.parseInt(parts[2]), nn) != v) normalsMatch = false;
                        }
                        if (corners.length < 3) throw new IOException("face with fewer than 3 vertices");
                        for (int k = 1; k + 1 < corners.length; k++) {
                            tri.add(corners[0]);
                            tri.add(corners[k]);
                            tri.add(corners[k + 1]);
                        }
                    }
                    default -> { } // groups, materials, texture coordinates: not needed
                }
            } catch (RuntimeException e) {
                throw new IOException("OBJ line " + lineNo + ": cannot parse '" + line + "': " + e.getMessage(), e);
            }
        }
        float[] p = pos.toArray();
        for (int i : tri.toArray()) if (i < 0 || i >= p.length / 3) throw new IOException("OBJ face index out of range: " + (i + 1));
        boolean useNormals = normalsMatch && nrm.size() == pos.size() && tri.size() > 0;
        return new Mesh(p, tri.toArray(), useNormals ? nrm.toArray() : null);
    }

    private static int resolve(int objIndex, int count) {
        return objIndex < 0 ? count + objIndex : objIndex - 1;
    }
}
