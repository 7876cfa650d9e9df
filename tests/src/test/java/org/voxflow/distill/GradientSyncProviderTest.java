package org.voxflow.distill;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.voxflow.distill.ToyTraining.BE;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import org.junit.jupiter.api.Test;
import org.voxflow.tensor.Backend;

/**
 * How the training commands pick their gradient sync ({@link GradientSyncProvider#fromEnvironment}), with the
 * environment passed in: the local sync for a world of one, the provider's for more, and the NCCL provider is the
 * one {@link ServiceLoader} finds on the engine's class path. CPU only: no CUDA class is initialized.
 */
class GradientSyncProviderTest {
    /** Records what it was asked for and returns a marker sync. */
    private static final class Fake implements GradientSyncProvider {
        final List<Backend> asked = new ArrayList<>();
        final GradientSync made = new ThreadRanks(1).member(0);

        @Override public GradientSync create(Backend backend) {
            asked.add(backend);
            return made;
        }
    }

    @Test
    void aWorldOfOneIsTheLocalSyncWithoutAskingAnyProvider() {
        Fake fake = new Fake();
        for (Map<String, String> env : List.of(Map.<String, String>of(), Map.of("WORLD_SIZE", "1"), Map.of("WORLD_SIZE", " 1 "),
                Map.of("WORLD_SIZE", ""), Map.of("RANK", "0", "MASTER_PORT", "1234")))
            assertSame(GradientSync.local(), GradientSyncProvider.fromEnvironment(BE, env, List.of(fake)), env.toString());
        assertTrue(fake.asked.isEmpty());
    }

    @Test
    void worldSizeAboveOneTakesTheFirstProvider() {
        Fake first = new Fake(), second = new Fake();
        GradientSync s = GradientSyncProvider.fromEnvironment(BE, Map.of("WORLD_SIZE", "2", "RANK", "1"), List.of(first, second));
        assertSame(first.made, s);
        assertEquals(List.of(BE), first.asked, "created for the given backend");
        assertTrue(second.asked.isEmpty());
        IllegalStateException none = assertThrows(IllegalStateException.class,
                () -> GradientSyncProvider.fromEnvironment(BE, Map.of("WORLD_SIZE", "8"), List.of()));
        assertTrue(none.getMessage().contains("WORLD_SIZE=8") && none.getMessage().contains("GradientSyncProvider"), none.getMessage());
    }

    @Test
    void withSeveralRanksTheNcclProviderOnTheClassPathIsSelected() {
        List<String> found = new ArrayList<>();
        for (GradientSyncProvider p : ServiceLoader.load(GradientSyncProvider.class)) found.add(p.getClass().getName());
        assertEquals(List.of("org.voxflow.cuda.dist.NcclGradientSyncProvider"), found, "META-INF/services of voxflow-native");
        // the selection reaches it: on the CPU backend it refuses with its own message, before touching CUDA or NCCL
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> GradientSyncProvider.fromEnvironment(BE,
                Map.of("WORLD_SIZE", "2", "RANK", "0", "MASTER_ADDR", "127.0.0.1", "MASTER_PORT", "1"),
                ServiceLoader.load(GradientSyncProvider.class)));
        assertTrue(e.getMessage().contains("data-parallel training runs on the CUDA backend"), e.getMessage());
    }
}
