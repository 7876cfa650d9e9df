package org.voxflow.flow;

import java.util.Arrays;
import org.voxflow.autograd.F;
import org.voxflow.nn.RowLayout;
import org.voxflow.tensor.Tensor;

/**
 * How the rows of a state tensor map to samples, for per-sample quantities (MDT-dist's per-sample norm, per-sample
 * t): dense states are [B, ...]; sparse states are feats [N, C] with rows grouped by instance.
 */
public interface Batching {
    int batch();

    /** Per-sample sum over every element of the sample: [B]. */
    Tensor perSampleSum(Tensor x);

    /** A per-sample value [B] shaped to broadcast against a state like `like`. */
    Tensor broadcast(Tensor perSample, Tensor like);

    /** Sample b owns rows offsets[b] .. offsets[b+1] of a state's axis 0 (B + 1 offsets): the fused ops' segments. */
    int[] rowOffsets();

    static Batching dense(int batch) {
        return new Batching() {
            @Override public int batch() { return batch; }

            @Override public Tensor perSampleSum(Tensor x) { return F.sum(F.reshape(x, batch, -1), new int[] {1}, false); }

            @Override public Tensor broadcast(Tensor s, Tensor like) {
                int[] shape = new int[like.dim()];
                Arrays.fill(shape, 1);
                shape[0] = batch;
                return F.reshape(s, shape);
            }

            @Override public int[] rowOffsets() {
                int[] o = new int[batch + 1];
                for (int i = 0; i <= batch; i++) o[i] = i;
                return o;
            }
        };
    }

    static Batching sparse(RowLayout layout) {
        return new Batching() {
            @Override public int batch() { return layout.batch(); }

            @Override public Tensor perSampleSum(Tensor x) {
                Tensor rows = F.sum(x, new int[] {1}, false);
                return F.indexAdd(rows, 0, layout.rowInstance(x.backend()), layout.batch());
            }

            @Override public Tensor broadcast(Tensor s, Tensor like) {
                return F.indexSelect(F.reshape(s, layout.batch(), 1), 0, layout.rowInstance(s.backend()));
            }

            @Override public int[] rowOffsets() { return layout.offsets(); }
        };
    }
}
