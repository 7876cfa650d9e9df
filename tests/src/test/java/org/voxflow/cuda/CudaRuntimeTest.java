package org.voxflow.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ServiceLoader;
import org.junit.jupiter.api.Test;
import org.voxflow.tensor.BackendProvider;

/** Runs everywhere (no GPU tag): the probe must answer, never throw, and the provider must be registered. */
class CudaRuntimeTest {

    @Test
    void providerIsRegisteredAndProbeNeverThrows() {
        boolean found = false;
        for (BackendProvider p : ServiceLoader.load(BackendProvider.class)) {
            if (p instanceof CudaBackendProvider) {
                found = true;
                assertEquals("cuda", p.name());
                boolean first = p.available();
                assertEquals(first, p.available(), "the answer is cached");
            }
        }
        assertTrue(found, "CudaBackendProvider in META-INF/services");
        assertNotNull(CudaRuntime.reason());
    }
}
