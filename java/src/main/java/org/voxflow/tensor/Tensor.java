package org.voxflow.tensor;

import java.util.Arrays;

/**
 * An n-dimensional view (shape, element strides, offset) of a {@link Storage}. Reshape, permute, slice and
 * expand make new views without copying; {@link #contiguous()} copies when a kernel needs dense rows.
 *
 * <p>The autograd fields ({@code requiresGrad}, {@code grad}, {@code gradFn}) are state the autograd layer
 * reads and writes; the tensor layer never interprets them.
 */
public final class Tensor implements AutoCloseable {
    private final Storage storage;
    private final int[] shape;
    private final long[] strides;
    private final long offset;

    private boolean requiresGrad;
    private Tensor grad;
    private GradNode gradFn;
    private Tensor tangent;

    public Tensor(Storage storage, int[] shape, long[] strides, long offset) {
        if (shape.length != strides.length) throw new IllegalArgumentException("shape and strides differ in rank");
        this.storage = storage;
        this.shape = shape.clone();
        this.strides = strides.clone();
        this.offset = offset;
    }

    /** A contiguous view of the whole storage with the given shape. */
    public static Tensor of(Storage storage, int... shape) {
        long n = Shapes.numel(shape);
        if (n != storage.numel()) throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " needs " + n
                + " elements, storage has " + storage.numel());
        return new Tensor(storage, shape, Shapes.contiguousStrides(shape), 0);
    }

    public Storage storage() { return storage; }
    public Backend backend() { return storage.backend(); }
    public Device device() { return storage.backend().device(); }
    public DType dtype() { return storage.dtype(); }
    public int[] shape() { return shape.clone(); }
    public int dim() { return shape.length; }
    public long[] strides() { return strides.clone(); }
    public long offset() { return offset; }
    public long numel() { return Shapes.numel(shape); }

    /** Size along an axis; negative axes count from the end. */
    public int size(int axis) { return shape[Shapes.axis(axis, shape.length)]; }

    public boolean isContiguous() {
        return Arrays.equals(strides, Shapes.contiguousStrides(shape)) || numel() <= 1;
    }

    /** True when this view covers its whole storage densely from element 0. */
    public boolean isDense() { return offset == 0 && isContiguous() && numel() == storage.numel(); }

    // ---- views -------------------------------------------------------------------------------------------

    /** Same elements, new shape (one dimension may be -1). Copies only when the view's strides forbid it. */
    public Tensor reshape(int... newShape) {
        int[] s = Shapes.inferReshape(newShape, numel(), shape);
        if (isContiguous()) return new Tensor(storage, s, Shapes.contiguousStrides(s), offset);
        return contiguous().reshape(s);
    }

    /** Reorders the axes: result axis i is this tensor's axis perm[i]. */
    public Tensor permute(int... perm) {
        if (perm.length != shape.length) throw new IllegalArgumentException("permute " + Arrays.toString(perm) + " on rank " + shape.length);
        int[] s = new int[perm.length];
        long[] st = new long[perm.length];
        boolean[] seen = new boolean[perm.length];
        for (int i = 0; i < perm.length; i++) {
            int p = Shapes.axis(perm[i], shape.length);
            if (seen[p]) throw new IllegalArgumentException("permute repeats axis " + p);
            seen[p] = true;
            s[i] = shape[p];
            st[i] = strides[p];
        }
        return new Tensor(storage, s, st, offset);
    }

    public Tensor transpose(int a, int b) {
        int[] perm = new int[shape.length];
        for (int i = 0; i < perm.length; i++) perm[i] = i;
        a = Shapes.axis(a, shape.length);
        b = Shapes.axis(b, shape.length);
        perm[a] = b;
        perm[b] = a;
        return permute(perm);
    }

    /** Elements [start, end) along an axis. */
    public Tensor slice(int axis, int start, int end) {
        int ax = Shapes.axis(axis, shape.length);
        if (start < 0 || end > shape[ax] || start > end)
            throw new IndexOutOfBoundsException("slice [" + start + ", " + end + ") of axis " + ax + " with size " + shape[ax]);
        int[] s = shape.clone();
        s[ax] = end - start;
        return new Tensor(storage, s, strides, offset + start * strides[ax]);
    }

    /** Broadcasts size-1 axes (and new leading axes) to the target shape with stride 0. */
    public Tensor expand(int... target) {
        if (target.length < shape.length) throw new IllegalArgumentException("expand to a lower rank");
        long[] st = new long[target.length];
        int lead = target.length - shape.length;
        for (int i = 0; i < target.length; i++) {
            if (i < lead) { st[i] = 0; continue; }
            int d = shape[i - lead];
            if (d == target[i]) st[i] = strides[i - lead];
            else if (d == 1) st[i] = 0;
            else throw new IllegalArgumentException("cannot expand " + Arrays.toString(shape) + " to " + Arrays.toString(target));
        }
        return new Tensor(storage, target, st, offset);
    }

    /** Removes/inserts a size-1 axis. */
    /** A view with a size-1 axis inserted at axis (no copy, whatever the strides). */
    public Tensor unsqueeze(int axis) {
        int ax = axis < 0 ? axis + shape.length + 1 : axis;
        if (ax < 0 || ax > shape.length) throw new IllegalArgumentException("unsqueeze at " + axis + " of rank " + shape.length);
        int[] s = new int[shape.length + 1];
        long[] st = new long[shape.length + 1];
        for (int i = 0, j = 0; i < s.length; i++) {
            if (i == ax) {
                s[i] = 1;
                st[i] = j < shape.length ? strides[j] * shape[j] : 1; // any stride serves a size-1 axis
            } else {
                s[i] = shape[j];
                st[i] = strides[j++];
            }
        }
        return new Tensor(storage, s, st, offset);
    }

    /** A view without the size-1 axis (no copy, whatever the strides). */
    public Tensor squeeze(int axis) {
        int ax = Shapes.axis(axis, shape.length);
        if (shape[ax] != 1) throw new IllegalArgumentException("squeeze of axis " + ax + " with size " + shape[ax]);
        int[] s = new int[shape.length - 1];
        long[] st = new long[shape.length - 1];
        for (int i = 0, j = 0; i < shape.length; i++) if (i != ax) { s[j] = shape[i]; st[j++] = strides[i]; }
        return new Tensor(storage, s, st, offset);
    }

    /** A dense copy when this view is not contiguous; this tensor itself otherwise. */
    public Tensor contiguous() { return isContiguous() ? this : backend().copy(this); }

    // ---- host access (copies) ----------------------------------------------------------------------------

    public float[] toFloats() { return backend().toFloats(this); }
    public int[] toInts() { return backend().toInts(this); }
    public long[] toLongs() { return backend().toLongs(this); }

    /** The single element of a one-element tensor. */
    public float item() {
        if (numel() != 1) throw new IllegalStateException("item() of a tensor with " + numel() + " elements");
        return toFloats()[0];
    }

    // ---- autograd state (interpreted by org.voxflow.autograd) --------------------------------------------

    public boolean requiresGrad() { return requiresGrad; }
    public Tensor setRequiresGrad(boolean r) { this.requiresGrad = r; return this; }
    public Tensor grad() { return grad; }
    public void setGrad(Tensor g) { this.grad = g; }
    public GradNode gradFn() { return gradFn; }
    public void setGradFn(GradNode fn) { this.gradFn = fn; }
    /** Forward-mode tangent (JVP) riding along this value, or null. */
    public Tensor tangent() { return tangent; }
    public void setTangent(Tensor t) { this.tangent = t; }

    /** Frees the storage now (and every view of it). */
    @Override public void close() { storage.close(); }

    @Override public String toString() {
        return "Tensor" + Arrays.toString(shape) + " " + dtype() + " " + device() + (requiresGrad ? " requires_grad" : "");
    }
}
