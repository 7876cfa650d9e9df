package org.voxflow.cuda;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The layout a strided kernel walks: a logical shape and, per operand, element strides. Size-1 axes are dropped
 * and neighbouring axes merged wherever every operand steps through them as one, so a dense tensor becomes a
 * single axis of stride 1 (the kernels' fast path) and real views fit the kernels' 8-axis limit.
 */
record Strided(int[] shape, long[][] strides) {
    static final int MAX_RANK = 8;

    static Strided of(int[] shape, long[]... operandStrides) {
        int ops = operandStrides.length;
        List<int[]> dims = new ArrayList<>();      // {size}
        List<long[]> st = new ArrayList<>();       // per dim: one stride per operand
        for (int d = 0; d < shape.length; d++) {
            if (shape[d] == 1) continue;
            long[] s = new long[ops];
            for (int o = 0; o < ops; o++) s[o] = operandStrides[o][d];
            if (!dims.isEmpty()) {
                long[] prev = st.get(st.size() - 1);
                boolean merge = true;
                for (int o = 0; o < ops; o++) merge &= prev[o] == s[o] * shape[d];
                if (merge) {
                    int[] last = dims.get(dims.size() - 1);
                    last[0] = Math.multiplyExact(last[0], shape[d]);
                    st.set(st.size() - 1, s);
                    continue;
                }
            }
            dims.add(new int[] {shape[d]});
            st.add(s);
        }
        int r = dims.size();
        if (r > MAX_RANK)
            throw new IllegalArgumentException("a view of shape " + Arrays.toString(shape) + " needs " + r
                    + " strided axes; the CUDA kernels take " + MAX_RANK + " (make it contiguous first)");
        int[] outShape = new int[r];
        long[][] out = new long[ops][r];
        for (int d = 0; d < r; d++) {
            outShape[d] = dims.get(d)[0];
            for (int o = 0; o < ops; o++) out[o][d] = st.get(d)[o];
        }
        return new Strided(outShape, out);
    }

    int rank() { return shape.length; }
}
