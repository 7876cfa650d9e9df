package org.voxflow.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.voxflow.io.Json;
import org.voxflow.mesh.GlbReader;
import org.voxflow.mesh.Mesh;

/**
 * The command line end to end on a tiny pipeline: train both teachers, distil both students, generate with the
 * teacher and the student, evaluate, inspect; and the one-line, exit-code-2 failures of the main job.
 */
class CliEndToEndTest {
    @TempDir static Path dir;
    static Path model;

    static int run(String... args) { return Main.run(args); }

    static String[] tiny(String... extra) {
        String[] common = {"--device", "cpu", "--no-progress", "--per-family", "2", "--checkpoint-interval", "0"};
        String[] all = new String[extra.length + common.length];
        System.arraycopy(extra, 0, all, 0, extra.length);
        System.arraycopy(common, 0, all, extra.length, common.length);
        return all;
    }

    @BeforeAll static void trainTinyPipeline() {
        model = dir.resolve("pipeline");
        String m = model.toString();
        assertEquals(0, run(tiny("train-teacher", "--stage", "1", "--out", m, "--patch", "4", "--model-channels", "16", "--blocks", "1",
                "--heads", "2", "--cond-tokens", "2", "--cond-channels", "8", "--train-steps", "2", "--batch", "2")));
        assertEquals(0, run(tiny("train-teacher", "--stage", "2", "--out", m, "--model-channels", "16", "--io-channels", "8", "--blocks", "1",
                "--heads", "2", "--cond-tokens", "2", "--cond-channels", "8", "--train-steps", "2", "--batch", "1")));
        assertEquals(0, run(tiny("distill", "--model", m, "--stage", "1", "--method", "mdt", "--train-steps", "1", "--batch", "2")));
        assertEquals(0, run(tiny("distill", "--model", m, "--stage", "2", "--method", "mdt", "--train-steps", "1", "--batch", "1")));
    }

    @Test void pipelineDirectoryHoldsEverything() throws Exception {
        for (String f : new String[] {"pipeline.json", "stage1_teacher.json", "stage1_teacher.safetensors", "stage1_cond.safetensors",
                "stage1_student.safetensors", "stage2_teacher.safetensors", "stage2_student.safetensors", "stage2_cond.safetensors",
                "train-stage1-teacher/log.jsonl", "train-stage1-teacher/loss.svg", "distill-stage2-mdt/log.jsonl"})
            assertTrue(Files.exists(model.resolve(f)), f);
        var p = Json.asMap(Json.parse(Files.readString(model.resolve("pipeline.json"))), "pipeline");
        assertEquals("stage1_student", Json.asMap(p.get("stage1"), "stage1").get("student"));
    }

    @Test void generateWritesGlbAndPreviewWithTeacherAndStudent() throws Exception {
        Path out = dir.resolve("gen");
        // an untrained stage 1 activates about half the grid, so the teacher runs 2 guided steps here, not 25
        assertEquals(0, run("generate", "--category", "mug", "--steps", "2", "--teacher", "--seed", "3", "--model", model.toString(),
                "--out", out.toString(), "--device", "cpu"));
        assertEquals(0, run("generate", "--category", "mug", "--steps", "1", "--seed", "3", "--model", model.toString(),
                "--out", out.toString(), "--device", "cpu"));
        for (String stem : new String[] {"mug-teacher-2step-seed3", "mug-student-1step-seed3"}) {
            Path glb = out.resolve(stem + ".glb");
            assertTrue(Files.exists(glb) && Files.exists(out.resolve(stem + ".png")), stem);
            Mesh m = GlbReader.read(glb); // validates the glTF 2.0 required fields
            assertTrue(m.vertexCount() >= 0);
        }
    }

    @Test void mainJobFailuresAreOneLineWithExitCode2() throws Exception {
        PrintStream err = System.err;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        System.setErr(new PrintStream(buf, true));
        try {
            assertEquals(2, run("generate", "--category", "spaceship", "--model", model.toString(), "--out", dir.resolve("x").toString()));
            assertEquals(2, run("generate", "--category", "mug", "--model", dir.resolve("missing").toString(), "--out", dir.resolve("x").toString()));
            Path file = Files.writeString(dir.resolve("a-file"), "not a directory");
            assertEquals(2, run("generate", "--category", "mug", "--model", model.toString(), "--out", file.resolve("sub").toString()));
            assertEquals(2, run("inspect", dir.resolve("missing").toString()));
            assertEquals(2, run("generate", "--category", "mug", "--model", model.toString(), "--out", dir.resolve("x").toString(), "--device", "tpu"));
        } finally {
            System.setErr(err);
        }
        String[] lines = buf.toString().strip().split("\n");
        assertEquals(5, lines.length, buf.toString());
        assertTrue(lines[4].contains("unknown backend 'tpu'"), lines[4]);
        assertTrue(lines[0].contains("unknown category 'spaceship'"), lines[0]);
        assertTrue(lines[1].contains("not a voxflow pipeline directory"), lines[1]);
        assertTrue(lines[2].contains("output directory"), lines[2]);
        for (String l : lines) assertTrue(l.startsWith("voxflow: "), l);
    }

    @Test void evalWritesReportAndGrid() throws Exception {
        Path out = dir.resolve("eval");
        assertEquals(0, run("eval", "--model", model.toString(), "--families", "mug,torus", "--samples", "1", "--steps", "2,1", "--teacher-steps", "2",
                "--reference-per-family", "12", "--device", "cpu", "--out", out.toString()));
        var report = Json.asMap(Json.parse(Files.readString(out.resolve("report.json"))), "report");
        var methods = Json.asList(report.get("methods"), "methods");
        assertEquals(2, methods.size());
        var student = Json.asMap(methods.get(1), "student");
        for (String k : new String[] {"mmd_cd", "cov_cd", "one_nna_cd", "paired_iou", "paired_chamfer_l1", "latency_ms"})
            assertTrue(student.containsKey(k), k);
        assertTrue(Files.size(out.resolve("grid.png")) > 0);
    }

    @Test void inspectPrintsTheModel() {
        PrintStream out = System.out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        System.setOut(new PrintStream(buf, true));
        try {
            assertEquals(0, run("inspect", model.resolve("stage2_teacher.json").toString()));
        } finally {
            System.setOut(out);
        }
        String s = buf.toString();
        assertTrue(s.contains("SLatFlowModel") && s.contains("parameters:") && s.contains("F32"), s);
    }
}
