package org.voxflow.pipeline;

import java.util.ArrayList;
import java.util.List;
import org.voxflow.distill.Sample;
import org.voxflow.shapes.LatentNormalizer;
import org.voxflow.shapes.Shape;
import org.voxflow.shapes.ShapeDataset;
import org.voxflow.shapes.ShapeFamily;
import org.voxflow.shapes.Stage1Latent;
import org.voxflow.shapes.Stage2Latent;
import org.voxflow.shapes.Voxelizer;

/**
 * Training data from the procedural shapes: stage 1 gets the 8 x (R/2)^3 space-to-depth of the +/-1 occupancy,
 * stage 2 the 8 corner distances of every active voxel (normalized per channel); both are conditioned on the
 * one-hot family [1, F].
 */
public final class ShapeData {
    private ShapeData() {}

    /** Voxelized shapes at resolution r, computed once and shared by both stages. */
    public record Voxelized(ShapeFamily family, int[] xyz, float[] corners) {}

    public static List<Voxelized> voxelize(List<ShapeDataset.Item> items, int r) {
        return items.parallelStream().map(it -> {
            Shape s = it.shape();
            int[] xyz = Voxelizer.activeCoords(s.sdf(), r);
            return new Voxelized(it.family(), xyz, Stage2Latent.cornerValues(s.sdf(), xyz, r));
        }).toList();
    }

    public static List<Sample> stage1(List<Voxelized> shapes, int r, int families) {
        List<Sample> out = new ArrayList<>();
        int h = r / 2;
        for (Voxelized v : shapes) {
            float[] latent = Stage1Latent.toStage1Latent(Voxelizer.coordsToGrid(v.xyz(), r), r);
            out.add(new Sample.Dense(latent, new int[] {8, h, h, h}, oneHot(v.family(), families), new int[] {1, families}));
        }
        return out;
    }

    public static LatentNormalizer fitNormalizer(List<Voxelized> shapes) {
        List<float[]> all = new ArrayList<>();
        for (Voxelized v : shapes) all.add(v.corners());
        return LatentNormalizer.fit(all, 8);
    }

    public static List<Sample> stage2(List<Voxelized> shapes, LatentNormalizer norm, int families) {
        List<Sample> out = new ArrayList<>();
        for (Voxelized v : shapes) {
            if (v.xyz().length == 0) continue;
            out.add(new Sample.Sparse(v.xyz(), norm.normalize(v.corners()), 8, oneHot(v.family(), families), new int[] {1, families}));
        }
        return out;
    }

    static float[] oneHot(ShapeFamily f, int families) { return FamilyConditioner.oneHot(new int[] {f.label()}, families); }
}
