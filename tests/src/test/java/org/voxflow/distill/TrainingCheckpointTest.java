package org.voxflow.distill;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.voxflow.distill.ToyTraining.Tiny;
import static org.voxflow.distill.ToyTraining.ToyObjective;
import static org.voxflow.distill.ToyTraining.snapshot;
import static org.voxflow.distill.ToyTraining.source;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.voxflow.io.SafeTensorsWriter;

/** Corrupted, foreign and mismatched checkpoints are refused with messages naming file and problem. */
class TrainingCheckpointTest {
    @TempDir Path dir;
    private Path out;
    private Path ckpt;
    private static final ModelFingerprint FP = ModelFingerprint.of("toy.Tiny", Map.of("out", 2));

    private static TrainerConfig.Builder config(Path out, long steps) { return TrainerTest.config(out, steps, Precision.F32); }

    @BeforeEach
    void trainFourSteps() {
        out = dir.resolve("run");
        Tiny m = new Tiny(1);
        new Trainer(config(out, 4).build(), m, FP, new ToyObjective(m), source()).train();
        ckpt = out.resolve("checkpoints/step_00000004.safetensors");
        assertTrue(Files.isRegularFile(ckpt));
    }

    private TrainingCheckpointException refused(Trainer t, Path from) {
        return assertThrows(TrainingCheckpointException.class, () -> t.resume(from));
    }

    private Trainer fresh(TrainerConfig cfg, Tiny m, ModelFingerprint fp) { return new Trainer(cfg, m, fp, new ToyObjective(m), source()); }

    @Test
    void flippedDataBitFailsTheChecksum() throws IOException {
        byte[] bytes = Files.readAllBytes(ckpt);
        bytes[bytes.length - 3] ^= 0x10; // inside the last tensor's data: the header still parses
        Files.write(ckpt, bytes);
        TrainingCheckpointException e = refused(fresh(config(out, 8).build(), new Tiny(1), FP), out);
        assertTrue(e.getMessage().contains(ckpt.toString()), e.getMessage());
        assertTrue(e.getMessage().contains("corrupted checkpoint"), e.getMessage());
        assertTrue(e.getMessage().contains("fails its checksum"), e.getMessage());
    }

    @Test
    void truncatedFileIsReportedAsCorrupted() throws IOException {
        byte[] bytes = Files.readAllBytes(ckpt);
        Files.write(ckpt, Arrays.copyOf(bytes, bytes.length / 2));
        TrainingCheckpointException e = assertThrows(TrainingCheckpointException.class, () -> TrainingCheckpoint.open(ckpt));
        assertTrue(e.getMessage().startsWith(ckpt + ": corrupted checkpoint (not a valid safetensors file)"), e.getMessage());
    }

    @Test
    void corruptedLatestNamesTheOlderAlternatives() throws IOException {
        Tiny m = new Tiny(1);
        fresh(config(out, 5).build(), m, FP).resume(out).train(); // writes step 5 beside step 4
        Path latest = out.resolve("checkpoints/step_00000005.safetensors");
        Files.write(latest, new byte[] {1, 2, 3});
        TrainingCheckpointException e = refused(fresh(config(out, 8).build(), new Tiny(1), FP), out);
        assertTrue(e.getMessage().contains(latest.toString()), e.getMessage());
        assertTrue(e.getMessage().contains("step_00000004.safetensors"), e.getMessage());
        // the older one is still good
        assertEquals(4, fresh(config(out, 8).build(), new Tiny(1), FP).resume(ckpt).step());
    }

    @Test
    void aSafetensorsFileThatIsNotATrainingStateIsRefused() throws IOException {
        Path other = dir.resolve("model.safetensors");
        new SafeTensorsWriter().addFloats("w", new long[] {1}, new float[] {1}).write(other);
        TrainingCheckpointException e = refused(fresh(config(out, 8).build(), new Tiny(1), FP), other);
        assertTrue(e.getMessage().contains("not a voxflow training checkpoint"), e.getMessage());
    }

    @Test
    void mismatchedModelConfigIsRefusedBeforeAnythingChanges() {
        Tiny m = new Tiny(9);
        Map<String, float[]> before = snapshot(m.namedParameters());
        ModelFingerprint other = ModelFingerprint.of("toy.Tiny", Map.of("out", 2, "depth", 3));
        TrainingCheckpointException e = refused(fresh(config(out, 8).build(), m, other), out);
        assertTrue(e.getMessage().contains("model arg 'depth': checkpoint has (absent), this run has 3"), e.getMessage());
        before.forEach((k, v) -> assertArrayEquals(v, m.namedParameters().get(k).toFloats(), 0f));

        e = refused(fresh(config(out, 8).build(), new Tiny(1), ModelFingerprint.of("toy.Other", Map.of("out", 2))), out);
        assertTrue(e.getMessage().contains("model class: checkpoint has toy.Tiny, this run builds toy.Other"), e.getMessage());
    }

    @Test
    void shapeEmaAndTeacherMismatchesAreAllListed() {
        Tiny wide = new Tiny(3, 1);
        Map<String, float[]> before = snapshot(wide.namedParameters());
        TrainerConfig cfg = config(out, 8).emaRates(0.99).teacherPath("teachers/other").build();
        TrainingCheckpointException e = refused(fresh(cfg, wide, FP), out);
        String msg = e.getMessage();
        assertTrue(msg.startsWith(ckpt + ": cannot resume this run from it"), msg);
        assertTrue(msg.contains("student: tensor 'lin.weight' has shape [2, 4], expected [3, 4]"), msg);
        assertTrue(msg.contains("optimizer: tensor 'exp_avg.lin.bias' has shape [2], expected [3]"), msg);
        assertTrue(msg.contains("EMA rates: the checkpoint has [0.9, 0.5], this run has [0.99]"), msg);
        assertTrue(msg.contains("teacher: the checkpoint was trained against teachers/ss_flow, this run uses teachers/other"), msg);
        before.forEach((k, v) -> assertArrayEquals(v, wide.namedParameters().get(k).toFloats(), 0f));
    }

    @Test
    void noCheckpointAtAll() {
        Path empty = dir.resolve("empty");
        assertTrue(empty.toFile().mkdirs());
        TrainingCheckpointException e = refused(fresh(config(empty, 8).build(), new Tiny(1), FP), empty);
        assertTrue(e.getMessage().contains("no checkpoints"), e.getMessage());
    }

    @Test
    void failedWriteKeepsThePreviousCheckpoint() throws IOException {
        // a non-empty directory where step 8's file must go makes the final rename fail
        Files.createDirectories(out.resolve("checkpoints/step_00000008.safetensors/blocker"));
        Tiny m = new Tiny(1);
        Trainer t = fresh(config(out, 10).build(), m, FP).resume(out);
        TrainingCheckpointException e = assertThrows(TrainingCheckpointException.class, t::train);
        assertTrue(e.getMessage().contains("cannot write checkpoint " + out.resolve("checkpoints/step_00000008.safetensors")), e.getMessage());
        assertTrue(e.getMessage().contains("the previous checkpoint " + ckpt + " is intact"), e.getMessage());
        assertEquals(4, TrainingCheckpoint.open(ckpt).step());
        try (var s = Files.list(out.resolve("checkpoints"))) {
            assertEquals(List.of("step_00000004.safetensors", "step_00000008.safetensors"),
                    s.map(p -> p.getFileName().toString()).sorted().toList()); // no temporary left behind
        }
    }

    @Test
    void exposesStudentAndEmaForExport() {
        TrainingCheckpoint ck = TrainingCheckpoint.open(ckpt);
        assertEquals(4, ck.step());
        assertEquals(List.of("lin.weight", "lin.bias"), List.copyOf(ck.student().keySet()));
        assertEquals(8, ck.ema(0.9).get("lin.weight").length);
        assertThrows(TrainingCheckpointException.class, () -> ck.ema(0.7));
    }
}
