#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A workspace whose config.json names an MLflow server: a trainer run by hand reports through
# its event file only, its forwarder sends everything, and MLflow's own Python client reads it:
# get_run (FINISHED, params, tags), get_metric_history of Loss and Accuracy (every step),
# download_artifacts of outputs/model byte-identical, and get_model_version_by_alias after
# `ctml model register` + `ctml model alias`, whose files download byte-identical too.
source "$CTML_SOURCE_DIR/tests/mlflow/lib.sh"
mlflow_require
mlflow_start srv

ws="$TMP/ws"
new_workspace "$ws" "$srv_url"
cd "$ws"
export CTML_MLFLOW_FINAL_RETRY_S=30
keras="$CTML_BUILD_DIR/examples/keras_mnist"
if [[ -x "$keras" ]] && grep -q "keras_report\|get_context" "$CTML_SOURCE_DIR/examples/keras_mnist.cpp" &&
  [[ -n "${CTML_MNIST_DIR:-}" && -d "${CTML_MNIST_DIR}" ]]; then
  echo "trainer: keras_mnist, one epoch"
  "$keras" --data-folder "$CTML_MNIST_DIR" --epochs 1 >"$TMP/train.out" 2>&1 || { cat "$TMP/train.out"; fail "keras_mnist failed"; }
  epochs=1
  experiment="$(ctml run list --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)[0]["experiment"])')"
else
  echo "trainer: tests/mlflow/mlflow_driver.cpp (keras_mnist does not report into a run in this tree)"
  "$CTML_BUILD_DIR/tests/mlflow/ctml_mlflow_driver" --epochs 3 --experiment keras-mlflow >"$TMP/train.out"
  epochs=3
  experiment=keras-mlflow
fi
run_id="$(ctml run list --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')"
[[ -n "$run_id" ]] || fail "no run recorded"

# The forwarder finalizes the run by itself (bounded wait).
finished() {
  "$PY" - "$srv_url" "$run_id" <<'PY'
import sys, mlflow
mlflow.set_tracking_uri(sys.argv[1])
runs = mlflow.search_runs(search_all_experiments=True, filter_string=f"tags.`ctml.run_id` = '{sys.argv[2]}'", output_format="list")
sys.exit(0 if runs and runs[0].info.status == "FINISHED" else 1)
PY
}
wait_for 90 finished || { cat "runs/$run_id/forwarder.log" >&2; fail "run $run_id not FINISHED on the server within 90 s"; }
cat "runs/$run_id/forwarder.log"

ctml model register keras-mnist --run "$run_id" --path outputs/model
ctml model alias keras-mnist:1 champion

MLFLOW_TRACKING_URI="$srv_url" "$PY" - "$run_id" "$ws/runs/$run_id" "$epochs" "$experiment" "$TMP/dl" <<'PY'
import filecmp, os, sys
import mlflow
from mlflow import MlflowClient
run_id, run_dir, epochs, experiment, dl = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
c = MlflowClient()
runs = mlflow.search_runs(experiment_names=[experiment], output_format="list")
assert len(runs) == 1, f"expected 1 run in {experiment}, got {len(runs)}"
r = mlflow.get_run(runs[0].info.run_id)
assert r.info.status == "FINISHED", r.info.status
assert r.info.end_time and r.info.end_time >= r.info.start_time
assert r.data.tags["ctml.run_id"] == run_id, r.data.tags
assert r.data.tags["ctml.state"] == "Completed"
import json, subprocess
local_run = json.loads(subprocess.check_output([os.environ["CTML_BIN"], "run", "show", run_id, "--json"]))
assert r.data.params and r.data.params == local_run["params"], (r.data.params, local_run["params"])
for k, v in local_run["tags"].items():
    assert r.data.tags.get(k) == v, (k, v)
local_metrics = json.loads(subprocess.check_output([os.environ["CTML_BIN"], "run", "metrics", run_id, "--json"]))["metrics"]
for name in ("Loss", "Accuracy"):
    h = c.get_metric_history(r.info.run_id, name)
    want = sorted((p["step"], p["timestamp"], p["value"]) for p in local_metrics[name])
    assert len(want) == epochs, (name, want)
    assert sorted((m.step, m.timestamp, m.value) for m in h) == want, (name, [(m.step, m.value) for m in h], want)
    print(name, [(m.step, round(m.value, 4)) for m in h])
got = mlflow.artifacts.download_artifacts(run_id=r.info.run_id, artifact_path="outputs/model", dst_path=dl + "/run")
local = os.path.join(run_dir, "outputs", "model")
names = sorted(os.listdir(local))
assert sorted(os.listdir(got)) == names, (os.listdir(got), names)
for n in names:
    assert filecmp.cmp(os.path.join(got, n), os.path.join(local, n), shallow=False), n
mv = c.get_model_version_by_alias("keras-mnist", "champion")
assert mv.version == "1" and mv.run_id == r.info.run_id, (mv.version, mv.run_id)
got = mlflow.artifacts.download_artifacts(artifact_uri="models:/keras-mnist@champion", dst_path=dl + "/model")
for n in names:
    assert filecmp.cmp(os.path.join(got, n), os.path.join(local, n), shallow=False), n
print("ok: run", r.info.run_id, "files", names, "model keras-mnist@champion ->", mv.version)
PY
echo "PASS"
