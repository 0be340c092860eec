#!/usr/bin/env bash
# The Keras trainer end to end on real MNIST: one epoch reaches >= 95% test accuracy, the saved
# model reloads with the same accuracy, and numpy's forward pass over weights.npz predicts what
# ctml predicts on 1,000 test images.
set -euo pipefail
bin="$CTML_BUILD_DIR/examples/keras_mnist"
data="${CTML_MNIST_DIR:?}"
[ -d "$data" ] || { echo "MNIST not found at $data: skipped"; exit 77; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

"$bin" --data-folder "$data" --first-layer-neurons 300 --second-layer-neurons 100 \
       --epochs 1 --output-dir "$out" | tee "$out/train.log"
acc=$(sed -n 's/^Final test accuracy: //p' "$out/train.log")
echo "final test accuracy after 1 epoch: $acc"
awk -v a="$acc" 'BEGIN { exit !(a >= 0.95) }' || { echo "FAIL: accuracy $acc < 0.95"; exit 1; }
test -s "$out/model/model.json" && test -s "$out/model/weights.npz"

"$bin" --data-folder "$data" --evaluate "$out/model" --save-predictions "$out/pred.npy" \
    | tee "$out/eval.log"
reloaded=$(sed -n 's/^Test accuracy: //p' "$out/eval.log")
[ "$reloaded" = "$acc" ] || { echo "FAIL: reloaded model gives $reloaded, trained gave $acc"; exit 1; }

"${CTML_PYTHON:-/usr/bin/python3}" "$CTML_SOURCE_DIR/tests/examples/numpy_forward.py" \
    "$out/model" "$data" "$out/pred.npy" 1000

# A model whose architecture differs from the type is refused, naming the difference.
sed -i 's/"units": 300/"units": 200/' "$out/model/model.json"
if "$bin" --data-folder "$data" --first-layer-neurons 300 --evaluate "$out/model" 2>"$out/err.log"; then
    echo "FAIL: a model.json with 200 units loaded against 300-unit weights"; exit 1
fi
cat "$out/err.log"
# The architecture is checked before any weight is read: the next layer still declares 300
# inputs.
grep -qF 'model.json: field "architecture.config.layers[2].config.input_dim": layer 2 declares 300 inputs, the layer before it has 200 outputs' "$out/err.log"
echo "PASS"
