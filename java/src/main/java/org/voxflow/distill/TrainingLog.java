package org.voxflow.distill;

import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.voxflow.io.Json;
import org.voxflow.io.JsonException;

/**
 * The run's JSONL log: one JSON object per line, appended and flushed as it is written, so a crash loses at most
 * the line being written. Readers skip a torn last line. Non-finite numbers (which JSON cannot hold) are written
 * as null by the trainer.
 */
public final class TrainingLog implements AutoCloseable {
    private final BufferedWriter out;

    private TrainingLog(BufferedWriter out) { this.out = out; }

    /** Opens for appending, creating the file (and its folder) when absent. */
    public static TrainingLog append(Path file) throws IOException {
        Path dir = file.toAbsolutePath().getParent();
        if (dir != null) Files.createDirectories(dir);
        return new TrainingLog(Files.newBufferedWriter(file, StandardCharsets.UTF_8, StandardOpenOption.CREATE,
                StandardOpenOption.APPEND, StandardOpenOption.WRITE));
    }

    public void write(Map<String, Object> line) throws IOException {
        out.write(Json.write(line));
        out.write('\n');
        out.flush();
    }

    @Override public void close() throws IOException { out.close(); }

    /** Every complete line that parses as a JSON object, in file order (empty when the file is absent). */
    public static List<Map<String, Object>> read(Path file) throws IOException {
        List<Map<String, Object>> lines = new ArrayList<>();
        if (!Files.exists(file)) return lines;
        for (String s : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            if (s.isBlank()) continue;
            try {
                lines.add(Json.asMap(Json.parse(s), "log line"));
            } catch (JsonException torn) {
                // a line cut short by a crash: the steps it described are redone after the resume
            }
        }
        return lines;
    }

    /**
     * Keeps only the lines of steps up to {@code step} (rewritten atomically): after a resume from that step, the
     * lines a crashed or stopped run wrote past it describe steps that are about to be redone.
     */
    public static void truncateAfter(Path file, long step) throws IOException {
        if (!Files.exists(file)) return;
        StringBuilder kept = new StringBuilder();
        for (Map<String, Object> line : read(file)) {
            Object s = line.get("step");
            if (s instanceof Number n && n.longValue() > step) continue;
            kept.append(Json.write(line)).append('\n');
        }
        AtomicWrite.text(file, kept.toString());
    }
}
