package org.voxflow.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The `voxflow` command. Usage errors and unusable inputs exit with 2 and one line naming the problem. */
@Command(name = "voxflow", mixinStandardHelpOptions = true, version = "voxflow 0.1.0",
        description = "Few-step 3D generation: TRELLIS flow transformers and MDT-dist distillation.",
        subcommands = {GenerateCommand.class, InspectCommand.class, SampleCommand.class, TrainTeacherCommand.class, DistillCommand.class, EvalCommand.class})
public final class Main implements Runnable {
    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Override public void run() { spec.commandLine().usage(System.out); }

    public static void main(String[] args) { System.exit(run(args)); }

    /** Runs the command line and returns its exit code (tests call this). */
    public static int run(String... args) {
        CommandLine cl = new CommandLine(new Main());
        cl.setExecutionExceptionHandler((e, cmd, parsed) -> {
            if (e instanceof UserError || e instanceof org.voxflow.models.trellis.CheckpointException
                    || e instanceof org.voxflow.io.SafeTensorsException || e instanceof java.nio.file.NoSuchFileException
                    || e instanceof org.voxflow.distill.TrainingCheckpointException || isDeviceChoice(e)) {
                cmd.getErr().println("voxflow: " + e.getMessage());
                return 2;
            }
            throw e;
        });
        try {
            ConfigDefaults.install(cl, args);
        } catch (UserError e) {
            System.err.println("voxflow: " + e.getMessage());
            return 2;
        }
        return cl.execute(args);
    }

    /** --device named a backend that is unknown or absent (Backends.byName's messages). */
    private static boolean isDeviceChoice(Exception e) {
        String m = e.getMessage();
        return m != null && (m.startsWith("no CUDA backend") || m.startsWith("unknown backend"));
    }

    /** An input problem the user can fix; printed without a stack trace. */
    public static final class UserError extends RuntimeException {
        public UserError(String message) { super(message); }
    }
}
