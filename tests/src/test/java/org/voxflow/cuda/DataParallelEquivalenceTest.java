package org.voxflow.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.voxflow.io.Json;

/**
 * The two-GPU equivalence check of {@link DataParallelCheck}, started from JUnit: ranks are child processes, two
 * (one per GPU) for the 2 x 8 run, then one for the 1 x 16 run that compares, both with the overlapped and with the
 * after-backward all-reduce, plus the exact stream check on each rank. Through the bundle's {@code bin/voxflow-launch}
 * when the test runs from the bundle (it finds libnccl and sets NCCL_NVLS_ENABLE=0 and CUDA_VISIBLE_DEVICES per rank),
 * otherwise as plain child JVMs with those variables set here. Needs at least two GPUs (nvidia-smi lists them).
 */
@Tag("gpu")
class DataParallelEquivalenceTest {
    private static final long RUN_SECONDS = 420;

    @Test
    void twoGpusTimesEightEqualOneGpuTimesSixteenOverlappedAndNot(@TempDir Path dir) throws Exception {
        List<String> gpus = gpus();
        assumeTrue(gpus.size() >= 2, "needs 2 GPUs, nvidia-smi lists " + gpus.size());
        Path w2 = dir.resolve("w2"), w1 = dir.resolve("w1");
        run(2, gpus, List.of("--out", w2.toString()), dir.resolve("w2.log"));
        run(1, gpus, List.of("--out", w1.toString(), "--compare-with", w2.toString()), dir.resolve("w1.log"));
        Path report = w1.resolve("equivalence.json");
        assertTrue(Files.exists(report), "no " + report);
        String json = Files.readString(report);
        System.out.println("equivalence.json: " + json);
        @SuppressWarnings("unchecked")
        Map<String, Object> r = (Map<String, Object>) Json.parse(json);
        assertEquals("exact", r.get("stream_check"));
        for (String mode : DataParallelCheck.MODES) {
            for (String key : List.of("replicas_fm_" + mode + "_rank0_vs_rank1", "fm_2gpu_" + mode + "_vs_1gpu_" + mode + "_accum2",
                    "mse_2gpu_x8_" + mode + "_vs_1gpu_x16_" + mode, "nccl_world1_" + mode + "_vs_local_mse"))
                assertTrue(r.containsKey(key), "the report lacks " + key);
        }
        assertEquals(Boolean.TRUE, r.get("passed"), json);
    }

    /** Starts the check with {@code world} ranks and waits for it; fails with the log's tail unless every rank exits 0. */
    private static void run(int world, List<String> gpus, List<String> args, Path log) throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        Path launcher = launcher();
        List<Process> procs = new ArrayList<>();
        if (launcher != null) {
            List<String> cmd = new ArrayList<>(List.of(launcher.toString(), "--nproc-per-node", Integer.toString(world),
                    "--master-port", Integer.toString(port), "--timeout", Long.toString(RUN_SECONDS), DataParallelCheck.class.getName()));
            cmd.addAll(args);
            ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
            pb.environment().put("CUDA_VISIBLE_DEVICES", String.join(",", gpus));
            procs.add(pb.start());
        } else {
            String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
            for (int r = 0; r < world; r++) {
                List<String> cmd = new ArrayList<>(List.of(java, "--enable-native-access=ALL-UNNAMED", "-Xss4m", "-cp",
                        System.getProperty("java.class.path")));
                System.getProperties().forEach((k, v) -> { if (k.toString().startsWith("voxflow.")) cmd.add("-D" + k + "=" + v); });
                cmd.add(DataParallelCheck.class.getName());
                cmd.addAll(args);
                ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true)
                        .redirectOutput(r == 0 ? log.toFile() : log.resolveSibling(log.getFileName() + ".rank" + r).toFile());
                Map<String, String> env = pb.environment();
                env.put("RANK", Integer.toString(r));
                env.put("LOCAL_RANK", Integer.toString(r));
                env.put("WORLD_SIZE", Integer.toString(world));
                env.put("LOCAL_WORLD_SIZE", Integer.toString(world));
                env.put("MASTER_ADDR", "127.0.0.1");
                env.put("MASTER_PORT", Integer.toString(port));
                env.put("CUDA_VISIBLE_DEVICES", gpus.get(r));
                env.put("NCCL_NVLS_ENABLE", "0");
                procs.add(pb.start());
            }
        }
        try {
            for (Process p : procs) {
                boolean done = p.waitFor(RUN_SECONDS + 60, TimeUnit.SECONDS);
                String text = Files.exists(log) ? Files.readString(log) : "";
                System.out.println("---- " + world + " rank(s) ----\n" + tail(text));
                assertTrue(done, world + " rank(s) did not finish in " + (RUN_SECONDS + 60) + " s (a collective that never paired up?)");
                assertEquals(0, p.exitValue(), world + " rank(s) failed:\n" + tail(text));
            }
        } finally {
            for (Process p : procs) p.destroyForcibly();
        }
    }

    private static String tail(String s) { return s.length() <= 6000 ? s : "..." + s.substring(s.length() - 6000); }

    /** The bundle's bin/voxflow-launch next to the lib/ folder this test class was loaded from, or null. */
    private static Path launcher() {
        try {
            Path jar = Path.of(DataParallelEquivalenceTest.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            Path bin = jar.getParent() == null || jar.getParent().getParent() == null ? null : jar.getParent().getParent().resolve("bin/voxflow-launch");
            return bin != null && Files.isExecutable(bin) ? bin : null;
        } catch (Exception e) {
            return null;
        }
    }

    /** GPU indices the children may use: CUDA_VISIBLE_DEVICES if set, else nvidia-smi's list. */
    private static List<String> gpus() throws IOException, InterruptedException {
        String visible = System.getenv("CUDA_VISIBLE_DEVICES");
        if (visible != null && !visible.isBlank()) return List.of(visible.trim().split("\\s*,\\s*"));
        try {
            Process p = new ProcessBuilder("nvidia-smi", "--query-gpu=index", "--format=csv,noheader").redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes());
            if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) return List.of();
            List<String> ids = new ArrayList<>();
            for (String line : out.split("\n")) if (line.trim().matches("\\d+")) ids.add(line.trim());
            return ids;
        } catch (IOException e) {
            return List.of();
        }
    }
}
