#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# examples/submit_keras_mnist end to end on the local target, one epoch, twice: the dataset keeps
# its version (same content), the model gets versions 1 then 2, the downloaded files are
# byte-identical to the run's outputs/model.
set -euo pipefail
build=${CTML_BUILD_DIR:?}
ex=$build/examples/submit_keras_mnist
[[ -x "$ex" && -x "$build/examples/keras_mnist" ]] || { echo "missing $ex or keras_mnist"; exit 1; }
tmp=$(mktemp -d /tmp/ctml_example.XXXXXX)
trap 'pkill -9 -f "ctml-supervise $tmp/" 2>/dev/null || true; rm -rf "$tmp"' EXIT
cd "$tmp"
fail() { echo "FAILED: $*"; exit 1; }
for round in 1 2; do
  timeout 600 "$ex" --mnist "${CTML_MNIST_DIR:?}" --epochs 1 --workspace "$tmp/ws" \
    --download-to "$tmp/model$round" | tee "out$round.txt"
  grep -q "^Dataset mnist-dataset:1$" "out$round.txt" || fail "round $round: dataset version 1"
  grep -q "^Registered model keras-mnist:$round$" "out$round.txt" || fail "round $round: model version $round"
  grep -q "Epoch 1/1" "out$round.txt" || fail "round $round: the epoch line was streamed"
  run=$(sed -n 's/^Run \(.*\) submitted$/\1/p' "out$round.txt")
  for f in model.json weights.npz; do
    cmp "$tmp/ws/runs/$run/outputs/model/$f" "$tmp/model$round/$f" || fail "download of $f differs"
  done
done
echo "example checks passed"
