#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs the CUDA tests (a GPU turns their skipped cases on; rc 77 here is a failure: no device),
# then the ctml and PyTorch MNIST benchmarks. Builds them with nvcc first unless carried in
# BUILD (default build-cuda). Run from the repository root on a machine with a GPU:
#   benchmarks/cuda/gpu_check.sh MNIST_FOLDER [LOG_FOLDER]
# SKIP_TORCH=1 skips the PyTorch comparison; PROFILE=1 adds an Nsight Compute pass that lists the
# GPU time of each kernel of a few Keras steps (ncu must be on PATH).
set -u -o pipefail
data=${1:?usage: gpu_check.sh MNIST_FOLDER [LOG_FOLDER]}
logs=${2:-build-cuda/logs}
build=${BUILD:-build-cuda}
tests=(test_device_buffer test_mlp_trainer test_headers test_engines)
mkdir -p "$build" "$logs"
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader
status=0
# Binaries built elsewhere (cmake --build build-cuda --target <tests> bench_cuda_mnist, carried
# here) are used as they are; REBUILD=1, or a missing one, builds all with nvcc for this GPU.
have=1
for t in "${tests[@]}" bench_cuda_mnist; do [ -x "$build/$t" ] || have=0; done
if [ "${REBUILD:-0}" = 1 ] || [ $have = 0 ]; then
    nvcc --version | tail -2
    arch=${ARCH:-native}
    flags=(-std=c++20 -O2 -arch=$arch -Werror all-warnings -Xcompiler -Wall,-Wextra,-Werror
           -DCTML_WITH_CUDA=1 -DSIMDJSON_IMPLEMENTATION_ICELAKE=0
           -DSIMDJSON_IMPLEMENTATION_HASWELL=0 -DSIMDJSON_IMPLEMENTATION_WESTMERE=0 -Iinclude)
    libs=(-lcublas -lsimdjson -lz -lopenblas)
    nvcc "${flags[@]}" -c tests/cuda/gpu_main.cu -o $build/gpu_main.o || exit 1
    for t in "${tests[@]}"; do
        nvcc "${flags[@]}" tests/cuda/$t.cu $build/gpu_main.o -o $build/$t "${libs[@]}" &
    done
    nvcc "${flags[@]}" benchmarks/cuda/bench_cuda_mnist.cu -o $build/bench_cuda_mnist "${libs[@]}" &
    for job in $(jobs -p); do wait "$job" || status=1; done
    [ $status -eq 0 ] || { echo "BUILD FAILED"; exit 1; }
fi
for t in "${tests[@]}"; do
    CTML_MNIST_DIR="$data" $build/$t > "$logs/$t.log" 2>&1; rc=$?
    tail -n 12 "$logs/$t.log"
    echo "TEST $t rc=$rc"
    [ $rc -eq 0 ] || status=1
done
$build/bench_cuda_mnist "$data" 2>&1 | tee "$logs/bench_cuda_mnist.log" | grep -E '^(device|RESULT|==)'
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
if [ "${PROFILE:-0}" = 1 ]; then
    ncu --graph-profiling node --launch-skip 2000 --launch-count 60 --csv --print-units base \
        --metrics gpu__time_duration.sum,launch__grid_size,launch__block_size \
        $build/bench_cuda_mnist "$data" --keras-epochs 1 --chainer-epochs 0 --eager-epochs 0 \
        > "$logs/ncu_keras.csv" 2> "$logs/ncu_keras.err"
    python3 - "$logs/ncu_keras.csv" <<'PY'
import csv, sys, collections
rows = [r for r in csv.reader(open(sys.argv[1])) if len(r) > 10]
head, rows = rows[0], rows[1:]
ki, mi, vi, ii = head.index("Kernel Name"), head.index("Metric Name"), head.index("Metric Value"), head.index("ID")
k = collections.OrderedDict()
for r in rows:
    k.setdefault(r[ii], {"name": r[ki][:70]})[r[mi]] = r[vi]
total = 0.0
for v in list(k.values())[:40]:
    t = float(v.get("gpu__time_duration.sum", "0").replace(",", ""))
    total += t
    print(f"{t:10.0f} ns grid {v.get('launch__grid_size','?'):>6} block {v.get('launch__block_size','?'):>4}  {v['name']}")
print(f"kernels listed: {min(40, len(k))}, their GPU time {total/1e3:.1f} us")
PY
fi
if [ "${SKIP_TORCH:-0}" = 1 ]; then
    echo "PyTorch comparison skipped (SKIP_TORCH=1)"
elif python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
    PYTHONUNBUFFERED=1 python3 benchmarks/cuda/bench_torch_cuda_mnist.py "$data" 2>&1 |
        tee "$logs/bench_torch_cuda_mnist.log" | grep -E '^(device|RESULT)'
else
    echo "torch with CUDA not available: PyTorch comparison skipped"
fi
exit $status
