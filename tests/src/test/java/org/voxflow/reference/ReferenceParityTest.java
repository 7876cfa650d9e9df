package org.voxflow.reference;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.voxflow.io.SafeTensorsFile;
import org.voxflow.tensor.Backend;
import org.voxflow.tensor.Backends;

/**
 * Every case of the reference set (TRELLIS's and MDT-dist's own outputs) reproduced on the CPU at 1e-4 relative
 * (max abs error / max abs reference value), one line printed per case.
 */
class ReferenceParityTest {
    static final double BAR = 1e-4;

    @Test void everyReferenceCaseMatches() throws Exception {
        runAll(Backends.cpu(), BAR);
    }

    /** Runs every case on a backend; also used by the GPU suite with its own bar. */
    static void runAll(Backend be, double bar) throws Exception {
        Path dir = ReferenceCases.dir();
        List<String> cases = ReferenceCases.cases(dir);
        assertFalse(cases.isEmpty(), "no cases in " + dir);
        List<String> failures = new ArrayList<>();
        for (String c : cases) {
            Map<String, Double> errs;
            try (SafeTensorsFile f = SafeTensorsFile.open(dir.resolve(c + ".safetensors"))) {
                errs = ReferenceRunner.run(be, dir, c, f);
            }
            double worst = errs.values().stream().mapToDouble(Double::doubleValue).max().orElse(Double.POSITIVE_INFINITY);
            System.out.printf("reference case %s: max-rel-err %.3e%n", c, worst);
            if (Boolean.getBoolean("voxflow.reference.verbose")) errs.forEach((k, v) -> System.out.printf("    %s %.3e%n", k, v));
            errs.forEach((k, v) -> { if (!(v <= bar)) failures.add(c + "/" + k + ": " + v); });
        }
        assertTrue(failures.isEmpty(), "cases over the " + bar + " bar: " + failures);
    }
}
