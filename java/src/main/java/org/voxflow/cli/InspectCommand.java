package org.voxflow.cli;

import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import org.voxflow.io.Json;
import org.voxflow.io.SafeTensorInfo;
import org.voxflow.io.SafeTensorsFile;
import org.voxflow.models.trellis.FlowModel;
import org.voxflow.models.trellis.TrellisCheckpoint;
import org.voxflow.tensor.Backends;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/** `voxflow inspect <checkpoint>`: model class, config, parameter count, dtypes. */
@Command(name = "inspect", description = "Show a TRELLIS checkpoint's model class, config, parameter count and dtypes.")
final class InspectCommand implements Runnable {
    @Parameters(index = "0", paramLabel = "CHECKPOINT", description = "path to <name>.json or <name>.safetensors (or the name without extension)")
    Path checkpoint;

    @Override public void run() {
        Path[] files = TrellisCheckpoint.files(checkpoint);
        Map<String, Object> cfg = TrellisCheckpoint.readConfig(files[0]);
        FlowModel model = TrellisCheckpoint.load(checkpoint, Backends.cpu());
        Map<String, Long> dtypes = new TreeMap<>();
        long bytes = 0;
        try (SafeTensorsFile f = SafeTensorsFile.open(files[1])) {
            for (SafeTensorInfo i : f.infos()) {
                dtypes.merge(i.dtype().name(), i.elementCount(), Long::sum);
                bytes += i.byteSize();
            }
        } catch (java.io.IOException e) {
            throw new Main.UserError(files[1] + ": " + e.getMessage());
        }
        System.out.println("checkpoint: " + files[0].toAbsolutePath().normalize());
        System.out.println("model:      " + model.className());
        System.out.println("config:     " + Json.write(cfg.get("args")));
        System.out.printf("parameters: %,d (%d tensors, %.1f MB on disk)%n", model.parameterCount(), model.namedParameters().size(), bytes / 1e6);
        System.out.println("dtypes:     " + dtypes.entrySet().stream().map(e -> e.getKey() + " " + String.format("%,d", e.getValue()))
                .reduce((a, b) -> a + ", " + b).orElse("none"));
    }

}
