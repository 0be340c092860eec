#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Data-parallel equivalence on real MNIST: 2 MPI ranks with a global batch of 50 give the same
# weights as 1 process with batch 50 after 100 steps (||w1 - w2|| / ||w1|| < 1e-5). mpirun runs
# inside a private network namespace with only loopback (it listens on every address otherwise).
# Exit 77 without mpirun or without the right to make a network namespace.
set -euo pipefail
build=${CTML_BUILD_DIR:?}
trainer=$build/tests/dist/dp_trainer
mnist=${CTML_MNIST_DIR:?}
[[ -x "$trainer" ]] || { echo "missing $trainer (ctml::dist needs MPI: libopenmpi-dev)"; exit 77; }
command -v mpirun >/dev/null || { echo "no mpirun: skipped"; exit 77; }
ns=(unshare -n)
[[ $(id -u) == 0 ]] || ns=(unshare -rn)
"${ns[@]}" true 2>/dev/null || { echo "cannot create a network namespace here: skipped"; exit 77; }
tmp=$(mktemp -d /tmp/ctml_dp.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
mpi() {
  timeout 300 "${ns[@]}" sh -c 'ip link set lo up && exec "$@"' ctml-netns \
    mpirun -n "$1" --allow-run-as-root --oversubscribe --bind-to none \
    --mca mpi_yield_when_idle 1 "${@:2}"
}
steps=${CTML_DP_STEPS:-100}
timeout 300 "$trainer" "$mnist" "$tmp/initial.f32" --steps 0 --reference
timeout 300 "$trainer" "$mnist" "$tmp/reference.f32" --steps "$steps" --reference
mpi 1 "$trainer" "$mnist" "$tmp/one.f32" --steps "$steps"
mpi 2 "$trainer" "$mnist" "$tmp/two.f32" --steps "$steps"
"${CTML_PYTHON:-/usr/bin/python3}" - "$tmp" <<'PY'
import sys
import numpy as np
d = sys.argv[1]
ref = np.fromfile(f"{d}/reference.f32", np.float32).astype(np.float64)
assert ref.size == 266610, ref.size
ok = True
for name in ("one", "two"):
    w = np.fromfile(f"{d}/{name}.f32", np.float32).astype(np.float64)
    rel = np.linalg.norm(w - ref) / np.linalg.norm(ref)
    print(f"{name} rank(s) vs 1 process: ||w1 - w2|| / ||w1|| = {rel:.3e}")
    ok = ok and rel < 1e-5
init = np.fromfile(f"{d}/initial.f32", np.float32).astype(np.float64)
moved = np.linalg.norm(ref - init) / np.linalg.norm(init)
print(f"training moved the weights by {moved:.3e} (relative)")
sys.exit(0 if ok and moved > 1e-3 else 1)
PY
