#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The Python virtual environment with PyPI `mlflow[auth]` that tests/mlflow/ and
# benchmarks/mlflow_logging.py use as the tracking server and as the reference client, plus one
# migrated template database that each test copies (a server starts in about 11 s on a migrated
# database instead of about 50 s on an empty one).
#
#   bash scripts/mlflow_env.sh              create the venv when missing, migrate the template
#   bash scripts/mlflow_env.sh --print      print the venv folder and the template path, do nothing
#
# Idempotent: pip runs only when the venv lacks the pinned mlflow; the template is migrated once
# per call (once per CI run: .ci/run calls this before the tests), into a temporary file renamed
# into place, under a lock so that parallel callers do not race.
# CTML_VENV_DIR (default $HOME/.cache/ctml/mlflow-venv), CTML_MLFLOW_VERSION (default below),
# CTML_MLFLOW_PYTHON (the Python that creates the venv, default python3).
set -euo pipefail

version="${CTML_MLFLOW_VERSION:-3.17.2}"
venv="${CTML_VENV_DIR:-$HOME/.cache/ctml/mlflow-venv}"
template="$venv/ctml-template/mlflow.db"

if [[ "${1:-}" == "--print" ]]; then
  echo "venv=$venv"
  echo "template=$template"
  exit 0
fi

have_mlflow() {
  [[ -x "$venv/bin/python" && -x "$venv/bin/mlflow" ]] &&
    "$venv/bin/python" -c "import sys, mlflow, flask_wtf
sys.exit(0 if mlflow.__version__ == '$version' else 1)" 2>/dev/null
}

mkdir -p "$(dirname "$venv")"
exec 9>"$(dirname "$venv")/.mlflow-venv.lock"
flock 9

if ! have_mlflow; then
  echo "mlflow_env: installing mlflow[auth]==$version into $venv (about 850 MB, once per machine)"
  py="${CTML_MLFLOW_PYTHON:-python3}"
  [[ -x "$venv/bin/python" ]] || "$py" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "mlflow[auth]==$version"
  have_mlflow || { echo "mlflow_env: mlflow $version still not importable from $venv" >&2; exit 1; }
else
  echo "mlflow_env: $venv has mlflow $version"
fi

# The template: an empty tracking database with every schema migration applied.
mkdir -p "$(dirname "$template")"
tmp="$(dirname "$template")/.tmp.$$.db"
rm -f "$tmp"
start=$SECONDS
MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false "$venv/bin/mlflow" db upgrade "sqlite:///$tmp" >/dev/null 2>&1 ||
  { echo "mlflow_env: 'mlflow db upgrade' failed on $tmp" >&2; rm -f "$tmp"; exit 1; }
mv -f "$tmp" "$template"
echo "mlflow_env: template database $template migrated in $((SECONDS - start)) s"
