package org.voxflow.mesh;

import java.io.IOException;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Reader for binary little-endian PLY meshes: a {@code vertex} element whose scalar properties
 * include x, y, z (and optionally nx, ny, nz), and a {@code face} element with a list property
 * of vertex indices (polygons are fan triangulated). Other elements are skipped when they are
 * made of scalars only.
 */
public final class PlyReader {
    private PlyReader() {}

    private record Property(String name, String type, String countType) {
        boolean isList() { return countType != null; }
    }

    private record Element(String name, int count, List<Property> props) {}

    public static Mesh read(Path path) throws IOException {
        return parse(Files.readAllBytes(path));
    }

    public static Mesh parse(byte[] data) throws IOException {
        int end = indexOf(data, "end_header\n".getBytes(StandardCharsets.US_ASCII));
        if (end < 0) throw new IOException("PLY: no end_header");
        String[] lines = new String(data, 0, end, StandardCharsets.US_ASCII).split("\n");
        if (!lines[0].strip().equals("ply")) throw new IOException("PLY: missing magic");
        List<Element> elements = new ArrayList<>();
        for (int i = 1; i < lines.length; i++) {
            String[] t = lines[i].strip().split("\\s+");
            switch (t[0]) {
                case "format" -> {
                    if (!t[1].equals("binary_little_endian")) throw new IOException("PLY: only binary_little_endian is supported, got " + t[1]);
                }
                case "element" -> elements.add(new Element(t[1], Integer.parseInt(t[2]), new ArrayList<>()));
                case "property" -> {
                    if (elements.isEmpty()) throw new IOException("PLY: property before element");
                    Property p = t[1].equals("list") ? new Property(t[4], t[3], t[2]) : new Property(t[2], t[1], null);
                    elements.get(elements.size() - 1).props().add(p);
                }
                default -> { } // comment, obj_info
            }
        }
        ByteBuffer buf = ByteBuffer.wrap(data, end + "end_header\n".length(), data.length - end - "end_header\n".length())
                .order(ByteOrder.LITTLE_ENDIAN);
        float[] pos = null, nrm = null;
        IntList tri = new IntList();
        try {
            for (Element e : elements) {
                if (e.name().equals("vertex")) {
                    int ix = find(e, "x"), iy = find(e, "y"), iz = find(e, "z");
                    int inx = find(e, "nx"), iny = find(e, "ny"), inz = find(e, "nz");
                    if (ix < 0 || iy < 0 || iz < 0) throw new IOException("PLY: vertex element lacks x/y/z");
                    boolean hasN = inx >= 0 && iny >= 0 && inz >= 0;
                    pos = new float[3 * e.count()];
                    nrm = hasN ? new float[3 * e.count()] : null;
                    double[] row = new double[e.props().size()];
                    for (int v = 0; v < e.count(); v++) {
                        for (int k = 0; k < row.length; k++) {
                            if (e.props().get(k).isList()) throw new IOException("PLY: list property in vertex element");
                            row[k] = readScalar(buf, e.props().get(k).type());
                        }
                        pos[3 * v] = (float) row[ix];
                        pos[3 * v + 1] = (float) row[iy];
                        pos[3 * v + 2] = (float) row[iz];
                        if (hasN) {
                            nrm[3 * v] = (float) row[inx];
                            nrm[3 * v + 1] = (float) row[iny];
                            nrm[3 * v + 2] = (float) row[inz];
                        }
                    }
                } else if (e.name().equals("face")) {
                    for (int f = 0; f < e.count(); f++) {
                        for (Property p : e.props()) {
                            if (!p.isList()) {
                                readScalar(buf, p.type());
                                continue;
                            }
                            int n = (int) readScalar(buf, p.countType());
                            int[] poly = new int[n];
                            for (int k = 0; k < n; k++) poly[k] = (int) readScalar(buf, p.type());
                            if (p.name().equals("vertex_indices") || p.name().equals("vertex_index")) {
                                for (int k = 1; k + 1 < n; k++) {
                                    tri.add(poly[0]);
                                    tri.add(poly[k]);
                                    tri.add(poly[k + 1]);
                                }
                            }
                        }
                    }
                } else {
                    for (int r = 0; r < e.count(); r++) {
                        for (Property p : e.props()) {
                            if (p.isList()) throw new IOException("PLY: cannot skip list element " + e.name());
                            readScalar(buf, p.type());
                        }
                    }
                }
            }
        } catch (BufferUnderflowException ex) {
            throw new IOException("PLY: file ends early", ex);
        }
        if (pos == null) throw new IOException("PLY: no vertex element");
        int[] idx = tri.toArray();
        for (int i : idx) if (i < 0 || i >= pos.length / 3) throw new IOException("PLY: face index out of range: " + i);
        return new Mesh(pos, idx, nrm);
    }

    private static int find(Element e, String name) {
        for (int i = 0; i < e.props().size(); i++) if (e.props().get(i).name().equals(name)) return i;
        return -1;
    }

    private static double readScalar(ByteBuffer b, String type) throws IOException {
        return switch (type) {
            case "char", "int8" -> b.get();
            case "uchar", "uint8" -> b.get() & 0xff;
            case "short", "int16" -> b.getShort();
            case "ushort", "uint16" -> b.getShort() & 0xffff;
            case "int", "int32" -> b.getInt();
            case "uint", "uint32" -> b.getInt() & 0xffffffffL;
            case "float", "float32" -> b.getFloat();
            case "double", "float64" -> b.getDouble();
            default -> throw new IOException("PLY: unknown property type " + type);
        };
    }

    private static int indexOf(byte[] data, byte[] pattern) {
        outer:
        for (int i = 0; i + pattern.length <= data.length; i++) {
            for (int k = 0; k < pattern.length; k++) if (data[i + k] != pattern[k]) continue outer;
            return i;
        }
        return -1;
    }
}
