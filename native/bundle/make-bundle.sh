#!/usr/bin/env bash
# Assembles the self-contained GPU bundle: a jlink'd Java runtime, every runtime jar and three launchers, packed
# as one .tar.gz that the device tool can carry to a machine with no Java or Maven.
#
# usage: make-bundle.sh <dir of runtime jars> <output .tar.xz or .tar.gz> [more jars...]
#   .tar.xz (the default of the Maven profile) is about 34 MiB, .tar.gz about 53 MiB: the device tool carries the
#   bundle together with the working tree (about 20 MiB) in at most 64 MiB, so xz is what fits.
#   env: JAVA_HOME (the JDK 25 to jlink from), VOXFLOW_BUNDLE_MODULES (override the module list)
set -euo pipefail
libs="$(cd "$1" && pwd)"
outfile="$2"
shift 2
extra=("$@")
here="$(cd "$(dirname "$0")" && pwd)"
tag="[voxflow-bundle]"
jdk="${JAVA_HOME:?JAVA_HOME must name a JDK 25}"
# java.desktop: ImageIO writes the PNG renders; java.logging: JUnit's own logging; management: JMH;
# jdk.zipfs: the JUnit console scans the tests jar through the zip file system.
modules="${VOXFLOW_BUNDLE_MODULES:-java.base,jdk.unsupported,java.desktop,java.logging,java.management,jdk.management,jdk.zipfs}"

mkdir -p "$(dirname "$outfile")"
work="$(cd "$(dirname "$outfile")" && pwd)/voxflow-bundle.work"
root="$work/voxflow-bundle"
rm -rf "$work"
mkdir -p "$root/lib" "$root/bin"

echo "$tag jlink ($modules)"
# No jlink compression: the tarball's gzip compresses the raw module image better than zip-in-gzip.
"$jdk/bin/jlink" --add-modules "$modules" --strip-debug --no-man-pages --no-header-files --compress zip-0 \
    --output "$root/runtime"
cp "$libs"/*.jar "$root/lib/"
if [ ${#extra[@]} -gt 0 ]; then cp "${extra[@]}" "$root/lib/"; fi
# The bundle must travel with the working tree in one 64 MiB carry, so drop what it never loads:
#  - the presets' JNI glue for CUDA libraries other than cudart, cuBLAS and NCCL (NPP, cuFFT, cuDNN, ...; NCCL's
#    170 KB of glue stays for multi-GPU training, bin/voxflow-launch);
#  - OpenBLAS's "full" JNI variant (the engine loads openblas, which needs openblas_nolapack, not openblas_full);
#  - the reference fixtures inside the tests jar: they sit in the repository (tests/src/test/resources/trellis-ref),
#    which travels too, and bin/voxflow-tests points voxflow.reference.dir there;
#  - symbol tables of the runtime's native libraries (strip --strip-unneeded keeps the dynamic symbols).
trim() { # jar, grep -E pattern of entries to delete
    local names
    names=$(unzip -Z1 "$1" | grep -E "$2" || true)
    if [ -n "$names" ]; then echo "$names" | tr '\n' '\0' | xargs -0 zip -q -d "$1"; fi
}
for j in "$root"/lib/cuda-*-linux-x86_64.jar; do
    [ -f "$j" ] && trim "$j" 'linux-x86_64/libjni(cufft|cufftw|cusparse|cusolver|curand|cudnn|nvrtc|nvjpeg|nvcomp|nvml|nvblas|cupti|cufile|npp)[^/]*\.so$'
done
for j in "$root"/lib/openblas-*-linux-x86_64.jar; do
    [ -f "$j" ] && trim "$j" 'linux-x86_64/libjniopenblas_full\.so$'
done
for j in "$root"/lib/voxflow-tests-*-tests.jar; do
    [ -f "$j" ] && [ -z "${VOXFLOW_BUNDLE_FIXTURES:-}" ] && trim "$j" '^trellis-ref/.+'
done
# VOXFLOW_BUNDLE_NO_DEFAULT_MODEL=1 drops the shipped default model (12 MB) from the engine jar, for a bundle carried
# beside the repository, which holds the same files (java/src/main/resources/org/voxflow/default-model): pass --model.
for j in "$root"/lib/voxflow-engine-*.jar; do
    [ -f "$j" ] && [ -n "${VOXFLOW_BUNDLE_NO_DEFAULT_MODEL:-}" ] && trim "$j" '^org/voxflow/default-model/.+'
done
# Jars are re-stored uncompressed: the tarball's xz then compresses their native libraries and classes about twice
# as well as the jars' own deflate (OpenBLAS: 16 MB as a jar, 7.6 MB stored and xz'd). Class loading is unaffected.
if [[ "$outfile" == *.tar.xz ]] && command -v zip >/dev/null; then
    for j in "$root"/lib/*.jar; do
        x="$work/x"; rm -rf "$x"; mkdir -p "$x"
        (cd "$x" && unzip -q "$j" && rm -f "$j" && zip -q -0 -r -X "$j" .)
    done
    rm -rf "$work/x"
fi
if command -v strip >/dev/null; then find "$root/runtime" -name '*.so' -exec strip --strip-unneeded {} \; ; fi
cp "$here"/bin/* "$root/bin/"
chmod +x "$root/bin/"*
(cd "$root/lib" && ls) > "$root/lib/MANIFEST.txt"

kernels=$(unzip -Z1 "$root"/lib/voxflow-cuda-kernels-*.jar 2>/dev/null || true)
if [[ "$kernels" != *libvoxflow_kernels.so* ]]; then
    echo "$tag WARNING: libvoxflow_kernels.so is not in the bundle (built without nvcc?): the CUDA backend will be unavailable"
fi

mkdir -p "$(dirname "$outfile")"
case "$outfile" in
    *.tar.xz) tar -C "$work" -cf - voxflow-bundle | xz -6 -T0 > "$outfile" ;;
    *) tar -C "$work" -cf - voxflow-bundle | gzip -9 > "$outfile" ;;
esac
rm -rf "$work"
size=$(stat -c %s "$outfile")
echo "$tag wrote $outfile ($((size / 1024 / 1024)) MiB)"
if [ "$size" -gt $((40 * 1024 * 1024)) ]; then
    echo "$tag WARNING: over 40 MiB: with the working tree it may not fit the device tool's 64 MiB carry"
fi
