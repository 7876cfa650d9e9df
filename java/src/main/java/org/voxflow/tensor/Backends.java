package org.voxflow.tensor;

import java.util.ServiceLoader;
import org.voxflow.tensor.cpu.CpuBackend;

/** The process-wide backends: the CPU one always, a GPU one when its module is on the class path and a GPU answers. */
public final class Backends {
    private static volatile Backend gpu;
    private static volatile boolean probed;

    private Backends() {}

    public static Backend cpu() { return CpuBackend.INSTANCE; }

    /** The GPU backend, or null when none is present (probed once, cached). */
    public static Backend gpuOrNull() {
        if (!probed) {
            synchronized (Backends.class) {
                if (!probed) {
                    for (BackendProvider p : ServiceLoader.load(BackendProvider.class)) {
                        try {
                            if (p.available()) { gpu = p.create(); break; }
                        } catch (Throwable t) {
                            // A broken driver or missing library means "no GPU", not a crash.
                        }
                    }
                    probed = true;
                }
            }
        }
        return gpu;
    }

    /** "cpu", "cuda" (fails when absent) or "auto" (GPU when present). */
    public static Backend byName(String name) {
        switch (name) {
            case "cpu": return cpu();
            case "auto": { Backend g = gpuOrNull(); return g != null ? g : cpu(); }
            case "cuda": case "gpu": {
                Backend g = gpuOrNull();
                if (g == null) throw new IllegalStateException("no CUDA backend: the voxflow-native module, an NVIDIA driver and CUDA 13 libraries are needed");
                return g;
            }
            default: throw new IllegalArgumentException("unknown backend '" + name + "' (cpu, cuda, auto)");
        }
    }
}
