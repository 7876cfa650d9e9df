package org.voxflow.shapes;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.function.Function;
import java.util.random.RandomGenerator;

/**
 * The procedural shape families. {@link #id()} is the stable lower-case name used on the command
 * line ({@code --category chair}); {@link #label()} (the ordinal) is the class label for
 * conditioning. New families must be appended at the end so existing labels never change.
 *
 * <p>Every parameter of a shape is drawn from the generator passed in, in a fixed order, so a
 * family and a seed determine the shape exactly. Samples are normalised to fit inside
 * [-0.5 + {@link #MARGIN}, 0.5 - {@link #MARGIN}]^3.
 */
public enum ShapeFamily {
    CHAIR("chair", FurnitureFamilies::chair),
    TABLE("table", FurnitureFamilies::table),
    STOOL("stool", FurnitureFamilies::stool),
    SOFA("sofa", FurnitureFamilies::sofa),
    SHELF("shelf", FurnitureFamilies::shelf),
    LAMP("lamp", FurnitureFamilies::lamp),
    MUG("mug", VesselFamilies::mug),
    VASE("vase", VesselFamilies::vase),
    BOTTLE("bottle", VesselFamilies::bottle),
    AIRPLANE("airplane", VehicleFamilies::airplane),
    CAR("car", VehicleFamilies::car),
    TORUS("torus", AbstractFamilies::torusRing),
    CSG("csg", AbstractFamilies::csg);

    /** Empty space kept on each side of the unit cube: 0.03 is about 2 voxels at R = 64. */
    public static final double MARGIN = 0.03;

    private final String id;
    private final Function<RandomGenerator, Shape> builder;

    ShapeFamily(String id, Function<RandomGenerator, Shape> builder) {
        this.id = id;
        this.builder = builder;
    }

    public String id() { return id; }

    public int label() { return ordinal(); }

    /** A random member of the family, normalised to the unit cube. */
    public Shape sample(RandomGenerator rng) {
        return builder.apply(rng).normalized(MARGIN);
    }

    /** The member of the family for {@code seed}: {@code sample(new SplittableRandom(seed))}. */
    public Shape sample(long seed) {
        return sample(new SplittableRandom(seed));
    }

    /** Family by id (case-insensitive), e.g. "chair". */
    public static ShapeFamily fromId(String id) {
        String key = id.trim().toLowerCase(Locale.ROOT);
        for (ShapeFamily f : values()) if (f.id.equals(key)) return f;
        throw new IllegalArgumentException("unknown shape family '" + id + "'; known: " + String.join(", ", ids()));
    }

    public static ShapeFamily fromLabel(int label) {
        ShapeFamily[] all = values();
        if (label < 0 || label >= all.length) throw new IllegalArgumentException("no shape family with label " + label);
        return all[label];
    }

    public static List<String> ids() {
        return Arrays.stream(values()).map(ShapeFamily::id).toList();
    }
}
