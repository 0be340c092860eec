#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The one main-job command: install dependencies, get MNIST into data/mnist, build (Release, the
# same build/ as scripts/test.sh), train the Keras-MNIST reference network (784-300-100-10,
# RMSprop, 20 epochs) and save the model under outputs/model/.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
build="$root/build"

bash scripts/setup_deps.sh
bash scripts/fetch_mnist.sh --dest data/mnist
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build "$build" -j "$(nproc)" --target keras_mnist

"$build/examples/keras_mnist" --data-folder data/mnist --first-layer-neurons 300 \
  --second-layer-neurons 100 --batch-size 50 --learning-rate 0.001 --output-dir outputs

for f in outputs/model/model.json outputs/model/weights.npz; do
  [[ -s "$f" ]] || { echo "main_job: $f was not written" >&2; exit 1; }
done
echo "main_job: model written to $root/outputs/model/model.json and $root/outputs/model/weights.npz"
