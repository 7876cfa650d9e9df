package org.voxflow.mesh;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.voxflow.io.Json;

/**
 * Binary glTF 2.0 (GLB) writer: one scene, one node, one mesh with one triangle primitive.
 *
 * <p>Layout: 12-byte header (magic "glTF", version 2, total length), a JSON chunk padded with
 * spaces to a multiple of 4 bytes, and a BIN chunk (zero padded) holding, in order, POSITION
 * (float VEC3, with the required min/max), NORMAL (float VEC3, unit length) and the indices
 * (UNSIGNED_INT SCALAR), each in its own bufferView. Every section is a multiple of 4 bytes, so
 * all accessors are aligned. An empty mesh gives a valid file with an empty scene and no BIN
 * chunk, since glTF forbids zero-count accessors.
 */
public final class GlbWriter {
    private GlbWriter() {}

    public static void write(Mesh mesh, Path path) throws IOException {
        byte[] bytes = toBytes(mesh);
        AtomicFiles.write(path, out -> out.write(bytes));
    }

    public static byte[] toBytes(Mesh mesh) {
        int nv = mesh.vertexCount(), ni = mesh.indices().length;
        boolean hasMesh = ni > 0;
        int posBytes = 12 * nv, nrmBytes = 12 * nv, idxBytes = 4 * ni;
        int binBytes = hasMesh ? posBytes + nrmBytes + idxBytes : 0;

        Map<String, Object> root = new LinkedHashMap<>();
        root.put("asset", ordered("version", "2.0", "generator", "voxflow"));
        root.put("scene", 0);
        if (!hasMesh) {
            root.put("scenes", List.of(Map.of()));
        } else {
            root.put("scenes", List.of(Map.of("nodes", List.of(0))));
            root.put("nodes", List.of(Map.of("mesh", 0)));
            Map<String, Object> prim = new LinkedHashMap<>();
            prim.put("attributes", ordered("POSITION", 0, "NORMAL", 1));
            prim.put("indices", 2);
            prim.put("mode", Gltf.MODE_TRIANGLES);
            root.put("meshes", List.of(Map.of("primitives", List.of(prim))));
            root.put("buffers", List.of(Map.of("byteLength", binBytes)));
            root.put("bufferViews", List.of(
                    view(0, posBytes, Gltf.ARRAY_BUFFER),
                    view(posBytes, nrmBytes, Gltf.ARRAY_BUFFER),
                    view(posBytes + nrmBytes, idxBytes, Gltf.ELEMENT_ARRAY_BUFFER)));
            float[] b = mesh.bounds();
            Map<String, Object> pos = accessor(0, Gltf.FLOAT, nv, "VEC3");
            pos.put("min", List.of(b[0], b[1], b[2]));
            pos.put("max", List.of(b[3], b[4], b[5]));
            root.put("accessors", List.of(pos, accessor(1, Gltf.FLOAT, nv, "VEC3"), accessor(2, Gltf.UNSIGNED_INT, ni, "SCALAR")));
        }
        byte[] json = Json.write(root).getBytes(StandardCharsets.UTF_8);
        int jsonChunk = Gltf.padTo4(json.length);
        int total = Gltf.HEADER_BYTES + Gltf.CHUNK_HEADER_BYTES + jsonChunk + (hasMesh ? Gltf.CHUNK_HEADER_BYTES + binBytes : 0);

        ByteBuffer out = ByteBuffer.allocate(total).order(ByteOrder.LITTLE_ENDIAN);
        out.putInt(Gltf.GLB_MAGIC).putInt(Gltf.GLB_VERSION).putInt(total);
        out.putInt(jsonChunk).putInt(Gltf.CHUNK_JSON).put(json);
        for (int i = json.length; i < jsonChunk; i++) out.put((byte) ' ');
        if (hasMesh) {
            out.putInt(binBytes).putInt(Gltf.CHUNK_BIN);
            for (float v : mesh.positions()) out.putFloat(v);
            for (float v : mesh.normals()) out.putFloat(v);
            for (int v : mesh.indices()) out.putInt(v);
        }
        return out.array();
    }

    private static Map<String, Object> ordered(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) m.put((String) kv[i], kv[i + 1]);
        return m;
    }

    private static Map<String, Object> view(int offset, int length, int target) {
        return ordered("buffer", 0, "byteOffset", offset, "byteLength", length, "target", target);
    }

    private static Map<String, Object> accessor(int view, int componentType, int count, String type) {
        return ordered("bufferView", view, "componentType", componentType, "count", count, "type", type);
    }
}
