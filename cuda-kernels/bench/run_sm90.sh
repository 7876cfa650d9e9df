#!/usr/bin/env bash
# One device call for the Hopper wgmma flash attention forward (vf_flash_sm90.cu): build, benchmark against the
# previous sm90 build, the mma.sync kernel and torch SDPA (same call, same GPU), check against the f32 kernel,
# compute-sanitizer memcheck and racecheck on the small check, SASS instruction counts. Run it from a folder holding
# the kernel sources (cuda-kernels/src/main/cuda/*.cu, *.cuh, *.h), flash_sm90_bench.cu, attn_bench_common.cuh and
# this script side by side (plus vf_flash_sm90_prev.cu, the previous vf_flash_sm90.cu, for the "prev sm90" column;
# sdpa_baseline.py for SDPA_FULL=1); logs go to $OUT. Timings run first, alone on the GPU; the checks run afterwards, side by side.
#   PREBUILT=1      use the objects already in ./obj (built elsewhere with the same nvcc and flags: obj/bench.o attn.o
#                   fwd.o rt.o s90.o s90lib.o [s90prev.o] [s90_NAME.o]) instead of compiling; they are linked here
#   VARIANTS="name:flags;..."  also build and time tile variants of vf_flash_sm90.cu (VF_S90_* macros): production
#                   benchmark + small check (names starting with d128 run --d 128)
#   FULLCHECK="name ..."  variants that also get the full check (D 64 cases)
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
  BP=""; [ -f vf_flash_sm90_prev.cu ] && BP="-DVF_BENCH_PREV"
  nvcc $F $A90 $BP -c flash_sm90_bench.cu -o obj/bench.o &
  nvcc $F $A90 -c vf_attention.cu -o obj/attn.o &
  nvcc $F $A90 -c vf_flash.cu -o obj/fwd.o &
  nvcc $F $A90 -c vf_runtime.cu -o obj/rt.o &
  nvcc $F $A90A -Xptxas -v -c vf_flash_sm90.cu -o obj/s90.o 2> obj/ptxas_s90.txt &
  nvcc $F $ALIB -c vf_flash_sm90.cu -o obj/s90lib.o 2> obj/ptxas_lib.txt &
  [ -f vf_flash_sm90_prev.cu ] && nvcc $F $A90A -Dvf_flash_fwd_sm90=vf_flash_fwd_sm90_prev -Dvf_flash_fwd_sm90_workspace=vf_flash_fwd_sm90_workspace_prev -c vf_flash_sm90_prev.cu -o obj/s90prev.o &
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
PREV=""; [ -f obj/s90prev.o ] && PREV=obj/s90prev.o
nvcc $A90 -o fb obj/bench.o obj/s90.o $PREV obj/fwd.o obj/rt.o obj/attn.o || note "link fb failed" &
nvcc $A90 -o fb_lib obj/bench.o obj/s90lib.o $PREV obj/fwd.o obj/rt.o obj/attn.o || note "link fb_lib failed" &
for o in obj/s90_*.o; do [ -f "$o" ] || continue; n=${o#obj/s90_}; n=${n%.o}; nvcc $A90 -o "fb_$n" obj/bench.o "$o" $PREV obj/fwd.o obj/rt.o obj/attn.o & done
wait
el "linked"
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader | tee -a "$S"

cuobjdump -sass obj/s90.o > /tmp/s90.sass 2>/dev/null
note "SASS sm_90a: HGMMA $(grep -c HGMMA /tmp/s90.sass), HMMA $(grep -c 'HMMA' /tmp/s90.sass), LDL $(grep -c 'LDL' /tmp/s90.sass), STL $(grep -c 'STL' /tmp/s90.sass), MUFU.EX2 $(grep -c 'MUFU.EX2' /tmp/s90.sass)"
awk '/Function :.*flash_fwd_sm90I13__nv_bfloat16S1_Li64/{p=1} p&&/Function :/&&!/bfloat16S1_Li64/{p=0} p' /tmp/s90.sass > "$OUT/sass_bf16_bf16out_d64.txt"

el "probe (tiny case, main build and library-arch build)"
timeout 20 ./fb --probe 2>&1 | tail -1 | tee -a "$S"; pr=${PIPESTATUS[0]}
timeout 20 ./fb_lib --probe 2>&1 | tail -1 | sed 's/^/[build.sh archs] /' | tee -a "$S"
if [ "$pr" != 0 ]; then note "probe failed (rc $pr): skipping the rest"; el done; exit 1; fi

el "small check (gate)"
timeout 20 ./fb --check-only --small > /tmp/small.log 2>&1; rs=$?
note "small check rc $rs: $(grep -E '^CHECK' /tmp/small.log) $(grep -c FAIL /tmp/small.log) FAIL lines"
if [ "$rs" != 0 ]; then cp /tmp/small.log "$OUT/check.log"; note "small check failed: skipping the rest"; el done; exit 1; fi

el "benchmark (alone on the GPU)"
timeout 60 ./fb --bench-only 2>&1 | grep -E "BENCH|device" | tee "$OUT/bench.log"
for b in fb_*; do
  [ "$b" = fb_lib ] && continue; [ -x "$b" ] || continue
  case "${b#fb_}" in d128*) timeout 20 "./$b" --bench-only --reps 20 --d 128 2>&1 | grep BENCH | sed "s/^/[${b#fb_}] /" | tee -a "$OUT/bench.log";;
                     *) timeout 20 "./$b" --bench-only --prod 2>&1 | grep BENCH | sed "s/^/[${b#fb_}] /" | tee -a "$OUT/bench.log";; esac
done
grep BENCHP "$OUT/bench.log" | grep -v "^\[" | tee -a "$S"

if [ "${SDPA:-1}" = 1 ]; then
  el "torch SDPA (forward, bf16, strided views of packed projections as in the production shapes)"
  PYTHONUNBUFFERED=1 timeout 60 python3 - <<'EOF' 2>&1 | tee "$OUT/sdpa.log"
import torch, torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel
print("torch", torch.__version__, torch.cuda.get_device_name())
def med(fn, reps=30, inner=10):  # as the harness: inner back-to-back calls between events, per call
    for _ in range(2 * inner): fn()
    torch.cuda.synchronize()
    ts = []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        for _ in range(inner): fn()
        b.record(); b.synchronize(); ts.append(a.elapsed_time(b) / inner)
    ts.sort(); return ts[len(ts) // 2]
H, D = 16, 64
cases = []
for n in (4096, 4640):  # self: q, k, v slices of a packed [1, N, 3, H, D] projection
    p = torch.randn(1, n, 3, H, D, device="cuda", dtype=torch.bfloat16)
    cases.append((f"self 1x{n}", p[:, :, 0].transpose(1, 2), p[:, :, 1].transpose(1, 2), p[:, :, 2].transpose(1, 2)))
for n in (4096, 4640):  # cross: dense q, k and v slices of a packed [1, 1374, 2, H, D] projection
    q = torch.randn(1, n, H, D, device="cuda", dtype=torch.bfloat16).transpose(1, 2)
    kv = torch.randn(1, 1374, 2, H, D, device="cuda", dtype=torch.bfloat16)
    cases.append((f"cross 1x({n}x1374)", q, kv[:, :, 0].transpose(1, 2), kv[:, :, 1].transpose(1, 2)))
for name, q, k, v in cases:
    fl = 4.0 * q.shape[2] * k.shape[2] * H * D
    for be in (SDPBackend.CUDNN_ATTENTION, SDPBackend.FLASH_ATTENTION):
        try:
            with torch.no_grad(), sdpa_kernel(be):
                ms = med(lambda: F.scaled_dot_product_attention(q, k, v))
            print(f"SDPA {name:<22} {be.name:<16} fwd {ms * 1e3:7.1f} us {fl / ms * 1e-9:6.1f} TFLOP/s", flush=True)
        except Exception as e:
            print(f"SDPA {name:<22} {be.name:<16} failed: {type(e).__name__}: {str(e)[:120]}", flush=True)
EOF
  grep "^SDPA" "$OUT/sdpa.log" | tee -a "$S"
  if [ "${SDPA_FULL:-0}" = 1 ] && [ -f sdpa_baseline.py ]; then
    PYTHONUNBUFFERED=1 timeout 90 python3 sdpa_baseline.py 2>&1 | tee -a "$OUT/sdpa.log"
  fi
fi

el "checks (side by side: full check, variants' checks, sanitizers)"
( timeout 100 ./fb --check-only > "$OUT/check.log" 2>&1; echo "full check rc $?" >> "$OUT/check.log" ) &
for b in fb_*; do
  [ "$b" = fb_lib ] && continue; [ -x "$b" ] || continue; n=${b#fb_}
  vd=64; case "$n" in d128*) vd=128;; esac
  full=0; for f in ${FULLCHECK:-}; do [ "$f" = "$n" ] && full=1; done
  if [ $full = 1 ]; then args="--check-only --d $vd"; else args="--check-only --small --d $vd"; fi
  ( timeout 100 "./$b" $args > "/tmp/check_$n.txt" 2>&1; echo "rc $?" >> "/tmp/check_$n.txt" ) &
done
if [ "${SANITIZE:-1}" = 1 ]; then
  ( timeout 90 compute-sanitizer --tool memcheck ./fb --small --check-only > /tmp/memcheck.log 2>&1; echo "memcheck rc $?" >> /tmp/memcheck.log ) &
  ( timeout 100 compute-sanitizer --tool racecheck ./fb --small --check-only > /tmp/racecheck.log 2>&1; echo "racecheck rc $?" >> /tmp/racecheck.log ) &
fi
wait
note "full check: $(grep -E '^CHECK|full check rc' "$OUT/check.log" | tr '\n' ' ') $(grep -c FAIL "$OUT/check.log") FAIL lines"
grep -E "^refusals" "$OUT/check.log" | tee -a "$S"
awk '/err\/bound/{for(i=1;i<=NF;i++){if($i=="err/bound"&&$(i-1)=="out"){o=$(i+1);if(o+0>mo)mo=o+0} if($i=="err/bound"&&$(i-1)=="lse"){l=$(i+1);if(l+0>ml)ml=l+0} if($i=="rms"&&$(i-3)=="out"){r=$(i+1);if(r+0>mr)mr=r+0}}} END{printf "worst out err/bound %.3f, worst lse err/bound %.3f, largest out rel RMS %.2e\n",mo,ml,mr}' "$OUT/check.log" | tee -a "$S"
for f in /tmp/check_*.txt; do [ -f "$f" ] || continue; note "$(basename "$f" .txt): $(grep -E '^CHECK|^rc' "$f" | tr '\n' ' ') $(grep -c FAIL "$f") FAIL lines"; { echo "==== $f"; cat "$f"; } >> "$OUT/checks_variants.log"; done
if [ "${SANITIZE:-1}" = 1 ]; then
  cat /tmp/memcheck.log /tmp/racecheck.log | grep -E "ERROR SUMMARY|RACECHECK SUMMARY|^CHECK|rc [0-9]" > "$OUT/sanitizer.log"
  grep -E "Error|Hazard|race" /tmp/racecheck.log /tmp/memcheck.log | head -20 >> "$OUT/sanitizer.log"
  cat "$OUT/sanitizer.log" | tee -a "$S"
fi
el "done"
echo "==== summary"; cat "$S"
