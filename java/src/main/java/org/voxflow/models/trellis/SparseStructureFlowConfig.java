package org.voxflow.models.trellis;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The arguments of TRELLIS's SparseStructureFlowModel (stage 1, dense). use_fp16 (TRELLIS: convert the torso to fp16) keeps the transformer
 * torso's residual stream in the 16-bit GEMM type when sampling under GPU autocast (ModulatedCrossBlock.runBlocks);
 * elsewhere the math is f32 either way.
 */
public record SparseStructureFlowConfig(int resolution, int inChannels, int modelChannels, int condChannels,
                                        int outChannels, int numBlocks, int numHeads, double mlpRatio, int patchSize,
                                        boolean shareMod, boolean qkRmsNorm, boolean qkRmsNormCross, boolean useFp16,
        boolean useCheckpoint) {

    public static SparseStructureFlowConfig fromArgs(Map<String, Object> args, String where) {
        ModelArgs a = new ModelArgs(where, args);
        int res = a.integer("resolution", null);
        int in = a.integer("in_channels", null);
        int ch = a.integer("model_channels", null);
        int cond = a.integer("cond_channels", null);
        int out = a.integer("out_channels", null);
        int blocks = a.integer("num_blocks", null);
        Integer heads = a.optionalInteger("num_heads");
        int headCh = a.integer("num_head_channels", 64);
        double mlp = a.number("mlp_ratio", 4);
        int patch = a.integer("patch_size", 2);
        a.string("pe_mode", "ape", "ape");
        boolean fp16 = a.bool("use_fp16", false);
        boolean ckpt = a.bool("use_checkpoint", false);
        boolean share = a.bool("share_mod", false);
        boolean qk = a.bool("qk_rms_norm", false);
        boolean qkc = a.bool("qk_rms_norm_cross", false);
        int h = heads != null ? heads : (headCh > 0 ? ch / headCh : 0);
        a.check(patch > 0 && res % Math.max(patch, 1) == 0, "resolution " + res + " is not a multiple of patch_size " + patch);
        a.check(h > 0 && ch % Math.max(h, 1) == 0, "model_channels " + ch + " not divisible into " + h + " heads");
        a.finish();
        return new SparseStructureFlowConfig(res, in, ch, cond, out, blocks, h, mlp, patch, share, qk, qkc, fp16, ckpt);
    }

    public Map<String, Object> toArgs() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("resolution", (long) resolution);
        m.put("in_channels", (long) inChannels);
        m.put("model_channels", (long) modelChannels);
        m.put("cond_channels", (long) condChannels);
        m.put("out_channels", (long) outChannels);
        m.put("num_blocks", (long) numBlocks);
        m.put("num_heads", (long) numHeads);
        m.put("mlp_ratio", mlpRatio);
        m.put("patch_size", (long) patchSize);
        m.put("pe_mode", "ape");
        m.put("use_fp16", useFp16);
        m.put("use_checkpoint", useCheckpoint);
        m.put("share_mod", shareMod);
        m.put("qk_rms_norm", qkRmsNorm);
        m.put("qk_rms_norm_cross", qkRmsNormCross);
        return m;
    }
}
