package org.voxflow.nn;

import org.voxflow.autograd.F;
import org.voxflow.autograd.Grad;
import org.voxflow.tensor.Backend;
import org.voxflow.tensor.DType;
import org.voxflow.tensor.Tensor;

/**
 * TRELLIS's ModulatedTransformerCrossBlock (dense) and ModulatedSparseTransformerCrossBlock (sparse): the same
 * math on token rows. adaLN gives shift/scale/gate for self-attention and MLP; cross-attention follows an affine
 * layer norm. With share_mod the modulation comes precomputed from the model.
 *
 * <p>Activations that only feed GEMMs or attention (the normed and modulated rows, q/k/v, attention outputs, the MLP's
 * hidden layer) and the attention branches' outputs are produced in {@link F#matmulInputType}: bf16 when sampling
 * under GPU autocast (PyTorch autocast's linear outputs), so no separate cast pass runs before each GEMM; the residual
 * stream stays f32 (or, for a 16-bit torso, the GEMM type: see runBlocks). The gated residual updates are fused with
 * the norm after them; the ungated cross-attention one with its output projection (F.linearResidual).
 */
public final class ModulatedCrossBlock extends Module {
    private final int channels;
    private final LayerNorm norm1, norm2, norm3;
    private final Attention selfAttn, crossAttn;
    private final FeedForward mlp;
    private final Linear adaLN;

    public ModulatedCrossBlock(Backend be, int channels, int ctxChannels, int heads, double mlpRatio, boolean shareMod,
                               boolean qkRmsNorm, boolean qkRmsNormCross) {
        super(be);
        this.channels = channels;
        norm1 = child("norm1", new LayerNorm(be, channels, false, 1e-6f));
        norm2 = child("norm2", new LayerNorm(be, channels, true, 1e-6f));
        norm3 = child("norm3", new LayerNorm(be, channels, false, 1e-6f));
        selfAttn = child("self_attn", new Attention(be, channels, heads, null, true, qkRmsNorm));
        crossAttn = child("cross_attn", new Attention(be, channels, heads, ctxChannels, false, qkRmsNormCross));
        mlp = child("mlp", new FeedForward(be, channels, mlpRatio));
        adaLN = shareMod ? null : child("adaLN_modulation", new Sequential(be)).add("1", new Linear(be, channels, 6 * channels));
    }

    /**
     * @param x   token rows [N, C], instances by layout
     * @param mod the timestep embedding [B, C] (or, with share_mod, the shared modulation [B, 6C])
     * @param ctx condition rows [Nc, Cc], instances by ctxLayout
     */
    public Tensor forward(Tensor x, RowLayout layout, Tensor mod, Tensor ctx, RowLayout ctxLayout) {
        Tensor[] out = forwardPending(new Tensor[] {x, null, null}, layout, mod, null, ctx, null, ctxLayout, DType.F32);
        return gatedResidual(layout, out[0], out[1], out[2]);
    }

    /**
     * Blocks in order over x, as TRELLIS's loop runs them. With checkpointing each block is one checkpointed segment.
     * Otherwise each runs in its own inference scope and leaves its MLP residual update (x + h gate) pending: the
     * next block applies it in the same pass as its first norm, and the last one is applied at the end. This saves
     * one pass over the residual stream per block; the values are those of applying it at once.
     *
     * <p>half: TRELLIS's use_fp16, a 16-bit torso. When sampling in a 16-bit GEMM type (GPU autocast) the residual
     * stream between the updates is rounded to that type, as TRELLIS keeps h in fp16 between its converted blocks and
     * a PyTorch model cast to bf16 keeps it in bf16: each update's pass then moves 16-bit rows instead of f32 ones.
     * The last update is added in f32 as the result leaves the torso (f32, like x). Training and f32 sampling are
     * unaffected (the GEMM input type is f32 there).
     */
    public static Tensor runBlocks(Iterable<ModulatedCrossBlock> blocks, Tensor x, RowLayout layout, Tensor mod, Tensor ctx,
                                   RowLayout ctxLayout, boolean checkpointing, boolean half) {
        Tensor[] state = runPending(blocks, x, layout, mod, ctx, ctxLayout, checkpointing, half);
        return F.cast(state[1] == null ? state[0] : gatedResidual(layout, state[0], state[1], state[2]), x.dtype());
    }

    /**
     * runBlocks, then a layer norm without affine parameters (TRELLIS's final F.layer_norm before out_layer), rounded
     * to F.matmulInputType: its only consumer is the output layer's GEMM. The last block's pending update is fused
     * with the norm (one pass on GPUs, where the update, the cast to f32, the norm and the cast back to the GEMM type
     * were four). For a 16-bit torso the norm reads the update rounded to the torso's type, as TRELLIS's does (its
     * blocks return h in fp16 and the norm reads h.type(x.dtype)).
     */
    public static Tensor runBlocksThenNorm(Iterable<ModulatedCrossBlock> blocks, Tensor x, RowLayout layout, Tensor mod,
                                           Tensor ctx, RowLayout ctxLayout, boolean checkpointing, boolean half, float eps) {
        Tensor[] state = runPending(blocks, x, layout, mod, ctx, ctxLayout, checkpointing, half);
        DType out = F.matmulInputType(x);
        if (state[1] == null) return F.normalizeAffine(F.cast(state[0], x.dtype()), eps, null, null, out);
        return F.reshape(F.residualNormAffine(layout.byInstance(state[0]), layout.byInstance(state[1]), state[2], eps, null, null,
                out)[1], x.shape());
    }

    /** The blocks over x, leaving the last MLP update pending: {x, h, gate} (h null: x is the result), see runBlocks. */
    private static Tensor[] runPending(Iterable<ModulatedCrossBlock> blocks, Tensor x, RowLayout layout, Tensor mod, Tensor ctx,
                                       RowLayout ctxLayout, boolean checkpointing, boolean half) {
        if (checkpointing) {
            for (ModulatedCrossBlock block : blocks) {
                Tensor in = x;
                x = org.voxflow.autograd.Checkpoint.run(xs -> block.forward(xs[0], layout, xs[1], xs[2], ctxLayout),
                        new Tensor[] {in, mod, ctx}, block.namedParameters().values());
            }
            return new Tensor[] {x, null, null};
        }
        Tensor[] state = {half ? F.cast(x, F.matmulInputType(x)) : x, null, null};
        java.util.List<ModulatedCrossBlock> list = new java.util.ArrayList<>();
        blocks.forEach(list::add);
        // sampling: every block's adaLN reads the same silu(mod), so all of them run as one op before the blocks, and
        // 1 + scale for all of them as one more (recording keeps one node per block, so that mod's gradient sums in
        // the same order as the checkpointed and block-by-block paths)
        Tensor[][] mods = Grad.enabled() || list.isEmpty() ? null : modulations(list, mod);
        // and the blocks' cross-attention K/V of the same condition, a chunk of blocks per op (GPUs: one batched GEMM;
        // see crossKv), each chunk freed after its last block
        int chunk = Grad.enabled() ? 1 : kvChunk(list, ctx);
        for (int start = 0; start < list.size(); start += chunk) {
            java.util.List<ModulatedCrossBlock> part = list.subList(start, Math.min(list.size(), start + chunk));
            Tensor kvStack = part.size() < 2 ? null : crossKv(part, ctx); // [part, Nc, 2C], or null: each block its own
            for (int j = 0; j < part.size(); j++) {
                ModulatedCrossBlock block = part.get(j);
                Tensor[] in = state, m = mods == null ? null : mods[start + j];
                Tensor kv = kvStack == null ? null : F.squeeze(F.slice(kvStack, 0, j, j + 1), 0);
                state = InferenceScope.runAll(() -> block.forwardPending(in, layout, mod, m, ctx, kv, ctxLayout, F.matmulInputType(in[0])));
            }
            if (kvStack != null) kvStack.close(); // its blocks are done with it (what each made of it stayed in its scope)
        }
        return state;
    }

    /**
     * Every block's {modulation [B, 6C], 1 + its two scales [B, 2, C]}, the same values as each block's own: from one
     * adaLN op over all blocks and one add, or (share_mod: no block has adaLN) the shared mod and its scales, made
     * once. Null (each block makes its own) if only some blocks have adaLN.
     */
    private static Tensor[][] modulations(java.util.List<ModulatedCrossBlock> blocks, Tensor mod) {
        int g = blocks.size(), b = mod.size(0);
        Tensor[][] out = new Tensor[g][];
        if (blocks.stream().allMatch(k -> k.adaLN == null)) {
            java.util.Arrays.fill(out, new Tensor[] {mod, onePlusScales(mod)});
            return out;
        }
        if (blocks.stream().anyMatch(k -> k.adaLN == null)) return null;
        Tensor[] w = new Tensor[g], bias = new Tensor[g];
        for (int i = 0; i < g; i++) {
            w[i] = blocks.get(i).adaLN.weight;
            bias[i] = blocks.get(i).adaLN.bias;
        }
        // silu(mod) once, in the GEMMs' input type
        Tensor all = F.linearEach(F.cast(F.silu(mod), F.matmulInputType(mod)), w, bias, DType.F32); // [G, B, 6C]
        int ch = all.size(2) / 6;
        Tensor onePlus = F.add(F.squeeze(F.slice(F.reshape(all, g, b, 2, 3, ch), 3, 1, 2), 3), 1f); // [G, B, 2, C]
        for (int i = 0; i < g; i++)
            out[i] = new Tensor[] {F.squeeze(F.slice(all, 0, i, i + 1), 0), F.squeeze(F.slice(onePlus, 0, i, i + 1), 0)};
        return out;
    }

    /** Bytes of cross-attention K/V that sampling may hold at once for a chunk of blocks (see kvChunk; tests shrink it). */
    static volatile long kvChunkBytes = 256L << 20;

    /**
     * How many blocks' cross-attention K/V to make in one op: as many as fit in kvChunkBytes, in chunks of equal
     * size (TRELLIS-large, one 1374-token condition in bf16: all 24 blocks, 135 MB; an MDT-dist teacher at batch 16
     * in f32: one block at a time, as without chunks).
     */
    private static int kvChunk(java.util.List<ModulatedCrossBlock> blocks, Tensor ctx) {
        if (blocks.size() < 2) return 1;
        long perBlock = (long) ctx.size(0) * blocks.get(0).crossAttn.kvProjection().weight.size(0) * F.matmulInputType(ctx).bytes();
        long fit = Math.max(1, kvChunkBytes / Math.max(perBlock, 1));
        if (fit < 2) return 1;
        long chunks = (blocks.size() + fit - 1) / fit;
        return (int) ((blocks.size() + chunks - 1) / chunks);
    }

    /**
     * The blocks' cross-attention K/V rows of ctx stacked [G, Nc, 2C], from one linearEach over their to_kv layers
     * (slice g: the values of block g's own projection). Null when the blocks' projections differ in shape.
     */
    private static Tensor crossKv(java.util.List<ModulatedCrossBlock> blocks, Tensor ctx) {
        int g = blocks.size();
        Linear first = blocks.get(0).crossAttn.kvProjection();
        Tensor[] w = new Tensor[g], bias = new Tensor[g];
        for (int i = 0; i < g; i++) {
            Linear kv = blocks.get(i).crossAttn.kvProjection();
            if (!java.util.Arrays.equals(kv.weight.shape(), first.weight.shape()) || (kv.bias == null) != (first.bias == null)) return null;
            w[i] = kv.weight;
            bias[i] = kv.bias;
        }
        return F.linearEach(ctx, w, bias[0] == null ? null : bias, F.matmulInputType(ctx));
    }

    /**
     * 1 + scale for both modulations of m [B, 6C] in one op: chunks 1 and 4 are the [B, 2, C] view m[:, {1, 4}, :]
     * of m as [B, 2, 3, C] (same values as adding 1 to each chunk, one launch instead of two).
     */
    private static Tensor onePlusScales(Tensor m) {
        int b = m.size(0), ch = m.size(1) / 6;
        return F.add(F.squeeze(F.slice(F.reshape(m, b, 2, 3, ch), 2, 1, 2), 2), 1f);
    }

    /**
     * The block with a residual update still pending on its input: state = {x, h, gate} means the input is
     * x + h gate (h null: x itself). Returns this block's output in the same form, its MLP branch h rounded to
     * mlpOut. pre: {modulation, 1 + scales} made by the caller (see modulations), or null; kv: the cross-attention's
     * K/V rows of ctx made by the caller (see crossKv), or null.
     */
    Tensor[] forwardPending(Tensor[] state, RowLayout layout, Tensor mod, Tensor[] pre, Tensor ctx, Tensor kv, RowLayout ctxLayout,
                            DType mlpOut) {
        Tensor x = state[0];
        Tensor m = pre != null ? pre[0] : adaLN == null ? mod : adaLN.forward(F.silu(mod));
        Tensor[] p = F.chunk(m, 6, 1);
        Tensor onePlus = pre != null ? pre[1] : onePlusScales(m);
        // per-instance [B, C] values broadcast over the rows: dense batches never materialise them per token
        Tensor shiftMsa = layout.broadcastable(p[0]), scaleMsa = layout.broadcastable(F.squeeze(F.slice(onePlus, 1, 0, 1), 1)),
                gateMsa = layout.broadcastable(p[2]), shiftMlp = layout.broadcastable(p[3]),
                scaleMlp = layout.broadcastable(F.squeeze(F.slice(onePlus, 1, 1, 2), 1)), gateMlp = layout.broadcastable(p[5]);
        int[] cu = layout.offsets();
        int n = x.size(0), c = x.size(1);
        DType act = F.matmulInputType(x);
        // the gated residual updates fused with the norm that reads them: {x + h gate, norm1(x + h gate)} for the
        // pending one, then {x + h gate, norm2(..)}
        Tensor h;
        Tensor[] r;
        if (state[1] == null) {
            h = modulated(layout, norm1, x, shiftMsa, scaleMsa, act);
        } else {
            r = norm1.forwardResidualModulated(layout.byInstance(x), layout.byInstance(state[1]), state[2], scaleMsa, shiftMsa, act);
            x = F.reshape(r[0], n, c);
            h = F.reshape(r[1], n, c);
        }
        h = selfAttn.forward(h, cu, act);
        r = norm2.forwardResidual(layout.byInstance(x), layout.byInstance(h), gateMsa, act);
        x = F.reshape(r[0], n, c);
        // the ungated cross-attention update rides on its output projection (GPUs: the GEMM's epilogue reads x), so
        // the norm after it reads x1 alone
        Tensor kvRows = kv != null ? kv : crossAttn.kvProjection().forward(ctx, act);
        x = crossAttn.forwardKvResidual(F.reshape(r[1], n, c), cu, kvRows, ctxLayout.offsets(), x);
        h = mlp.forward(modulated(layout, norm3, x, shiftMlp, scaleMlp, act), mlpOut);
        return new Tensor[] {x, h, gateMlp};
    }

    /** TRELLIS's modulate(norm(x), shift, scale) = norm(x) (1 + scale) + shift, with onePlusScale already formed. */
    static Tensor modulated(RowLayout layout, LayerNorm norm, Tensor x, Tensor shift, Tensor onePlusScale, DType out) {
        return F.reshape(norm.forwardModulated(layout.byInstance(x), onePlusScale, shift, out), x.shape());
    }

    /** x + h gate. */
    static Tensor gatedResidual(RowLayout layout, Tensor x, Tensor h, Tensor gate) {
        return F.reshape(F.fma(layout.byInstance(h), gate, layout.byInstance(x)), x.shape());
    }

    public int channels() { return channels; }
}
