package org.voxflow.nn;

import org.voxflow.tensor.Backend;

/** A named container only (PyTorch's nn.Sequential / nn.ModuleList numbering); callers run its parts. */
public final class Sequential extends Module {
    public Sequential(Backend be) { super(be); }

    public <M extends Module> M add(String name, M m) { return child(name, m); }
}
