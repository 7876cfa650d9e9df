package org.voxflow.mesh;

/** glTF 2.0 / GLB constants shared by {@link GlbWriter} and {@link GlbReader}. */
final class Gltf {
    static final int GLB_MAGIC = 0x46546C67; // "glTF"
    static final int GLB_VERSION = 2;
    static final int CHUNK_JSON = 0x4E4F534A; // "JSON"
    static final int CHUNK_BIN = 0x004E4942; // "BIN\0"
    static final int HEADER_BYTES = 12;
    static final int CHUNK_HEADER_BYTES = 8;

    static final int BYTE = 5120, UNSIGNED_BYTE = 5121, SHORT = 5122, UNSIGNED_SHORT = 5123, UNSIGNED_INT = 5125, FLOAT = 5126;
    static final int ARRAY_BUFFER = 34962, ELEMENT_ARRAY_BUFFER = 34963;
    static final int MODE_TRIANGLES = 4;

    private Gltf() {}

    static int componentBytes(int componentType) {
        return switch (componentType) {
            case BYTE, UNSIGNED_BYTE -> 1;
            case SHORT, UNSIGNED_SHORT -> 2;
            case UNSIGNED_INT, FLOAT -> 4;
            default -> -1;
        };
    }

    static int componentsOf(String type) {
        return switch (type) {
            case "SCALAR" -> 1;
            case "VEC2" -> 2;
            case "VEC3" -> 3;
            case "VEC4", "MAT2" -> 4;
            case "MAT3" -> 9;
            case "MAT4" -> 16;
            default -> -1;
        };
    }

    static int padTo4(int n) { return (n + 3) & ~3; }
}
