package org.voxflow.distill;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.voxflow.distill.ToyTraining.Tiny;
import static org.voxflow.distill.ToyTraining.ToyObjective;
import static org.voxflow.distill.ToyTraining.source;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.w3c.dom.Document;
import org.w3c.dom.NodeList;

/** The loss SVG is well-formed XML with one polyline and one legend entry per term. */
class LossPlotTest {
    @TempDir Path dir;

    private static Document parse(String xml) throws Exception {
        DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
        f.setNamespaceAware(true);
        return f.newDocumentBuilder().parse(new ByteArrayInputStream(xml.getBytes(StandardCharsets.UTF_8)));
    }

    private static List<String> texts(Document d) {
        List<String> out = new ArrayList<>();
        NodeList n = d.getElementsByTagName("text");
        for (int i = 0; i < n.getLength(); i++) out.add(n.item(i).getTextContent());
        return out;
    }

    @Test
    void trainerWritesAWellFormedPlotBesideTheLog() throws Exception {
        Path out = dir.resolve("run");
        Tiny m = new Tiny(1);
        new Trainer(TrainerTest.config(out, 6, Precision.F32).build(), m, new ToyObjective(m), source()).train();
        Document d = parse(Files.readString(out.resolve("loss.svg")));
        assertEquals("svg", d.getDocumentElement().getLocalName());
        assertEquals("http://www.w3.org/2000/svg", d.getDocumentElement().getNamespaceURI());
        NodeList lines = d.getElementsByTagName("polyline");
        assertEquals(3, lines.getLength()); // loss, mse, reg
        for (int i = 0; i < lines.getLength(); i++) {
            String pts = lines.item(i).getAttributes().getNamedItem("points").getNodeValue();
            assertEquals(6, pts.trim().split(" ").length); // one point per logged step
        }
        List<String> t = texts(d);
        assertTrue(t.containsAll(List.of("loss", "mse", "reg", "step")), t.toString());
    }

    @Test
    void oddNamesAreEscapedAndWideRangesUseALogAxis() throws Exception {
        List<Map<String, Object>> log = new ArrayList<>();
        for (int s = 1; s <= 50; s++) {
            Map<String, Object> line = new LinkedHashMap<>();
            line.put("step", (long) s);
            line.put("loss", 1000.0 / (s * s));
            Map<String, Object> terms = new LinkedHashMap<>();
            terms.put("a<b & \"c\"", s == 7 ? null : 0.5 / s); // a null (non-finite) value is skipped
            line.put("terms", terms);
            log.add(line);
        }
        Map<String, List<double[]>> series = LossPlot.series(log);
        assertEquals(49, series.get("a<b & \"c\"").size());
        Document d = parse(LossPlot.render(series));
        assertTrue(texts(d).contains("a<b & \"c\""));
        assertTrue(texts(d).contains("loss (log scale)"), texts(d).toString());
    }

    @Test
    void emptyLogStillGivesAValidSvg() throws Exception {
        Document d = parse(LossPlot.render(LossPlot.series(List.of())));
        assertEquals("svg", d.getDocumentElement().getLocalName());
        assertEquals(0, d.getElementsByTagName("polyline").getLength());
    }
}
