#!/usr/bin/env python3
"""torch SDPA (flash backend) baselines for cuda-kernels/bench/flash_bench.cu: the same shapes, bf16, in voxflow's
[B, L, H, D] memory layout (SDPA gets [B, H, L, D] views), run in the same device call so ratios are like for like.

Prints forward and forward+backward TFLOP/s (forward 4 Nq Nk H D flops per instance, backward 2.5x that, the
FlashAttention-2 convention; bwd alone = (fwd+bwd) - fwd time). CUDA events, warm-up, mean of 20 calls.
  self 2x4096 H16 D64, cross 2x(4096x1374) H16 D64, self 2x4096 H16 D128, varlen 8 instances H16 D64
The varlen batch runs as a jagged nested tensor (flash varlen) where this torch supports it, else one SDPA call per
instance (printed which).
Usage: PYTHONUNBUFFERED=1 python3 benchmarks/python/sdpa_baseline.py
"""
import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

dev = "cuda"
dt = torch.bfloat16


def timeit(fn, iters=20):
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    a.record()
    for _ in range(iters):
        fn()
    b.record()
    b.synchronize()
    return a.elapsed_time(b) / iters


def dense(name, B, Lq, Lk, H, D):
    q = torch.randn(B, Lq, H, D, device=dev, dtype=dt).transpose(1, 2).requires_grad_()
    k = torch.randn(B, Lk, H, D, device=dev, dtype=dt).transpose(1, 2).requires_grad_()
    v = torch.randn(B, Lk, H, D, device=dev, dtype=dt).transpose(1, 2).requires_grad_()
    g = torch.randn(B, H, Lq, D, device=dev, dtype=dt)
    fl = 4.0 * B * Lq * Lk * H * D
    with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
        def fwd():
            with torch.no_grad():
                F.scaled_dot_product_attention(q, k, v)

        def fwdbwd():
            o = F.scaled_dot_product_attention(q, k, v)
            torch.autograd.backward(o, g, inputs=[q, k, v])

        tf = timeit(fwd)
        tfb = timeit(fwdbwd)
    report(name, fl, tf, tfb)


def report(name, fl, tf, tfb):
    tb = tfb - tf
    print(f"SDPA {name:<28} fwd {tf:8.3f} ms {fl / tf * 1e-9:7.1f} TFLOP/s | bwd {tb:8.3f} ms "
          f"{2.5 * fl / tb * 1e-9:7.1f} TFLOP/s | fwd+bwd {3.5 * fl / tfb * 1e-9:7.1f} TFLOP/s", flush=True)


def varlen(name, lens, H, D):
    fl = sum(4.0 * n * n * H * D for n in lens)
    xs = [[torch.randn(n, H, D, device=dev, dtype=dt) for n in lens] for _ in range(3)]
    g = [torch.randn(n, H, D, device=dev, dtype=dt) for n in lens]
    try:
        # one offsets tensor for q, k, v and the seed, so their ragged dims are the same symbolic size
        offs = torch.tensor([0] + [sum(lens[:i + 1]) for i in range(len(lens))], device=dev, dtype=torch.int64)
        nt = [torch.nested.nested_tensor_from_jagged(torch.cat(x), offs).transpose(1, 2).requires_grad_() for x in xs]
        gn = torch.nested.nested_tensor_from_jagged(torch.cat(g), offs).transpose(1, 2)
        with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
            def fwd():
                with torch.no_grad():
                    F.scaled_dot_product_attention(*nt)

            def fwdbwd():
                o = F.scaled_dot_product_attention(*nt)
                torch.autograd.backward(o, gn, inputs=nt)

            tf = timeit(fwd)
            tfb = timeit(fwdbwd)
        how = "jagged nested tensor"
    except Exception as e:  # older torch: one call per instance
        print(f"(nested SDPA unavailable: {type(e).__name__}: {e}; one call per instance)")
        ts = [[x[i].unsqueeze(0).transpose(1, 2).requires_grad_() for x in xs] for i in range(len(lens))]
        gs = [gi.unsqueeze(0).transpose(1, 2) for gi in g]
        with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
            def fwd():
                with torch.no_grad():
                    for t in ts:
                        F.scaled_dot_product_attention(*t)

            def fwdbwd():
                for t, gi in zip(ts, gs):
                    o = F.scaled_dot_product_attention(*t)
                    torch.autograd.backward(o, gi, inputs=t)

            tf = timeit(fwd)
            tfb = timeit(fwdbwd)
        how = "per-instance calls"
    report(name, fl, tf, tfb)
    print(f"     ({name}: {how})", flush=True)


if __name__ == "__main__":
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name()}", flush=True)
    dense("self 2x4096 H16 D64", 2, 4096, 4096, 16, 64)
    dense("cross 2x(4096x1374) H16 D64", 2, 4096, 1374, 16, 64)
    dense("self 2x4096 H16 D128", 2, 4096, 4096, 16, 128)
    varlen("varlen 8 inst H16 D64", [4096, 1000, 2500, 333, 3000, 1374, 64, 1], 16, 64)
