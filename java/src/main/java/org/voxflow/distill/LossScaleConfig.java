package org.voxflow.distill;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Dynamic loss scaling settings (PyTorch GradScaler's defaults: init 2^16, x2 after 2000 steps without overflow,
 * x0.5 on overflow).
 */
public record LossScaleConfig(double initScale, double growthFactor, double backoffFactor, int growthInterval) {
    public LossScaleConfig {
        if (!(initScale > 0) || Double.isInfinite(initScale)) throw new IllegalArgumentException("initial loss scale must be finite and > 0, got " + initScale);
        if (!(growthFactor > 1)) throw new IllegalArgumentException("loss scale growth factor must be > 1, got " + growthFactor);
        if (!(backoffFactor > 0 && backoffFactor < 1)) throw new IllegalArgumentException("loss scale backoff factor must be in (0, 1), got " + backoffFactor);
        if (growthInterval < 1) throw new IllegalArgumentException("loss scale growth interval must be >= 1, got " + growthInterval);
    }

    public static LossScaleConfig defaults() { return new LossScaleConfig(65536.0, 2.0, 0.5, 2000); }

    public Map<String, Object> describe() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("init_scale", initScale);
        m.put("growth_factor", growthFactor);
        m.put("backoff_factor", backoffFactor);
        m.put("growth_interval", growthInterval);
        return m;
    }
}
