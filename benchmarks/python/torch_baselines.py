#!/usr/bin/env python3
"""PyTorch baselines for voxflow's GPU benchmarks (org.voxflow.bench.gpu), measured on the same GPU in the same
device call (benchmarks/run-gpu-bench.sh runs this first, then GpuBenchReport reads its JSON).

Our own minimal code with TRELLIS-large's shapes, not TRELLIS's: a DiT-style stack of modulated cross blocks
(adaLN shift/scale/gate from the timestep embedding, per-head q/k RMS norm in self-attention, SDPA, GELU-tanh MLP,
cross-attention to the image condition after an affine layer norm), 1024 channels, 16 heads of 64, MLP ratio 4.

Measured (median of 3 timed runs of N calls, CUDA events, after warm-up):
  gemm       x[M,K] @ W[N,K]^T for 4096x1024x4096, 4096^3 and 8192^3: f32 (TF32 off), tf32, bf16 (bf16 in/out),
             autocast (f32 in, torch.autocast bf16: the cast is timed);
  attention  SDPA forward, batch 2, 16 heads x 64, 4096 queries, to 4096 keys (self) and to 1374 (cross), in the
             [B, L, H, D] memory layout voxflow uses: f32, bf16, autocast;
  stage1     TRELLIS-large stage-1 flow forward (16^3 latent, patch 1: 4096 tokens; 1374 x 1024 condition), batch 1, 2;
  stage2_trunk  the 24 blocks on the tokens of the fixed stage-2 structure (a 2-voxel spherical shell at 64^3, 2x
             downsampled) with 1374 condition tokens;
  modes      eager-f32 (TF32 off), eager-tf32, eager-autocast (f32 weights, torch.autocast bf16), eager-bf16 (bf16
             weights), compile-f32 and compile-bf16 (torch.compile of each block, dynamic shapes, regional: one
             compiled block reused by the 24).
Usage: python3 benchmarks/python/torch_baselines.py --out torch.json [--budget SECONDS] [--only gemm,attention,models]
"""
import argparse
import copy
import json
import math
import os
import sys
import time
import traceback

import torch
import torch.nn as nn
import torch.nn.functional as F

T0 = time.monotonic()
NOTES = []


def log(msg):
    print(f"[torch {time.monotonic() - T0:6.1f}s] {msg}", flush=True)


def elapsed():
    return time.monotonic() - T0


def set_tf32(on):
    # 'highest' = plain f32 GEMM; 'high' = TF32 tensor cores (also what torch.backends.cuda.matmul.allow_tf32 sets)
    torch.set_float32_matmul_precision("high" if on else "highest")


def timed(fn, target_s=0.25, trials=3, warmup=2):
    """Median over trials of the mean ms per call; reps per trial chosen so a trial takes about target_s."""
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    t = time.perf_counter()
    fn()
    torch.cuda.synchronize()
    one = time.perf_counter() - t
    reps = max(1, min(200, int(target_s / max(one, 1e-6))))
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    res = []
    for _ in range(trials):
        start.record()
        for _ in range(reps):
            fn()
        end.record()
        end.synchronize()
        res.append(start.elapsed_time(end) / reps)
    res.sort()
    return res[len(res) // 2]


# ---- GEMM and attention -----------------------------------------------------------------------------------------

def gemm_suite(dev):
    out = {}
    for shape in ["4096x1024x4096", "4096x4096x4096", "8192x8192x8192"]:
        m, k, n = map(int, shape.split("x"))
        flops = 2.0 * m * k * n
        a32 = torch.randn(m, k, device=dev)
        w32 = torch.randn(n, k, device=dev)
        a16, w16 = a32.bfloat16(), w32.bfloat16()
        r = {}
        for prec in ["f32", "tf32", "bf16", "autocast"]:
            set_tf32(prec == "tf32")
            if prec == "bf16":
                fn = lambda: a16 @ w16.t()
            elif prec == "autocast":
                def fn():
                    with torch.autocast("cuda", dtype=torch.bfloat16):
                        return a32 @ w32.t()
            else:
                fn = lambda: a32 @ w32.t()
            ms = timed(fn)
            r[prec] = {"ms": ms, "tflops": flops / ms / 1e9}
            log(f"gemm {shape} {prec}: {ms:.3f} ms, {flops / ms / 1e9:.1f} TFLOP/s")
        set_tf32(False)
        out[shape] = r
        del a32, w32, a16, w16
    torch.cuda.empty_cache()
    return out


def attention_suite(dev):
    b, h, d, lq = 2, 16, 64, 4096
    out = {}
    set_tf32(False)
    for kind, lk in [("self4096", 4096), ("cross1374", 1374)]:
        flops = 4.0 * b * lq * lk * h * d
        # voxflow's layout: rows [B*L, H, D]; SDPA takes [B, H, L, D], here as a view of [B, L, H, D]
        q = torch.randn(b, lq, h, d, device=dev).transpose(1, 2)
        k = torch.randn(b, lk, h, d, device=dev).transpose(1, 2)
        v = torch.randn(b, lk, h, d, device=dev).transpose(1, 2)
        qb, kb, vb = q.bfloat16(), k.bfloat16(), v.bfloat16()
        r = {}
        for prec in ["f32", "bf16", "autocast"]:
            if prec == "bf16":
                fn = lambda: F.scaled_dot_product_attention(qb, kb, vb)
            elif prec == "autocast":
                def fn():
                    with torch.autocast("cuda", dtype=torch.bfloat16):
                        return F.scaled_dot_product_attention(q, k, v)
            else:
                fn = lambda: F.scaled_dot_product_attention(q, k, v)
            ms = timed(fn)
            r[prec] = {"ms": ms, "tflops": flops / ms / 1e9}
            log(f"attention {kind} {prec}: {ms:.3f} ms, {flops / ms / 1e9:.1f} TFLOP/s")
        out[kind] = r
        del q, k, v, qb, kb, vb
    torch.cuda.empty_cache()
    return out


# ---- the model --------------------------------------------------------------------------------------------------

class TimestepEmbedder(nn.Module):
    def __init__(self, c, freq=256):
        super().__init__()
        self.freq = freq
        self.mlp = nn.Sequential(nn.Linear(freq, c), nn.SiLU(), nn.Linear(c, c))

    def forward(self, t):
        half = self.freq // 2
        freqs = torch.exp(-math.log(10000) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
        args = t[:, None].float() * freqs[None]
        emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
        return self.mlp(emb.to(self.mlp[0].weight.dtype))


class HeadRMSNorm(nn.Module):
    """Per-head RMS norm of q or k ([B, L, H, D]): normalize in f32, times gamma sqrt(D)."""

    def __init__(self, d, heads):
        super().__init__()
        self.scale = d ** 0.5
        self.gamma = nn.Parameter(torch.ones(heads, d))

    def forward(self, x):
        return (F.normalize(x.float(), dim=-1) * self.gamma * self.scale).to(x.dtype)


class Attention(nn.Module):
    def __init__(self, c, heads, ctx_c=None, qk_norm=False):
        super().__init__()
        self.heads, self.d = heads, c // heads
        self.is_self = ctx_c is None
        if self.is_self:
            self.to_qkv = nn.Linear(c, 3 * c)
        else:
            self.to_q = nn.Linear(c, c)
            self.to_kv = nn.Linear(ctx_c, 2 * c)
        self.qk_norm = qk_norm
        if qk_norm:
            self.q_norm = HeadRMSNorm(self.d, heads)
            self.k_norm = HeadRMSNorm(self.d, heads)
        self.to_out = nn.Linear(c, c)

    def forward(self, x, ctx=None):
        b, l, c = x.shape
        if self.is_self:
            q, k, v = self.to_qkv(x).view(b, l, 3, self.heads, self.d).unbind(2)
        else:
            q = self.to_q(x).view(b, l, self.heads, self.d)
            k, v = self.to_kv(ctx).view(b, ctx.shape[1], 2, self.heads, self.d).unbind(2)
        if self.qk_norm:
            q, k = self.q_norm(q), self.k_norm(k)
        o = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
        return self.to_out(o.transpose(1, 2).reshape(b, l, c))


class Block(nn.Module):
    """Modulated cross block: adaLN-modulated self-attention and MLP, plain cross-attention after an affine LN."""

    def __init__(self, c, ctx_c, heads, mlp_ratio=4):
        super().__init__()
        self.norm1 = nn.LayerNorm(c, elementwise_affine=False, eps=1e-6)
        self.norm2 = nn.LayerNorm(c, elementwise_affine=True, eps=1e-6)
        self.norm3 = nn.LayerNorm(c, elementwise_affine=False, eps=1e-6)
        self.self_attn = Attention(c, heads, None, qk_norm=True)
        self.cross_attn = Attention(c, heads, ctx_c, qk_norm=False)
        self.mlp = nn.Sequential(nn.Linear(c, c * mlp_ratio), nn.GELU(approximate="tanh"), nn.Linear(c * mlp_ratio, c))
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(c, 6 * c))

    def forward(self, x, mod, ctx):
        s_msa, sc_msa, g_msa, s_mlp, sc_mlp, g_mlp = self.adaLN_modulation(mod).unsqueeze(1).chunk(6, dim=-1)
        h = self.norm1(x) * (1 + sc_msa) + s_msa
        x = x + self.self_attn(h) * g_msa
        x = x + self.cross_attn(self.norm2(x), ctx)
        h = self.norm3(x) * (1 + sc_mlp) + s_mlp
        return x + self.mlp(h) * g_mlp


class Stage1(nn.Module):
    """TRELLIS-large stage-1 shapes: [B, 8, 16, 16, 16] latent, patch 1, 1024 channels, 24 blocks, 16 heads."""

    def __init__(self, res=16, cin=8, c=1024, ctx_c=1024, blocks=24, heads=16):
        super().__init__()
        self.res, self.cin = res, cin
        self.t_embedder = TimestepEmbedder(c)
        self.input_layer = nn.Linear(cin, c)
        self.register_buffer("pos_emb", torch.randn(res ** 3, c) * 0.02)
        self.blocks = nn.ModuleList([Block(c, ctx_c, heads) for _ in range(blocks)])
        self.out_layer = nn.Linear(c, cin)

    def trunk(self, h, emb, cond):
        for blk in self.blocks:
            h = blk(h, emb, cond)
        return h

    def forward(self, x, t, cond):
        b = x.shape[0]
        h = self.input_layer(x.flatten(2).transpose(1, 2)) + self.pos_emb
        emb = self.t_embedder(t)
        h = self.trunk(h, emb, cond)
        h = self.out_layer(F.layer_norm(h, h.shape[-1:], eps=1e-5))
        return h.transpose(1, 2).reshape(b, self.cin, self.res, self.res, self.res)


def shell_structure():
    """The fixed stage-2 structure of voxflow's benchmarks: voxels at 64^3 with 26 < r <= 28.1 (r from the centre
    31.5), and its 2x-downsampled token count."""
    r = torch.arange(64, dtype=torch.float64) - 31.5
    x, y, z = torch.meshgrid(r, r, r, indexing="ij")
    rr = torch.sqrt(x * x + y * y + z * z)
    idx = ((rr > 26) & (rr <= 28.1)).nonzero()
    return idx.shape[0], torch.unique(idx // 2, dim=0).shape[0]


def model_suite(dev, budget, result, save, trunk_tokens=None):
    voxels, tokens = shell_structure()
    if trunk_tokens:  # the trunk only sees token rows: any count (the issue's ~4.6k, say) serves
        tokens = trunk_tokens
    log(f"stage-2 structure: {voxels} voxels -> {tokens} tokens")
    result["stage1"] = {"1": {}, "2": {}}
    result["stage2_trunk"] = {"voxels": voxels, "tokens": tokens}
    torch.manual_seed(0)
    with torch.device(dev):  # initialize on the GPU: 530 M parameters
        m32 = Stage1().eval()
    nparams = sum(p.numel() for p in m32.parameters())
    result["stage1_params"] = nparams
    log(f"stage-1 model: {nparams:,} parameters")
    inputs = {}
    for b in (1, 2):
        inputs[b] = (torch.randn(b, 8, 16, 16, 16, device=dev), torch.full((b,), 500.0, device=dev),
                     torch.randn(b, 1374, 1024, device=dev))
    x2 = torch.randn(1, tokens, 1024, device=dev)
    t2 = torch.full((1,), 500.0, device=dev)
    c2 = torch.randn(1, 1374, 1024, device=dev)

    def run_all(model, mode, dtype=None, autocast=False):
        cast = (lambda t: t.to(dtype)) if dtype is not None else (lambda t: t)
        for b in (1, 2):
            x, t, c = (cast(v) for v in inputs[b])

            def fwd():
                with torch.autocast("cuda", dtype=torch.bfloat16, enabled=autocast):
                    return model(x, t, c)
            ms = timed(fwd, target_s=0.5)
            result["stage1"][str(b)][mode] = ms
            log(f"stage-1 forward batch {b} {mode}: {ms:.2f} ms")
        xx, cc = cast(x2), cast(c2)

        def trunk():
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=autocast):
                return model.trunk(xx, model.t_embedder(t2), cc)
        ms = timed(trunk, target_s=0.5)
        result["stage2_trunk"][mode] = ms
        log(f"stage-2 trunk ({tokens} tokens) {mode}: {ms:.2f} ms")
        save()

    with torch.no_grad():
        for mode, tf32, ac in [("eager-f32", False, False), ("eager-tf32", True, False), ("eager-autocast", False, True)]:
            set_tf32(tf32)
            try:
                run_all(m32, mode, autocast=ac)
            except Exception as e:  # keep going: one failed mode leaves the others
                NOTES.append(f"{mode} failed: {e!r}")
                traceback.print_exc()
        set_tf32(False)
        m16 = copy.deepcopy(m32).to(torch.bfloat16)
        try:
            run_all(m16, "eager-bf16", dtype=torch.bfloat16)
        except Exception as e:
            NOTES.append(f"eager-bf16 failed: {e!r}")
            traceback.print_exc()

        # torch.compile, regional: each block compiled; with inline_inbuilt_nn_modules (default since 2.5) the 24
        # blocks share one compiled graph. dynamic=True so the token count is symbolic: stage 1's 4096 tokens and the
        # stage-2 trunk share a graph (batch 1 and 2 still compile apart, size-1 dims being specialized); GEMMs and
        # SDPA are library calls either way, only the fused elementwise/norm kernels see symbolic sizes.
        try:
            import torch._dynamo as dynamo
            for name in ("cache_size_limit", "recompile_limit"):
                if hasattr(dynamo.config, name):
                    setattr(dynamo.config, name, 64)
            if hasattr(dynamo.config, "accumulated_cache_size_limit"):
                dynamo.config.accumulated_cache_size_limit = max(dynamo.config.accumulated_cache_size_limit, 512)
        except Exception as e:
            NOTES.append(f"dynamo config: {e!r}")
        for mode, model, dtype in [("compile-bf16", m16, torch.bfloat16), ("compile-f32", m32, None)]:
            left = budget - elapsed()
            if left < 60:
                NOTES.append(f"{mode} skipped: {left:.0f} s of the {budget:.0f} s budget left")
                log(NOTES[-1])
                continue
            try:
                for blk in model.blocks:
                    blk.compile(dynamic=True)
                t = time.monotonic()
                x, tt, c = inputs[1]
                if dtype is not None:
                    x, c = x.to(dtype), c.to(dtype)
                model(x, tt, c)
                torch.cuda.synchronize()
                result.setdefault("compile_s", {})[mode] = time.monotonic() - t
                log(f"{mode}: first call (compilation) {time.monotonic() - t:.1f} s")
                run_all(model, mode, dtype=dtype)
            except Exception as e:
                NOTES.append(f"{mode} failed: {e!r}")
                traceback.print_exc()
        try:
            from torch._dynamo.utils import counters
            result["dynamo_unique_graphs"] = int(counters["stats"]["unique_graphs"])
        except Exception:
            pass
    del m32, m16
    torch.cuda.empty_cache()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="JSON file to write")
    ap.add_argument("--budget", type=float, default=240, help="seconds; torch.compile is skipped when too little is left")
    ap.add_argument("--only", default="gemm,attention,models")
    ap.add_argument("--trunk-tokens", type=int, default=0, help="stage-2 trunk tokens (default: the shell structure's)")
    args = ap.parse_args()
    if not torch.cuda.is_available():
        print("no CUDA device", file=sys.stderr)
        return 2
    dev = torch.device("cuda")
    result = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__, "cuda": torch.version.cuda,
              "notes": NOTES}

    def clean(o):  # JSON has no NaN or infinity
        if isinstance(o, float) and not math.isfinite(o):
            return None
        if isinstance(o, dict):
            return {str(k): clean(v) for k, v in o.items()}
        if isinstance(o, (list, tuple)):
            return [clean(v) for v in o]
        return o

    def save():
        tmp = args.out + ".tmp"
        with open(tmp, "w") as f:
            json.dump(clean(result), f, indent=1, allow_nan=False, default=str)
        os.replace(tmp, args.out)

    only = set(args.only.split(","))
    log(f"{result['device']}, torch {result['torch']} (CUDA {result['cuda']})")
    for name, fn in [("gemm", lambda: gemm_suite(dev)), ("attention", lambda: attention_suite(dev))]:
        if name in only:
            try:
                result[name] = fn()
            except Exception as e:
                NOTES.append(f"{name} failed: {e!r}")
                traceback.print_exc()
            save()
    if "models" in only:
        try:
            model_suite(dev, args.budget, result, save, args.trunk_tokens)
        except Exception as e:
            NOTES.append(f"models failed: {e!r}")
            traceback.print_exc()
    result["seconds"] = elapsed()
    save()
    log(f"done; notes: {NOTES}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
