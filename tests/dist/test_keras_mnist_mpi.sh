#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The reference trainer examples/keras_mnist under `mpirun -n 2` and `-n 3` trains data-parallel
# (ctml::dist): one epoch over the first 5000 MNIST training images (100 global batches of 50;
# 3 ranks take uneven shares 17/17/16) gives the weights of one process with the same flags
# (||w1 - w2|| / ||w1|| < 1e-5), rank 0 alone prints, records one run (an offline run in ./.ctml,
# which every rank would otherwise create or find) and writes the model, and the model it wrote
# evaluates to the final test figures it printed. A rank that fails ends the whole job.
# A fraction of the data rather than a whole epoch: over 1200 steps the two float summation
# orders can part at a ReLU unit on the edge of dying, whose tiny gradient RMSprop scales to a
# whole step (measured: 4e-7 until step 600, then 3e-3); that is the optimizer, not the split.
# mpirun runs inside a private network namespace with only loopback (it listens on every address
# otherwise). Exit 77 without ctml::dist, mpirun or the right to make a network namespace.
set -euo pipefail
build=${CTML_BUILD_DIR:?}
keras=$build/examples/keras_mnist
mnist=${CTML_MNIST_DIR:?}
py=${CTML_PYTHON:-/usr/bin/python3}
[[ -x "$keras" ]] || { echo "missing $keras: skipped"; exit 77; }
ldd "$keras" | grep -q libmpi || { echo "keras_mnist built without ctml::dist (MPI): skipped"; exit 77; }
command -v mpirun >/dev/null || { echo "no mpirun: skipped"; exit 77; }
ns=(unshare -n)
[[ $(id -u) == 0 ]] || ns=(unshare -rn)
"${ns[@]}" true 2>/dev/null || { echo "cannot create a network namespace here: skipped"; exit 77; }
tmp=$(mktemp -d /tmp/ctml_keras_mpi.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
unset CTML_WORKSPACE CTML_RUN_DIR CTML_RUN_ID CTML_TRACKING CTML_EXPERIMENT

# The first 5000 training and 1000 test images and labels, as the four IDX .gz files.
"$py" - "$mnist" "$tmp/data" <<'PY'
import gzip, os, struct, sys
src, dst = sys.argv[1], sys.argv[2]
os.makedirs(dst)
for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
             "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
    with gzip.open(os.path.join(src, name + ".gz")) as f:
        raw = f.read()
    dims = raw[3]
    shape = struct.unpack(">" + "I" * dims, raw[4:4 + 4 * dims])
    keep = 5000 if name.startswith("train") else 1000
    row = 1
    for d in shape[1:]:
        row *= d
    head = raw[:4] + struct.pack(">I", keep) + raw[8:4 + 4 * dims]
    with gzip.open(os.path.join(dst, name + ".gz"), "wb") as f:
        f.write(head + raw[4 + 4 * dims:4 + 4 * dims + keep * row])
PY

flags=(--data-folder "$tmp/data" --epochs 1 --seed 5 --threads 1 --output-dir out)
mkdir "$tmp/one"
(cd "$tmp/one" && CTML_TRACKING=off timeout 300 "$keras" "${flags[@]}" > log 2>&1) ||
  { cat "$tmp/one/log"; exit 1; }
for n in 2 3; do
  mkdir "$tmp/n$n"
  (cd "$tmp/n$n" && timeout 300 "${ns[@]}" sh -c 'ip link set lo up && exec "$@"' ctml-netns \
     mpirun -n "$n" --allow-run-as-root --oversubscribe --bind-to none \
     --mca mpi_yield_when_idle 1 "$keras" "${flags[@]}" > log 2>&1) ||
    { cat "$tmp/n$n/log"; exit 1; }
  log=$tmp/n$n/log
  cat "$log"
  [[ $(grep -c "^Data-parallel: $n ranks" "$log") == 1 ]] || { echo "FAIL: no data-parallel line for $n ranks"; exit 1; }
  [[ $(grep -c "^Epoch 1/1" "$log") == 1 ]] || { echo "FAIL: not one epoch line (only rank 0 prints)"; exit 1; }
  [[ -s "$tmp/n$n/out/model/model.json" && -s "$tmp/n$n/out/model/weights.npz" ]] ||
    { echo "FAIL: rank 0 wrote no model"; exit 1; }
  runs=$(find "$tmp/n$n/.ctml/runs" -mindepth 1 -maxdepth 1 -type d | wc -l)
  [[ $runs == 1 ]] || { echo "FAIL: $runs runs recorded for $n ranks, expected 1"; exit 1; }
  [[ -s $(echo "$tmp/n$n"/.ctml/runs/*/outputs/model/weights.npz) ]] ||
    { echo "FAIL: the run has no outputs/model/weights.npz"; exit 1; }
  left=$(cd "$tmp/n$n" && ls -A | tr '\n' ' ')
  [[ $left == ".ctml log out " ]] || { echo "FAIL: unexpected files in the job folder: $left"; exit 1; }
  # The model rank 0 wrote is the one it evaluated.
  printed=$(sed -n 's/^Final test accuracy: //p' "$log")
  evaluated=$(CTML_TRACKING=off "$keras" --data-folder "$tmp/data" --evaluate "$tmp/n$n/out/model" |
              sed -n 's/^Test accuracy: //p')
  [[ -n $printed && $printed == "$evaluated" ]] ||
    { echo "FAIL: printed test accuracy '$printed', the saved model gives '$evaluated'"; exit 1; }
done

# A rank that fails (rank 1 finds no data) ends the whole job instead of leaving rank 0 waiting
# in an all-reduce: mpirun's status is the trainer's error status, well before the timeout.
mkdir "$tmp/fail"
set +e
(cd "$tmp/fail" && CTML_TRACKING=off timeout 120 "${ns[@]}" sh -c 'ip link set lo up && exec "$@"' \
   ctml-netns mpirun --allow-run-as-root --oversubscribe --bind-to none \
   --mca mpi_yield_when_idle 1 -n 1 "$keras" "${flags[@]}" : \
   -n 1 "$keras" "${flags[@]}" --data-folder "$tmp/no-such-folder" > log 2>&1)
rc=$?
set -e
cat "$tmp/fail/log"
[[ $rc != 0 && $rc != 124 && $rc != 137 ]] || { echo "FAIL: a failing rank gave status $rc"; exit 1; }
grep -q "^Data-parallel: 2 ranks" "$tmp/fail/log" && grep -q "no-such-folder" "$tmp/fail/log" ||
  { echo "FAIL: expected rank 0 to start training and rank 1 to report its missing data"; exit 1; }
[[ ! -e "$tmp/fail/out" ]] || { echo "FAIL: a failed job wrote a model"; exit 1; }

"$py" - "$tmp" <<'PY'
import sys
import numpy as np
d = sys.argv[1]
def weights(folder):
    z = np.load(f"{d}/{folder}/out/model/weights.npz")
    return np.concatenate([z[k].ravel().astype(np.float64) for k in sorted(z.files)])
one = weights("one")
assert one.size == 89610, one.size
ok = True
for n in (2, 3):
    w = weights(f"n{n}")
    rel = np.linalg.norm(w - one) / np.linalg.norm(one)
    print(f"keras_mnist, {n} ranks vs 1 process after 100 steps: ||w1 - w2|| / ||w1|| = {rel:.3e}")
    ok = ok and rel < 1e-5
sys.exit(0 if ok else 1)
PY
