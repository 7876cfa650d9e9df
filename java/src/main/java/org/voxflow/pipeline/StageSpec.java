package org.voxflow.pipeline;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.voxflow.flow.Guidance;
import org.voxflow.io.Json;

/**
 * One stage of a pipeline directory: checkpoint names (relative to the directory) and sampler settings.
 * The teacher samples with CFG inside an interval (TRELLIS: stage 1 w = 5, stage 2 w = 3, both on [0.5, 1],
 * 25 steps, rescale_t 3); a distilled student samples on a few-point grid with no guidance.
 */
public record StageSpec(String teacher, String conditioner, String student, String studentMethod, int teacherSteps,
                        double teacherRescaleT, double cfg, double cfgLo, double cfgHi, double studentRescaleT) {

    public Guidance guidance() { return cfg == 0 ? Guidance.NONE : new Guidance(cfg, cfgLo, cfgHi); }

    public StageSpec withStudent(String name, String method) {
        return new StageSpec(teacher, conditioner, name, method, teacherSteps, teacherRescaleT, cfg, cfgLo, cfgHi, studentRescaleT);
    }

    public static StageSpec defaults(int stage) {
        return new StageSpec("stage" + stage + "_teacher", "stage" + stage + "_cond", null, null, 25, 3.0, stage == 1 ? 5.0 : 3.0, 0.5, 1.0, 1.0);
    }

    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("teacher", teacher);
        m.put("conditioner", conditioner);
        if (student != null) { m.put("student", student); m.put("student_method", studentMethod); }
        m.put("teacher_steps", (long) teacherSteps);
        m.put("teacher_rescale_t", teacherRescaleT);
        m.put("cfg_strength", cfg);
        m.put("cfg_interval", List.of(cfgLo, cfgHi));
        m.put("student_rescale_t", studentRescaleT);
        return m;
    }

    public static StageSpec fromMap(Map<String, Object> m, String where) {
        List<Object> iv = Json.asList(m.get("cfg_interval"), where + ".cfg_interval");
        return new StageSpec(Json.asString(m.get("teacher"), where + ".teacher"), Json.asString(m.get("conditioner"), where + ".conditioner"),
                m.get("student") == null ? null : Json.asString(m.get("student"), where + ".student"),
                m.get("student_method") == null ? null : Json.asString(m.get("student_method"), where + ".student_method"),
                Json.asInt(m.get("teacher_steps"), where + ".teacher_steps"), Json.asDouble(m.get("teacher_rescale_t"), where + ".teacher_rescale_t"),
                Json.asDouble(m.get("cfg_strength"), where + ".cfg_strength"), Json.asDouble(iv.get(0), where + ".cfg_interval[0]"),
                Json.asDouble(iv.get(1), where + ".cfg_interval[1]"), Json.asDouble(m.get("student_rescale_t"), where + ".student_rescale_t"));
    }
}
