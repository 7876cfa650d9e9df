package org.voxflow.distill;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.voxflow.tensor.Backend;
import org.voxflow.tensor.Backends;
import org.voxflow.tensor.DType;
import org.voxflow.tensor.Tensor;

/**
 * Helpers shared by the components whose state is exported and imported as named tensors (optimizer, EMA,
 * student): shape checks that collect every problem before anything is modified, and copies that work
 * whatever backend the source and the destination live on (through host floats).
 */
final class StateTensors {
    private StateTensors() {}

    /** Adds a problem when {@code name} is missing from {@code shapes} or its shape differs from {@code shape}. */
    static void expect(Map<String, int[]> shapes, String name, int[] shape, List<String> problems) {
        int[] found = shapes.get(name);
        if (found == null) problems.add("missing tensor '" + name + "' " + Arrays.toString(shape));
        else if (!Arrays.equals(found, shape))
            problems.add("tensor '" + name + "' has shape " + Arrays.toString(found) + ", expected " + Arrays.toString(shape));
    }

    /** The shapes of named tensors, for the checks that run before anything is loaded. */
    static Map<String, int[]> shapes(Map<String, Tensor> state) {
        if (state instanceof CheckpointTensors lazy) return lazy.shapes(); // without reading the data
        Map<String, int[]> out = new LinkedHashMap<>();
        state.forEach((k, t) -> out.put(k, t.shape()));
        return out;
    }

    /** Overwrites the dense float tensor dst with src's values (src on any backend). */
    static void copyFloats(Tensor dst, Tensor src) {
        Backend be = dst.backend();
        be.assign(dst, be.fromFloats(src.toFloats(), dst.shape()));
    }

    /** A dense f32 copy of t on its own backend, to start an EMA or a state buffer from. */
    static Tensor cloneF32(Tensor t) {
        Backend be = t.backend();
        return t.dtype() == DType.F32 ? be.copy(t) : be.cast(t, DType.F32);
    }

    /** A one-element I64 tensor on the CPU (step counters). */
    static Tensor scalarLong(long v) {
        return Backends.cpu().fromLongs(new long[] {v}, 1);
    }

    /** Fails unless the tensor is a dense f32 tensor that can be updated in place. */
    static void requireUpdatable(String name, Tensor p) {
        if (p.dtype() != DType.F32) throw new IllegalArgumentException("parameter '" + name + "' is " + p.dtype() + "; the optimizer keeps f32 master weights");
        if (!p.isDense()) throw new IllegalArgumentException("parameter '" + name + "' is a view, not a dense tensor it can update in place");
    }
}
