package org.voxflow.cuda.dist;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** CPU only: the torchrun-style environment and the TCP hand-over of NCCL's unique id (no CUDA class is loaded). */
class DistSetupTest {
    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    @Test
    void environmentParsesTorchrunVariables() {
        assertEquals(DistEnv.single(), DistEnv.from(Map.of()));
        DistEnv e = DistEnv.from(Map.of("RANK", "3", "WORLD_SIZE", "4", "LOCAL_RANK", "1", "LOCAL_WORLD_SIZE", "2",
                "MASTER_ADDR", "node0", "MASTER_PORT", "1234"));
        assertEquals(new DistEnv(3, 4, 1, 2, "node0", 1234), e);
        assertEquals(new DistEnv(0, 1, 0, 1, "127.0.0.1", DistEnv.DEFAULT_PORT), DistEnv.from(Map.of("WORLD_SIZE", "1")));
        IllegalArgumentException missing = assertThrows(IllegalArgumentException.class, () -> DistEnv.from(Map.of("WORLD_SIZE", "2")));
        assertTrue(missing.getMessage().contains("RANK"), missing.getMessage());
        IllegalArgumentException bad = assertThrows(IllegalArgumentException.class, () -> DistEnv.from(Map.of("WORLD_SIZE", "2", "RANK", "two")));
        assertTrue(bad.getMessage().contains("RANK=two"), bad.getMessage());
        assertThrows(IllegalArgumentException.class, () -> DistEnv.from(Map.of("WORLD_SIZE", "2", "RANK", "2")));
        assertThrows(IllegalArgumentException.class, () -> DistEnv.from(Map.of("RANK", "1")));
    }

    @Test
    void rankZeroHandsItsPayloadToEveryRank() throws Exception {
        int port = freePort(), world = 4;
        AtomicInteger built = new AtomicInteger();
        byte[] id = new byte[128];
        for (int i = 0; i < id.length; i++) id[i] = (byte) (i * 7 + 3);
        ExecutorService pool = Executors.newFixedThreadPool(world);
        try {
            List<Future<byte[]>> got = new ArrayList<>();
            // the other ranks start first: they must retry until rank 0 listens
            for (int r = world - 1; r >= 0; r--) {
                DistEnv env = new DistEnv(r, world, r, world, "127.0.0.1", port);
                got.add(pool.submit(() -> Rendezvous.exchange(env, () -> { built.incrementAndGet(); return id.clone(); }, Duration.ofSeconds(20))));
                if (r == world - 1) Thread.sleep(300);
            }
            for (Future<byte[]> f : got) assertArrayEquals(id, f.get(30, TimeUnit.SECONDS));
            assertEquals(1, built.get(), "only rank 0 builds the payload");
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void mismatchedWorldSizesAndMissingRanksFailWithAClearMessage() throws Exception {
        int port = freePort();
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            Future<byte[]> root = pool.submit(() -> Rendezvous.exchange(new DistEnv(0, 2, 0, 2, "127.0.0.1", port), () -> new byte[] {1}, Duration.ofSeconds(10)));
            Future<byte[]> other = pool.submit(() -> Rendezvous.exchange(new DistEnv(1, 3, 1, 3, "127.0.0.1", port), () -> new byte[] {2}, Duration.ofSeconds(10)));
            Exception e1 = assertThrows(Exception.class, () -> root.get(20, TimeUnit.SECONDS));
            assertTrue(String.valueOf(e1.getCause()).contains("WORLD_SIZE=3"), String.valueOf(e1.getCause()));
            Exception e2 = assertThrows(Exception.class, () -> other.get(20, TimeUnit.SECONDS));
            assertTrue(String.valueOf(e2.getCause()).contains("refused"), String.valueOf(e2.getCause()));
        } finally {
            pool.shutdownNow();
        }
        int port2 = freePort();
        UncheckedIOException timeout = assertThrows(UncheckedIOException.class,
                () -> Rendezvous.exchange(new DistEnv(0, 3, 0, 3, "127.0.0.1", port2), () -> new byte[] {1}, Duration.ofMillis(500)));
        assertTrue(timeout.getMessage().contains("ranks [1, 2] never connected"), timeout.getMessage());
        UncheckedIOException unreachable = assertThrows(UncheckedIOException.class,
                () -> Rendezvous.exchange(new DistEnv(1, 2, 1, 2, "127.0.0.1", port2), () -> new byte[] {1}, Duration.ofMillis(500)));
        assertTrue(unreachable.getMessage().contains("could not reach rank 0"), unreachable.getMessage());
    }
}
