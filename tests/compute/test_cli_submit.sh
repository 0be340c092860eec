#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The compute verbs of the `ctml` command: compute create|list, submit [--wait] (exit status =
# the run's), run wait, run logs, run cancel.
set -euo pipefail
ctml=${CTML_BUILD_DIR:?}/tools/ctml
[[ -x "$ctml" ]] || { echo "missing $ctml"; exit 1; }
tmp=$(mktemp -d /tmp/ctml_cli_submit.XXXXXX)
trap 'pkill -9 -f "ctml-supervise $tmp/" 2>/dev/null || true; rm -rf "$tmp"' EXIT
cd "$tmp"
fail() { echo "FAILED: $*"; exit 1; }
"$ctml" workspace init "$tmp/ws" --name cli-submit >/dev/null
export CTML_WORKSPACE=$tmp/ws
c() { "$ctml" --workspace "$tmp/ws" "$@"; }

c compute create gpu-cluster --type slurm --max-nodes 4 --time 01:00:00 --partition debug
c compute create mpi2 --type mpi --processes 2
c compute list | tee list.txt
grep -q "gpu-cluster  slurm" list.txt || fail "compute list shows gpu-cluster"
grep -q "^local" list.txt || fail "compute list shows local"
c compute create bad --type cloud 2>err.txt && fail "--type cloud accepted"
grep -q "local, mpi or slurm" err.txt || fail "--type error names the choices: $(cat err.txt)"

printf '#!/bin/bash\necho "epoch 1"; sleep 0.3; echo "epoch 2 $1"\n' > ok.sh
printf '#!/bin/bash\necho "about to fail" >&2; exit 4\n' > bad.sh
printf '#!/bin/bash\necho started; sleep 60\n' > long.sh
chmod +x ok.sh bad.sh long.sh

c submit --experiment cli --wait -- ./ok.sh hello | tee out.txt
grep -q "epoch 2 hello" out.txt || fail "submit --wait streams the output"
grep -q "state:      Completed" out.txt || fail "the summary says Completed"

set +e
c submit --experiment cli --wait -- ./bad.sh > bad.txt
status=$?
set -e
[[ $status == 4 ]] || fail "submit --wait exits with the trainer's status 4, got $status"
grep -q "| about to fail" bad.txt || fail "the summary shows the last lines"

c submit --experiment cli -- ./missing-trainer 2>err.txt && fail "a missing trainer was accepted"
grep -q "missing-trainer" err.txt || fail "the error names the trainer: $(cat err.txt)"

id=$(c submit --experiment cli -- ./ok.sh again)
c run wait "$id" > wait.txt
grep -q "epoch 2 again" wait.txt || fail "run wait streams"
c run logs "$id" | grep -q "epoch 1" || fail "run logs"

id=$(c submit --experiment cli -- ./long.sh)
for _ in $(seq 100); do c run logs "$id" | grep -q started && break; sleep 0.1; done
c run cancel "$id" | tee cancel.txt
grep -q "Canceled" cancel.txt || fail "run cancel ends it Canceled"
set +e
c run wait "$id" >/dev/null
status=$?
set -e
[[ $status == 130 ]] || fail "run wait of a canceled run exits 130, got $status"
c run logs --follow "$id" | grep -q started || fail "run logs --follow of an ended run"
echo "all CLI compute checks passed"
