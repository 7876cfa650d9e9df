package org.voxflow.shapes;

import static org.voxflow.shapes.Primitives.cylinder;
import static org.voxflow.shapes.Primitives.halfSpace;
import static org.voxflow.shapes.Primitives.revolve;
import static org.voxflow.shapes.Primitives.roundBox;

import java.util.ArrayList;
import java.util.List;
import java.util.random.RandomGenerator;

/** Vehicle-like families: airplane and car, both about 1 long with the nose towards +x, y up. */
final class VehicleFamilies {
    private VehicleFamilies() {}

    static Shape airplane(RandomGenerator rng) {
        double len = 1.0;
        double fr = rng.nextDouble(0.05, 0.075);
        double noseL = rng.nextDouble(0.08, 0.18), tailL = rng.nextDouble(0.25, 0.4);
        double tailR = fr * rng.nextDouble(0.3, 0.5);
        int n = 28;
        double[] r = new double[n + 2], h = new double[n + 2];
        for (int i = 0; i < n; i++) {
            double t = len * i / (n - 1); // 0 = tail, len = nose
            double rad;
            if (t < tailL) rad = tailR + (fr - tailR) * Math.sqrt(t / tailL);
            else if (t > len - noseL) {
                double u = (t - (len - noseL)) / noseL;
                rad = fr * Math.sqrt(Math.max(0, 1 - u * u));
            } else rad = fr;
            r[i + 1] = rad;
            h[i + 1] = t;
        }
        r[0] = 0; h[0] = 0;
        r[n + 1] = 0; h[n + 1] = len;
        // revolved about y, then turned so that +y (towards the nose) becomes +x
        Shape fuselage = revolve(r, h).rotateZ(-Math.PI / 2).translate(-len / 2, 0, 0);

        double span = rng.nextDouble(0.8, 1.15), chord = rng.nextDouble(0.13, 0.22);
        double tipChord = chord * rng.nextDouble(0.4, 0.9);
        double wt = 0.05;
        double sweep = rng.nextDouble(0.0, 0.6);
        double wx = rng.nextDouble(-0.05, 0.1), wy = fr * rng.nextDouble(-0.6, 0.5);
        List<Shape> parts = new ArrayList<>();
        parts.add(fuselage);
        parts.add(wingPair(span, chord, tipChord, wt, sweep).translate(wx, wy, 0));

        double finH = rng.nextDouble(0.12, 0.22), finC = rng.nextDouble(0.1, 0.16);
        double finSweep = rng.nextDouble(0.2, 0.7);
        Shape fin = roundBox(Vec3.of(0, finH / 2, 0), finC / 2, finH / 2, wt / 2, wt * 0.4)
                .intersect(halfSpace(Vec3.of(1, finC * 0.5 / finH, 0), finC / 2 + 0.0)) // taper the top
                .rotateZ(finSweep);
        parts.add(fin.translate(-len / 2 + finC / 2 + 0.03, fr * 0.5, 0));
        double stabSpan = span * rng.nextDouble(0.28, 0.42);
        parts.add(wingPair(stabSpan, finC * 0.9, finC * 0.5, wt * 0.9, sweep * 0.8 + 0.1)
                .translate(-len / 2 + finC / 2 + 0.02, fr * rng.nextDouble(-0.2, 0.5), 0));

        int engines = rng.nextInt(0, 3) * 2; // 0, 2 or 4
        double er = rng.nextDouble(0.03, 0.045), el = rng.nextDouble(0.12, 0.18);
        for (int i = 0; i < engines; i++) {
            int side = (i % 2 == 0) ? 1 : -1;
            double zl = span / 2 * (i < 2 ? 0.35 : 0.65);
            double x = wx - zl * StrictMath.sin(sweep) + chord * 0.25;
            double z = side * zl * StrictMath.cos(sweep);
            double y = wy - wt / 2 - er * 1.3;
            parts.add(cylinder(Vec3.of(x - el / 2, y, z), Vec3.of(x + el / 2, y, z), er));
            parts.add(Primitives.box(Vec3.of(x - el * 0.1, y + er, z), el * 0.25, er * 0.6, wt * 0.35));
        }
        return Shape.union(parts);
    }

    /**
     * Two tapered, swept half-wings meeting at the origin: chord along x, span along z,
     * the trailing edge cut so that the chord shrinks linearly to {@code tipChord}.
     */
    static Shape wingPair(double span, double chord, double tipChord, double thick, double sweep) {
        double half = span / 2;
        double k = (chord - tipChord) / half;
        Shape right = roundBox(Vec3.of(0, 0, half / 2), chord / 2, thick / 2, half / 2, thick * 0.45)
                .intersect(halfSpace(Vec3.of(-1, 0, k), chord / 2))
                .rotateY(-sweep);
        Shape left = roundBox(Vec3.of(0, 0, -half / 2), chord / 2, thick / 2, half / 2, thick * 0.45)
                .intersect(halfSpace(Vec3.of(-1, 0, -k), chord / 2))
                .rotateY(sweep);
        return right.union(left);
    }

    static Shape car(RandomGenerator rng) {
        double len = 1.0;
        double w = rng.nextDouble(0.38, 0.48);
        double wheelR = rng.nextDouble(0.08, 0.12), wheelW = rng.nextDouble(0.06, 0.09);
        double yb = wheelR * rng.nextDouble(0.5, 0.8);
        double bh = rng.nextDouble(0.16, 0.24);
        Shape body = roundBox(Vec3.of(0, yb + bh / 2, 0), len / 2, bh / 2, w / 2, rng.nextDouble(0.03, 0.06));

        double cl = len * rng.nextDouble(0.35, 0.75), ch = rng.nextDouble(0.12, 0.2);
        double cx = rng.nextDouble(-0.15, 0.05);
        cx = Math.max(-len / 2 + cl / 2, Math.min(len / 2 - cl / 2, cx));
        double cy0 = yb + bh - 0.02;
        double front = ch * rng.nextDouble(0.4, 1.3), rear = ch * rng.nextDouble(0.2, 1.0);
        Shape cabin = roundBox(Vec3.of(cx, cy0 + ch / 2, 0), cl / 2, ch / 2, w / 2 * rng.nextDouble(0.8, 0.92), 0.03)
                .intersect(halfSpace(Vec3.of(ch, front, 0), ch * (cx + cl / 2) + front * cy0))
                .intersect(halfSpace(Vec3.of(-ch, rear, 0), -ch * (cx - cl / 2) + rear * cy0));
        Shape car = body.smoothUnion(cabin, 0.03);

        double wb = len * rng.nextDouble(0.55, 0.7);
        List<Shape> wheels = new ArrayList<>();
        for (int sx = -1; sx <= 1; sx += 2) {
            double x = sx * wb / 2;
            for (int sz = -1; sz <= 1; sz += 2) {
                // arch cut into the body side only, so the body stays in one piece
                double zIn = sz * (w / 2 - wheelW - 0.03), zOut = sz * (w / 2 + 0.1);
                car = car.subtract(cylinder(Vec3.of(x, wheelR, zIn), Vec3.of(x, wheelR, zOut), wheelR * 1.12));
                double z0 = sz * (w / 2 - wheelW + 0.005), z1 = sz * (w / 2 + 0.005);
                wheels.add(cylinder(Vec3.of(x, wheelR, z0), Vec3.of(x, wheelR, z1), wheelR - 0.012).dilate(0.012));
            }
        }
        // axles keep each wheel pair attached to the body
        for (int sx = -1; sx <= 1; sx += 2) {
            wheels.add(cylinder(Vec3.of(sx * wb / 2, wheelR, -w / 2 + wheelW / 2), Vec3.of(sx * wb / 2, wheelR, w / 2 - wheelW / 2), 0.025));
        }
        wheels.add(0, car);
        return Shape.union(wheels);
    }
}
