package org.voxflow.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.voxflow.mesh.Camera;
import org.voxflow.mesh.GlbWriter;
import org.voxflow.mesh.MeshRenderer;
import org.voxflow.pipeline.Generator;
import org.voxflow.pipeline.PipelineModels;
import org.voxflow.tensor.Backend;
import org.voxflow.tensor.Backends;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The main job: `voxflow generate --category chair [--steps 1|2|25] [--seed N] [--out DIR]` runs stage 1 then
 * stage 2 and writes a GLB, a PNG preview (four views) and a timing line per stage.
 */
@Command(name = "generate", description = "Generate a 3D shape of a family: stage 1 (structure), stage 2 (latents), mesh; writes GLB + PNG.")
final class GenerateCommand implements Runnable {
    @Option(names = "--category", required = true, description = "shape family, e.g. chair, table, mug, airplane") String category;
    @Option(names = "--steps", defaultValue = "1", description = "1 or 2 = distilled student, 25 = guided teacher (default ${DEFAULT-VALUE})") int steps;
    @Option(names = "--seed", defaultValue = "0") long seed;
    @Option(names = "--out", defaultValue = "out", description = "output directory (default ${DEFAULT-VALUE})") Path out;
    @Option(names = "--model", description = "pipeline directory (default: the model shipped in the jar)") Path model;
    @Option(names = "--device", defaultValue = "auto", description = "cpu, cuda or auto (GPU when present)") String device;
    @Option(names = "--teacher", description = "sample the guided teacher with --steps steps (the undistilled baseline)") boolean teacher;

    @Override public void run() {
        if (steps < 1) throw new Main.UserError("--steps must be >= 1, got " + steps);
        PipelineModels p = model == null ? PipelineModels.shippedDefault() : PipelineModels.read(model);
        if (!p.families.contains(category))
            throw new Main.UserError("unknown category '" + category + "' (known: " + String.join(", ", p.families) + ")");
        try {
            Files.createDirectories(out);
            if (!Files.isWritable(out)) throw new Main.UserError("output directory " + out + " is not writable");
        } catch (IOException e) {
            throw new Main.UserError("cannot create output directory " + out + ": " + e.getMessage());
        }
        Backend be = Backends.byName(device);
        Generator g = new Generator(p, be);
        Generator.Plan plan = teacher ? new Generator.Plan(true, steps) : Generator.Plan.forSteps(steps, p.stage1.teacherSteps());
        Generator.Result r = g.generate(category, plan, seed);
        String stem = category + "-" + (plan.teacher() ? "teacher" : "student") + "-" + steps + "step-seed" + seed;
        Path glb = out.resolve(stem + ".glb"), png = out.resolve(stem + ".png");
        try {
            GlbWriter.write(r.mesh(), glb);
            Camera c = Camera.defaultView();
            MeshRenderer.writePng(MeshRenderer.renderViews(r.mesh(), List.of(c, c.withYaw(125), c.withYaw(215), c.withYaw(305)), 256), png);
        } catch (IOException e) {
            throw new Main.UserError("cannot write " + glb + ": " + e.getMessage());
        }
        String who = plan.teacher() ? "teacher, " + steps + " steps + CFG" : "student, " + steps + " step" + (steps > 1 ? "s" : "");
        System.out.printf("stage 1 (%s): %.1f ms on %s -> %d active voxels at %d^3%n", who, r.stage1Ms(), be.device(), r.xyz().length / 3, p.resolution);
        System.out.printf("stage 2 (%s): %.1f ms%n", who, r.stage2Ms());
        System.out.printf("decode (sparse marching cubes): %.1f ms -> %d triangles%n", r.decodeMs(), r.mesh().triangleCount());
        System.out.println("wrote " + glb + " and " + png);
    }
}
