#!/usr/bin/env bash
# One device call for the Hopper wgmma flash attention forward (vf_flash_sm90.cu): build, check against the f32
# kernel, benchmark against the mma.sync kernel and torch SDPA (same call, same GPU), compute-sanitizer memcheck and
# racecheck on a small check, SASS instruction counts. Run it from a folder holding the kernel sources
# (cuda-kernels/src/main/cuda/*.cu, *.cuh, *.h), flash_sm90_bench.cu, this script (and sdpa_baseline.py for
# SDPA_FULL=1) side by side; logs go to $OUT.
#   PREBUILT=1      use the objects already in ./obj (built elsewhere with the same nvcc and flags) instead of compiling
#   VARIANTS="name:flags;..."  also build and time tile variants of vf_flash_sm90.cu (VF_S90_* macros): small check + benchmark
#   SANITIZE=0      skip compute-sanitizer;  SDPA=0 skip torch;  SDPA_FULL=1 also run sdpa_baseline.py (fwd + bwd)
set -u
export PATH=/usr/local/cuda/bin:$PATH
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
cd "$(dirname "$0")"
F="-O3 -std=c++17 -lineinfo -I."
A90="-gencode arch=compute_90,code=sm_90"
A90A="-gencode arch=compute_90a,code=sm_90a"
# what build.sh gives vf_flash_sm90.cu: the usual archs plus sm_90a (checks that the driver picks the sm_90a image)
ALIB="-gencode arch=compute_80,code=sm_80 $A90 -gencode arch=compute_90,code=compute_90 $A90A"
VARIANTS=${VARIANTS:-}
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
S="$OUT/summary.txt"; : > "$S"
note() { echo "$*" | tee -a "$S"; }

if [ "${PREBUILT:-0}" != 1 ]; then
  el "compile"
  mkdir -p obj
  nvcc $F $A90 -c flash_sm90_bench.cu -o obj/bench.o &
  nvcc $F $A90 -c vf_attention.cu -o obj/attn.o &
  nvcc $F $A90 -c vf_flash.cu -o obj/fwd.o &
  nvcc $F $A90A -Xptxas -v -c vf_flash_sm90.cu -o obj/s90.o 2> obj/ptxas_s90.txt &
  nvcc $F $ALIB -c vf_flash_sm90.cu -o obj/s90lib.o 2> obj/ptxas_lib.txt &
  IFS=';' read -ra VS <<< "$VARIANTS"
  for v in "${VS[@]}"; do
    [ -z "$v" ] && continue
    nvcc $F $A90A -Xptxas -v ${v#*:} -c vf_flash_sm90.cu -o "obj/s90_${v%%:*}.o" 2> "obj/ptxas_${v%%:*}.txt" &
  done
  wait
fi
cat obj/ptxas_*.txt > "$OUT/build.log" 2>/dev/null
note "ptxas (sm_90a kernels): $(grep -c 'Compiling entry' obj/ptxas_s90.txt) entries; spills: $(grep -o '[0-9]* bytes spill stores' obj/ptxas_s90.txt | sort | uniq -c | tr '\n' ' ')"
grep -il "warn\|serializ" obj/ptxas_*.txt && note "ptxas warnings: $(grep -ih 'warn\|serializ' obj/ptxas_*.txt | sort | uniq -c | head -5)"
nvcc $A90 -o fb obj/bench.o obj/s90.o obj/fwd.o obj/attn.o || note "link fb failed"
nvcc $A90 -o fb_lib obj/bench.o obj/s90lib.o obj/fwd.o obj/attn.o || note "link fb_lib failed"
for o in obj/s90_*.o; do [ -f "$o" ] || continue; n=${o#obj/s90_}; n=${n%.o}; nvcc $A90 -o "fb_$n" obj/bench.o "$o" obj/fwd.o obj/attn.o; done
el "built"
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader | tee -a "$S"

cuobjdump -sass obj/s90.o > /tmp/s90.sass 2>/dev/null
note "SASS sm_90a: HGMMA $(grep -c HGMMA /tmp/s90.sass), HMMA $(grep -c 'HMMA' /tmp/s90.sass), LDL $(grep -c 'LDL' /tmp/s90.sass), STL $(grep -c 'STL' /tmp/s90.sass), MUFU.EX2 $(grep -c 'MUFU.EX2' /tmp/s90.sass)"
awk '/Function :.*flash_fwd_sm90I13__nv_bfloat16fLi64/{p=1} p&&/Function :/&&!/bfloat16fLi64/{p=0} p' /tmp/s90.sass > "$OUT/sass_bf16_f32out_d64.txt"

el "probe (tiny case, main build and library-arch build)"
timeout 20 ./fb --probe 2>&1 | tail -1 | tee -a "$S"; pr=${PIPESTATUS[0]}
timeout 20 ./fb_lib --probe 2>&1 | tail -1 | sed 's/^/[build.sh archs] /' | tee -a "$S"
if [ "$pr" != 0 ]; then note "probe failed (rc $pr): skipping the rest"; el done; exit 1; fi

el "small check"
timeout 40 ./fb --check-only --small 2>&1 | tee "$OUT/check.log"; rs=${PIPESTATUS[0]}
note "small check rc $rs"
if [ "$rs" = 0 ]; then
  el "full check"
  timeout 200 ./fb --check-only 2>&1 | tee -a "$OUT/check.log"; rc=${PIPESTATUS[0]}
  note "full check rc $rc: $(grep -c FAIL "$OUT/check.log") FAIL lines"
fi
grep -E "^(CHECK|refusals)" "$OUT/check.log" | tee -a "$S"
awk '/err\/bound/{for(i=1;i<=NF;i++){if($i=="err/bound"&&$(i-1)=="out"){o=$(i+1);if(o+0>mo)mo=o+0} if($i=="err/bound"&&$(i-1)=="lse"){l=$(i+1);if(l+0>ml)ml=l+0} if($i=="rms"&&$(i-3)=="out"){r=$(i+1);if(r+0>mr)mr=r+0}}} END{printf "worst out err/bound %.3f, worst lse err/bound %.3f, largest out rel RMS %.2e\n",mo,ml,mr}' "$OUT/check.log" | tee -a "$S"

el "benchmark"
timeout 120 ./fb --bench-only 2>&1 | grep -E "BENCH|device" | tee "$OUT/bench.log"
for b in fb_*; do
  [ "$b" = fb_lib ] && continue; [ -x "$b" ] || continue
  vd=64; case "${b#fb_}" in d128*) vd=128;; esac
  echo "variant ${b#fb_}: small check $(timeout 40 "./$b" --check-only --small --d $vd 2>&1 | grep -E '^CHECK' || echo 'CRASHED/TIMEOUT')" | tee -a "$OUT/bench.log"
  timeout 60 "./$b" --bench-only --reps 20 --d $vd 2>&1 | grep BENCH | tee -a "$OUT/bench.log"
done
grep BENCH "$OUT/bench.log" | head -4 | sed 's/ | sm90 out bf16.*//' | tee -a "$S"

if [ "${SDPA:-1}" = 1 ]; then
  el "torch SDPA (forward, bf16, [B, L, H, D] memory viewed as [B, H, L, D])"
  PYTHONUNBUFFERED=1 timeout 90 python3 - <<'EOF' 2>&1 | tee "$OUT/sdpa.log"
import torch, torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel
print("torch", torch.__version__, torch.cuda.get_device_name())
def med(fn, reps=30):
    for _ in range(5): fn()
    torch.cuda.synchronize()
    ts = []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record(); fn(); b.record(); b.synchronize(); ts.append(a.elapsed_time(b))
    ts.sort(); return ts[len(ts) // 2]
for name, B, Lq, Lk, H, D in [("self 2x4096 H16 D64", 2, 4096, 4096, 16, 64), ("cross 2x(4096x1374) H16 D64", 2, 4096, 1374, 16, 64),
                              ("self 2x4096 H16 D128", 2, 4096, 4096, 16, 128)]:
    q = torch.randn(B, Lq, H, D, device="cuda", dtype=torch.bfloat16).transpose(1, 2)
    k = torch.randn(B, Lk, H, D, device="cuda", dtype=torch.bfloat16).transpose(1, 2)
    v = torch.randn(B, Lk, H, D, device="cuda", dtype=torch.bfloat16).transpose(1, 2)
    fl = 4.0 * B * Lq * Lk * H * D
    for be in (SDPBackend.CUDNN_ATTENTION, SDPBackend.FLASH_ATTENTION):
        try:
            with torch.no_grad(), sdpa_kernel(be):
                ms = med(lambda: F.scaled_dot_product_attention(q, k, v))
            print(f"SDPA {name:<28} {be.name:<16} fwd {ms:7.3f} ms {fl / ms * 1e-9:6.1f} TFLOP/s", flush=True)
        except Exception as e:
            print(f"SDPA {name:<28} {be.name:<16} failed: {type(e).__name__}: {str(e)[:120]}", flush=True)
EOF
  grep "^SDPA" "$OUT/sdpa.log" | tee -a "$S"
  if [ "${SDPA_FULL:-0}" = 1 ] && [ -f sdpa_baseline.py ]; then
    PYTHONUNBUFFERED=1 timeout 90 python3 sdpa_baseline.py 2>&1 | tee -a "$OUT/sdpa.log"
  fi
fi

if [ "${SANITIZE:-1}" = 1 ]; then
  el "compute-sanitizer (small check)"
  { timeout 90 compute-sanitizer --tool memcheck ./fb --small --check-only 2>&1 | tail -4
    timeout 120 compute-sanitizer --tool racecheck ./fb --small --check-only 2>&1 | tail -4; } | tee "$OUT/sanitizer.log"
  grep -E "ERROR SUMMARY|RACECHECK SUMMARY|CHECK" "$OUT/sanitizer.log" | tee -a "$S"
fi
el "done"
echo "==== summary"; cat "$S"
