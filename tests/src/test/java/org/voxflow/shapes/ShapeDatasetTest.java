package org.voxflow.shapes;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class ShapeDatasetTest {
    @Test
    void splitIsDeterministicDisjointAndComplete() {
        ShapeDataset d1 = ShapeDataset.standard(200), d2 = ShapeDataset.standard(200);
        assertEquals(d1.items(), d2.items());
        List<ShapeDataset.Item> train = d1.items(ShapeDataset.Split.TRAIN), test = d1.items(ShapeDataset.Split.TEST);
        Set<String> trainKeys = new HashSet<>();
        for (ShapeDataset.Item it : train) trainKeys.add(it.family().id() + "/" + it.index());
        for (ShapeDataset.Item it : test) assertFalse(trainKeys.contains(it.family().id() + "/" + it.index()));
        assertEquals(d1.items().size(), train.size() + test.size());
        double frac = (double) test.size() / d1.items().size();
        assertTrue(frac > 0.08 && frac < 0.12, "test fraction " + frac);
        for (ShapeFamily f : ShapeFamily.values()) {
            long n = test.stream().filter(it -> it.family() == f).count();
            assertTrue(n >= 8 && n <= 35, f + " has " + n + " test items of 200");
        }
    }

    @Test
    void itemsDoNotDependOnDatasetSizeOrFamilySelection() {
        ShapeDataset small = new ShapeDataset(List.of(ShapeFamily.VASE), 5, 0.1, 0L);
        ShapeDataset big = ShapeDataset.standard(50);
        for (int i = 0; i < 5; i++) assertEquals(small.item(ShapeFamily.VASE, i), big.item(ShapeFamily.VASE, i));
    }

    @Test
    void seedsDifferAcrossItemsAndBaseSeedsButSplitDoesNot() {
        Set<Long> seeds = new HashSet<>();
        for (ShapeDataset.Item it : ShapeDataset.standard(100).items()) assertTrue(seeds.add(it.seed()));
        ShapeDataset other = new ShapeDataset(List.of(ShapeFamily.values()), 100, 0.1, 99L);
        ShapeDataset.Item a = ShapeDataset.standard(100).item(ShapeFamily.CAR, 7), b = other.item(ShapeFamily.CAR, 7);
        assertNotEquals(a.seed(), b.seed());
        assertEquals(a.split(), b.split());
    }
}
