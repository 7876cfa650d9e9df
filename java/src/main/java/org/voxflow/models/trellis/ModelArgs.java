package org.voxflow.models.trellis;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Typed reads of a TRELLIS checkpoint's "args" object that collect every problem (unknown argument, wrong type,
 * missing required value) so one error lists them all.
 */
final class ModelArgs {
    private final String where;
    private final Map<String, Object> args;
    private final Set<String> used = new LinkedHashSet<>();
    private final List<String> problems = new ArrayList<>();

    ModelArgs(String where, Map<String, Object> args) {
        this.where = where;
        this.args = args;
    }

    int integer(String key, Integer dflt) {
        used.add(key);
        Object v = args.get(key);
        if (v == null) {
            if (dflt == null) problems.add("missing argument '" + key + "'");
            return dflt == null ? 0 : dflt;
        }
        if (v instanceof Long l && l == l.intValue()) return l.intValue();
        if (v instanceof Double d && d == Math.rint(d) && Math.abs(d) < Integer.MAX_VALUE) return d.intValue();
        problems.add("argument '" + key + "' must be an integer, found " + v);
        return 0;
    }

    Integer optionalInteger(String key) {
        Object v = args.get(key);
        used.add(key);
        if (v == null) return null;
        return integer(key, 0);
    }

    double number(String key, double dflt) {
        used.add(key);
        Object v = args.get(key);
        if (v == null) return dflt;
        if (v instanceof Number n) return n.doubleValue();
        problems.add("argument '" + key + "' must be a number, found " + v);
        return dflt;
    }

    boolean bool(String key, boolean dflt) {
        used.add(key);
        Object v = args.get(key);
        if (v == null) return dflt;
        if (v instanceof Boolean b) return b;
        problems.add("argument '" + key + "' must be true or false, found " + v);
        return dflt;
    }

    String string(String key, String dflt, String... allowed) {
        used.add(key);
        Object v = args.get(key);
        if (v == null) return dflt;
        if (v instanceof String s && (allowed.length == 0 || List.of(allowed).contains(s))) return s;
        problems.add("argument '" + key + "' must be one of " + List.of(allowed) + ", found " + v);
        return dflt;
    }

    int[] intList(String key) {
        used.add(key);
        Object v = args.get(key);
        if (v instanceof List<?> l) {
            int[] out = new int[l.size()];
            for (int i = 0; i < out.length; i++) {
                if (l.get(i) instanceof Long n && n > 0 && n == n.intValue()) out[i] = n.intValue();
                else { problems.add("argument '" + key + "' must list positive integers, found " + v); return new int[0]; }
            }
            return out;
        }
        problems.add(v == null ? "missing argument '" + key + "'" : "argument '" + key + "' must be a list, found " + v);
        return new int[0];
    }

    void check(boolean ok, String problem) { if (!ok) problems.add(problem); }

    /** Throws one error listing every problem and every unknown argument. */
    void finish() {
        for (String k : args.keySet()) if (!used.contains(k)) problems.add("unknown argument '" + k + "'");
        if (!problems.isEmpty())
            throw new CheckpointException(where + ": " + problems.size() + " problem(s) in the model config:\n  - "
                    + String.join("\n  - ", problems));
    }
}
