#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Submission to a real Slurm cluster: a one-node cluster on loopback started here (munged,
# slurmctld -i, slurmd, all state in a temporary folder), the Keras trainer submitted through
# ctml for one epoch (Queued -> Running -> Completed with timestamps, model registered), cancel
# through ctml and scancel behind its back (both end Canceled, nothing left running), then the
# controller stopped: a submission is a clear error within the target's timeout. The cluster is
# stopped on every exit path. Exit 77 when Slurm or munge is not installed.
set -euo pipefail
build=${CTML_BUILD_DIR:?}
src=${CTML_SOURCE_DIR:?}
check=$build/tests/compute/slurm_job_check
keras=$build/examples/keras_mnist
[[ -x "$check" ]] || { echo "missing $check (build target ctml_compute_slurm_job_check)"; exit 1; }
command -v slurmctld >/dev/null || [[ -x /usr/sbin/slurmctld ]] || { echo "no Slurm: skipped"; exit 77; }
command -v munged >/dev/null || [[ -x /usr/sbin/munged ]] || { echo "no munge: skipped"; exit 77; }

tmp=$(mktemp -d /tmp/ctml_slurm_test.XXXXXX)
cluster=$tmp/cluster
cleanup() {
  local rc=$?
  timeout 60 bash "$src/tests/compute/slurm_cluster.sh" stop "$cluster" || true
  # Supervisors of runs in this workspace, if a check failed half-way.
  pkill -9 -f "ctml-supervise $tmp/" 2>/dev/null || true
  rm -rf "$tmp"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

timeout 60 bash "$src/tests/compute/slurm_cluster.sh" start "$cluster" || {
  rc=$?; [[ $rc == 77 ]] && exit 77; echo "cluster did not start"; exit 1; }
conf=$cluster/slurm.conf
ws=$tmp/ws

if [[ -x "$keras" ]]; then
  echo "== the Keras trainer for one epoch through ctml on Slurm"
  timeout 600 "$check" train "$ws" "$conf" "${CTML_MNIST_DIR:?}" "$keras" \
    --data-folder mnist-dataset:latest --epochs 1 --first-layer-neurons 300 \
    --second-layer-neurons 100
else
  echo "no $keras: build the examples for the trainer part of this test" >&2
  exit 1
fi

cat > "$tmp/sleeper.sh" <<'SH'
#!/bin/bash
echo "sleeper $$ started"
sleep 120
SH
chmod +x "$tmp/sleeper.sh"
echo "== cancel through ctml"
timeout 120 "$check" cancel "$ws" "$conf" "$tmp/sleeper.sh"
echo "== scancel behind ctml's back"
timeout 120 "$check" scancel "$ws" "$conf" "$tmp/sleeper.sh"
sleep 1
if pgrep -f "$tmp/sleeper.sh" >/dev/null; then
  echo "FAILED: a job process survived: $(pgrep -af "$tmp/sleeper.sh")"
  exit 1
fi
echo "ok: no job process left"

echo "== controller down"
timeout 60 bash "$src/tests/compute/slurm_cluster.sh" stop "$cluster"
timeout 60 "$check" down "$ws" "$conf"
echo "all Slurm checks passed"
