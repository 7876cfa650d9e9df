package org.voxflow.mesh;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.voxflow.shapes.Primitives;
import org.voxflow.shapes.SdfMesher;
import org.voxflow.shapes.Vec3;

class MeshRendererTest {
    private static final int WHITE = 0xFFFFFF;

    @Test
    void sphereCoversTheCentreNotTheCorners() {
        Mesh m = SdfMesher.mesh(Primitives.sphere(Vec3.ZERO, 0.3), 24);
        BufferedImage img = MeshRenderer.render(m, Camera.defaultView(), 64, 64);
        assertNotEquals(WHITE, img.getRGB(32, 32) & WHITE);
        assertEquals(WHITE, img.getRGB(1, 1) & WHITE);
        assertEquals(WHITE, img.getRGB(62, 62) & WHITE);
        // lit from the upper left: the upper-left part of the disc is brighter than the lower right
        assertTrue(luma(img.getRGB(26, 26)) > luma(img.getRGB(40, 40)));
    }

    @Test
    void viewsAndGridHaveTheRightSizeAndWritePng(@TempDir Path dir) throws IOException {
        Mesh m = SdfMesher.mesh(Primitives.box(Vec3.ZERO, 0.3, 0.2, 0.1), 16);
        BufferedImage views = MeshRenderer.renderViews(m, MeshRenderer.turntable(Camera.defaultView(), 3), 48);
        assertEquals(144, views.getWidth());
        assertEquals(48, views.getHeight());
        BufferedImage grid = MeshRenderer.renderGrid(List.of(m, m, m), List.of("a", "b", "c"), 2, 40, Camera.defaultView());
        assertEquals(80, grid.getWidth());
        assertEquals(80, grid.getHeight());
        Path f = dir.resolve("g.png");
        MeshRenderer.writePng(grid, f);
        BufferedImage back = ImageIO.read(f.toFile());
        assertEquals(80, back.getWidth());
    }

    private static double luma(int rgb) {
        return 0.3 * (rgb >> 16 & 255) + 0.59 * (rgb >> 8 & 255) + 0.11 * (rgb & 255);
    }
}
