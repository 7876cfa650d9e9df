package org.voxflow.distill;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The progress line: carriage-return redraws with step/total, terms, it/s and ETA; throttled unless forced. */
class ProgressBarTest {
    @Test
    void redrawsInPlace() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        PrintStream ps = new PrintStream(bytes, true, StandardCharsets.UTF_8);
        ProgressBar bar = new ProgressBar(ps, 0, 10);
        Map<String, Double> terms = new LinkedHashMap<>();
        terms.put("loss", 0.5);
        terms.put("vm", 0.25);
        bar.update(3, terms, true);
        bar.update(4, terms, false); // within 100 ms of the last draw: skipped
        bar.update(10, terms, true);
        bar.finish();
        String s = bytes.toString(StandardCharsets.UTF_8);
        String[] draws = s.split("\r", -1);
        assertEquals(3, draws.length, s); // "", the draw at 3, the draw at 10
        assertTrue(draws[1].startsWith("step 3/10 [#######.................] loss=0.5000 vm=0.2500 "), draws[1]);
        assertTrue(draws[1].contains(" it/s"), draws[1]);
        assertTrue(draws[2].startsWith("step 10/10 [########################]"), draws[2]);
        assertTrue(s.endsWith(System.lineSeparator()));
        assertEquals("01:05", ProgressBar.clock(65));
        assertEquals("1:01:01", ProgressBar.clock(3661));
    }
}
