package org.voxflow.reference;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.voxflow.io.Json;
import org.voxflow.io.SafeTensorsFile;
import org.voxflow.tensor.Backend;
import org.voxflow.tensor.Tensor;

/** Locates the reference set (system property voxflow.reference.dir) and reads its cases. */
final class ReferenceCases {
    private ReferenceCases() {}

    static Path dir() {
        String p = System.getProperty("voxflow.reference.dir");
        Path d;
        if (p == null || p.isBlank() || p.startsWith("${")) d = Path.of("src/test/resources/trellis-ref");
        else {
            d = Path.of(p);
            // a relative path on the Maven command line means relative to where Maven ran, not to tests/
            String root = System.getProperty("voxflow.root");
            if (!d.isAbsolute() && !Files.isDirectory(d) && root != null && !root.startsWith("${")) d = Path.of(root).resolve(p);
        }
        if (!Files.isDirectory(d)) throw new IllegalStateException("reference directory not found: " + d.toAbsolutePath());
        return d;
    }

    static List<String> cases(Path dir) throws IOException {
        Map<String, Object> index = Json.asMap(Json.parse(Files.readString(dir.resolve("INDEX.json"))), "INDEX.json");
        List<String> out = new ArrayList<>();
        for (Object o : Json.asList(index.get("cases"), "INDEX.json cases")) out.add(Json.asString(o, "case name"));
        return out;
    }

    static Tensor tensor(Backend be, SafeTensorsFile f, String name) {
        var info = f.info(name);
        int[] shape = java.util.Arrays.stream(info.shape()).mapToInt(Math::toIntExact).toArray();
        return switch (info.dtype()) {
            case I32, I64 -> be.fromInts(f.ints(name), shape);
            default -> be.fromFloats(f.floats(name), shape);
        };
    }

    /** max |a - b| / max |b|; an all-zero reference compares by absolute error. */
    static double relErr(float[] got, float[] want) {
        if (got.length != want.length) throw new AssertionError("length " + got.length + " vs reference " + want.length);
        double maxErr = 0, maxRef = 0;
        for (int i = 0; i < got.length; i++) {
            if (Float.isNaN(got[i])) return Double.POSITIVE_INFINITY;
            maxErr = Math.max(maxErr, Math.abs(got[i] - want[i]));
            maxRef = Math.max(maxRef, Math.abs(want[i]));
        }
        return maxRef == 0 ? (maxErr <= 1e-6 ? 0 : Double.POSITIVE_INFINITY) : maxErr / maxRef;
    }
}
