package org.voxflow.shapes;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * A deterministic, seeded collection of procedural shapes with a fixed train/test split.
 *
 * <p>Item i of family f gets the shape seed {@code mix64(baseSeed ^ mix64(fnv1a(f.id()) + i))}, so an
 * item does not depend on which other families or how many items the dataset has. The split
 * does not depend on the base seed either: an item is in the test split when
 * {@code u = (mix64(SALT ^ mix64(fnv1a(f.id()) * 31 + i)) >>> 11) * 2^-53} is below
 * {@code testFraction}. So the test indices of a family are fixed once and for all, about
 * {@code testFraction} of them, and the two splits are disjoint by construction. {@code mix64} is
 * a SplitMix64 step and {@code fnv1a} is FNV-1a 64 over the id's UTF-8 bytes, both spelled
 * out here so that seeds never change with the JVM.
 */
public final class ShapeDataset {
    public enum Split { TRAIN, TEST }

    /** One shape of the dataset. */
    public record Item(ShapeFamily family, int index, long seed, Split split) {
        /** The normalised shape: {@code family.sample(seed)}. */
        public Shape shape() { return family.sample(seed); }
    }

    public static final double DEFAULT_TEST_FRACTION = 0.1;
    private static final long SPLIT_SALT = 0x5EEDF00DCAFEL;

    private final List<ShapeFamily> families;
    private final int perFamily;
    private final double testFraction;
    private final long baseSeed;

    public ShapeDataset(List<ShapeFamily> families, int perFamily, double testFraction, long baseSeed) {
        if (perFamily < 0) throw new IllegalArgumentException("perFamily < 0");
        if (!(testFraction >= 0 && testFraction <= 1)) throw new IllegalArgumentException("testFraction " + testFraction);
        this.families = List.copyOf(families);
        this.perFamily = perFamily;
        this.testFraction = testFraction;
        this.baseSeed = baseSeed;
    }

    /** All families, {@code perFamily} items each, 10% test, base seed 0. */
    public static ShapeDataset standard(int perFamily) {
        return new ShapeDataset(List.of(ShapeFamily.values()), perFamily, DEFAULT_TEST_FRACTION, 0L);
    }

    public Item item(ShapeFamily family, int index) {
        return new Item(family, index, seedFor(baseSeed, family, index), splitFor(family, index, testFraction));
    }

    /** All items, family by family in the given family order, index ascending. */
    public List<Item> items() {
        List<Item> out = new ArrayList<>(families.size() * perFamily);
        for (ShapeFamily f : families) for (int i = 0; i < perFamily; i++) out.add(item(f, i));
        return out;
    }

    public List<Item> items(Split split) {
        return items().stream().filter(it -> it.split() == split).toList();
    }

    public static long seedFor(long baseSeed, ShapeFamily family, int index) {
        return mix64(baseSeed ^ mix64(idHash(family) + index));
    }

    public static Split splitFor(ShapeFamily family, int index, double testFraction) {
        double u = (mix64(SPLIT_SALT ^ mix64(idHash(family) * 31 + index)) >>> 11) * 0x1.0p-53;
        return u < testFraction ? Split.TEST : Split.TRAIN;
    }

    /** FNV-1a 64 of the family id. */
    static long idHash(ShapeFamily family) {
        long h = 0xcbf29ce484222325L;
        for (byte b : family.id().getBytes(StandardCharsets.UTF_8)) {
            h ^= b & 0xff;
            h *= 0x100000001b3L;
        }
        return h;
    }

    /** One SplitMix64 step: add the golden-ratio increment, then the finaliser. */
    static long mix64(long z) {
        z += 0x9e3779b97f4a7c15L;
        z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
        z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
        return z ^ (z >>> 31);
    }
}
