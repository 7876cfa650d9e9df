package org.voxflow.distill;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Loss curves as a self-contained SVG: one polyline per loss term against the step, axes with tick labels, a
 * legend. The y axis turns logarithmic when every value is positive and they span more than two decades (early
 * losses would otherwise flatten the rest). Points missing or non-finite in the log are skipped.
 */
public final class LossPlot {
    private static final int W = 820, H = 480, LEFT = 72, RIGHT = 170, TOP = 36, BOTTOM = 48;
    private static final int MAX_POINTS = 2000;
    private static final String[] COLORS = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b",
        "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

    private LossPlot() {}

    /** Reads a training log and writes its plot (atomically). */
    public static void fromLog(Path log, Path svg) throws IOException {
        AtomicWrite.text(svg, render(series(TrainingLog.read(log))));
    }

    /** Series by name ("loss" first, then each term), as (step, value) pairs from the log's lines. */
    static Map<String, List<double[]>> series(List<Map<String, Object>> lines) {
        Map<String, List<double[]>> out = new LinkedHashMap<>();
        for (Map<String, Object> line : lines) {
            if (!(line.get("step") instanceof Number step)) continue;
            add(out, "loss", step, line.get("loss"));
            if (line.get("terms") instanceof Map<?, ?> terms)
                for (Map.Entry<?, ?> e : terms.entrySet()) add(out, String.valueOf(e.getKey()), step, e.getValue());
        }
        return out;
    }

    private static void add(Map<String, List<double[]>> out, String name, Number step, Object value) {
        if (!(value instanceof Number v) || !Double.isFinite(v.doubleValue())) return;
        out.computeIfAbsent(name, k -> new ArrayList<>()).add(new double[] {step.doubleValue(), v.doubleValue()});
    }

    static String render(Map<String, List<double[]>> series) {
        StringBuilder sb = new StringBuilder();
        sb.append("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        sb.append(String.format(Locale.ROOT, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n", W, H, W, H));
        sb.append(String.format(Locale.ROOT, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"white\"/>\n", W, H));
        sb.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"22\" font-size=\"15\">training loss</text>\n", LEFT));
        double x0 = Double.POSITIVE_INFINITY, x1 = Double.NEGATIVE_INFINITY, y0 = Double.POSITIVE_INFINITY, y1 = Double.NEGATIVE_INFINITY;
        for (List<double[]> pts : series.values())
            for (double[] p : pts) {
                x0 = Math.min(x0, p[0]); x1 = Math.max(x1, p[0]);
                y0 = Math.min(y0, p[1]); y1 = Math.max(y1, p[1]);
            }
        int pw = W - LEFT - RIGHT, ph = H - TOP - BOTTOM;
        if (x0 > x1) {
            sb.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\">no logged steps yet</text>\n</svg>\n", LEFT + pw / 3, TOP + ph / 2));
            return sb.toString();
        }
        boolean log = y0 > 0 && y1 / y0 > 100;
        Axis xa = Axis.linear(x0, x1 == x0 ? x0 + 1 : x1);
        Axis ya = log ? Axis.log(y0, y1) : Axis.linear(y0, y1 == y0 ? y0 + 1 : y1);

        // axes and grid
        sb.append(String.format(Locale.ROOT, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"black\"/>\n", LEFT, TOP, pw, ph));
        for (double t : xa.ticks) {
            double px = LEFT + xa.frac(t) * pw;
            sb.append(String.format(Locale.ROOT, "<line x1=\"%.2f\" y1=\"%d\" x2=\"%.2f\" y2=\"%d\" stroke=\"#ddd\"/>\n", px, TOP, px, TOP + ph));
            sb.append(String.format(Locale.ROOT, "<text x=\"%.2f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n", px, TOP + ph + 16, label(t)));
        }
        for (double t : ya.ticks) {
            double py = TOP + (1 - ya.frac(t)) * ph;
            sb.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%.2f\" x2=\"%d\" y2=\"%.2f\" stroke=\"#ddd\"/>\n", LEFT, py, LEFT + pw, py));
            sb.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%.2f\" text-anchor=\"end\">%s</text>\n", LEFT - 6, py + 4, label(t)));
        }
        sb.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">step</text>\n", LEFT + pw / 2, H - 10));
        sb.append(String.format(Locale.ROOT, "<text x=\"16\" y=\"%d\" text-anchor=\"middle\" transform=\"rotate(-90 16 %d)\">loss%s</text>\n",
                TOP + ph / 2, TOP + ph / 2, log ? " (log scale)" : ""));

        // curves and legend
        int i = 0;
        for (Map.Entry<String, List<double[]>> e : series.entrySet()) {
            String color = COLORS[i % COLORS.length];
            List<double[]> pts = e.getValue();
            int stride = Math.max(1, (pts.size() + MAX_POINTS - 1) / MAX_POINTS);
            StringBuilder poly = new StringBuilder();
            for (int k = 0; k < pts.size(); k += stride) point(poly, pts.get(k), xa, ya, pw, ph);
            if ((pts.size() - 1) % stride != 0) point(poly, pts.get(pts.size() - 1), xa, ya, pw, ph);
            sb.append(String.format(Locale.ROOT, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"%s\"/>\n", color, poly.toString().trim()));
            int ly = TOP + 14 + i * 18;
            sb.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"2\"/>\n", LEFT + pw + 12, ly - 4, LEFT + pw + 32, ly - 4, color));
            sb.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\">%s</text>\n", LEFT + pw + 38, ly, escape(e.getKey())));
            i++;
        }
        sb.append("</svg>\n");
        return sb.toString();
    }

    private static void point(StringBuilder poly, double[] p, Axis xa, Axis ya, int pw, int ph) {
        double px = LEFT + xa.frac(p[0]) * pw, py = TOP + (1 - ya.frac(p[1])) * (double) ph;
        poly.append(String.format(Locale.ROOT, "%.2f,%.2f ", px, py));
    }

    private static String label(double v) {
        if (v == Math.rint(v) && Math.abs(v) < 1e7) return String.format(Locale.ROOT, "%d", (long) v);
        double a = Math.abs(v);
        return a >= 1e-3 && a < 1e5 ? String.format(Locale.ROOT, "%.4g", v).replaceAll("\\.?0+$", "") : String.format(Locale.ROOT, "%.1e", v);
    }

    static String escape(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }

    /** Value -> [0, 1] along an axis, with its tick values. */
    private record Axis(double lo, double hi, boolean log, List<Double> ticks) {
        double frac(double v) {
            double f = log ? (Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo)) : (v - lo) / (hi - lo);
            return Math.max(0, Math.min(1, f));
        }

        /** "Nice" bounds and ticks (1, 2 or 5 times a power of ten). */
        static Axis linear(double lo, double hi) {
            double raw = (hi - lo) / 5, mag = Math.pow(10, Math.floor(Math.log10(raw))), step;
            double r = raw / mag;
            step = (r <= 1 ? 1 : r <= 2 ? 2 : r <= 5 ? 5 : 10) * mag;
            double a = Math.floor(lo / step) * step, b = Math.ceil(hi / step) * step;
            List<Double> ticks = new ArrayList<>();
            for (int k = 0; a + k * step <= b + step * 1e-9; k++) ticks.add(a + k * step);
            return new Axis(a, b, false, ticks);
        }

        /** Whole decades. */
        static Axis log(double lo, double hi) {
            double a = Math.pow(10, Math.floor(Math.log10(lo))), b = Math.pow(10, Math.ceil(Math.log10(hi)));
            List<Double> ticks = new ArrayList<>();
            for (double t = a; t <= b * 1.0001; t *= 10) ticks.add(t);
            return new Axis(a, b, true, ticks);
        }
    }
}
