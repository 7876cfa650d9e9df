package org.voxflow.shapes;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.voxflow.mesh.Camera;
import org.voxflow.mesh.Mesh;
import org.voxflow.mesh.MeshRenderer;

/**
 * Renders a grid of every shape family through the full pipeline (active voxels at R ->
 * corner SDFs -> sparse marching cubes), one row per pair of families.
 *
 * <p>Usage: {@code ShapeGallery OUTPUT.png [instancesPerFamily=3] [resolution=64] [cellPixels=256]};
 * instances are the first items of each family in {@link ShapeDataset#standard}.
 */
public final class ShapeGallery {
    private ShapeGallery() {}

    public static void main(String[] args) throws IOException {
        if (args.length < 1) {
            System.err.println("usage: ShapeGallery OUTPUT.png [instancesPerFamily=3] [resolution=64] [cellPixels=256]");
            System.exit(2);
        }
        if (System.getProperty("java.awt.headless") == null) System.setProperty("java.awt.headless", "true");
        int per = args.length > 1 ? Integer.parseInt(args[1]) : 3;
        int res = args.length > 2 ? Integer.parseInt(args[2]) : 64;
        int cell = args.length > 3 ? Integer.parseInt(args[3]) : 256;
        Path out = Path.of(args[0]);
        BufferedImage img = render(per, res, cell);
        MeshRenderer.writePng(img, out);
        System.out.println("wrote " + out + " (" + img.getWidth() + "x" + img.getHeight() + ")");
    }

    /** The gallery image: two families per row, {@code per} instances each. */
    public static BufferedImage render(int per, int resolution, int cell) {
        ShapeDataset data = ShapeDataset.standard(per);
        List<Mesh> meshes = new ArrayList<>();
        List<String> labels = new ArrayList<>();
        for (ShapeDataset.Item item : data.items()) {
            meshes.add(SdfMesher.mesh(item.shape(), resolution));
            labels.add(item.family().id() + " #" + item.index());
        }
        return MeshRenderer.renderGrid(meshes, labels, 2 * per, cell, Camera.defaultView());
    }
}
