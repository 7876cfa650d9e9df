package org.voxflow.distill;

import java.io.PrintStream;
import java.util.Locale;
import java.util.Map;

/**
 * A one-line progress display redrawn in place with a carriage return: step/total, a bar, the latest loss terms,
 * steps per second and the time left. Redraws at most ten times a second so a fast loop does not flood the
 * terminal; {@link #finish} ends the line.
 */
final class ProgressBar {
    private static final int WIDTH = 24;
    private final PrintStream out;
    private final long total;
    private final long first;
    private final long startNanos = System.nanoTime();
    private long lastDraw;
    private int lastLength;
    private boolean drawn;

    ProgressBar(PrintStream out, long first, long total) {
        this.out = out;
        this.first = first;
        this.total = total;
    }

    void update(long step, Map<String, Double> terms, boolean force) {
        long now = System.nanoTime();
        if (!force && drawn && now - lastDraw < 100_000_000L) return;
        lastDraw = now;
        drawn = true;
        double secs = (now - startNanos) / 1e9;
        double rate = secs > 0 ? (step - first) / secs : 0;
        int filled = total == 0 ? WIDTH : (int) (WIDTH * step / total);
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "step %d/%d [", step, total));
        for (int i = 0; i < WIDTH; i++) sb.append(i < filled ? '#' : '.');
        sb.append(']');
        terms.forEach((k, v) -> sb.append(String.format(Locale.ROOT, " %s=%.4g", k, v)));
        sb.append(String.format(Locale.ROOT, " %.2f it/s", rate));
        if (rate > 0) sb.append(" ETA ").append(clock((total - step) / rate));
        String line = sb.toString();
        // pad with spaces to wipe what a longer previous line left behind
        out.print('\r' + line + " ".repeat(Math.max(0, lastLength - line.length())));
        out.flush();
        lastLength = line.length();
    }

    void finish() {
        if (drawn) {
            out.println();
            out.flush();
        }
    }

    static String clock(double seconds) {
        long s = Math.round(seconds);
        return s >= 3600 ? String.format(Locale.ROOT, "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
                : String.format(Locale.ROOT, "%02d:%02d", s / 60, s % 60);
    }
}
