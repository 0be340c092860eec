#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The server killed with SIGKILL in the middle of a run and started again: the trainer never
# waits on it (it finishes normally while the server is down), its forwarder keeps the points
# in the run's journal and retries with backoff, and after the restart every metric point is on
# the server (counted). A run that ends while the server is away, with a forwarder that gives
# up, is finalized later by `ctml sync`.
source "$CTML_SOURCE_DIR/tests/mlflow/lib.sh"
mlflow_require
mlflow_start srv
driver="$CTML_BUILD_DIR/tests/mlflow/ctml_mlflow_driver"
ws="$TMP/ws"
new_workspace "$ws" "$srv_url"
cd "$ws"

# state EXPERIMENT: "<runs> <status> <batch_loss points> <Loss points> <Accuracy points>"
state() {
  MLFLOW_TRACKING_URI="$srv_url" "$PY" - "$1" <<'PY' 2>/dev/null || echo "0 DOWN 0 0 0"
import sys, mlflow
from mlflow import MlflowClient
runs = mlflow.search_runs(experiment_names=[sys.argv[1]], output_format="list")
if not runs:
    print(0, "NONE", 0, 0, 0); sys.exit()
c, r = MlflowClient(), runs[0]
print(len(runs), r.info.status, *(len(c.get_metric_history(r.info.run_id, k)) for k in ("batch_loss", "Loss", "Accuracy")))
PY
}
has_points() { read -r n st b l a < <(state "$1"); ((b > 0)); }
finished_with() { read -r n st b l a < <(state "$1"); [[ "$n $st $b $l $a" == "1 FINISHED $2" ]]; }

export CTML_MLFLOW_FINAL_RETRY_S=240
(
  t0=$SECONDS
  "$driver" --epochs 12 --epoch-ms 500 --points 12000 --experiment restart >"$TMP/train1.out"
  echo $((SECONDS - t0)) >"$TMP/train1.seconds"
) &
trainer=$!
wait_for 60 has_points restart || fail "no point reached the server within 60 s"
mlflow_stop srv
wait "$trainer" || fail "the trainer failed while the server was down"
echo "trainer finished in $(cat "$TMP/train1.seconds") s (12 epochs of 0.5 s) with the server down"
run1="$(awk '{print $2}' "$TMP/train1.out")"
ctml run show "$run1" --json | "$PY" -c 'import json,sys; d=json.load(sys.stdin); assert d["state"]=="Completed", d["state"]'
mlflow_restart srv
wait_for 150 finished_with restart "12000 12 12" ||
  { cat "runs/$run1/forwarder.log" >&2; fail "after the restart: $(state restart) (want 1 FINISHED 12000 12 12)"; }
echo "after the restart, by the forwarder: $(state restart)"
grep -q "answers again" "runs/$run1/forwarder.log" || fail "the forwarder log does not show the outage"

# The forwarder gives up (2 s here) on a run that ended while the server was away.
mlflow_stop srv
export CTML_MLFLOW_FINAL_RETRY_S=2
"$driver" --epochs 3 --points 3000 --experiment offline-end >"$TMP/train2.out"
run2="$(awk '{print $2}' "$TMP/train2.out")"
gave_up() { grep -q "ctml sync" "runs/$run2/forwarder.log" 2>/dev/null; }
wait_for 60 gave_up || fail "the forwarder of $run2 did not give up within 60 s"
if ctml sync >"$TMP/down.out" 2>&1; then fail "ctml sync succeeded with the server down"; fi
grep -q "unreachable" "$TMP/down.out" && grep -q "$srv_url" "$TMP/down.out" || { cat "$TMP/down.out"; fail "no clear 'unreachable' error naming the server"; }
cat "$TMP/down.out"
mlflow_restart srv
ctml sync >/dev/null
finished_with offline-end "3000 3 3" || fail "after ctml sync: $(state offline-end) (want 1 FINISHED 3000 3 3)"
echo "finalized by ctml sync: $(state offline-end)"
echo "PASS"
