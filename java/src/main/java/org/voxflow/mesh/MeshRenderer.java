package org.voxflow.mesh;

import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.IntStream;
import javax.imageio.ImageIO;

/**
 * Software rasteriser for previews: z-buffered triangles, perspective-correct interpolated
 * vertex normals, Lambert shading from a key light above-left of the camera plus ambient,
 * two-sided (back faces are lit as if flipped), supersampled and box-filtered.
 */
public final class MeshRenderer {
    /**
     * Surface colour, background and lighting weights; {@code supersample} pixels per side per output
     * pixel; {@code fitToFrame} zooms (and re-centres) the projected mesh to fill the image up to a
     * 6% border, keeping the camera's perspective, so thin or off-centre shapes stay readable.
     */
    public record Style(int baseRgb, int backgroundRgb, double ambient, double diffuse, int supersample, boolean fitToFrame) {
        public static Style defaults() { return new Style(0x8CA6D9, 0xFFFFFF, 0.28, 0.72, 2, true); }
    }

    private static final double FRAME_BORDER = 0.06;

    private MeshRenderer() {}

    public static BufferedImage render(Mesh mesh, Camera camera, int width, int height) {
        return render(mesh, camera, width, height, Style.defaults());
    }

    public static BufferedImage render(Mesh mesh, Camera camera, int width, int height, Style style) {
        int s = Math.max(1, style.supersample());
        int w = width * s, h = height * s;
        float[] rgb = rasterize(mesh, camera, w, h, style);
        BufferedImage img = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        float inv = 1f / (s * s);
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                float r = 0, g = 0, b = 0;
                for (int dy = 0; dy < s; dy++) {
                    for (int dx = 0; dx < s; dx++) {
                        int p = 3 * ((y * s + dy) * w + x * s + dx);
                        r += rgb[p];
                        g += rgb[p + 1];
                        b += rgb[p + 2];
                    }
                }
                img.setRGB(x, y, (to8(r * inv) << 16) | (to8(g * inv) << 8) | to8(b * inv));
            }
        }
        return img;
    }

    /** The mesh seen from each camera, side by side, each view {@code size} x {@code size}. */
    public static BufferedImage renderViews(Mesh mesh, List<Camera> cameras, int size) {
        BufferedImage out = new BufferedImage(size * cameras.size(), size, BufferedImage.TYPE_INT_RGB);
        BufferedImage[] views = cameras.parallelStream().map(c -> render(mesh, c, size, size)).toArray(BufferedImage[]::new);
        Graphics2D g = out.createGraphics();
        for (int i = 0; i < views.length; i++) g.drawImage(views[i], i * size, 0, null);
        g.dispose();
        return out;
    }

    /** {@code views} cameras evenly spaced in yaw around y, starting from {@code base}. */
    public static List<Camera> turntable(Camera base, int views) {
        return IntStream.range(0, views).mapToObj(i -> base.withYaw(base.yawDeg() + 360.0 * i / views)).toList();
    }

    /**
     * Meshes in a grid of {@code columns} columns, each cell {@code cell} x {@code cell}, with an
     * optional label (null list or null entries for none) in the cell's top-left corner.
     */
    public static BufferedImage renderGrid(List<Mesh> meshes, List<String> labels, int columns, int cell, Camera camera) {
        int n = meshes.size();
        int rows = Math.max(1, (n + columns - 1) / columns);
        BufferedImage out = new BufferedImage(columns * cell, rows * cell, BufferedImage.TYPE_INT_RGB);
        int band = labels == null ? 0 : labelSize(cell) + 6; // keep the label clear of the picture
        BufferedImage[] cells = IntStream.range(0, n).parallel()
                .mapToObj(i -> render(meshes.get(i), camera, cell, cell - band)).toArray(BufferedImage[]::new);
        Graphics2D g = out.createGraphics();
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, out.getWidth(), out.getHeight());
        for (int i = 0; i < n; i++) g.drawImage(cells[i], (i % columns) * cell, (i / columns) * cell + band, null);
        g.setColor(new Color(0xDDDDDD));
        for (int c = 1; c < columns; c++) g.drawLine(c * cell, 0, c * cell, out.getHeight());
        for (int r = 1; r < rows; r++) g.drawLine(0, r * cell, out.getWidth(), r * cell);
        if (labels != null) drawLabels(g, labels, columns, cell);
        g.dispose();
        return out;
    }

    private static void drawLabels(Graphics2D g, List<String> labels, int columns, int cell) {
        try {
            g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
            g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, labelSize(cell)));
            g.setColor(new Color(0x333333));
            for (int i = 0; i < labels.size(); i++) {
                if (labels.get(i) == null) continue;
                g.drawString(labels.get(i), (i % columns) * cell + 6, (i / columns) * cell + g.getFont().getSize() + 4);
            }
        } catch (RuntimeException | LinkageError e) {
            // headless machines without fonts: the picture is still useful without labels
        }
    }

    private static int labelSize(int cell) { return Math.max(10, cell / 16); }

    public static void writePng(BufferedImage image, Path path) throws IOException {
        AtomicFiles.write(path, out -> {
            if (!ImageIO.write(image, "png", out)) throw new IOException("no PNG writer available");
        });
    }

    private static int to8(float v) { return Math.max(0, Math.min(255, Math.round(v * 255))); }

    /** Linear RGB floats, 3 per pixel, row-major from the top. */
    private static float[] rasterize(Mesh mesh, Camera camera, int w, int h, Style style) {
        float[] rgb = new float[3 * w * h];
        float br = ((style.backgroundRgb() >> 16) & 255) / 255f, bg = ((style.backgroundRgb() >> 8) & 255) / 255f, bb = (style.backgroundRgb() & 255) / 255f;
        for (int i = 0; i < w * h; i++) {
            rgb[3 * i] = br;
            rgb[3 * i + 1] = bg;
            rgb[3 * i + 2] = bb;
        }
        if (mesh.isEmpty()) return rgb;
        double[] eye = camera.eye();
        double el = Math.sqrt(eye[0] * eye[0] + eye[1] * eye[1] + eye[2] * eye[2]);
        double[] f = {-eye[0] / el, -eye[1] / el, -eye[2] / el};
        double[] right = normalize(cross(f, new double[] {0, 1, 0}));
        double[] up = cross(right, f);
        // key light from above-left of the camera, expressed in world space
        double[] light = normalize(new double[] {
                -f[0] + 0.9 * up[0] - 0.6 * right[0], -f[1] + 0.9 * up[1] - 0.6 * right[1], -f[2] + 0.9 * up[2] - 0.6 * right[2]});
        double focal = (h / 2.0) / Math.tan(Math.toRadians(camera.fovDeg()) / 2);

        float[] pos = mesh.positions(), nrm = mesh.normals();
        int nv = mesh.vertexCount();
        float[] sx = new float[nv], sy = new float[nv], iz = new float[nv];
        for (int v = 0; v < nv; v++) {
            double dx = pos[3 * v] - eye[0], dy = pos[3 * v + 1] - eye[1], dz = pos[3 * v + 2] - eye[2];
            double xc = dx * right[0] + dy * right[1] + dz * right[2];
            double yc = dx * up[0] + dy * up[1] + dz * up[2];
            double zc = dx * f[0] + dy * f[1] + dz * f[2];
            iz[v] = zc > 1e-3 ? (float) (1 / zc) : -1;
            sx[v] = (float) (w / 2.0 + xc / zc * focal);
            sy[v] = (float) (h / 2.0 - yc / zc * focal);
        }
        if (style.fitToFrame()) fitToFrame(sx, sy, iz, w, h);
        float[] depth = new float[w * h]; // 1/z, larger is nearer; 0 = empty
        float baseR = ((style.baseRgb() >> 16) & 255) / 255f, baseG = ((style.baseRgb() >> 8) & 255) / 255f, baseB = (style.baseRgb() & 255) / 255f;
        int[] idx = mesh.indices();
        for (int t = 0; t < idx.length; t += 3) {
            int a = idx[t], b = idx[t + 1], c = idx[t + 2];
            if (iz[a] < 0 || iz[b] < 0 || iz[c] < 0) continue; // behind the near plane: previews never need clipping
            float area = (sx[b] - sx[a]) * (sy[c] - sy[a]) - (sy[b] - sy[a]) * (sx[c] - sx[a]);
            if (area == 0 || Float.isNaN(area)) continue;
            int x0 = Math.max(0, (int) Math.floor(Math.min(sx[a], Math.min(sx[b], sx[c]))));
            int x1 = Math.min(w - 1, (int) Math.ceil(Math.max(sx[a], Math.max(sx[b], sx[c]))));
            int y0 = Math.max(0, (int) Math.floor(Math.min(sy[a], Math.min(sy[b], sy[c]))));
            int y1 = Math.min(h - 1, (int) Math.ceil(Math.max(sy[a], Math.max(sy[b], sy[c]))));
            float invArea = 1 / area;
            for (int py = y0; py <= y1; py++) {
                float cy = py + 0.5f;
                for (int px = x0; px <= x1; px++) {
                    float cx = px + 0.5f;
                    float l0 = ((sx[b] - cx) * (sy[c] - cy) - (sy[b] - cy) * (sx[c] - cx)) * invArea;
                    float l1 = ((sx[c] - cx) * (sy[a] - cy) - (sy[c] - cy) * (sx[a] - cx)) * invArea;
                    float l2 = 1 - l0 - l1;
                    if (l0 < 0 || l1 < 0 || l2 < 0) continue;
                    float w0 = l0 * iz[a], w1 = l1 * iz[b], w2 = l2 * iz[c];
                    float z = w0 + w1 + w2;
                    int p = py * w + px;
                    if (z <= depth[p]) continue;
                    depth[p] = z;
                    double nx = w0 * nrm[3 * a] + w1 * nrm[3 * b] + w2 * nrm[3 * c];
                    double ny = w0 * nrm[3 * a + 1] + w1 * nrm[3 * b + 1] + w2 * nrm[3 * c + 1];
                    double nz = w0 * nrm[3 * a + 2] + w1 * nrm[3 * b + 2] + w2 * nrm[3 * c + 2];
                    double len = Math.sqrt(nx * nx + ny * ny + nz * nz);
                    if (len > 0) {
                        nx /= len;
                        ny /= len;
                        nz /= len;
                    }
                    if (nx * f[0] + ny * f[1] + nz * f[2] > 0) { // facing away: light the other side
                        nx = -nx;
                        ny = -ny;
                        nz = -nz;
                    }
                    double lambert = Math.max(0, nx * light[0] + ny * light[1] + nz * light[2]);
                    float shade = (float) (style.ambient() + style.diffuse() * lambert);
                    rgb[3 * p] = baseR * shade;
                    rgb[3 * p + 1] = baseG * shade;
                    rgb[3 * p + 2] = baseB * shade;
                }
            }
        }
        return rgb;
    }

    /** Scales and shifts the screen positions about their bounding box so it fills the frame. */
    private static void fitToFrame(float[] sx, float[] sy, float[] iz, int w, int h) {
        float x0 = Float.POSITIVE_INFINITY, x1 = Float.NEGATIVE_INFINITY, y0 = Float.POSITIVE_INFINITY, y1 = Float.NEGATIVE_INFINITY;
        for (int v = 0; v < sx.length; v++) {
            if (iz[v] < 0) continue;
            x0 = Math.min(x0, sx[v]);
            x1 = Math.max(x1, sx[v]);
            y0 = Math.min(y0, sy[v]);
            y1 = Math.max(y1, sy[v]);
        }
        if (!(x1 > x0) && !(y1 > y0)) return;
        double scale = Math.min(w * (1 - 2 * FRAME_BORDER) / Math.max(x1 - x0, 1e-6), h * (1 - 2 * FRAME_BORDER) / Math.max(y1 - y0, 1e-6));
        double cx = (x0 + x1) / 2.0, cy = (y0 + y1) / 2.0;
        for (int v = 0; v < sx.length; v++) {
            sx[v] = (float) (w / 2.0 + (sx[v] - cx) * scale);
            sy[v] = (float) (h / 2.0 + (sy[v] - cy) * scale);
        }
    }

    private static double[] cross(double[] a, double[] b) {
        return new double[] {a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]};
    }

    private static double[] normalize(double[] v) {
        double l = Math.sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
        return new double[] {v[0] / l, v[1] / l, v[2] / l};
    }
}
