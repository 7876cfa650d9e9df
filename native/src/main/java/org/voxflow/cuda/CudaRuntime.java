package org.voxflow.cuda;

import java.nio.charset.StandardCharsets;
import org.bytedeco.javacpp.Loader;

/**
 * Loads the CUDA runtime and our kernels once and answers whether a GPU is usable. On a machine without a driver,
 * loading CUDA classes throws {@link UnsatisfiedLinkError} (and every later touch {@link NoClassDefFoundError}), so
 * the probe catches Throwable, caches the answer and keeps the reason for messages.
 */
public final class CudaRuntime {
    private static volatile Boolean available;
    private static volatile String reason = "not probed";

    private CudaRuntime() {}

    /** True when the native libraries load and at least one CUDA device answers. Never throws. */
    public static boolean available() {
        Boolean a = available;
        if (a == null) {
            synchronized (CudaRuntime.class) {
                if (available == null) available = probe();
                a = available;
            }
        }
        return a;
    }

    /** Why {@link #available()} said no (or "ok"). */
    public static String reason() { return reason; }

    private static boolean probe() {
        try {
            if (Boolean.getBoolean("voxflow.cuda.disable")) { reason = "disabled by -Dvoxflow.cuda.disable"; return false; }
            // The presets' runtime first: it loads the system libcudart.so.13 that our kernels library links to.
            Loader.load(org.bytedeco.cuda.global.cudart.class);
            int[] count = new int[1];
            int rc = VoxKernels.vf_device_count(count);
            if (rc != 0) { reason = "cudaGetDeviceCount: " + VoxKernels.vf_error_string(rc); return false; }
            if (count[0] < 1) { reason = "no CUDA device"; return false; }
            reason = "ok";
            return true;
        } catch (Throwable t) {
            reason = describe(t);
            return false;
        }
    }

    /** The whole cause chain: JavaCPP's outer "no jnicudart" hides the useful "libcuda.so.1: cannot open". */
    private static String describe(Throwable t) {
        StringBuilder sb = new StringBuilder();
        for (Throwable c = t; c != null && sb.length() < 2000; c = c.getCause() == c ? null : c.getCause()) {
            if (sb.length() > 0) sb.append(" <- ");
            sb.append(c.getClass().getSimpleName()).append(": ").append(c.getMessage());
            for (Throwable s : c.getSuppressed()) sb.append(" [").append(s.getMessage()).append(']');
        }
        return sb.toString();
    }

    /** Throws a {@link CudaException} naming the call when rc is not cudaSuccess. */
    static void check(int rc, String call) {
        if (rc != 0) throw new CudaException(call, rc, VoxKernels.vf_error_name(rc), VoxKernels.vf_error_string(rc));
    }

    /** "NVIDIA H100 80GB HBM3 (sm_90, 132 SMs)". */
    public static String describe(int device) {
        byte[] name = new byte[64];
        int[] info = new int[3];
        check(VoxKernels.vf_device_info(device, name, info), "cudaGetDeviceProperties");
        int len = 0;
        while (len < name.length && name[len] != 0) len++;
        return new String(name, 0, len, StandardCharsets.UTF_8) + " (sm_" + info[0] + info[1] + ", " + info[2] + " SMs)";
    }
}
