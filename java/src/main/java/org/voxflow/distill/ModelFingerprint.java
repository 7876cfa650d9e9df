package org.voxflow.distill;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
import org.voxflow.io.Json;
import org.voxflow.models.trellis.FlowModel;

/**
 * What a checkpoint records about the student's architecture: the model class name and its constructor
 * arguments as JSON (TRELLIS's {"name", "args"}). A resume whose model differs is refused with the differences
 * named, before any tensor is touched.
 */
public record ModelFingerprint(String className, String argsJson) {
    public ModelFingerprint {
        Objects.requireNonNull(className, "className");
        Json.asMap(Json.parse(argsJson), "model args"); // must be a JSON object
    }

    public static ModelFingerprint of(String className, Map<String, Object> args) {
        return new ModelFingerprint(className, Json.write(args));
    }

    /** A TRELLIS model's class and args; any other object is identified by its Java class with no args. */
    public static ModelFingerprint of(Object model) {
        if (model instanceof FlowModel m) return of(m.className(), m.args());
        return new ModelFingerprint(model.getClass().getName(), "{}");
    }

    public Map<String, Object> args() { return Json.asMap(Json.parse(argsJson), "model args"); }

    /** Human-readable differences from another fingerprint ("this" is the checkpoint's); empty when they match. */
    public List<String> differences(ModelFingerprint now) {
        List<String> out = new ArrayList<>();
        if (!className.equals(now.className))
            out.add("model class: checkpoint has " + className + ", this run builds " + now.className);
        Map<String, Object> a = args(), b = now.args();
        for (String k : new TreeSet<>(union(a, b))) {
            Object x = a.get(k), y = b.get(k);
            if (!Objects.equals(x, y))
                out.add("model arg '" + k + "': checkpoint has " + show(a, k) + ", this run has " + show(b, k));
        }
        return out;
    }

    private static Set<String> union(Map<String, Object> a, Map<String, Object> b) {
        Set<String> s = new HashSet<>(a.keySet());
        s.addAll(b.keySet());
        return s;
    }

    private static String show(Map<String, Object> m, String k) {
        return m.containsKey(k) ? Json.write(m.get(k)) : "(absent)";
    }

    public Map<String, Object> describe() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", className);
        m.put("args", args());
        return m;
    }
}
