#!/usr/bin/env bash
# The Chainer trainer end to end on real MNIST for one epoch: it learns (>= 90% after one epoch),
# writes model.npz in Chainer's layout, numpy reads it, and the reloaded model scores the same.
set -euo pipefail
bin="$CTML_BUILD_DIR/examples/chainer_mnist"
data="${CTML_MNIST_DIR:?}"
[ -d "$data" ] || { echo "MNIST not found at $data: skipped"; exit 77; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

"$bin" --data-folder "$data" --epochs 1 --batchsize 128 --output_dir "$out" | tee "$out/train.log"
grep -q "^Batch size: 128$" "$out/train.log"
acc=$(sed -n 's/^Final test accuracy: //p' "$out/train.log")
awk -v a="$acc" 'BEGIN { exit !(a >= 0.90) }' || { echo "FAIL: accuracy $acc < 0.90"; exit 1; }
"${CTML_PYTHON:-/usr/bin/python3}" - "$out/model.npz" <<'PY'
import sys
import numpy as np
z = np.load(sys.argv[1])
shapes = {k: z[k].shape for k in z.files}
print(shapes)
assert shapes == {"predictor/l1/W": (100, 784), "predictor/l1/b": (100,),
                  "predictor/l2/W": (100, 100), "predictor/l2/b": (100,),
                  "predictor/l3/W": (10, 100), "predictor/l3/b": (10,)}, shapes
assert all(z[k].dtype == np.float32 for k in z.files)
PY
"$bin" --data-folder "$data" --evaluate "$out/model.npz" | tee "$out/eval.log"
reloaded=$(sed -n 's/^Test accuracy: //p' "$out/eval.log")
[ "$reloaded" = "$acc" ] || { echo "FAIL: reloaded model gives $reloaded, trained gave $acc"; exit 1; }
echo "PASS"
