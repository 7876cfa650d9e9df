package org.voxflow.distill;

import java.util.AbstractMap;
import java.util.AbstractSet;
import java.util.Iterator;
import java.util.Map;
import java.util.Set;
import org.voxflow.tensor.Backend;
import org.voxflow.tensor.Tensor;

/**
 * The tensors of a checkpoint under one name prefix, read from the file only when asked for, one at a time, so
 * restoring a large model never holds a second copy of the whole state in memory. Shapes are known up front (for
 * the checks that run before anything is loaded).
 */
final class CheckpointTensors extends AbstractMap<String, Tensor> {
    private final TrainingCheckpoint ck;
    private final String prefix;
    private final Backend be;
    private final Map<String, int[]> shapes;

    CheckpointTensors(TrainingCheckpoint ck, String prefix, Backend be) {
        this.ck = ck;
        this.prefix = prefix;
        this.be = be;
        this.shapes = ck.shapes(prefix);
    }

    Map<String, int[]> shapes() { return shapes; }

    @Override public boolean containsKey(Object key) { return shapes.containsKey(key); }

    @Override public Tensor get(Object key) {
        int[] shape = shapes.get(key);
        return shape == null ? null : ck.tensor(prefix + key, shape, be);
    }

    @Override public Set<String> keySet() { return shapes.keySet(); }

    @Override public Set<Entry<String, Tensor>> entrySet() {
        return new AbstractSet<>() {
            @Override public Iterator<Entry<String, Tensor>> iterator() {
                Iterator<String> keys = shapes.keySet().iterator();
                return new Iterator<>() {
                    @Override public boolean hasNext() { return keys.hasNext(); }
                    @Override public Entry<String, Tensor> next() {
                        String k = keys.next();
                        return new SimpleImmutableEntry<>(k, get(k));
                    }
                };
            }

            @Override public int size() { return shapes.size(); }
        };
    }
}
