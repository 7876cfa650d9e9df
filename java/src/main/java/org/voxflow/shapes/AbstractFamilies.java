package org.voxflow.shapes;

import static org.voxflow.shapes.Primitives.box;
import static org.voxflow.shapes.Primitives.capsule;
import static org.voxflow.shapes.Primitives.cylinder;
import static org.voxflow.shapes.Primitives.revolve;
import static org.voxflow.shapes.Primitives.roundBox;
import static org.voxflow.shapes.Primitives.sphere;
import static org.voxflow.shapes.Primitives.torus;

import java.util.random.RandomGenerator;

/** Non-object families: rings/tori and random constructive-solid-geometry compositions. */
final class AbstractFamilies {
    private AbstractFamilies() {}

    static Shape torusRing(RandomGenerator rng) {
        double major = rng.nextDouble(0.3, 0.45), minor = rng.nextDouble(0.07, 0.16);
        double kind = rng.nextDouble();
        Shape s;
        if (kind < 0.4) {
            s = torus(Vec3.ZERO, major, minor);
        } else if (kind < 0.75) {
            // rectangular cross-section, slightly rounded
            double rr = 0.015, hw = minor - rr, hh = minor * rng.nextDouble(0.5, 1.5) - rr;
            s = revolve(new double[] {major - hw, major + hw, major + hw, major - hw}, new double[] {-hh, -hh, hh, hh}).dilate(rr);
        } else {
            // two interlocked rings
            double m = major * 0.75, t = Math.min(minor, m * 0.3);
            Shape a = torus(Vec3.of(-m / 2, 0, 0), m, t);
            Shape b = torus(Vec3.ZERO, m, t).rotateX(Math.PI / 2).translate(m / 2, 0, 0);
            s = a.union(b);
        }
        return s.rotateX(rng.nextDouble(-0.9, 0.9)).rotateZ(rng.nextDouble(-0.5, 0.5));
    }

    static Shape csg(RandomGenerator rng) {
        Shape base = switch (rng.nextInt(4)) {
            case 0 -> box(Vec3.ZERO, 0.5, 0.5, 0.5).intersect(sphere(Vec3.ZERO, rng.nextDouble(0.6, 0.75)));
            case 1 -> roundBox(Vec3.ZERO, rng.nextDouble(0.3, 0.5), rng.nextDouble(0.3, 0.5), rng.nextDouble(0.3, 0.5),
                    rng.nextDouble(0.02, 0.15));
            case 2 -> cylinder(Vec3.of(0, -rng.nextDouble(0.3, 0.5), 0), Vec3.of(0, rng.nextDouble(0.3, 0.5), 0), rng.nextDouble(0.3, 0.5));
            default -> {
                Shape blob = sphere(Vec3.ZERO, rng.nextDouble(0.3, 0.4));
                int extra = rng.nextInt(2, 4);
                for (int i = 0; i < extra; i++) {
                    blob = blob.smoothUnion(sphere(randomPoint(rng, 0.3), rng.nextDouble(0.18, 0.3)), 0.15);
                }
                yield blob;
            }
        };
        int holes = rng.nextInt(0, 4);
        for (int i = 0; i < holes; i++) {
            double r = rng.nextDouble(0.1, 0.22);
            double o1 = rng.nextDouble(-0.15, 0.15), o2 = rng.nextDouble(-0.15, 0.15);
            Shape drill = switch (rng.nextInt(3)) {
                case 0 -> cylinder(Vec3.of(-1, o1, o2), Vec3.of(1, o1, o2), r);
                case 1 -> cylinder(Vec3.of(o1, -1, o2), Vec3.of(o1, 1, o2), r);
                default -> cylinder(Vec3.of(o1, o2, -1), Vec3.of(o1, o2, 1), r);
            };
            base = base.subtract(drill);
        }
        if (rng.nextBoolean()) base = base.subtract(sphere(randomPoint(rng, 0.5), rng.nextDouble(0.15, 0.3)));
        int adds = rng.nextInt(0, 3);
        for (int i = 0; i < adds; i++) {
            Vec3 a = randomPoint(rng, 0.35), b = randomPoint(rng, 0.6);
            base = base.smoothUnion(capsule(a, b, rng.nextDouble(0.05, 0.1)), 0.08);
        }
        return base.rotateY(rng.nextDouble(0, 2 * Math.PI)).rotateX(rng.nextDouble(-0.6, 0.6));
    }

    private static Vec3 randomPoint(RandomGenerator rng, double extent) {
        return Vec3.of(rng.nextDouble(-extent, extent), rng.nextDouble(-extent, extent), rng.nextDouble(-extent, extent));
    }
}
