#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `ctml sync --to URI` of a local workspace (no tracking_uri) with 3 runs and 2 model versions:
# --dry-run sends nothing; the sync puts every run (params, tags, every metric point with its
# step and timestamp, images, logs, outputs) and both versions with their alias on the server;
# a second sync makes no write request and changes nothing (counted through the REST API); a
# sync killed with SIGKILL midway completes on the next call with no duplicate point or run.
source "$CTML_SOURCE_DIR/tests/mlflow/lib.sh"
mlflow_require
mlflow_start srv
driver="$CTML_BUILD_DIR/tests/mlflow/ctml_mlflow_driver"

ws="$TMP/ws"
new_workspace "$ws" ""
cd "$ws"
"$driver" --epochs 3 --points 2500 --experiment exp-a >/dev/null
"$driver" --epochs 4 --experiment exp-a >/dev/null
"$driver" --epochs 2 --points 10 --experiment exp-b >/dev/null
mapfile -t runs < <(ctml run list --json | "$PY" -c 'import json,sys; [print(r["id"]) for r in json.load(sys.stdin)]')
((${#runs[@]} == 3)) || fail "expected 3 local runs, got ${#runs[@]}"
ctml model register keras-mnist --run "${runs[0]}" --path outputs/model --tag stage=test >/dev/null
ctml model register keras-mnist --run "${runs[1]}" --path outputs/model --property data=mnist >/dev/null
ctml model alias keras-mnist:2 champion >/dev/null

# A snapshot of the server through its REST API (MLflow's client): every run's params, tags,
# metric points and artifacts; every model version's tags and aliases.
snapshot() {
  MLFLOW_TRACKING_URI="$srv_url" "$PY" - "$@" <<'PY'
import json, sys
import mlflow
from mlflow import MlflowClient
c = MlflowClient()
out = {"runs": {}, "versions": []}
def files(run_id, path=None):
    res = []
    for a in c.list_artifacts(run_id, path):
        res += files(run_id, a.path) if a.is_dir else [(a.path, a.file_size)]
    return res
for r in mlflow.search_runs(search_all_experiments=True, output_format="list"):
    cid = r.data.tags.get("ctml.run_id", "?")
    assert cid not in out["runs"], f"run {cid} is on the server twice"
    out["runs"][cid] = {
        "status": r.info.status,
        "params": r.data.params,
        "tags": {k: v for k, v in r.data.tags.items() if not k.startswith("mlflow.")},
        "metrics": {k: sorted((m.step, m.timestamp, m.value) for m in c.get_metric_history(r.info.run_id, k)) for k in r.data.metrics},
        "files": sorted(files(r.info.run_id)),
    }
for found in c.search_model_versions("name = 'keras-mnist'"):
    mv = c.get_model_version("keras-mnist", found.version)  # search leaves aliases out
    out["versions"].append({"version": mv.version, "tags": mv.tags, "aliases": sorted(mv.aliases), "run": mv.run_id})
out["versions"].sort(key=lambda v: v["version"])
print(json.dumps(out, sort_keys=True))
PY
}

dry="$(ctml sync --to "$srv_url" --dry-run --json)"
echo "$dry" | "$PY" -c 'import json,sys; d=json.load(sys.stdin); assert d["runs_created"]==3 and d["versions_created"]==2 and d["requests"]==0, d'
[[ "$(snapshot)" == '{"runs": {}, "versions": []}' ]] || fail "--dry-run changed the server"

first="$(ctml sync --to "$srv_url" --json)"
echo "$first"
snapshot >"$TMP/s1.json"
"$PY" - "$TMP/s1.json" "$ws" "${runs[@]}" <<'PY'
import json, os, sys
s = json.load(open(sys.argv[1]))
ws, ids = sys.argv[2], sys.argv[3:]
assert sorted(s["runs"]) == sorted(ids), (sorted(s["runs"]), ids)
import subprocess
for cid in ids:
    local = json.loads(subprocess.check_output([os.environ["CTML_BIN"], "run", "show", cid, "--json"]))
    r = s["runs"][cid]
    assert r["status"] == "FINISHED", (cid, r["status"])
    assert r["params"] == local["params"], (r["params"], local["params"])
    for k, v in local["tags"].items():
        assert r["tags"].get(k) == v, (k, v, r["tags"])
    pts = json.loads(subprocess.check_output([os.environ["CTML_BIN"], "run", "metrics", cid, "--json"]))
    want = {k: [(p["step"], p["timestamp"], p["value"]) for p in v] for k, v in pts["metrics"].items()}
    got = {k: [tuple(x) for x in v] for k, v in r["metrics"].items()}
    assert got == {k: sorted(v) for k, v in want.items()}, (cid, {k: len(v) for k, v in got.items()}, {k: len(v) for k, v in want.items()})
    paths = [f for f, _ in r["files"]]
    for need in ("outputs/model/model.json", "outputs/model/weights.npz", "logs/train.log", "images/Accuracy_vs_Loss.png", "ctml/environment.json"):
        assert need in paths, (cid, need, paths)
v = s["versions"]
assert [x["version"] for x in v] == ["1", "2"], v
assert v[0]["tags"].get("stage") == "test" and v[1]["tags"].get("ctml.property.data") == "mnist", v
assert v[1]["aliases"] == ["champion"] and v[0]["aliases"] == [], v
print("first sync: 3 runs, points", sum(sum(len(p) for p in r["metrics"].values()) for r in s["runs"].values()), "2 versions")
PY

second="$(ctml sync --to "$srv_url" --json)"
echo "$second" | "$PY" -c 'import json,sys; d=json.load(sys.stdin); assert d["requests"]==0, d'
snapshot >"$TMP/s2.json"
cmp -s "$TMP/s1.json" "$TMP/s2.json" || fail "the second sync changed the server"
echo "second sync: 0 write requests, server unchanged"

# A run the map knows but the server does not (deleted there): a 404 naming the server, the
# call and what to check.
"$PY" - "$ws/mlflow-sync.db" "${runs[2]}" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("UPDATE runs SET remote_id = '0123456789abcdef0123456789abcdef', status = '', done = 0 WHERE run_id = ?", (sys.argv[2],))
db.commit()
PY
if ctml sync --to "$srv_url" >"$TMP/404.out" 2>&1; then fail "sync of a run unknown to the server succeeded"; fi
cat "$TMP/404.out"
grep -q "HTTP 404" "$TMP/404.out" && grep -qF "$srv_url" "$TMP/404.out" && grep -q "runs/" "$TMP/404.out" &&
  grep -q "no such object" "$TMP/404.out" || fail "the 404 error does not name the server, the call and what to check"

# Interrupted: SIGKILL once part of a 60,000-point series is on the server.
ws2="$TMP/ws2"
new_workspace "$ws2" ""
cd "$ws2"
"$driver" --epochs 2 --points 60000 --experiment exp-big >/dev/null
big="$(ctml run list --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')"
count() {
  MLFLOW_TRACKING_URI="$srv_url" "$PY" -c '
import sys, mlflow
from mlflow import MlflowClient
runs = mlflow.search_runs(experiment_names=["exp-big"], output_format="list")
print(len(runs), sum(len(MlflowClient().get_metric_history(r.info.run_id, "batch_loss")) for r in runs))'
}
ctml sync --to "$srv_url" --json >"$TMP/killed.out" 2>&1 &
syncer=$!
partial() {
  read -r n pts < <(MLFLOW_TRACKING_URI="$srv_url" "$PY" -c '
import requests, os, sys
u = os.environ["MLFLOW_TRACKING_URI"]
e = requests.get(u + "/api/2.0/mlflow/experiments/get-by-name", params={"experiment_name": "exp-big"}).json()
if "experiment" not in e: print(0, 0); sys.exit()
r = requests.post(u + "/api/2.0/mlflow/runs/search", json={"experiment_ids": [e["experiment"]["experiment_id"]]}).json().get("runs", [])
m = [x for x in (r[0]["data"].get("metrics", []) if r else []) if x["key"] == "batch_loss"]
print(len(r), int(m[0]["step"]) + 1 if m else 0)') || return 1
  ((pts >= 2000))
}
wait_for 60 partial || fail "the sync sent nothing of the big run within 60 s"
kill -9 "$syncer"
wait "$syncer" 2>/dev/null || true
read -r n_runs n_points < <(count)
echo "killed midway: $n_runs run(s), $n_points of 60000 points on the server"
((n_points < 60000)) || fail "the sync finished before it was killed; the interruption was not tested"
ctml sync --to "$srv_url" --json >/dev/null
read -r n_runs n_points < <(count)
((n_runs == 1 && n_points == 60000)) || fail "after the resumed sync: $n_runs runs, $n_points points (want 1, 60000)"
echo "resumed: 1 run, 60000 points, no duplicate"
echo "PASS"
