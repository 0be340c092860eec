#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The one main-job command: install dependencies, get MNIST into data/mnist, build (Release, the
# same build/ as scripts/test.sh), train the Keras-MNIST reference network (784-300-100-10,
# RMSprop, 20 epochs) as a tracked run of the workspace in .ctml/, register its outputs/model as
# the next version of keras-mnist, and copy that version to outputs/model/. Ends by printing the
# run id, its final test accuracy and the model id (keras-mnist:1, then :2 on the next run).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
build="$root/build"
py=/usr/bin/python3

bash scripts/setup_deps.sh
bash scripts/fetch_mnist.sh --dest data/mnist
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build "$build" -j "$(nproc)" --target keras_mnist ctml_cli
ctml="$build/tools/ctml"

# The workspace the trainer and ctml both find from here (.ctml/config.json).
[[ -f .ctml/config.json ]] || "$ctml" workspace init .ctml --name ctml-main > /dev/null
run_ids() {
  "$ctml" run list --experiment keras-mnist --json |
    "$py" -c 'import json, sys; print("\n".join(r["id"] for r in json.load(sys.stdin)))'
}
before="$(run_ids)"

"$build/examples/keras_mnist" --data-folder data/mnist --first-layer-neurons 300 \
  --second-layer-neurons 100 --batch-size 50 --learning-rate 0.001

# The run this job made: the one id that was not there before.
run_id="$(comm -13 <(sort <<< "$before") <(run_ids | sort))"
[[ -n "$run_id" && "$run_id" != *$'\n'* ]] || { echo "main_job: expected one new keras-mnist run, found: '$run_id'" >&2; exit 1; }
"$ctml" run show "$run_id" --json > "$build/main_job_run.json"
read -r state accuracy points < <("$py" - "$build/main_job_run.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
m = d["metrics"]
print(d["state"], m["Final test accuracy"][-1]["value"] if "Final test accuracy" in m else "none",
      len(m.get("Accuracy", [])))
PY
)
[[ "$state" == Completed ]] || { echo "main_job: run $run_id ended $state" >&2; exit 1; }
[[ "$points" == 20 ]] || { echo "main_job: run $run_id has $points Accuracy points, expected 20" >&2; exit 1; }

model_id="$("$ctml" model register keras-mnist --run "$run_id" --path outputs/model \
  --description "Keras MLP 784-300-100-10 on MNIST (main job)")"
rm -rf outputs/model
"$ctml" model download "$model_id" --to outputs/model > /dev/null
for f in outputs/model/model.json outputs/model/weights.npz; do
  [[ -s "$f" ]] || { echo "main_job: $f was not written" >&2; exit 1; }
done

echo "main_job: run $run_id (experiment keras-mnist, workspace $root/.ctml)"
echo "main_job: final test accuracy $accuracy"
echo "main_job: model $model_id (files in $root/outputs/model)"
