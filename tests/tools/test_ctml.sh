#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The `ctml` command driven as a person drives it, in a temporary folder: init a workspace,
# register datasets from files and from a URL served on loopback, run a (stand-in) trainer,
# look at its run, register, alias and download models; plus the error cases with their
# one-line messages and exit statuses. JSON answers are read with python3.
# No -e: every check runs and reports, so one run shows every failure.
set -uo pipefail

build="${CTML_BUILD_DIR:?CTML_BUILD_DIR is not set}"
ctml_bin="$build/tools/ctml"
trainer="$build/tools/ctml_report_trainer"
py="${CTML_PYTHON:-/usr/bin/python3}"
if [[ ! -x "$ctml_bin" ]]; then
  if grep -qE '^(CTML_BUILD_TOOLS|CTML_WITH_WORKSPACE):BOOL=OFF' "$build/CMakeCache.txt" 2>/dev/null; then
    echo "skip: configured with CTML_BUILD_TOOLS=OFF or CTML_WITH_WORKSPACE=OFF"; exit 77
  fi
  echo "FAIL: $ctml_bin was not built" >&2; exit 1
fi
[[ -x "$trainer" ]] || { echo "FAIL: $trainer was not built" >&2; exit 1; }

tmp="$(mktemp -d "${TMPDIR:-/tmp}/ctml_test_cli.XXXXXX")"
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
unset CTML_WORKSPACE CTML_RUN_DIR CTML_RUN_ID CTML_EXPERIMENT CTML_TRACKING

fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
ctml() { timeout 120 "$ctml_bin" "$@"; }
# json 'EXPR' < doc: evaluates a Python expression over the parsed document `d`.
# A tuple prints space-separated: json 'd["a"], d["b"]' -> "1 2".
json() {
  "$py" -c "import json,sys; d=json.load(sys.stdin); r=($1); print(' '.join(map(str, r)) if isinstance(r, tuple) else r)"
}

# expect_error STATUS TEXT CMD...: the command fails with exactly STATUS and a single stderr
# line "ctml: error: ..." that contains TEXT; nothing on stdout.
expect_error() {
  local want="$1" text="$2"; shift 2
  local out err rc=0
  out="$(ctml "$@" 2>"$tmp/stderr")" || rc=$?
  err="$(cat "$tmp/stderr")"
  if [[ "$rc" != "$want" ]]; then fail "ctml $*: exit $rc, expected $want (stderr: $err)"; return; fi
  if [[ "$(printf '%s\n' "$err" | wc -l)" != 1 ]]; then fail "ctml $*: stderr is not one line: $err"; fi
  if [[ "$err" != "ctml: error: "* ]]; then fail "ctml $*: stderr does not start with 'ctml: error: ': $err"; fi
  if [[ "$err" != *"$text"* ]]; then fail "ctml $*: stderr lacks '$text': $err"; fi
  if [[ -n "$out" ]]; then fail "ctml $*: printed on stdout while failing: $out"; fi
}

cd "$tmp" || exit 1
mkdir empty && cd empty || exit 1
# --- no workspace --------------------------------------------------------------------------------
expect_error 6 "no workspace found" run list
expect_error 6 "no workspace found" model list --json
expect_error 6 "--workspace $tmp/nowhere" --workspace "$tmp/nowhere" workspace show
expect_error 2 "" frobnicate
expect_error 2 "" run
cd "$tmp" || exit 1

# --- workspace init / show -----------------------------------------------------------------------
out="$(ctml workspace init ws --name test-ws)"
[[ "$out" == *"Workspace test-ws"* ]] || fail "workspace init said: $out"
[[ -f ws/config.json ]] || fail "workspace init wrote no ws/config.json"
mkdir "bad name"
expect_error 2 "--name" workspace init "bad name"
expect_error 6 "already holds workspace" workspace init ws --name other
cd ws || exit 1
[[ "$(ctml workspace show --json | json 'd["name"], d["runs"], d["models"]')" == "test-ws 0 0" ]] \
  || fail "workspace show --json: $(ctml workspace show --json)"
mkdir -p sub/dir && (cd sub/dir && [[ "$(ctml --json workspace show | json 'd["name"]')" == test-ws ]]) \
  || fail "the workspace is not found from a subfolder"
[[ "$(cd "$tmp" && ctml workspace show --workspace ws --json | json 'd["name"]')" == test-ws ]] \
  || fail "--workspace DIR is not honoured"
ctml workspace show | grep -q "^Workspace: *test-ws" || fail "workspace show table: $(ctml workspace show)"

# --- datasets from files -------------------------------------------------------------------------
mkdir -p "$tmp/files"
head -c 100000 /dev/urandom > "$tmp/files/train.bin"
head -c 2345 /dev/urandom > "$tmp/files/labels.bin"
[[ "$(ctml dataset register mnist-dataset --from "$tmp/files/train.bin" "$tmp/files/labels.bin" \
      --description "training and test dataset")" == "mnist-dataset:1" ]] || fail "first dataset version"
out="$(ctml dataset register mnist-dataset --from "$tmp/files/train.bin" "$tmp/files/labels.bin" 2>"$tmp/note")"
[[ "$out" == "mnist-dataset:1" ]] || fail "identical content made a new version: $out"
grep -q -- "--new-version" "$tmp/note" || fail "no note about --new-version: $(cat "$tmp/note")"
[[ "$(ctml dataset register mnist-dataset --from "$tmp/files/train.bin" "$tmp/files/labels.bin" \
      --new-version)" == "mnist-dataset:2" ]] || fail "--new-version did not make version 2"
ctml dataset show mnist-dataset:1 --json > "$tmp/ds.json"
want="$(sha256sum "$tmp/files/train.bin" | cut -d' ' -f1)"
got="$(json '[f["sha256"] for f in d["files"] if f["path"] == "train.bin"][0]' < "$tmp/ds.json")"
[[ "$got" == "$want" ]] || fail "dataset show: train.bin sha256 $got, expected $want"
[[ "$(json 'd["description"]' < "$tmp/ds.json")" == "training and test dataset" ]] || fail "dataset description"
[[ "$(ctml dataset show mnist-dataset --json | json 'd["version"]')" == 2 ]] || fail "dataset show NAME is not the latest"
ctml dataset download mnist-dataset:1 --to "$tmp/dl-ds" > /dev/null
cmp "$tmp/files/train.bin" "$tmp/dl-ds/train.bin" || fail "downloaded train.bin differs"
cmp "$tmp/files/labels.bin" "$tmp/dl-ds/labels.bin" || fail "downloaded labels.bin differs"
ctml dataset list | grep -q "mnist-dataset:2" || fail "dataset list: $(ctml dataset list)"
expect_error 6 "nosuch" dataset show nosuch
expect_error 6 "mnist-dataset:x" dataset show mnist-dataset:x
expect_error 6 "" dataset show mnist-dataset:9
expect_error 5 "$tmp/files/missing.bin" dataset register broken --from "$tmp/files/missing.bin"

# --- datasets from a URL on loopback --------------------------------------------------------------
port="$("$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
(cd "$tmp/files" && exec timeout 300 "$py" -m http.server --bind 127.0.0.1 "$port" > "$tmp/http.log" 2>&1) &
server_pid=$!
for _ in $(seq 100); do
  curl -sf -o /dev/null "http://127.0.0.1:$port/labels.bin" && break
  sleep 0.1
done
url="http://127.0.0.1:$port"
[[ "$(ctml dataset register web-data --from "$url/train.bin" "$url/labels.bin")" == "web-data:1" ]] \
  || fail "dataset from URLs"
got="$(ctml dataset show web-data --json | json '[f["sha256"] for f in d["files"] if f["path"] == "train.bin"][0]')"
[[ "$got" == "$want" ]] || fail "URL dataset: train.bin sha256 $got, expected $want"
expect_error 3 "$url/missing.bin" dataset register web-404 --from "$url/missing.bin"
ctml dataset list --json | json '[x["name"] for x in d]' | grep -q web-404 && fail "a 404 left a dataset"
kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""

# --- a run, reported by the stand-in trainer -----------------------------------------------------
run_id="$(timeout 60 "$trainer" --epochs 20)"
[[ -n "$run_id" ]] || fail "the trainer printed no run id"
ctml run list | grep -q "$run_id" || fail "run list lacks $run_id: $(ctml run list)"
[[ "$(ctml run list --state completed --json | json 'len(d)')" == 1 ]] || fail "run list --state completed"
[[ "$(ctml run list --experiment nothing --json | json 'len(d)')" == 0 ]] || fail "run list --experiment"
ctml experiment list | grep -q "^keras-mnist " || fail "experiment list: $(ctml experiment list)"
ctml run show "$run_id" --json > "$tmp/run.json"
"$py" - "$tmp/run.json" "$run_id" <<'EOF' || fail "run show --json content"
import json, sys
d = json.load(open(sys.argv[1]))
run_id = sys.argv[2]
assert d["id"] == run_id, d["id"]
assert d["experiment"] == "keras-mnist", d["experiment"]
assert d["state"] == "Completed", d["state"]
states = [h["state"] for h in d["history"]]
assert states[-1] == "Completed" and "Running" in states, states
assert all(h["time"].endswith("Z") and h["time_ms"] > 0 for h in d["history"]), d["history"]
assert d["params"] == {"batch_size": "50"}, d["params"]
assert d["tags"].get("trainer") == "report_trainer", d["tags"]
env = d["environment"]
assert isinstance(env, dict) and env, env
m = d["metrics"]
assert [p["step"] for p in m["Loss"]] == list(range(1, 21)), m["Loss"]
assert len(m["Accuracy"]) == 20 and all(0.96 < p["value"] < 0.99 for p in m["Accuracy"]), m["Accuracy"]
assert [p["value"] for p in m["Final test accuracy"]] == [0.9797], m["Final test accuracy"]
assert [p["value"] for p in m["Final test loss"]] == [0.0735], m["Final test loss"]
assert [i["name"] for i in d["images"]] == ["Accuracy vs Loss"], d["images"]
paths = [f["path"] for f in d["files"]]
for p in ["outputs/model/model.json", "outputs/model/weights.npz", d["images"][0]["path"]]:
    assert p in paths, (p, paths)
EOF
out="$(ctml run show "$run_id")"
for want_text in "State:" "Completed" "State history" "Final test accuracy" "Accuracy vs Loss" "outputs/model/weights.npz"; do
  [[ "$out" == *"$want_text"* ]] || fail "run show (table) lacks '$want_text'"
done
[[ "$(ctml run metrics "$run_id" --name Loss --json | json 'len(d["metrics"]["Loss"]), list(d["metrics"])')" \
    == "20 ['Loss']" ]] || fail "run metrics --name Loss"
[[ "$(ctml run metrics "$run_id" | grep -c '^Accuracy ')" == 20 ]] || fail "run metrics table"
ctml run files "$run_id" | grep -q "outputs/model/weights.npz" || fail "run files"
image="$(json 'd["images"][0]["path"]' < "$tmp/run.json")"
ctml run download "$run_id" outputs/model "$image" --to "$tmp/dl-run" > /dev/null
"$py" - "$tmp/dl-run/$image" <<'EOF' || fail "the run's image is not a 600x300 PNG"
import struct, sys
b = open(sys.argv[1], "rb").read()
assert b[:8] == b"\x89PNG\r\n\x1a\n"
w, h = struct.unpack(">II", b[16:24])
assert (w, h) == (600, 300), (w, h)
EOF
run_dir="$(ctml workspace show --json | json 'd["root"]')/runs/$run_id"
cmp "$run_dir/outputs/model/weights.npz" "$tmp/dl-run/outputs/model/weights.npz" || fail "run download differs"
expect_error 6 "../x" run download "$run_id" ../x --to "$tmp/dl-bad"
expect_error 6 "/etc/passwd" run download "$run_id" /etc/passwd --to "$tmp/dl-bad"
expect_error 6 "no-such-run" run show no-such-run
expect_error 6 "no-such-run" run metrics no-such-run
expect_error 2 "--state \"Sleeping\"" run list --state Sleeping

# --- a killed trainer: the run ends Failed, with what it logged ----------------------------------
killed_id="$(timeout 60 "$trainer" --epochs 20 --kill-after 3 || true)"
[[ -n "$killed_id" ]] || fail "the killed trainer printed no run id"
ctml run show "$killed_id" --json > "$tmp/killed.json"
[[ "$(json 'd["state"], bool(d["reason"]), len(d["metrics"]["Loss"])' < "$tmp/killed.json")" \
    == "Failed True 3" ]] || fail "killed run: $(json 'd["state"], d["reason"], d["metrics"].keys()' < "$tmp/killed.json")"
ctml run list --state failed | grep -q "$killed_id" || fail "run list --state failed lacks the killed run"

# --- the model registry --------------------------------------------------------------------------
[[ "$(ctml model register keras-mnist --run "$run_id" --path outputs/model --tag framework=ctml \
      --property accuracy=0.9797 --description "Keras MLP")" == "keras-mnist:1" ]] || fail "model register 1"
[[ "$(ctml model register keras-mnist --run "$run_id" --path outputs/model)" == "keras-mnist:2" ]] \
  || fail "model register 2"
ctml model show keras-mnist:1 --json > "$tmp/model.json"
"$py" - "$tmp/model.json" "$run_id" <<'EOF' || fail "model show --json content"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["id"] == "keras-mnist:1" and d["version"] == 1, d["id"]
assert d["run"] == sys.argv[2], d["run"]
assert d["tags"] == {"framework": "ctml"} and d["properties"] == {"accuracy": "0.9797"}
assert d["description"] == "Keras MLP"
assert sorted(f["path"] for f in d["files"]) == ["model.json", "weights.npz"], d["files"]
assert abs(d["metrics"]["Final test accuracy"] - 0.9797) < 1e-12, d["metrics"]
EOF
[[ "$(ctml model show keras-mnist --json | json 'd["version"]')" == 2 ]] || fail "model show NAME is not the latest"
ctml model list | grep -q "keras-mnist:2" || fail "model list: $(ctml model list)"
[[ "$(ctml model alias keras-mnist:1 champion)" == "keras-mnist@champion -> keras-mnist:1" ]] || fail "model alias"
[[ "$(ctml model show keras-mnist@champion --json | json 'd["version"], d["aliases"]')" == "1 ['champion']" ]] \
  || fail "model show @champion"
ctml model alias keras-mnist:2 champion > /dev/null
[[ "$(ctml model show keras-mnist@champion --json | json 'd["version"]')" == 2 ]] || fail "alias did not move"
ctml model download keras-mnist:1 --to "$tmp/dl-model" > /dev/null
for f in model.json weights.npz; do
  cmp "$run_dir/outputs/model/$f" "$tmp/dl-model/$f" || fail "model download: $f differs from the run's"
done
ctml model download keras-mnist@champion --to "$tmp/dl-champion" --json > "$tmp/dl.json"
[[ "$(json 'd["id"]' < "$tmp/dl.json")" == "keras-mnist:2" ]] || fail "model download @alias"
# A plain path (no run): relative to the current folder.
cp -r "$tmp/dl-model" "$tmp/ws/local-model"
[[ "$(ctml model register other --path local-model)" == "other:1" ]] || fail "register from a path"

expect_error 6 "keras-mnist:abc" model show keras-mnist:abc
expect_error 6 "has no version 9" model show keras-mnist:9
expect_error 6 "nosuch" model show nosuch@champion
expect_error 2 "NAME:VERSION" model alias keras-mnist champion
expect_error 2 "--tag \"novalue\"" model register keras-mnist --run "$run_id" --path outputs/model --tag novalue
expect_error 6 "no-such-run" model register keras-mnist --run no-such-run --path outputs/model
expect_error 6 "does-not-exist" model register keras-mnist --run "$run_id" --path outputs/does-not-exist
expect_error 6 "bad/name" model register bad/name --path local-model
expect_error 2 "--to" model download keras-mnist:1
# Nothing half-made by the failures: still versions 1 and 2.
[[ "$(ctml model list --json | json '[m["latest_version"] for m in d if m["name"] == "keras-mnist"]')" == "[2]" ]] \
  || fail "failed registrations changed the registry"

# --- the Chainer reporting ------------------------------------------------------------------------
chainer_id="$(timeout 60 "$trainer" --style chainer --epochs 10)"
[[ "$(ctml run show "$chainer_id" --json | json 'len(d["metrics"]["Accuracy"]), [p["value"] for p in d["metrics"]["Batch size"]], [p["value"] for p in d["metrics"]["Epochs"]]')" \
    == "10 [128.0] [10.0]" ]] || fail "chainer run metrics"
[[ "$(ctml model register chainer-dnn-mnist --run "$chainer_id" --path outputs/model.npz)" == "chainer-dnn-mnist:1" ]] \
  || fail "register chainer-dnn-mnist from outputs/model.npz"

if ((fails)); then echo "$fails check(s) failed" >&2; exit 1; fi
echo "ok: the ctml command"
