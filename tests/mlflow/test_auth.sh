#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A server with basic auth (mlflow[auth], --app-name basic-auth): a wrong password gives a
# clear error naming the server, the call and the variables to set, from the run's forwarder
# and from `ctml sync`; the right one works. Neither password is in any file of the workspace
# (run folder, logs, forwarder log, databases, recorded environment) or in any output. A Host
# header the server refuses is a clear 403 error too.
source "$CTML_SOURCE_DIR/tests/mlflow/lib.sh"
mlflow_require
export MLFLOW_TEST_ADMIN_PASSWORD="admin-pw-$RANDOM$RANDOM"
mlflow_start srv --auth
good="S3cret-good-$RANDOM$RANDOM"
bad="S3cret-wrong-$RANDOM$RANDOM"
curl -fsS -u "admin:$MLFLOW_TEST_ADMIN_PASSWORD" -H 'Content-Type: application/json' \
  -d "{\"username\": \"alice\", \"password\": \"$good\"}" "$srv_url/api/2.0/mlflow/users/create" >/dev/null
unset MLFLOW_TEST_ADMIN_PASSWORD

ws="$TMP/ws"
new_workspace "$ws" "$srv_url"
cd "$ws"
out="$TMP/out"
mkdir -p "$out"
export MLFLOW_TRACKING_USERNAME=alice MLFLOW_TRACKING_PASSWORD="$bad"
"$CTML_BUILD_DIR/tests/mlflow/ctml_mlflow_driver" --epochs 2 --experiment auth >"$out/train.out" 2>&1
run_id="$(awk '{print $2}' "$out/train.out")"
forwarder_failed() { grep -q "HTTP 401" "runs/$run_id/forwarder.log" 2>/dev/null; }
wait_for 60 forwarder_failed || { cat "runs/$run_id/forwarder.log" >&2; fail "the forwarder did not report the 401"; }
if ctml sync >"$out/sync-bad.out" 2>&1; then fail "ctml sync succeeded with a wrong password"; fi
cat "$out/sync-bad.out"
for want in "$srv_url" "HTTP 401" "MLFLOW_TRACKING_PASSWORD" "alice"; do
  grep -qF -- "$want" "$out/sync-bad.out" || fail "the 401 error does not name '$want'"
done
ctml run show "$run_id" --json >"$out/show.json" 2>&1

# A Host header the server refuses (it allows localhost and 127.0.0.1 only).
port="${srv_url##*:}"
if ctml sync --to "http://[::ffff:127.0.0.1]:$port" >"$out/sync-host.out" 2>&1; then
  fail "ctml sync succeeded with a refused Host header"
fi
cat "$out/sync-host.out"
grep -q "HTTP 403" "$out/sync-host.out" && grep -q "allowed-hosts" "$out/sync-host.out" ||
  fail "the 403 error does not say what to do about the Host header"

export MLFLOW_TRACKING_PASSWORD="$good"
ctml sync --json >"$out/sync-good.out" 2>&1 || { cat "$out/sync-good.out"; fail "ctml sync with the right password failed"; }
MLFLOW_TRACKING_URI="$srv_url" "$PY" - "$run_id" <<'PY'
import sys, mlflow
runs = mlflow.search_runs(experiment_names=["auth"], output_format="list")
assert len(runs) == 1 and runs[0].info.status == "FINISHED" and runs[0].data.tags["ctml.run_id"] == sys.argv[1], runs
print("with the right password: run", runs[0].info.run_id, "FINISHED")
PY

# No password anywhere: every file of the workspace (databases included) and every output.
for secret in "$bad" "$good"; do
  if grep -rlaF -- "$secret" "$ws" "$out"; then fail "a password was written to the files above"; fi
done
if grep -qaF -- "$bad" "$srv_dir/server.log" 2>/dev/null; then echo "(the server logged it; not ctml)"; fi
echo "no password in $(find "$ws" "$out" -type f | wc -l) files"
echo "PASS"
