package org.voxflow.mesh;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.voxflow.io.Json;
import org.voxflow.shapes.Primitives;
import org.voxflow.shapes.SdfMesher;
import org.voxflow.shapes.Vec3;

class MeshExportTest {
    @TempDir
    Path dir;

    private static final Mesh TORUS = SdfMesher.mesh(Primitives.torus(Vec3.ZERO, 0.3, 0.1).rotateX(0.4), 32);

    private static void assertSameMesh(Mesh expected, Mesh actual) {
        assertArrayEquals(expected.positions(), actual.positions());
        assertArrayEquals(expected.indices(), actual.indices());
        assertArrayEquals(expected.normals(), actual.normals());
    }

    private void assertNoTempFiles() throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            assertTrue(s.noneMatch(p -> p.getFileName().toString().endsWith(".tmp")), "temporary file left behind");
        }
    }

    @Test
    void glbRoundTripsAndIsWellFormed() throws IOException {
        Path f = dir.resolve("torus.glb");
        GlbWriter.write(TORUS, f);
        assertNoTempFiles();
        byte[] b = Files.readAllBytes(f);
        ByteBuffer bb = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(0x46546C67, bb.getInt(0));
        assertEquals(2, bb.getInt(4));
        assertEquals(b.length, bb.getInt(8));
        assertEquals(0, b.length % 4);
        int jsonLen = bb.getInt(12);
        assertEquals(0, jsonLen % 4);
        int binLen = bb.getInt(20 + jsonLen);
        assertEquals(0x004E4942, bb.getInt(24 + jsonLen));
        assertEquals(b.length, 28 + jsonLen + binLen);
        assertEquals(4 * (6 * TORUS.vertexCount() + TORUS.indices().length), binLen);

        Map<String, Object> json = Json.asMap(Json.parse(new String(b, 20, jsonLen, StandardCharsets.UTF_8).strip()), "gltf");
        Map<String, Object> posAcc = Json.asMap(Json.asList(json.get("accessors"), "a").get(0), "a0");
        assertEquals(5126L, posAcc.get("componentType"));
        assertEquals("VEC3", posAcc.get("type"));
        assertEquals((long) TORUS.vertexCount(), posAcc.get("count"));
        float[] bounds = TORUS.bounds();
        List<Object> min = Json.asList(posAcc.get("min"), "min");
        for (int k = 0; k < 3; k++) assertEquals(bounds[k], (float) Json.asDouble(min.get(k), "min"));
        Map<String, Object> idxAcc = Json.asMap(Json.asList(json.get("accessors"), "a").get(2), "a2");
        assertEquals(5125L, idxAcc.get("componentType"));

        assertSameMesh(TORUS, GlbReader.read(f));
    }

    @Test
    void emptyMeshGlbIsValid() throws IOException {
        byte[] b = GlbWriter.toBytes(Mesh.empty());
        assertEquals(0, b.length % 4);
        assertTrue(GlbReader.parse(b).isEmpty());
    }

    /** Rewrites the JSON chunk of a valid GLB through {@code edit} (keeping the BIN chunk). */
    private static byte[] withJson(byte[] glb, java.util.function.UnaryOperator<String> edit) {
        ByteBuffer bb = ByteBuffer.wrap(glb).order(ByteOrder.LITTLE_ENDIAN);
        int jsonLen = bb.getInt(12);
        String json = new String(glb, 20, jsonLen, StandardCharsets.UTF_8).strip();
        byte[] nj = edit.apply(json).getBytes(StandardCharsets.UTF_8);
        int padded = (nj.length + 3) & ~3;
        byte[] rest = java.util.Arrays.copyOfRange(glb, 20 + jsonLen, glb.length);
        ByteBuffer out = ByteBuffer.allocate(20 + padded + rest.length).order(ByteOrder.LITTLE_ENDIAN);
        out.putInt(0x46546C67).putInt(2).putInt(20 + padded + rest.length).putInt(padded).putInt(0x4E4F534A).put(nj);
        for (int i = nj.length; i < padded; i++) out.put((byte) ' ');
        out.put(rest);
        return out.array();
    }

    @Test
    void glbValidationRejectsBrokenFiles() {
        byte[] good = GlbWriter.toBytes(TORUS);
        assertThrows(GlbFormatException.class, () -> GlbReader.parse(withJson(good, j -> j.replace("\"version\":\"2.0\"", "\"version\":\"1.0\""))));
        assertThrows(GlbFormatException.class, () -> GlbReader.parse(withJson(good, j -> j.replaceFirst("\"min\":\\[[^\\]]*\\],", ""))));
        assertThrows(GlbFormatException.class, () -> GlbReader.parse(withJson(good, j -> j.replace("\"componentType\":5125", "\"componentType\":5124"))));
        assertThrows(GlbFormatException.class, () -> GlbReader.parse(withJson(good, j -> j.replace("\"type\":\"SCALAR\"", "\"type\":\"VEC5\""))));
        int bin = 4 * (6 * TORUS.vertexCount() + TORUS.indices().length);
        assertThrows(GlbFormatException.class, () -> GlbReader.parse(withJson(good, j -> j.replace("\"byteLength\":" + bin, "\"byteLength\":" + (bin + 64)))));
        // an index pointing past the last vertex
        byte[] badIndex = good.clone();
        ByteBuffer.wrap(badIndex).order(ByteOrder.LITTLE_ENDIAN).putInt(badIndex.length - 4, TORUS.vertexCount());
        assertThrows(GlbFormatException.class, () -> GlbReader.parse(badIndex));
        byte[] badLength = good.clone();
        ByteBuffer.wrap(badLength).order(ByteOrder.LITTLE_ENDIAN).putInt(8, good.length + 4);
        assertThrows(GlbFormatException.class, () -> GlbReader.parse(badLength));
        assertThrows(GlbFormatException.class, () -> GlbReader.parse(java.util.Arrays.copyOf(good, good.length - 4)));
    }

    @Test
    void objRoundTrips() throws IOException {
        Path f = dir.resolve("torus.obj");
        ObjWriter.write(TORUS, f);
        assertNoTempFiles();
        assertSameMesh(TORUS, ObjReader.read(f));
    }

    @Test
    void objReaderHandlesPolygonsAndNegativeIndices() throws IOException {
        Mesh m = ObjReader.parse(List.of("v 0 0 0", "v 1 0 0", "v 1 1 0", "v 0 1 0", "f -4 -3 -2 -1"));
        assertArrayEquals(new int[] {0, 1, 2, 0, 2, 3}, m.indices());
        assertEquals(1.0, m.surfaceArea(), 1e-9);
        assertEquals(1f, m.normals()[2], 1e-6f);
    }

    @Test
    void plyRoundTrips() throws IOException {
        Path f = dir.resolve("torus.ply");
        PlyWriter.write(TORUS, f);
        assertNoTempFiles();
        byte[] b = Files.readAllBytes(f);
        String head = new String(b, 0, 64, StandardCharsets.US_ASCII);
        assertTrue(head.startsWith("ply\nformat binary_little_endian 1.0\n"), head);
        assertSameMesh(TORUS, PlyReader.read(f));
    }

    @Test
    void rewriteReplacesAtomically() throws IOException {
        Path f = dir.resolve("a.glb");
        GlbWriter.write(Mesh.empty(), f);
        GlbWriter.write(TORUS, f);
        assertEquals(TORUS.triangleCount(), GlbReader.read(f).triangleCount());
        assertNoTempFiles();
    }
}
