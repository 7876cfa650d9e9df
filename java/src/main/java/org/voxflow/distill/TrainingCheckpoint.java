package org.voxflow.distill;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import java.util.zip.CRC32;
import org.voxflow.io.Json;
import org.voxflow.io.JsonException;
import org.voxflow.io.SafeDType;
import org.voxflow.io.SafeTensorInfo;
import org.voxflow.io.SafeTensorsException;
import org.voxflow.io.SafeTensorsFile;
import org.voxflow.io.SafeTensorsWriter;
import org.voxflow.tensor.Backend;
import org.voxflow.tensor.DType;
import org.voxflow.tensor.Tensor;

/**
 * One file holding a whole training state: a safetensors file whose tensors are the student, EMA copies,
 * optimizer moments and counters, clipper history and data cursor, and whose {@code __metadata__} holds the
 * scalars (step, RNG state, loss scale, model fingerprint, config). One file means one atomic rename: a crash
 * leaves either the previous checkpoint or the complete new one, never a mismatched pair.
 *
 * <p>Integrity: the metadata carries a CRC-32 of every tensor's bytes, verified by {@link #open}, so a flipped bit
 * in the data (which the safetensors header cannot notice) is reported as corruption, naming file and tensor.
 * Files are named {@code step_%08d.safetensors} inside {@code <output>/checkpoints/}.
 */
public final class TrainingCheckpoint implements AutoCloseable {
    public static final String FORMAT = "voxflow-train-state/1";
    static final String META_FORMAT = "format";
    static final String META_CHECKSUMS = "checksums";
    private static final Pattern NAME = Pattern.compile("step_(\\d+)\\.safetensors");
    private static final int CHUNK = 1 << 16;

    private final Path path;
    private final SafeTensorsFile file;
    private final Map<String, String> meta;

    private TrainingCheckpoint(Path path, SafeTensorsFile file) {
        this.path = path;
        this.file = file;
        this.meta = file.metadata();
    }

    public static Path directory(Path outputDir) { return outputDir.resolve("checkpoints"); }

    public static String fileName(long step) { return String.format("step_%08d.safetensors", step); }

    // ---- writing -------------------------------------------------------------------------------------------------

    /**
     * Writes the tensors (floats as F32, integers as I32/I64) and metadata atomically, adding the format tag and
     * the checksums. Each tensor is read from its backend twice (checksum, then the bytes), so no host copy of the
     * whole state is held at once.
     */
    public static void write(Path target, Map<String, String> metadata, Map<String, Tensor> tensors) throws IOException {
        SafeTensorsWriter w = new SafeTensorsWriter();
        Map<String, String> sums = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            Tensor t = e.getValue();
            SafeDType dt = storedType(t.dtype());
            CRC32 crc = new CRC32();
            encode(t, dt, crc::update);
            sums.put(e.getKey(), Long.toHexString(crc.getValue()));
            long[] shape = Arrays.stream(t.shape()).asLongStream().toArray();
            w.add(e.getKey(), dt, shape, out -> encode(t, dt, buf -> { while (buf.hasRemaining()) out.write(buf); }));
        }
        w.metadata(META_FORMAT, FORMAT);
        metadata.forEach(w::metadata);
        w.metadata(META_CHECKSUMS, Json.write(sums));
        Path dir = target.toAbsolutePath().getParent();
        if (dir != null) Files.createDirectories(dir);
        w.write(target);
    }

    private static SafeDType storedType(DType d) {
        if (d.isFloating()) return SafeDType.F32;
        return d == DType.I32 ? SafeDType.I32 : SafeDType.I64;
    }

    @FunctionalInterface
    private interface Sink { void accept(ByteBuffer buf) throws IOException; }

    /** Little-endian bytes of t in the stored type, in chunks (the same bytes for the checksum and the file). */
    private static void encode(Tensor t, SafeDType dt, Sink sink) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(CHUNK).order(ByteOrder.LITTLE_ENDIAN);
        switch (dt) {
            case F32 -> {
                float[] v = t.toFloats();
                for (int from = 0; from < v.length; from += CHUNK / 4) {
                    int n = Math.min(CHUNK / 4, v.length - from);
                    buf.clear();
                    buf.asFloatBuffer().put(v, from, n);
                    buf.limit(n * 4);
                    sink.accept(buf);
                }
            }
            case I32 -> {
                int[] v = t.toInts();
                for (int from = 0; from < v.length; from += CHUNK / 4) {
                    int n = Math.min(CHUNK / 4, v.length - from);
                    buf.clear();
                    buf.asIntBuffer().put(v, from, n);
                    buf.limit(n * 4);
                    sink.accept(buf);
                }
            }
            default -> {
                long[] v = t.toLongs();
                for (int from = 0; from < v.length; from += CHUNK / 8) {
                    int n = Math.min(CHUNK / 8, v.length - from);
                    buf.clear();
                    buf.asLongBuffer().put(v, from, n);
                    buf.limit(n * 8);
                    sink.accept(buf);
                }
            }
        }
    }

    // ---- reading -------------------------------------------------------------------------------------------------

    /**
     * Opens and fully verifies a checkpoint: a readable safetensors file, this format, a checksum for every tensor
     * and every checksum matching. Throws {@link TrainingCheckpointException} naming the file and the problem.
     */
    public static TrainingCheckpoint open(Path path) {
        if (!Files.isRegularFile(path)) throw new TrainingCheckpointException(path + ": no such checkpoint file");
        SafeTensorsFile f;
        try {
            f = SafeTensorsFile.open(path);
        } catch (SafeTensorsException e) {
            throw new TrainingCheckpointException(path + ": corrupted checkpoint (not a valid safetensors file): " + e.getMessage(), e);
        } catch (IOException e) {
            throw new TrainingCheckpointException(path + ": cannot read checkpoint: " + e, e);
        }
        String fmt = f.metadata().get(META_FORMAT);
        if (!FORMAT.equals(fmt))
            throw new TrainingCheckpointException(path + ": not a voxflow training checkpoint (metadata 'format' is "
                    + (fmt == null ? "absent" : "'" + fmt + "'") + ", expected '" + FORMAT + "')");
        TrainingCheckpoint ck = new TrainingCheckpoint(path, f);
        ck.verifyChecksums();
        return ck;
    }

    private void verifyChecksums() {
        Map<String, Object> sums;
        try {
            sums = Json.asMap(Json.parse(meta(META_CHECKSUMS)), "checksums");
        } catch (JsonException e) {
            throw new TrainingCheckpointException(path + ": corrupted checkpoint: the checksum table is unreadable: " + e.getMessage(), e);
        }
        List<String> problems = new ArrayList<>();
        ByteBuffer buf = ByteBuffer.allocate(CHUNK);
        for (String name : file.names()) {
            Object want = sums.get(name);
            if (!(want instanceof String)) { problems.add("tensor '" + name + "' has no checksum"); continue; }
            CRC32 crc = new CRC32();
            long size = file.info(name).byteSize();
            for (long off = 0; off < size; ) {
                buf.clear();
                int n = file.readBytes(name, off, buf);
                buf.flip();
                crc.update(buf);
                off += n;
            }
            String got = Long.toHexString(crc.getValue());
            if (!got.equals(want)) problems.add("tensor '" + name + "' fails its checksum (stored " + want + ", data gives " + got + ")");
        }
        for (String name : sums.keySet())
            if (!file.contains(name)) problems.add("tensor '" + name + "' is listed in the checksums but missing from the file");
        if (!problems.isEmpty())
            throw new TrainingCheckpointException(path + ": corrupted checkpoint:\n  - " + String.join("\n  - ", problems));
    }

    public Path path() { return path; }

    /** Makes this object unusable (the mapping goes with the garbage collector; see {@link SafeTensorsFile#close}). */
    @Override public void close() { file.close(); }

    public Map<String, String> metadata() { return meta; }

    /** A metadata value that must be present. */
    public String meta(String key) {
        String v = meta.get(key);
        if (v == null) throw new TrainingCheckpointException(path + ": checkpoint metadata lacks '" + key + "'");
        return v;
    }

    /** A metadata value parsed as JSON. */
    public Object metaJson(String key) {
        try {
            return Json.parse(meta(key));
        } catch (JsonException e) {
            throw new TrainingCheckpointException(path + ": checkpoint metadata '" + key + "' is not valid JSON: " + e.getMessage(), e);
        }
    }

    /** A metadata value parsed as a long. */
    public long metaLong(String key) {
        try {
            return Long.parseLong(meta(key));
        } catch (NumberFormatException e) {
            throw new TrainingCheckpointException(path + ": checkpoint metadata '" + key + "' is not an integer: '" + meta(key) + "'");
        }
    }

    /** A metadata value parsed as a double ("Infinity" included). */
    public double metaDouble(String key) {
        try {
            return Double.parseDouble(meta(key));
        } catch (NumberFormatException e) {
            throw new TrainingCheckpointException(path + ": checkpoint metadata '" + key + "' is not a number: '" + meta(key) + "'");
        }
    }

    /** Optimizer steps completed when this checkpoint was written. */
    public long step() { return metaLong("step"); }

    public boolean has(String name) { return file.contains(name); }

    /** Shapes of the tensors whose name starts with prefix, keyed by the rest of the name. */
    public Map<String, int[]> shapes(String prefix) {
        Map<String, int[]> out = new LinkedHashMap<>();
        for (SafeTensorInfo info : file.infos()) {
            if (!info.name().startsWith(prefix)) continue;
            long[] s = info.shape();
            int[] shape = new int[s.length];
            for (int i = 0; i < s.length; i++) shape[i] = Math.toIntExact(s[i]);
            out.put(info.name().substring(prefix.length()), shape);
        }
        return out;
    }

    /** The tensors under prefix as a map that reads each one from the file only when asked for it. */
    public Map<String, Tensor> tensors(String prefix, Backend be) { return new CheckpointTensors(this, prefix, be); }

    /** Integer tensors under prefix as host arrays (small state: counters, cursors). */
    public Map<String, long[]> longArrays(String prefix) {
        Map<String, long[]> out = new LinkedHashMap<>();
        for (String k : shapes(prefix).keySet()) out.put(k, file.longs(prefix + k));
        return out;
    }

    public float[] floats(String name) { return file.floats(name); }

    /** Reads one tensor onto a backend. */
    Tensor tensor(String name, int[] shape, Backend be) {
        SafeDType dt = file.info(name).dtype();
        if (dt.isFloating()) return be.fromFloats(file.floats(name), shape);
        if (dt == SafeDType.I32) return be.fromInts(file.ints(name), shape);
        return be.fromLongs(file.longs(name), shape);
    }

    /** The student's parameters as host floats, e.g. to export a trained student. */
    public Map<String, float[]> student() { return floatsUnder("student."); }

    /** The EMA copy at one rate as host floats. */
    public Map<String, float[]> ema(double rate) {
        List<Object> rates = Json.asList(metaJson("ema_rates"), path + ": ema_rates");
        for (int i = 0; i < rates.size(); i++)
            if (Json.asDouble(rates.get(i), "ema rate") == rate) return floatsUnder("ema." + i + ".");
        throw new TrainingCheckpointException(path + ": no EMA at rate " + rate + " (rates: " + rates + ")");
    }

    private Map<String, float[]> floatsUnder(String prefix) {
        Map<String, float[]> out = new LinkedHashMap<>();
        for (String k : shapes(prefix).keySet()) out.put(k, file.floats(prefix + k));
        return out;
    }

    // ---- finding -------------------------------------------------------------------------------------------------

    /** Checkpoint files of a directory, oldest step first. */
    public static List<Path> list(Path dir) {
        if (!Files.isDirectory(dir)) return List.of();
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> NAME.matcher(p.getFileName().toString()).matches() && Files.isRegularFile(p))
                    .sorted(Comparator.comparingLong(TrainingCheckpoint::stepOf)).toList();
        } catch (IOException e) {
            throw new TrainingCheckpointException(dir + ": cannot list checkpoints: " + e, e);
        }
    }

    /** The step a checkpoint file name carries (-1 when it is not a checkpoint name). */
    public static long stepOf(Path p) {
        Matcher m = NAME.matcher(p.getFileName().toString());
        return m.matches() ? Long.parseLong(m.group(1)) : -1;
    }

    /**
     * The checkpoint to resume from: the file itself, or the newest in {@code dir/checkpoints/} or {@code dir}.
     * The newest is returned even if it turns out corrupted: falling back silently to an older one would repeat
     * steps without the user knowing; the error from {@link #open} lists the alternatives instead.
     */
    public static Path latest(Path dirOrFile) {
        if (Files.isRegularFile(dirOrFile)) return dirOrFile;
        if (!Files.isDirectory(dirOrFile)) throw new TrainingCheckpointException(dirOrFile + ": no such checkpoint file or directory");
        List<Path> found = list(directory(dirOrFile));
        if (found.isEmpty()) found = list(dirOrFile);
        if (found.isEmpty())
            throw new TrainingCheckpointException(dirOrFile + ": no checkpoints (step_*.safetensors) in it or in its checkpoints/ folder");
        return found.get(found.size() - 1);
    }
}
