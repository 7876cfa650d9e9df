#!/usr/bin/env bash
# Generates and compiles the JNI glue of org.voxflow.cuda.VoxKernels with JavaCPP's Builder, next to the class
# in <classes>/org/voxflow/cuda/linux-x86_64/ (where JavaCPP's Loader looks), linked against the
# libvoxflow_kernels.so that the cuda-kernels module built. Skipped, with the reason, when that library is absent
# (no nvcc there): the Java classes still build, and the CUDA backend then reports itself unavailable.
#
# usage: build-jni.sh <classes dir> <class path> <kernels classes dir>
set -euo pipefail
classes="$1"; cp="$2"; kclasses="$3"
here="$(cd "$(dirname "$0")" && pwd)"
tag="[voxflow-native]"
plat="linux-x86_64"
klib="$kclasses/org/voxflow/cuda/$plat"
out="$classes/org/voxflow/cuda/$plat"
include="$here/../cuda-kernels/src/main/cuda"

if [ -n "${VOXFLOW_SKIP_CUDA:-}" ]; then echo "$tag VOXFLOW_SKIP_CUDA is set: skipping the JNI build"; exit 0; fi
if [ ! -f "$klib/libvoxflow_kernels.so" ]; then
    echo "$tag $klib/libvoxflow_kernels.so is missing (no nvcc?): skipping the JNI build; the CUDA backend will be unavailable"
    exit 0
fi
if [ -f "$out/libjniVoxKernels.so" ] && [ -z "$(find "$classes/org/voxflow/cuda/VoxKernels.class" "$klib/libvoxflow_kernels.so" "$include" "$0" -newer "$out/libjniVoxKernels.so" -print -quit)" ]; then
    echo "$tag $out/libjniVoxKernels.so is up to date"; exit 0
fi
java="${JAVA_HOME:-}/bin/java"; [ -x "$java" ] || java=java
mkdir -p "$out"
"$java" -cp "$cp" org.bytedeco.javacpp.tools.Builder -classpath "$classes" -d "$out" \
    -Dplatform.includepath="$include" -Dplatform.linkpath="$klib" org.voxflow.cuda.VoxKernels
echo "$tag built $(ls "$out")"
