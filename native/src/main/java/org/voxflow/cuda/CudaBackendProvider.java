package org.voxflow.cuda;

import org.voxflow.tensor.Backend;
import org.voxflow.tensor.BackendProvider;

/** Registered in META-INF/services: offers {@link CudaBackend} when a CUDA device and our libraries load. */
public final class CudaBackendProvider implements BackendProvider {
    private static volatile CudaBackend instance;

    @Override public String name() { return "cuda"; }

    @Override public boolean available() { return CudaRuntime.available(); }

    @Override public Backend create() {
        if (!CudaRuntime.available()) throw new IllegalStateException("no CUDA backend: " + CudaRuntime.reason());
        if (instance == null) {
            synchronized (CudaBackendProvider.class) {
                if (instance == null) instance = new CudaBackend(0);
            }
        }
        return instance;
    }
}
