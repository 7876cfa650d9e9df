package org.voxflow.distill;

import java.util.LinkedHashMap;
import java.util.Map;

/** Which gradient clipping a run uses: none, a fixed max norm, or TRELLIS's adaptive percentile clipper. */
public record ClipConfig(Kind kind, double maxNorm, double percentile, int bufferSize) {
    public enum Kind { NONE, FIXED, ADAPTIVE }

    public static ClipConfig none() { return new ClipConfig(Kind.NONE, Double.POSITIVE_INFINITY, 0, 0); }

    public static ClipConfig fixed(double maxNorm) { return new ClipConfig(Kind.FIXED, maxNorm, 0, 0); }

    /** maxNorm caps the percentile and applies until the history is full; +inf for TRELLIS's max_norm=None. */
    public static ClipConfig adaptive(double maxNorm, double percentile, int bufferSize) {
        return new ClipConfig(Kind.ADAPTIVE, maxNorm, percentile, bufferSize);
    }

    /** TRELLIS's AdaptiveGradClipper defaults: 95th percentile of the last 1000 norms. */
    public static ClipConfig trellis(double maxNorm) { return adaptive(maxNorm, 95.0, 1000); }

    public GradClipper create() {
        return switch (kind) {
            case NONE -> GradClipper.none();
            case FIXED -> new FixedNormClipper(maxNorm);
            case ADAPTIVE -> new AdaptiveGradClipper(maxNorm, percentile, bufferSize);
        };
    }

    public Map<String, Object> describe() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("kind", kind.name().toLowerCase());
        if (kind != Kind.NONE) m.put("max_norm", Double.isInfinite(maxNorm) ? "inf" : (Object) maxNorm);
        if (kind == Kind.ADAPTIVE) {
            m.put("percentile", percentile);
            m.put("buffer_size", bufferSize);
        }
        return m;
    }
}
