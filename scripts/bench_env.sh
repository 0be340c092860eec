#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The virtual environment for the JAX and TensorFlow/Keras benchmark references
# (benchmarks/jax_reference.py, benchmarks/tf_reference.py; run_benchmarks.py finds it). Not used by
# the test suite. PyTorch is Debian's python3-torch, installed here (apt-get) when /usr/bin/python3
# cannot import torch; the venv sees the system site packages (numpy, torch) and adds jax, jaxlib
# and tensorflow-cpu from PyPI.
#
#   scripts/bench_env.sh            # creates or updates ${CTML_BENCH_VENV:-~/.cache/ctml/bench-venv}
#   scripts/bench_env.sh --print    # prints the venv's python (nothing installed)
set -euo pipefail
venv="${CTML_BENCH_VENV:-$HOME/.cache/ctml/bench-venv}"
if [[ "${1:-}" == "--print" ]]; then
    echo "$venv/bin/python"
    exit 0
fi
if ! /usr/bin/python3 -c 'import torch' 2>/dev/null; then
    sudo=""
    if [[ "$(id -u)" != 0 ]]; then
        sudo="sudo"
    fi
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-torch
fi
if [[ ! -x "$venv/bin/python" ]]; then
    /usr/bin/python3 -m venv --system-site-packages "$venv"
fi
"$venv/bin/python" -m pip install --quiet --upgrade pip
# tensorflow-cpu brings Keras 3; jax[cpu] is jax + jaxlib.
"$venv/bin/python" -m pip install --quiet --upgrade jax jaxlib tensorflow-cpu
"$venv/bin/python" - <<'PY'
import jax, jaxlib, tensorflow as tf, keras
print(f"jax {jax.__version__}, jaxlib {jaxlib.__version__}, tensorflow {tf.__version__}, keras {keras.__version__}")
PY
echo "$venv/bin/python"
