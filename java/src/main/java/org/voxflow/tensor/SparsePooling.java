package org.voxflow.tensor;

/**
 * The maps of a sparse voxel downsample ({@link Backend#sparseDownsample}), on the backend that built them.
 *
 * @param coords   I32 [M, 4]: coarse (batch, x, y, z), unique, sorted by (batch, x, y, z)
 * @param toCoarse I32 [N]: the coarse row each fine row falls in (pooling scatters along it, nearest upsampling
 *                 gathers along it)
 * @param counts   I32 [M]: how many fine rows fall in each coarse row
 * @param offsets  host [batch + 1]: coarse rows offsets[b]..offsets[b+1] belong to instance b
 */
public record SparsePooling(Tensor coords, Tensor toCoarse, Tensor counts, int[] offsets) {
    public int rows() { return offsets[offsets.length - 1]; }
}
