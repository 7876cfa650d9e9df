package org.voxflow.mesh;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * Binary little-endian PLY: vertex element with float x, y, z, nx, ny, nz and face element with
 * {@code list uchar int vertex_indices} (always 3).
 */
public final class PlyWriter {
    private PlyWriter() {}

    public static void write(Mesh mesh, Path path) throws IOException {
        AtomicFiles.write(path, out -> write(mesh, out));
    }

    public static void write(Mesh mesh, OutputStream out) throws IOException {
        String header = "ply\n"
                + "format binary_little_endian 1.0\n"
                + "comment voxflow mesh\n"
                + "element vertex " + mesh.vertexCount() + "\n"
                + "property float x\nproperty float y\nproperty float z\n"
                + "property float nx\nproperty float ny\nproperty float nz\n"
                + "element face " + mesh.triangleCount() + "\n"
                + "property list uchar int vertex_indices\n"
                + "end_header\n";
        out.write(header.getBytes(StandardCharsets.US_ASCII));
        float[] p = mesh.positions(), n = mesh.normals();
        ByteBuffer buf = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);
        for (int v = 0; v < mesh.vertexCount(); v++) {
            if (buf.remaining() < 24) flush(buf, out);
            for (int k = 0; k < 3; k++) buf.putFloat(p[3 * v + k]);
            for (int k = 0; k < 3; k++) buf.putFloat(n[3 * v + k]);
        }
        int[] f = mesh.indices();
        for (int t = 0; t < f.length; t += 3) {
            if (buf.remaining() < 13) flush(buf, out);
            buf.put((byte) 3).putInt(f[t]).putInt(f[t + 1]).putInt(f[t + 2]);
        }
        flush(buf, out);
    }

    private static void flush(ByteBuffer buf, OutputStream out) throws IOException {
        out.write(buf.array(), 0, buf.position());
        buf.clear();
    }
}
