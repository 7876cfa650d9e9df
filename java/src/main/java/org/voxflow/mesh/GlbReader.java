package org.voxflow.mesh;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.voxflow.io.Json;
import org.voxflow.io.JsonException;

/**
 * Reads a GLB back into a {@link Mesh}, validating the glTF 2.0 rules that matter for meshes.
 *
 * <p>Checked: GLB header (magic, version 2, length = file size), chunk layout (JSON first,
 * optional BIN second, 4-byte aligned lengths inside the file), {@code asset.version == "2.0"},
 * the embedded buffer's byteLength fits the BIN chunk, every bufferView lies inside its buffer
 * (with a valid byteStride), every accessor has a known componentType, count >= 1, a known type
 * and fits in its bufferView with aligned offsets, the scene index is valid, POSITION is a float
 * VEC3 with min and max of 3 numbers that bound the data, NORMAL (if any) is a float VEC3, the
 * indices are an unsigned SCALAR accessor whose values are below the vertex count, and the
 * primitive mode is triangles.
 *
 * <p>The returned mesh merges the triangle primitives of {@code meshes[0]} (node transforms are
 * ignored); a file without meshes gives an empty mesh. Missing normals are computed.
 */
public final class GlbReader {
    private GlbReader() {}

    public static Mesh read(Path path) throws IOException {
        return parse(Files.readAllBytes(path));
    }

    public static Mesh parse(byte[] data) throws GlbFormatException {
        try {
            return parseChecked(data);
        } catch (JsonException e) {
            throw new GlbFormatException("GLB: invalid glTF JSON: " + e.getMessage(), e);
        }
    }

    private record Chunks(Map<String, Object> json, ByteBuffer bin) {}

    private static Chunks chunks(byte[] data) throws GlbFormatException {
        ByteBuffer b = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
        if (data.length < Gltf.HEADER_BYTES + Gltf.CHUNK_HEADER_BYTES) throw new GlbFormatException("GLB: file too short");
        if (b.getInt(0) != Gltf.GLB_MAGIC) throw new GlbFormatException("GLB: bad magic");
        if (b.getInt(4) != Gltf.GLB_VERSION) throw new GlbFormatException("GLB: version " + b.getInt(4) + " is not 2");
        if (b.getInt(8) != data.length) throw new GlbFormatException("GLB: header length " + b.getInt(8) + " != file size " + data.length);
        int at = Gltf.HEADER_BYTES;
        Map<String, Object> json = null;
        ByteBuffer bin = null;
        int index = 0;
        while (at < data.length) {
            if (at + Gltf.CHUNK_HEADER_BYTES > data.length) throw new GlbFormatException("GLB: truncated chunk header");
            int len = b.getInt(at), type = b.getInt(at + 4);
            int start = at + Gltf.CHUNK_HEADER_BYTES;
            if (len < 0 || len % 4 != 0) throw new GlbFormatException("GLB: chunk length " + len + " not a multiple of 4");
            if ((long) start + len > data.length) throw new GlbFormatException("GLB: chunk runs past the end of the file");
            if (index == 0) {
                if (type != Gltf.CHUNK_JSON) throw new GlbFormatException("GLB: first chunk is not JSON");
                json = Json.asMap(Json.parse(new String(data, start, len, StandardCharsets.UTF_8)), "glTF");
            } else if (index == 1 && type == Gltf.CHUNK_BIN) {
                bin = ByteBuffer.wrap(data, start, len).slice().order(ByteOrder.LITTLE_ENDIAN);
            } else if (type == Gltf.CHUNK_JSON || type == Gltf.CHUNK_BIN) {
                throw new GlbFormatException("GLB: misplaced " + (type == Gltf.CHUNK_JSON ? "JSON" : "BIN") + " chunk");
            } // other chunk types are ignored, as the spec requires
            at = start + len;
            index++;
        }
        if (json == null) throw new GlbFormatException("GLB: no JSON chunk");
        return new Chunks(json, bin);
    }

    private static Mesh parseChecked(byte[] data) throws GlbFormatException {
        Chunks c = chunks(data);
        Map<String, Object> gltf = c.json();
        Map<String, Object> asset = Json.asMap(need(gltf, "asset", "glTF"), "asset");
        if (!"2.0".equals(Json.asString(need(asset, "version", "asset"), "asset.version"))) {
            throw new GlbFormatException("GLB: asset.version is not \"2.0\"");
        }
        List<Object> buffers = list(gltf, "buffers");
        long[] bufferLength = new long[buffers.size()];
        for (int i = 0; i < buffers.size(); i++) {
            Map<String, Object> buf = Json.asMap(buffers.get(i), "buffers[" + i + "]");
            bufferLength[i] = Json.asLong(need(buf, "byteLength", "buffers[" + i + "]"), "buffers[" + i + "].byteLength");
            if (bufferLength[i] < 1) throw new GlbFormatException("GLB: buffers[" + i + "].byteLength < 1");
            if (!buf.containsKey("uri")) {
                if (i != 0) throw new GlbFormatException("GLB: only buffers[0] may refer to the BIN chunk");
                if (c.bin() == null) throw new GlbFormatException("GLB: buffers[0] has no uri but there is no BIN chunk");
                int binLen = c.bin().capacity();
                if (bufferLength[0] > binLen || binLen - bufferLength[0] > 3) {
                    throw new GlbFormatException("GLB: buffers[0].byteLength " + bufferLength[0] + " does not match BIN chunk " + binLen);
                }
            }
        }
        List<Object> views = list(gltf, "bufferViews");
        for (int i = 0; i < views.size(); i++) {
            String where = "bufferViews[" + i + "]";
            Map<String, Object> v = Json.asMap(views.get(i), where);
            int buffer = index(need(v, "buffer", where), buffers.size(), where + ".buffer");
            long off = optLong(v, "byteOffset", 0), len = Json.asLong(need(v, "byteLength", where), where + ".byteLength");
            if (off < 0 || len < 1 || off + len > bufferLength[buffer]) throw new GlbFormatException("GLB: " + where + " lies outside its buffer");
            if (v.containsKey("byteStride")) {
                long s = Json.asLong(v.get("byteStride"), where + ".byteStride");
                if (s < 4 || s > 252 || s % 4 != 0) throw new GlbFormatException("GLB: " + where + ".byteStride " + s + " invalid");
            }
        }
        List<Object> accessors = list(gltf, "accessors");
        for (int i = 0; i < accessors.size(); i++) checkAccessor(gltf, i);
        List<Object> scenes = list(gltf, "scenes");
        if (gltf.containsKey("scene")) index(gltf.get("scene"), scenes.size(), "scene");

        List<Object> meshes = list(gltf, "meshes");
        if (meshes.isEmpty()) return Mesh.empty();
        List<Object> prims = Json.asList(need(Json.asMap(meshes.get(0), "meshes[0]"), "primitives", "meshes[0]"), "meshes[0].primitives");
        if (prims.isEmpty()) throw new GlbFormatException("GLB: meshes[0] has no primitives");
        FloatList pos = new FloatList(), nrm = new FloatList();
        IntList idx = new IntList();
        boolean allNormals = true;
        for (int p = 0; p < prims.size(); p++) {
            String where = "meshes[0].primitives[" + p + "]";
            Map<String, Object> prim = Json.asMap(prims.get(p), where);
            if (optLong(prim, "mode", Gltf.MODE_TRIANGLES) != Gltf.MODE_TRIANGLES) throw new GlbFormatException("GLB: " + where + " is not triangles");
            Map<String, Object> attrs = Json.asMap(need(prim, "attributes", where), where + ".attributes");
            int posAcc = index(need(attrs, "POSITION", where + ".attributes"), accessors.size(), where + ".POSITION");
            Map<String, Object> pa = Json.asMap(accessors.get(posAcc), "accessors[" + posAcc + "]");
            expect(pa, Gltf.FLOAT, "VEC3", "POSITION");
            float[] positions = readFloats(gltf, c.bin(), posAcc);
            checkMinMax(pa, positions);
            int nv = positions.length / 3;
            float[] normals = null;
            if (attrs.containsKey("NORMAL")) {
                int na = index(attrs.get("NORMAL"), accessors.size(), where + ".NORMAL");
                expect(Json.asMap(accessors.get(na), "accessors"), Gltf.FLOAT, "VEC3", "NORMAL");
                normals = readFloats(gltf, c.bin(), na);
                if (normals.length != positions.length) throw new GlbFormatException("GLB: NORMAL count != POSITION count");
            }
            int[] indices;
            if (prim.containsKey("indices")) {
                int ia = index(prim.get("indices"), accessors.size(), where + ".indices");
                Map<String, Object> acc = Json.asMap(accessors.get(ia), "accessors[" + ia + "]");
                int ct = Json.asInt(acc.get("componentType"), "componentType");
                if (!"SCALAR".equals(acc.get("type")) || (ct != Gltf.UNSIGNED_BYTE && ct != Gltf.UNSIGNED_SHORT && ct != Gltf.UNSIGNED_INT)) {
                    throw new GlbFormatException("GLB: indices must be an unsigned integer SCALAR accessor");
                }
                indices = readInts(gltf, c.bin(), ia);
            } else {
                indices = new int[nv];
                for (int i = 0; i < nv; i++) indices[i] = i;
            }
            if (indices.length % 3 != 0) throw new GlbFormatException("GLB: index count not a multiple of 3");
            int base = pos.size() / 3;
            for (int i : indices) {
                if (i < 0 || i >= nv) throw new GlbFormatException("GLB: index " + (i & 0xffffffffL) + " >= vertex count " + nv);
                idx.add(base + i);
            }
            for (float v : positions) pos.add(v);
            if (normals == null) allNormals = false;
            else for (float v : normals) nrm.add(v);
        }
        return new Mesh(pos.toArray(), idx.toArray(), allNormals ? nrm.toArray() : null);
    }

    private static void checkAccessor(Map<String, Object> gltf, int i) throws GlbFormatException {
        String where = "accessors[" + i + "]";
        Map<String, Object> a = Json.asMap(list(gltf, "accessors").get(i), where);
        int ct = Json.asInt(need(a, "componentType", where), where + ".componentType");
        int compBytes = Gltf.componentBytes(ct);
        if (compBytes < 0) throw new GlbFormatException("GLB: " + where + ".componentType " + ct + " invalid");
        long count = Json.asLong(need(a, "count", where), where + ".count");
        if (count < 1) throw new GlbFormatException("GLB: " + where + ".count must be >= 1");
        int comps = Gltf.componentsOf(Json.asString(need(a, "type", where), where + ".type"));
        if (comps < 0) throw new GlbFormatException("GLB: " + where + ".type " + a.get("type") + " invalid");
        if (!a.containsKey("bufferView")) return; // all zeros (or sparse): nothing to bound-check
        List<Object> views = list(gltf, "bufferViews");
        int vi = index(a.get("bufferView"), views.size(), where + ".bufferView");
        Map<String, Object> view = Json.asMap(views.get(vi), "bufferViews[" + vi + "]");
        long off = optLong(a, "byteOffset", 0);
        long elem = (long) compBytes * comps;
        long stride = optLong(view, "byteStride", elem);
        if (stride < elem) throw new GlbFormatException("GLB: " + where + " elements are wider than the bufferView's byteStride");
        if (off < 0 || off % compBytes != 0 || (optLong(view, "byteOffset", 0) + off) % compBytes != 0) {
            throw new GlbFormatException("GLB: " + where + ".byteOffset misaligned");
        }
        if (off + (count - 1) * stride + elem > Json.asLong(view.get("byteLength"), "byteLength")) {
            throw new GlbFormatException("GLB: " + where + " does not fit in its bufferView");
        }
    }

    private static void expect(Map<String, Object> acc, int componentType, String type, String what) throws GlbFormatException {
        if (Json.asInt(acc.get("componentType"), what) != componentType || !type.equals(acc.get("type"))) {
            throw new GlbFormatException("GLB: " + what + " must be componentType " + componentType + " " + type);
        }
    }

    private static void checkMinMax(Map<String, Object> acc, float[] positions) throws GlbFormatException {
        if (!acc.containsKey("min") || !acc.containsKey("max")) throw new GlbFormatException("GLB: POSITION accessor lacks min/max");
        List<Object> min = Json.asList(acc.get("min"), "POSITION.min"), max = Json.asList(acc.get("max"), "POSITION.max");
        if (min.size() != 3 || max.size() != 3) throw new GlbFormatException("GLB: POSITION min/max must have 3 components");
        for (int k = 0; k < 3; k++) {
            double lo = Json.asDouble(min.get(k), "POSITION.min"), hi = Json.asDouble(max.get(k), "POSITION.max");
            double tol = 1e-6 * Math.max(1, Math.max(Math.abs(lo), Math.abs(hi)));
            for (int v = k; v < positions.length; v += 3) {
                if (positions[v] < lo - tol || positions[v] > hi + tol) throw new GlbFormatException("GLB: POSITION value outside min/max");
            }
        }
    }

    /** Float components of a FLOAT accessor, honouring byteStride. */
    private static float[] readFloats(Map<String, Object> gltf, ByteBuffer bin, int accessor) throws GlbFormatException {
        Map<String, Object> a = Json.asMap(list(gltf, "accessors").get(accessor), "accessor");
        int comps = Gltf.componentsOf((String) a.get("type"));
        int count = Json.asInt(a.get("count"), "count");
        float[] out = new float[count * comps];
        if (!a.containsKey("bufferView")) return out;
        ByteBuffer b = viewBuffer(gltf, bin, a);
        int stride = stride(gltf, a, 4 * comps);
        int off = (int) optLong(a, "byteOffset", 0);
        for (int i = 0; i < count; i++) for (int k = 0; k < comps; k++) out[i * comps + k] = b.getFloat(off + i * stride + 4 * k);
        return out;
    }

    private static int[] readInts(Map<String, Object> gltf, ByteBuffer bin, int accessor) throws GlbFormatException {
        Map<String, Object> a = Json.asMap(list(gltf, "accessors").get(accessor), "accessor");
        int count = Json.asInt(a.get("count"), "count");
        int ct = Json.asInt(a.get("componentType"), "componentType");
        int size = Gltf.componentBytes(ct);
        int[] out = new int[count];
        if (!a.containsKey("bufferView")) return out;
        ByteBuffer b = viewBuffer(gltf, bin, a);
        int stride = stride(gltf, a, size);
        int off = (int) optLong(a, "byteOffset", 0);
        for (int i = 0; i < count; i++) {
            int p = off + i * stride;
            long v = switch (ct) {
                case Gltf.UNSIGNED_BYTE -> b.get(p) & 0xff;
                case Gltf.UNSIGNED_SHORT -> b.getShort(p) & 0xffff;
                default -> b.getInt(p) & 0xffffffffL;
            };
            out[i] = v > Integer.MAX_VALUE ? -1 : (int) v; // -1 fails the vertex-count check
        }
        return out;
    }

    private static ByteBuffer viewBuffer(Map<String, Object> gltf, ByteBuffer bin, Map<String, Object> acc) throws GlbFormatException {
        Map<String, Object> view = Json.asMap(list(gltf, "bufferViews").get(Json.asInt(acc.get("bufferView"), "bufferView")), "bufferView");
        int buffer = Json.asInt(view.get("buffer"), "buffer");
        Map<String, Object> buf = Json.asMap(list(gltf, "buffers").get(buffer), "buffer");
        if (buf.containsKey("uri")) throw new GlbFormatException("GLB: external buffers (uri) are not supported");
        int off = (int) optLong(view, "byteOffset", 0), len = Json.asInt(view.get("byteLength"), "byteLength");
        return bin.slice(off, len).order(ByteOrder.LITTLE_ENDIAN);
    }

    private static int stride(Map<String, Object> gltf, Map<String, Object> acc, int packed) {
        Map<String, Object> view = Json.asMap(list(gltf, "bufferViews").get(Json.asInt(acc.get("bufferView"), "bufferView")), "bufferView");
        return (int) optLong(view, "byteStride", packed);
    }

    private static Object need(Map<String, Object> m, String key, String where) throws GlbFormatException {
        if (!m.containsKey(key)) throw new GlbFormatException("GLB: " + where + " lacks required \"" + key + "\"");
        return m.get(key);
    }

    private static List<Object> list(Map<String, Object> gltf, String key) {
        return gltf.containsKey(key) ? Json.asList(gltf.get(key), key) : List.of();
    }

    private static long optLong(Map<String, Object> m, String key, long dflt) {
        return m.containsKey(key) ? Json.asLong(m.get(key), key) : dflt;
    }

    private static int index(Object value, int size, String where) throws GlbFormatException {
        long i = Json.asLong(value, where);
        if (i < 0 || i >= size) throw new GlbFormatException("GLB: " + where + " = " + i + " out of range [0," + size + ")");
        return (int) i;
    }
}
