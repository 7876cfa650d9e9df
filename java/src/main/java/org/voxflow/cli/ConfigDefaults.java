package org.voxflow.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.voxflow.io.Json;
import org.voxflow.io.JsonException;
import picocli.CommandLine;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * `--config FILE.json` for the training commands: every key names an option without its dashes
 * ({"steps": 2000, "lr": 1e-4, "model-channels": 128}); flags given on the command line win over the file.
 * Unknown keys are an error, so a typo cannot silently train with a default.
 */
final class ConfigDefaults implements CommandLine.IDefaultValueProvider {
    private final Path file;
    private final Map<String, Object> values;

    private ConfigDefaults(Path file, Map<String, Object> values) {
        this.file = file;
        this.values = values;
    }

    /** Installs the config named by --config (if any) as the subcommand's default provider. */
    static void install(CommandLine root, String[] args) {
        for (int i = 0; i + 1 < args.length; i++) {
            if (!args[i].equals("--config")) continue;
            Path p = Path.of(args[i + 1]);
            Map<String, Object> m;
            try {
                m = Json.asMap(Json.parse(Files.readString(p)), p.toString());
            } catch (IOException e) {
                throw new Main.UserError("cannot read config " + p + ": " + e.getMessage());
            } catch (JsonException e) {
                throw new Main.UserError("config " + p + " is not valid JSON: " + e.getMessage());
            }
            for (String a : args) {
                CommandLine sub = root.getSubcommands().get(a);
                if (sub == null) continue;
                for (String key : m.keySet())
                    if (sub.getCommandSpec().findOption("--" + key) == null)
                        throw new Main.UserError("config " + p + ": unknown setting '" + key + "' for " + a);
                sub.setDefaultValueProvider(new ConfigDefaults(p, m));
            }
        }
    }

    @Override public String defaultValue(ArgSpec arg) {
        if (!(arg instanceof OptionSpec o)) return null;
        String key = o.longestName().replaceFirst("^--", "");
        Object v = values.get(key);
        if (v == null) return arg.defaultValue();
        if (v instanceof List<?> l) return String.join(",", l.stream().map(String::valueOf).toList());
        return String.valueOf(v);
    }

    @Override public String toString() { return "config " + file; }
}
