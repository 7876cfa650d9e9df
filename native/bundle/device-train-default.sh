#!/usr/bin/env bash
# Device-tool run that trained the shipped default pipeline on one GPU: unpacks the bundle (carried in .bundle/),
# runs bin/voxflow-train-default with --device cuda, previews a few families, and leaves a tarball of the pipeline
# directory, the logs and the previews in $OUT. Usage (from the repository root on the device):
#   bash native/bundle/device-train-default.sh
set -uo pipefail
out=${OUT:-/tmp/out}
mkdir -p /tmp/vb "$out" && tar xJf .bundle/voxflow-bundle.tar.xz -C /tmp/vb || exit 1
b=/tmp/vb/voxflow-bundle/bin
nvidia-smi --query-gpu=name,driver_version --format=csv > "$out/gpu.txt" 2>&1
dir=/tmp/default-model
finish() {
  mkdir -p /tmp/pack && cp -r "$dir" /tmp/pack/model 2>/dev/null
  rm -rf /tmp/pack/model/*/checkpoints
  tar -C /tmp/pack -czf "$out/default-model.tar.gz" . 2>/dev/null
}
trap finish EXIT
start=$(date +%s)
timeout "${VOXFLOW_TRAIN_BUDGET:-420}" "$b/voxflow-train-default" "$dir" cuda > "$out/train.log" 2>&1
echo "training exit $? after $(( $(date +%s) - start )) s" >> "$out/train.log"
mkdir -p /tmp/pack/preview
for f in chair table mug airplane torus; do
  for s in 1 25; do
    timeout 60 "$b/voxflow" generate --model "$dir" --category "$f" --steps "$s" --seed 1 --device cuda --out /tmp/pack/preview \
      >> "$out/generate.log" 2>&1
  done
done
