#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The one main-job command: install dependencies, get MNIST into data/mnist, build (Release, the
# same build/ as scripts/test.sh), then the tutorial end to end (examples/submit_keras_mnist.cpp):
# the workspace in .ctml/, mnist-dataset registered from the four files (a new version only when
# they changed), the local compute target, the Keras-MNIST trainer (784-300-100-10, RMSprop,
# 20 epochs) submitted as a tracked run with its output streamed, keras-mnist registered from the
# run's outputs/model and downloaded to outputs/model/. Ends by printing the run id, its final test
# accuracy and the model id (keras-mnist:1, then keras-mnist:2 on the next run).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
build="$root/build"
py=/usr/bin/python3

bash scripts/setup_deps.sh
bash scripts/fetch_mnist.sh --dest data/mnist
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build "$build" -j "$(nproc)" --target keras_mnist submit_keras_mnist ctml_cli
ctml="$build/tools/ctml"

# The workspace that the submitter, the trainer and ctml all find from here (.ctml/config.json).
[[ -f .ctml/config.json ]] || "$ctml" workspace init .ctml --name ctml-main > /dev/null

log="$build/main_job.log"
rm -rf outputs/model
"$build/examples/submit_keras_mnist" --mnist data/mnist --compute local --type local \
  --epochs 20 --download-to outputs/model | tee "$log"

run_id="$(sed -n 's/^Run \([^ ]*\) submitted$/\1/p' "$log")"
model_id="$(sed -n 's/^Registered model \(.*\)$/\1/p' "$log")"
[[ -n "$run_id" && -n "$model_id" ]] || { echo "main_job: no run id or model id in $log" >&2; exit 1; }
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
for f in outputs/model/model.json outputs/model/weights.npz; do
  [[ -s "$f" ]] || { echo "main_job: $f was not written" >&2; exit 1; }
done

echo "main_job: run $run_id (experiment keras-mnist, workspace $root/.ctml)"
echo "main_job: final test accuracy $accuracy"
echo "main_job: model $model_id (files in $root/outputs/model)"
