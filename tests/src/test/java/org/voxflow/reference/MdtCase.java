package org.voxflow.reference;

import java.nio.file.Path;
import java.util.Map;
import org.voxflow.io.SafeTensorsFile;
import org.voxflow.tensor.Backend;

/** The MDT-dist loss cases: loss terms and every student gradient. */
final class MdtCase {
    private MdtCase() {}

    static Map<String, Double> run(Backend be, Path dir, SafeTensorsFile f) {
        throw new UnsupportedOperationException("mdt cases: not yet implemented");
    }
}
