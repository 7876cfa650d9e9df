package org.voxflow.shapes;

import static org.voxflow.shapes.Primitives.box;
import static org.voxflow.shapes.Primitives.boxFromTo;
import static org.voxflow.shapes.Primitives.capsule;
import static org.voxflow.shapes.Primitives.cylinder;
import static org.voxflow.shapes.Primitives.revolve;
import static org.voxflow.shapes.Primitives.roundBox;
import static org.voxflow.shapes.Primitives.sphere;
import static org.voxflow.shapes.Primitives.torus;

import java.util.ArrayList;
import java.util.List;
import java.util.random.RandomGenerator;

/**
 * Furniture-like families: chair, table, stool, sofa, shelf and lamp. Units are roughly metres,
 * y is up and the front faces +z; shapes are normalised afterwards by {@link ShapeFamily}.
 *
 * <p>Thin parts are sized relative to the largest dimension (at least ~4% of it) so that after
 * normalisation they stay at least ~2.5 voxels thick at R = 64 and do not fall between samples.
 */
final class FurnitureFamilies {
    private FurnitureFamilies() {}

    static Shape chair(RandomGenerator rng) {
        double w = rng.nextDouble(0.40, 0.58), d = rng.nextDouble(0.38, 0.52);
        double seatT = rng.nextDouble(0.05, 0.08);
        double legH = rng.nextDouble(0.38, 0.50);
        double legT = rng.nextDouble(0.045, 0.07);
        double backH = rng.nextDouble(0.35, 0.60);
        double backT = rng.nextDouble(0.045, 0.07);
        double tilt = rng.nextDouble(0.0, 0.25);
        int slats = rng.nextInt(0, 5); // 0 = solid panel
        boolean roundLegs = rng.nextBoolean();
        boolean arms = rng.nextDouble() < 0.35;

        List<Shape> parts = new ArrayList<>();
        double seatTop = legH + seatT;
        parts.add(roundBox(Vec3.of(0, legH + seatT / 2, 0), w / 2, seatT / 2, d / 2, 0.012));
        double lx = w / 2 - legT / 2, lz = d / 2 - legT / 2;
        for (int sx = -1; sx <= 1; sx += 2) {
            for (int sz = -1; sz <= 1; sz += 2) {
                double top = legH + seatT / 2;
                parts.add(roundLegs
                        ? cylinder(Vec3.of(sx * lx, 0, sz * lz), Vec3.of(sx * lx, top, sz * lz), legT / 2)
                        : box(Vec3.of(sx * lx, top / 2, sz * lz), legT / 2, top / 2, legT / 2));
            }
        }
        // backrest built upright at the origin, tilted backwards about its base, then moved to the seat's rear edge
        Shape back;
        if (slats == 0) {
            back = roundBox(Vec3.of(0, backH / 2, 0), w / 2, backH / 2, backT / 2, 0.01);
        } else {
            double rail = Math.max(0.06, backH * 0.2);
            List<Shape> bp = new ArrayList<>();
            bp.add(box(Vec3.of(0, backH - rail / 2, 0), w / 2, rail / 2, backT / 2));
            double post = Math.max(legT, 0.05);
            for (int s = -1; s <= 1; s += 2) bp.add(box(Vec3.of(s * (w / 2 - post / 2), backH / 2, 0), post / 2, backH / 2, backT / 2));
            double inner = w - 2 * post;
            double slatW = Math.max(0.045, inner / (2 * slats + 1));
            for (int i = 0; i < slats; i++) {
                double x = -inner / 2 + inner * (i + 0.5) / slats;
                bp.add(box(Vec3.of(x, backH / 2, 0), slatW / 2, backH / 2, backT / 2 * 0.8));
            }
            back = Shape.union(bp);
        }
        parts.add(back.rotateX(-tilt).translate(0, seatTop - 0.01, -d / 2 + backT / 2));
        if (arms) {
            double armH = rng.nextDouble(0.18, 0.26), armT = 0.05;
            for (int s = -1; s <= 1; s += 2) {
                double x = s * (w / 2 - armT / 2);
                parts.add(roundBox(Vec3.of(x, seatTop + armH, -0.02), armT / 2 + 0.005, armT / 2, d / 2 - 0.01, 0.015));
                parts.add(box(Vec3.of(x, seatTop + armH / 2, d / 2 - armT), armT / 2, armH / 2, armT / 2));
            }
        }
        return Shape.union(parts);
    }

    static Shape table(RandomGenerator rng) {
        double h = rng.nextDouble(0.6, 0.8);
        double topT = rng.nextDouble(0.05, 0.08);
        List<Shape> parts = new ArrayList<>();
        if (rng.nextDouble() < 0.3) {
            // round pedestal table
            double r = rng.nextDouble(0.35, 0.6);
            double t = topT * Math.max(1, 2 * r);
            parts.add(cylinder(Vec3.of(0, h - t, 0), Vec3.of(0, h, 0), r - 0.01).dilate(0.01));
            double poleR = rng.nextDouble(0.04, 0.07);
            parts.add(cylinder(Vec3.of(0, 0, 0), Vec3.of(0, h - t / 2, 0), poleR));
            if (rng.nextBoolean()) {
                double br = r * rng.nextDouble(0.45, 0.7);
                parts.add(revolve(new double[] {0, br, br * 0.6, 0}, new double[] {0, 0, 0.06, 0.06}));
            } else {
                int feet = rng.nextInt(3, 5);
                double reach = r * rng.nextDouble(0.5, 0.8), fr = 0.03;
                for (int i = 0; i < feet; i++) {
                    double a = 2 * Math.PI * i / feet;
                    parts.add(capsule(Vec3.of(0, fr, 0), Vec3.of(reach * StrictMath.cos(a), fr, reach * StrictMath.sin(a)), fr));
                }
            }
            return Shape.union(parts);
        }
        double w = rng.nextDouble(0.8, 1.5), d = rng.nextDouble(0.5, 0.9);
        double unit = Math.max(w, h);
        double t = Math.max(topT, 0.045 * unit);
        double legT = Math.max(rng.nextDouble(0.05, 0.09), 0.045 * unit);
        double inset = rng.nextDouble(0.0, 0.1);
        boolean roundLegs = rng.nextBoolean();
        parts.add(roundBox(Vec3.of(0, h - t / 2, 0), w / 2, t / 2, d / 2, 0.012));
        double lx = w / 2 - legT / 2 - inset, lz = d / 2 - legT / 2 - inset;
        for (int sx = -1; sx <= 1; sx += 2) {
            for (int sz = -1; sz <= 1; sz += 2) {
                parts.add(roundLegs
                        ? cylinder(Vec3.of(sx * lx, 0, sz * lz), Vec3.of(sx * lx, h - t / 2, sz * lz), legT / 2)
                        : box(Vec3.of(sx * lx, (h - t / 2) / 2, sz * lz), legT / 2, (h - t / 2) / 2, legT / 2));
            }
        }
        if (rng.nextBoolean()) {
            // apron under the top
            double ah = Math.max(0.07, 0.08 * unit), at = legT * 0.6;
            double y = h - t - ah / 2;
            parts.add(box(Vec3.of(0, y, lz), lx, ah / 2, at / 2));
            parts.add(box(Vec3.of(0, y, -lz), lx, ah / 2, at / 2));
            parts.add(box(Vec3.of(lx, y, 0), at / 2, ah / 2, lz));
            parts.add(box(Vec3.of(-lx, y, 0), at / 2, ah / 2, lz));
        }
        if (rng.nextDouble() < 0.3) {
            // H stretcher near the floor
            double y = h * 0.2, st = legT * 0.7;
            parts.add(box(Vec3.of(lx, y, 0), st / 2, st / 2, lz));
            parts.add(box(Vec3.of(-lx, y, 0), st / 2, st / 2, lz));
            parts.add(box(Vec3.of(0, y, 0), lx, st / 2, st / 2));
        }
        return Shape.union(parts);
    }

    static Shape stool(RandomGenerator rng) {
        double h = rng.nextDouble(0.45, 0.8);
        double seatR = rng.nextDouble(0.15, 0.22);
        double seatT = rng.nextDouble(0.05, 0.075);
        int legs = rng.nextInt(3, 5);
        double legR = Math.max(rng.nextDouble(0.022, 0.032), 0.028 * h);
        double topR = seatR * rng.nextDouble(0.6, 0.8), botR = seatR * rng.nextDouble(0.9, 1.4);
        double phase = rng.nextDouble(0, Math.PI);
        List<Shape> parts = new ArrayList<>();
        parts.add(cylinder(Vec3.of(0, h - seatT, 0), Vec3.of(0, h, 0), seatR - 0.012).dilate(0.012));
        for (int i = 0; i < legs; i++) {
            double a = phase + 2 * Math.PI * i / legs;
            double c = StrictMath.cos(a), s = StrictMath.sin(a);
            parts.add(capsule(Vec3.of(topR * c, h - seatT / 2, topR * s), Vec3.of(botR * c, legR, botR * s), legR));
        }
        if (rng.nextDouble() < 0.65) {
            double f = rng.nextDouble(0.25, 0.45); // ring height as a fraction of the leg length from the floor
            double y = legR + f * (h - seatT / 2 - legR);
            double ringR = botR + f * (topR - botR);
            parts.add(torus(Vec3.of(0, y, 0), ringR, Math.max(0.85 * legR, 0.022)));
        }
        return Shape.union(parts);
    }

    static Shape sofa(RandomGenerator rng) {
        double w = rng.nextDouble(1.4, 2.2), d = rng.nextDouble(0.75, 0.95);
        double feet = rng.nextDouble(0.0, 0.09);
        double baseH = rng.nextDouble(0.18, 0.28), cushT = rng.nextDouble(0.1, 0.16);
        double armW = rng.nextDouble(0.12, 0.24), armTop = rng.nextDouble(0.5, 0.7);
        double backTop = rng.nextDouble(0.75, 1.0), backT = rng.nextDouble(0.15, 0.25);
        int cushions = rng.nextInt(1, 4);
        double r = 0.04;
        double y0 = feet;
        List<Shape> parts = new ArrayList<>();
        parts.add(roundBox(Vec3.of(0, y0 + baseH / 2, 0), w / 2, baseH / 2, d / 2, r));
        parts.add(roundBox(Vec3.of(0, (y0 + backTop) / 2, -d / 2 + backT / 2), w / 2, (backTop - y0) / 2, backT / 2, r));
        for (int s = -1; s <= 1; s += 2) {
            parts.add(roundBox(Vec3.of(s * (w / 2 - armW / 2), (y0 + armTop) / 2, 0), armW / 2, (armTop - y0) / 2, d / 2, r));
        }
        double inner = w - 2 * armW, gap = 0.03;
        double cw = (inner - gap * (cushions - 1)) / cushions;
        double cz0 = -d / 2 + backT, cz1 = d / 2;
        for (int i = 0; i < cushions; i++) {
            double x = -inner / 2 + cw / 2 + i * (cw + gap);
            parts.add(roundBox(Vec3.of(x, y0 + baseH + cushT / 2 - 0.01, (cz0 + cz1) / 2), cw / 2, cushT / 2, (cz1 - cz0) / 2, 0.05));
        }
        if (feet > 0.03) {
            double f = 0.07;
            for (int sx = -1; sx <= 1; sx += 2) {
                for (int sz = -1; sz <= 1; sz += 2) {
                    parts.add(box(Vec3.of(sx * (w / 2 - f), (feet + 0.02) / 2, sz * (d / 2 - f)), f / 2, (feet + 0.02) / 2, f / 2));
                }
            }
        }
        return Shape.union(parts);
    }

    static Shape shelf(RandomGenerator rng) {
        double w = rng.nextDouble(0.5, 1.1), h = rng.nextDouble(0.9, 1.8), d = rng.nextDouble(0.25, 0.4);
        double t = Math.max(w, h) * rng.nextDouble(0.04, 0.055);
        int shelves = rng.nextInt(1, 5);
        boolean openFrame = rng.nextDouble() < 0.3;
        List<Shape> parts = new ArrayList<>();
        if (openFrame) {
            // etagere: four corner posts instead of side panels
            for (int sx = -1; sx <= 1; sx += 2) {
                for (int sz = -1; sz <= 1; sz += 2) {
                    parts.add(box(Vec3.of(sx * (w / 2 - t / 2), h / 2, sz * (d / 2 - t / 2)), t / 2, h / 2, t / 2));
                }
            }
        } else {
            parts.add(boxFromTo(-w / 2, 0, -d / 2, -w / 2 + t, h, d / 2));
            parts.add(boxFromTo(w / 2 - t, 0, -d / 2, w / 2, h, d / 2));
            if (rng.nextBoolean()) parts.add(boxFromTo(-w / 2, 0, -d / 2, w / 2, h, -d / 2 + t)); // back panel
        }
        double plinth = openFrame ? h * 0.08 : 0;
        parts.add(boxFromTo(-w / 2, plinth, -d / 2, w / 2, plinth + t, d / 2));
        parts.add(boxFromTo(-w / 2, h - t, -d / 2, w / 2, h, d / 2));
        for (int i = 1; i <= shelves; i++) {
            double y = plinth + (h - plinth - t) * i / (shelves + 1);
            parts.add(boxFromTo(-w / 2, y, -d / 2, w / 2, y + t, d / 2));
        }
        return Shape.union(parts);
    }

    static Shape lamp(RandomGenerator rng) {
        double baseR = rng.nextDouble(0.12, 0.2), baseT = rng.nextDouble(0.04, 0.07);
        double poleR = rng.nextDouble(0.022, 0.03);
        double wall = 0.035;
        List<Shape> parts = new ArrayList<>();
        parts.add(revolve(new double[] {0, baseR, baseR, baseR * 0.7, 0}, new double[] {0, 0, baseT * 0.6, baseT, baseT}));
        if (rng.nextDouble() < 0.6) {
            // table/floor lamp: straight pole, conical shade band on top
            double h = rng.nextDouble(0.6, 1.0);
            double shadeH = rng.nextDouble(0.2, 0.35);
            double rb = rng.nextDouble(0.16, 0.28), rt = rb * rng.nextDouble(0.5, 0.9);
            double y0 = h - shadeH;
            parts.add(cylinder(Vec3.of(0, 0, 0), Vec3.of(0, y0 + shadeH * 0.5, 0), poleR));
            parts.add(sphere(Vec3.of(0, y0 + shadeH * 0.5, 0), Math.max(0.05, poleR * 2)));
            parts.add(shadeBand(rb, rt, shadeH, wall).translate(0, y0, 0));
            // spokes holding the shade
            for (int i = 0; i < 3; i++) {
                double a = 2 * Math.PI * i / 3;
                double rr = rt * 0.5 + rb * 0.5;
                parts.add(capsule(Vec3.of(0, y0 + shadeH * 0.5, 0),
                        Vec3.of(rr * StrictMath.cos(a), y0 + shadeH * 0.5, rr * StrictMath.sin(a)), 0.02));
            }
        } else {
            // desk lamp: two arm segments and a tilted cone shade
            double l1 = rng.nextDouble(0.35, 0.55), l2 = rng.nextDouble(0.3, 0.5);
            double a1 = rng.nextDouble(-0.35, 0.1), a2 = rng.nextDouble(0.6, 1.3);
            Vec3 p0 = Vec3.of(0, baseT, 0);
            Vec3 p1 = p0.plus(Vec3.of(l1 * StrictMath.sin(a1), l1 * StrictMath.cos(a1), 0));
            Vec3 p2 = p1.plus(Vec3.of(l2 * StrictMath.sin(a2), l2 * StrictMath.cos(a2), 0));
            parts.add(capsule(p0, p1, poleR));
            parts.add(capsule(p1, p2, poleR));
            parts.add(sphere(p1, poleR * 1.6));
            double rb = rng.nextDouble(0.1, 0.16), sh = rng.nextDouble(0.14, 0.22);
            double tiltShade = rng.nextDouble(0.3, 0.8);
            // cone opening downwards from its apex region, tilted forward (+x) about z
            Shape shade = shadeBand(rb, rb * 0.35, sh, wall).translate(0, -sh, 0)
                    .union(sphere(Vec3.of(0, -wall, 0), rb * 0.35 + wall));
            parts.add(shade.rotateZ(tiltShade).translate(p2));
        }
        return Shape.union(parts);
    }

    /** Open conical band: radius {@code rb} at height 0, {@code rt} at height {@code h}, wall {@code t}. */
    static Shape shadeBand(double rb, double rt, double h, double t) {
        return revolve(new double[] {rb, rb + t, rt + t, rt}, new double[] {0, 0, h, h});
    }
}
