#!/usr/bin/env bash
# One device call: build flash_bench, check it against the f32 kernels, benchmark it and torch SDPA in the same
# call, run compute-sanitizer on a small case and ncu on one forward and one backward kernel. Run it from a folder
# holding the kernel sources (cuda-kernels/src/main/cuda/*.cu, *.cuh, *.h), flash_bench.cu, attn_bench_common.cuh and sdpa_baseline.py
# side by side; logs go to $OUT. VARIANTS=1 also builds and times the forward tile variants (VF_F64_* / VF_F128_*).
set -u
export PATH=/usr/local/cuda/bin:$PATH
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
F="-O3 -std=c++17 -gencode arch=compute_90,code=sm_90 -lineinfo -I."
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
el "compile"
nvcc $F -c flash_bench.cu -o bench.o &
nvcc $F -c vf_attention.cu -o attn.o &
nvcc $F -Xptxas -v -c vf_flash_bwd.cu -o bwd.o 2> "$OUT/ptxas_bwd.txt" &
nvcc $F -Xptxas -v -c vf_flash.cu -o fwd0.o 2> "$OUT/ptxas_fwd.txt" &
if [ "${VARIANTS:-0}" = 1 ]; then
  nvcc $F -c vf_flash.cu -o fwd1.o -DVF_F64_MT=1 -DVF_F64_NW=4 -DVF_F64_BK=64 -DVF_F128_MT=2 -DVF_F128_NW=4 -DVF_F128_BK=32 -DVF_F128_Q=false &
  nvcc $F -c vf_flash.cu -o fwd2.o -DVF_F64_MT=2 -DVF_F64_NW=8 -DVF_F64_BK=64 -DVF_F128_MT=1 -DVF_F128_NW=4 -DVF_F128_BK=64 -DVF_F128_Q=true &
  nvcc $F -c vf_flash.cu -o fwd3.o -DVF_F64_MT=1 -DVF_F64_NW=8 -DVF_F64_BK=64 -DVF_F128_MT=1 -DVF_F128_NW=8 -DVF_F128_BK=64 -DVF_F128_Q=true &
fi
wait
for o in fwd*.o; do i=${o#fwd}; i=${i%.o}; nvcc $F -o fb$i bench.o attn.o bwd.o $o || echo "link $i failed"; done
el "built"; grep -E "spill|Used [0-9]+ registers, used 1" "$OUT/ptxas_fwd.txt" "$OUT/ptxas_bwd.txt" | sort | uniq -c
el "check + bench"
timeout 120 ./fb0 2>&1 | tee "$OUT/bench.log"
el "torch SDPA"
PYTHONUNBUFFERED=1 timeout 60 python3 sdpa_baseline.py 2>&1 | tee "$OUT/sdpa.log"
for i in 1 2 3; do [ -x fb$i ] && { el "variant $i (fwd only)"; timeout 20 ./fb$i --bench-only --no-bwd 2>&1 | grep BENCH | tee "$OUT/bench$i.log"; }; done
if [ "${SANITIZE:-1}" = 1 ]; then
  el "compute-sanitizer"
  timeout 30 compute-sanitizer --tool memcheck ./fb0 --small --check-only 2>&1 | tail -3 | tee "$OUT/memcheck.log"
  timeout 40 compute-sanitizer --tool racecheck ./fb0 --small --check-only 2>&1 | tail -3 | tee "$OUT/racecheck.log"
fi
el "ncu"
for k in flash_fwd flash_bwd; do
  timeout 60 ncu --section SpeedOfLight --section Occupancy --section LaunchStats --section WarpStateStats \
      --section ComputeWorkloadAnalysis -k regex:"$k\b" -c 1 ./fb0 --bench-only > "$OUT/ncu_$k.txt" 2>&1
  grep -E "^  void|Duration|Compute \(SM\) Throughput|Registers Per|Achieved Occupancy|Warp Cycles Per Issued|Issue Slots Busy|highest-utilized" "$OUT/ncu_$k.txt" | head -12
done
el "done"
