#!/usr/bin/env bash
# The reference trainers refuse bad flags before they read any data, with a ctml::config_error
# (exit status 2) that names the flag: defect 2 of issue 8 (a width whose parameter count
# wrapped around), widths too large together, --device cuda in a program built without CUDA or
# on a machine without a GPU, a misspelt device. The data folder does not exist: reaching it would be another error.
set -euo pipefail
keras="$CTML_BUILD_DIR/examples/keras_mnist"
chainer="$CTML_BUILD_DIR/examples/chainer_mnist"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# expect <status> <text> <command...>: the command exits with <status> and stderr has <text>.
expect() {
    local status=$1 text=$2
    shift 2
    local rc=0
    "$@" --data-folder "$out/no-such-folder" >"$out/stdout" 2>"$out/stderr" || rc=$?
    cat "$out/stderr"
    [ "$rc" -eq "$status" ] || { echo "FAIL: $* exited $rc, expected $status"; exit 1; }
    grep -qF -- "$text" "$out/stderr" || { echo "FAIL: $* did not say: $text"; exit 1; }
    if grep -q "no-such-folder" "$out/stdout" "$out/stderr"; then
        echo "FAIL: $* read data before refusing its flags"; exit 1
    fi
}

expect 2 "--first-layer-neurons: width 23469140042887471 for layer 0 is outside [1, 1048576]" \
    "$keras" --first-layer-neurons 23469140042887471 --second-layer-neurons 1
expect 2 "--first-layer-neurons = 1000000, --second-layer-neurons = 1000000: the network would have more than" \
    "$keras" --first-layer-neurons 1000000 --second-layer-neurons 1000000
expect 2 "flag --batch-size: expected a positive integer, got '0'" "$keras" --batch-size 0
expect 2 "flag --learning-rate: rmsprop: hyperparameter 'learning_rate'" "$keras" --learning-rate -1
expect 2 "flag --device: expected cpu or cuda, got 'gpu'" "$keras" --device gpu
# A CUDA build compiles the trainers with nvcc (CTML_CUDA_EXAMPLES): then --device cuda is refused
# only on a machine without a usable GPU, with its own message; a g++ build always refuses it.
for trainer in "$keras" "$chainer"; do
  # (grep reads all of ldd's output: with pipefail, grep -q could stop ldd by SIGPIPE)
  if ldd "$trainer" | grep libcudart > /dev/null; then
    if nvidia-smi -L > /dev/null 2>&1; then
      echo "note: $trainer is a CUDA build and this machine has a GPU: --device cuda is usable"
    else
      expect 2 "--device cuda: no usable CUDA device on this machine" "$trainer" --device cuda
    fi
  else
    expect 2 "--device cuda: this program was built without CUDA" "$trainer" --device cuda
  fi
done
expect 2 "flag --batchsize: expected a positive integer, got 'x'" "$chainer" --batchsize x
expect 2 "unknown flag --batch-size" "$chainer" --batch-size 3

# --help lists the flags the job declares, with the config's defaults.
"$keras" --help >"$out/help"
for f in "--batch-size (default 50)" "--epochs (default 20)" "--first-layer-neurons (default 100)" \
         "--second-layer-neurons (default 100)" "--learning-rate (default 0.001)" \
         "--device (default cpu)" "--threads (default 0)" "--seed (default 0)" "--evaluate"; do
    grep -qF -- "$f" "$out/help" || { echo "FAIL: keras_mnist --help lacks $f"; exit 1; }
done
"$chainer" --help >"$out/help"
for f in "--batchsize (default 128)" "--epochs (default 10)" "--learning-rate (default 0.01)" \
         "--momentum (default 0.9)" "--gpu_id" "--output_dir"; do
    grep -qF -- "$f" "$out/help" || { echo "FAIL: chainer_mnist --help lacks $f"; exit 1; }
done
echo "PASS"
