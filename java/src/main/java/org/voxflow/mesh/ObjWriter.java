package org.voxflow.mesh;

import java.io.BufferedWriter;
import java.io.IOException;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * Wavefront OBJ: {@code v} and {@code vn} lines (one normal per vertex, same numbering) and
 * {@code f a//a b//b c//c} triangles, 1-based. Floats are written with {@link Float#toString},
 * the shortest text that reads back to the same float.
 */
public final class ObjWriter {
    private ObjWriter() {}

    public static void write(Mesh mesh, Path path) throws IOException {
        AtomicFiles.write(path, out -> {
            Writer w = new BufferedWriter(new OutputStreamWriter(out, StandardCharsets.US_ASCII), 1 << 16);
            write(mesh, w);
            w.flush();
        });
    }

    public static void write(Mesh mesh, Writer w) throws IOException {
        float[] p = mesh.positions(), n = mesh.normals();
        w.write("# voxflow mesh: " + mesh.vertexCount() + " vertices, " + mesh.triangleCount() + " triangles\n");
        for (int i = 0; i < p.length; i += 3) w.write("v " + p[i] + " " + p[i + 1] + " " + p[i + 2] + "\n");
        for (int i = 0; i < n.length; i += 3) w.write("vn " + n[i] + " " + n[i + 1] + " " + n[i + 2] + "\n");
        int[] f = mesh.indices();
        for (int t = 0; t < f.length; t += 3) {
            int a = f[t] + 1, b = f[t + 1] + 1, c = f[t + 2] + 1;
            w.write("f " + a + "//" + a + " " + b + "//" + b + " " + c + "//" + c + "\n");
        }
    }
}
