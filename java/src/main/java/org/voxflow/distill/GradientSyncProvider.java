package org.voxflow.distill;

import java.util.Map;
import java.util.ServiceLoader;
import org.voxflow.tensor.Backend;

/**
 * Found through {@link ServiceLoader} so the engine's training commands can run data-parallel without naming a
 * CUDA class: the CUDA module provides the NCCL implementation. {@link #fromEnvironment} reads the torchrun-style
 * WORLD_SIZE that `voxflow-launch` sets.
 */
public interface GradientSyncProvider {
    /** A sync for this process's rank (from RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT) on the given backend. */
    GradientSync create(Backend backend);

    /** The local sync when WORLD_SIZE is unset or 1; otherwise the provider's (an error when none is present). */
    static GradientSync fromEnvironment(Backend backend) {
        return fromEnvironment(backend, System.getenv(), ServiceLoader.load(GradientSyncProvider.class));
    }

    /**
     * The selection itself, with the environment and the providers passed in (tests): {@link GradientSync#local()}
     * when {@code env} has no WORLD_SIZE or WORLD_SIZE 1, else the first provider's sync.
     */
    static GradientSync fromEnvironment(Backend backend, Map<String, String> env, Iterable<? extends GradientSyncProvider> providers) {
        String ws = env.get("WORLD_SIZE");
        if (ws == null || ws.isBlank() || ws.trim().equals("1")) return GradientSync.local();
        for (GradientSyncProvider p : providers) return p.create(backend);
        throw new IllegalStateException("WORLD_SIZE=" + ws + " asks for data-parallel training, but no GradientSyncProvider "
                + "(the voxflow-native module with NCCL) is on the class path");
    }
}
