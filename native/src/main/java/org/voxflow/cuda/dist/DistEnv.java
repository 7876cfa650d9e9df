package org.voxflow.cuda.dist;

import java.util.Map;

/**
 * Where this process sits in a data-parallel job, from torchrun-style environment variables: {@code RANK},
 * {@code WORLD_SIZE}, {@code LOCAL_RANK}, {@code LOCAL_WORLD_SIZE}, {@code MASTER_ADDR}, {@code MASTER_PORT}
 * (what {@code bin/voxflow-launch} sets for each process it starts). With none of them set, the process is a world of
 * one. No CUDA class is touched here.
 */
public record DistEnv(int rank, int worldSize, int localRank, int localWorldSize, String masterAddr, int masterPort) {
    public static final int DEFAULT_PORT = 29500;

    public DistEnv {
        if (worldSize < 1) throw new IllegalArgumentException("WORLD_SIZE must be >= 1, got " + worldSize);
        if (rank < 0 || rank >= worldSize) throw new IllegalArgumentException("RANK " + rank + " outside [0, " + worldSize + ")");
        if (localWorldSize < 1 || localRank < 0 || localRank >= localWorldSize)
            throw new IllegalArgumentException("LOCAL_RANK " + localRank + " outside [0, LOCAL_WORLD_SIZE " + localWorldSize + ")");
        if (masterAddr == null || masterAddr.isBlank()) throw new IllegalArgumentException("MASTER_ADDR is empty");
        if (masterPort < 0 || masterPort > 65535) throw new IllegalArgumentException("MASTER_PORT " + masterPort + " outside [0, 65535]");
    }

    /** A single process: rank 0 of 1. */
    public static DistEnv single() { return new DistEnv(0, 1, 0, 1, "127.0.0.1", DEFAULT_PORT); }

    public static DistEnv fromEnvironment() { return from(System.getenv()); }

    /** Parses the variables; a world of one when WORLD_SIZE is absent. Errors name the variable and its value. */
    public static DistEnv from(Map<String, String> env) {
        String ws = env.get("WORLD_SIZE");
        if (ws == null || ws.isBlank()) {
            if (env.containsKey("RANK") && !"0".equals(env.get("RANK").trim()))
                throw new IllegalArgumentException("RANK=" + env.get("RANK") + " is set but WORLD_SIZE is not");
            return single();
        }
        int worldSize = integer(env, "WORLD_SIZE", null);
        int rank = integer(env, "RANK", worldSize == 1 ? 0 : null);
        int localRank = integer(env, "LOCAL_RANK", rank);
        int localWorld = integer(env, "LOCAL_WORLD_SIZE", Math.max(worldSize, localRank + 1));
        String addr = env.getOrDefault("MASTER_ADDR", "127.0.0.1").trim();
        int port = integer(env, "MASTER_PORT", DEFAULT_PORT);
        return new DistEnv(rank, worldSize, localRank, localWorld, addr.isEmpty() ? "127.0.0.1" : addr, port);
    }

    private static int integer(Map<String, String> env, String name, Integer fallback) {
        String v = env.get(name);
        if (v == null || v.isBlank()) {
            if (fallback == null) throw new IllegalArgumentException(name + " is not set (WORLD_SIZE=" + env.get("WORLD_SIZE") + " is)");
            return fallback;
        }
        try {
            return Integer.parseInt(v.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(name + "=" + v + " is not an integer", e);
        }
    }

    public boolean isRoot() { return rank == 0; }

    @Override public String toString() {
        return "rank " + rank + " of " + worldSize + " (local " + localRank + " of " + localWorldSize + ", master " + masterAddr + ":" + masterPort + ")";
    }
}
