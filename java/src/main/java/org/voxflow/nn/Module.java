package org.voxflow.nn;

import java.util.LinkedHashMap;
import java.util.Map;
import org.voxflow.tensor.Backend;
import org.voxflow.tensor.DType;
import org.voxflow.tensor.Tensor;

/**
 * A tree of named parameters and buffers, named the PyTorch way ("blocks.0.self_attn.to_qkv.weight") so
 * TRELLIS state dicts load with no conversion table. Parameters require grad; buffers do not.
 */
public abstract class Module {
    private final Map<String, Tensor> params = new LinkedHashMap<>();
    private final Map<String, Tensor> buffers = new LinkedHashMap<>();
    private final Map<String, Module> children = new LinkedHashMap<>();
    protected final Backend backend;

    protected Module(Backend backend) { this.backend = backend; }

    public Backend backend() { return backend; }

    /** Registers a zero-filled f32 parameter. */
    protected Tensor param(String name, int... shape) {
        Tensor t = backend.zeros(DType.F32, shape).setRequiresGrad(true);
        t.storage().markParameter();
        params.put(name, t);
        return t;
    }

    protected Tensor buffer(String name, Tensor value) {
        buffers.put(name, value);
        return value;
    }

    protected <M extends Module> M child(String name, M m) {
        children.put(name, m);
        return m;
    }

    /** Every parameter by its full dotted name, in registration order. */
    public Map<String, Tensor> namedParameters() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        collect("", out, true);
        return out;
    }

    /** Every parameter and buffer (the state dict). */
    public Map<String, Tensor> stateDict() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        collect("", out, false);
        return out;
    }

    private void collect(String prefix, Map<String, Tensor> out, boolean paramsOnly) {
        params.forEach((k, v) -> out.put(prefix + k, v));
        if (!paramsOnly) buffers.forEach((k, v) -> out.put(prefix + k, v));
        children.forEach((k, m) -> m.collect(prefix + k + ".", out, paramsOnly));
    }

    public long parameterCount() {
        long n = 0;
        for (Tensor t : namedParameters().values()) n += t.numel();
        return n;
    }

    /** Clears every parameter's gradient. */
    public void zeroGrad() {
        for (Tensor t : namedParameters().values()) t.setGrad(null);
    }
}
