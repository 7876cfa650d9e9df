package org.voxflow.reference;

import java.nio.file.Path;
import java.util.Map;
import org.voxflow.io.SafeTensorsFile;
import org.voxflow.tensor.Backend;

/** The sampler cases: TRELLIS's guidance-interval Euler sampler and plain Euler with k steps. */
final class SamplerCase {
    private SamplerCase() {}

    static Map<String, Double> run(Backend be, Path dir, SafeTensorsFile f) {
        throw new UnsupportedOperationException("sampler cases: not yet implemented");
    }
}
