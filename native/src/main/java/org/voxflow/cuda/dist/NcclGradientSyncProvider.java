package org.voxflow.cuda.dist;

import org.voxflow.cuda.CudaBackend;
import org.voxflow.distill.GradientSync;
import org.voxflow.distill.GradientSyncProvider;
import org.voxflow.tensor.Backend;

/** Registers the NCCL gradient sync for the engine's training commands (see GradientSyncProvider). */
public final class NcclGradientSyncProvider implements GradientSyncProvider {
    @Override public GradientSync create(Backend backend) {
        if (!(backend instanceof CudaBackend cuda))
            throw new IllegalStateException("data-parallel training runs on the CUDA backend (use --device cuda), not " + backend.device());
        return NcclGradientSync.create(cuda);
    }
}
