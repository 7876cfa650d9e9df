#!/usr/bin/env bash
# One command for the GPU host: unpacks the bundle, records nvidia-smi, runs the GPU test suite, the PyTorch baselines
# and voxflow's JMH GPU benchmarks, and leaves logs and JSON in $OUT (7 files, no folders):
#   nvidia-smi.txt  tests.log  torch.log  torch.json  bench.log  bench.json  table.txt
#
# Build the bundle first (on the development machine):  mvn -B install -DskipTests -Pbundle
# then, from the repository root on the GPU host (the device tool: carry .bundle):  bash benchmarks/run-gpu-bench.sh
#
# Environment (all optional):
#   OUT                    where results go (default out/gpu-bench, git-ignored)
#   VOXFLOW_BUNDLE         the bundle tarball (default .bundle/voxflow-bundle.tar.xz)
#   VOXFLOW_BENCH_PHASES   comma list of tests,torch,bench,memory,profile (default tests,torch,bench)
#                          memory: MdtStepMemory (peak GPU memory of a TRELLIS-large MDT-dist step, batch 8)
#                          profile: Stage1Profile (eager vs CUDA graph), and one forward under ncu (GPU time by kernel)
#   VOXFLOW_BENCH_BUDGET   seconds the whole script may take (default 570); each phase gets at most what is left
#   VOXFLOW_TESTS_ARGS     extra arguments for bin/voxflow-tests (e.g. --select-class org.voxflow.cuda.CudaAutocastParityTest)
#   VOXFLOW_TORCH_ARGS     extra arguments for torch_baselines.py (e.g. --only gemm,attention)
#   VOXFLOW_BENCH_ARGS     extra arguments for GpuBenchReport (e.g. --only stage1,sampling -p precision=autocast)
set -uo pipefail
start=$(date +%s)
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
OUT="${OUT:-$root/out/gpu-bench}"
mkdir -p "$OUT"
budget="${VOXFLOW_BENCH_BUDGET:-570}"
phases=",${VOXFLOW_BENCH_PHASES:-tests,torch,bench},"
bundle="${VOXFLOW_BUNDLE:-$root/.bundle/voxflow-bundle.tar.xz}"

left() { echo $(( budget - ($(date +%s) - start) )); }
# phase_limit WANTED RESERVE: the seconds a phase may run, leaving RESERVE for the phases after it
# (to stderr: a phase cut below what it wants may time out, and then its summary lines are missing)
phase_limit() {
    local l=$(( $(left) - $2 )); [ "$l" -gt "$1" ] && l=$1; [ "$l" -lt 10 ] && l=10
    [ "$l" -lt "$1" ] && echo "[run-gpu-bench] note: the next phase gets ${l}s of the ${1}s it wants (VOXFLOW_BENCH_BUDGET=$budget)" >&2
    echo "$l"
}
say() { echo "[run-gpu-bench $(( $(date +%s) - start ))s] $*"; }

say "unpacking $bundle"
vb=/tmp/voxflow-bundle-run
rm -rf "$vb" && mkdir -p "$vb"
case "$bundle" in
    *.tar.xz) tar xJf "$bundle" -C "$vb" ;;
    *) tar xzf "$bundle" -C "$vb" ;;
esac || { say "cannot unpack $bundle"; exit 2; }
bin="$vb/voxflow-bundle/bin"

{ nvidia-smi; echo; nvidia-smi --query-gpu=name,memory.total,clocks.max.sm,clocks.max.mem,power.limit,driver_version --format=csv; } \
    > "$OUT/nvidia-smi.txt" 2>&1
head -20 "$OUT/nvidia-smi.txt"

if [[ "$phases" == *,tests,* ]]; then
    # leave the PyTorch and JMH phases their time when they were asked for (170 s and 230 s at least)
    rest=0; [[ "$phases" == *,torch,* ]] && rest=$((rest + 170)); [[ "$phases" == *,bench,* ]] && rest=$((rest + 230))
    lim=$(phase_limit 150 $rest)
    say "GPU test suite (limit ${lim}s)"
    # shellcheck disable=SC2086
    timeout -k 10 "$lim" "$bin/voxflow-tests" --disable-ansi-colors ${VOXFLOW_TESTS_ARGS:-} > "$OUT/tests.log" 2>&1
    say "tests exit $?"
    grep -E "autocast|reference case|tests (successful|failed|aborted|skipped)|containers failed|MethodSource|=>" "$OUT/tests.log" | head -80
fi

if [[ "$phases" == *,torch,* ]]; then
    lim=$(phase_limit 170 300)
    say "PyTorch baselines (limit ${lim}s)"
    # shellcheck disable=SC2086
    PYTHONUNBUFFERED=1 timeout -k 10 "$lim" python3 benchmarks/python/torch_baselines.py --out "$OUT/torch.json" \
        --budget $(( lim - 25 )) ${VOXFLOW_TORCH_ARGS:-} > "$OUT/torch.log" 2>&1
    say "torch exit $?"
    grep -E "^\[torch" "$OUT/torch.log" | tail -40
fi

if [[ "$phases" == *,bench,* ]]; then
    rest=0; [[ "$phases" == *,memory,* ]] && rest=$((rest + 80)); [[ "$phases" == *,profile,* ]] && rest=$((rest + 70))
    lim=$(phase_limit 400 $rest)
    say "voxflow JMH benchmarks (limit ${lim}s)"
    # shellcheck disable=SC2086
    timeout -k 10 "$lim" "$bin/voxflow-run" org.voxflow.bench.gpu.GpuBenchReport --torch "$OUT/torch.json" \
        --json "$OUT/bench.json" --table "$OUT/table.txt" ${VOXFLOW_BENCH_ARGS:-} > "$OUT/bench.log" 2>&1
    say "bench exit $?"
    grep -E "^\[voxflow\]|^\[report\]|Exception" "$OUT/bench.log" | tail -60
    if [ -s "$OUT/table.txt" ]; then cat "$OUT/table.txt"; else say "no table (see bench.log)"; fi
fi
if [[ "$phases" == *,memory,* ]]; then
    rest=0; [[ "$phases" == *,profile,* ]] && rest=70
    lim=$(phase_limit 240 $rest)
    say "MDT-dist step memory (limit ${lim}s)"
    # shellcheck disable=SC2086
    timeout -k 10 "$lim" "$bin/voxflow-run" org.voxflow.bench.gpu.MdtStepMemory ${VOXFLOW_MEMORY_ARGS:-} > "$OUT/memory.log" 2>&1
    say "memory exit $?"
    grep -E "^\[mdt-memory\]|Exception" "$OUT/memory.log" | tail -20
fi

if [[ "$phases" == *,profile,* ]]; then
    lim=$(phase_limit 150 0)
    ncu="$(command -v ncu || find /opt/nvidia/nsight-compute /usr/local/cuda/bin -maxdepth 3 -name ncu -type f 2>/dev/null | head -1)"
    if [ -n "$ncu" ]; then
        # one eager forward between cudaProfilerStart/Stop, one metric per kernel: a GPU-time breakdown by kernel
        say "ncu breakdown of one stage-1 forward (limit ${lim}s)"
        timeout -k 10 $((lim - 50)) "$ncu" --profile-from-start off --metrics gpu__time_duration.sum --csv --print-kernel-base function \
            "$bin/voxflow-run" org.voxflow.bench.gpu.Stage1Profile 1 --profile-one > /tmp/voxflow-ncu.csv 2> "$OUT/profile.log"
        say "ncu exit $?"
        python3 benchmarks/python/ncu_summary.py /tmp/voxflow-ncu.csv 30 | tee -a "$OUT/profile.log"
    fi
    timeout -k 10 60 "$bin/voxflow-run" org.voxflow.bench.gpu.Stage1Profile 10 >> "$OUT/profile.log" 2>&1
    grep -E "^\[profile\]|Exception" "$OUT/profile.log"
fi
say "done"
