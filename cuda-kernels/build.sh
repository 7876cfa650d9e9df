#!/usr/bin/env bash
# Builds libvoxflow_kernels.so with nvcc into <classes dir>/org/voxflow/cuda/linux-x86_64/, the resource folder
# JavaCPP's Loader searches for the bridge class org.voxflow.cuda.VoxKernels, so the library rides in this
# module's jar. Where nvcc is absent (CI, laptops) it prints why and succeeds: nothing else depends on the GPU.
#
# usage: build.sh <classes dir>       env: NVCC (compiler), VOXFLOW_SKIP_CUDA=1 (skip), VOXFLOW_CUDA_ARCHS
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
src="$here/src/main/cuda"
out="$1/org/voxflow/cuda/linux-x86_64"
obj="$here/target/cuda-obj"
lib="$out/libvoxflow_kernels.so"
tag="[voxflow-cuda-kernels]"

if [ -n "${VOXFLOW_SKIP_CUDA:-}" ]; then echo "$tag VOXFLOW_SKIP_CUDA is set: skipping the CUDA kernels"; exit 0; fi
nvcc="${NVCC:-$(command -v nvcc || true)}"
if [ -z "$nvcc" ] && [ -x /usr/local/cuda/bin/nvcc ]; then nvcc=/usr/local/cuda/bin/nvcc; fi
if [ -z "$nvcc" ]; then
    echo "$tag nvcc not found (PATH, NVCC, /usr/local/cuda/bin): skipping the CUDA kernels; the engine and CPU tests do not need them"
    exit 0
fi
if [ "$(uname -m)" != "x86_64" ]; then echo "$tag not an x86-64 host: skipping the CUDA kernels"; exit 0; fi

# sm_80 and sm_90 machine code plus compute_90 PTX for newer GPUs (the driver JIT-compiles it).
archs="${VOXFLOW_CUDA_ARCHS:--gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 -gencode arch=compute_90,code=compute_90}"
flags="-std=c++17 -O3 -Xcompiler -fPIC -cudart shared --threads 0 $archs"
# vf_flash_sm90.cu (wgmma flash attention) also carries sm_90a machine code (nvcc 12+); without it, its launcher
# declines and the mma.sync kernel runs.
sm90a=""
release="$("$nvcc" --version | sed -n 's/.*release \([0-9]*\)\..*/\1/p' | head -1)"
if [ "${release:-0}" -ge 12 ]; then sm90a="-gencode arch=compute_90a,code=sm_90a"; fi

mkdir -p "$out" "$obj"
# Up to date? (the library is newer than every source and this script)
if [ -f "$lib" ] && [ -z "$(find "$src" "$0" -newer "$lib" -print -quit)" ]; then
    echo "$tag $lib is up to date"; exit 0
fi
echo "$tag compiling with $nvcc ($("$nvcc" --version | tail -1))"
pids=()
for cu in "$src"/*.cu; do
    o="$obj/$(basename "${cu%.cu}").o"
    extra=""
    if [ "$(basename "$cu")" = vf_flash_sm90.cu ]; then extra="$sm90a"; fi
    "$nvcc" $flags $extra -c "$cu" -o "$o" & pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
# The soname lets the JNI library's DT_NEEDED entry match this library once JavaCPP has loaded it from its cache.
"$nvcc" -shared -cudart shared $archs -Xlinker -soname=libvoxflow_kernels.so -o "$lib" "$obj"/*.o
echo "$tag built $lib ($(du -h "$lib" | cut -f1))"
