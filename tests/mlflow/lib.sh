# SPDX-License-Identifier: MIT
# Shared by tests/mlflow/test_*.sh (sourced, not a test itself): the MLflow virtual environment
# (scripts/mlflow_env.sh), a tracking server on a free loopback port started from a copy of the
# migrated template database, bounded waits, and a trap that kills every server started here.
#
#   source "$CTML_SOURCE_DIR/tests/mlflow/lib.sh"
#   mlflow_require                       # exit 77 without the venv (outside CI), else sets $PY
#   mlflow_start srv [--auth]            # sets srv_url, srv_pid, srv_dir; waits for /health
#   mlflow_stop srv                      # SIGKILL the server (its workers too)
#   mlflow_restart srv                   # same port, same database and artifacts
#   ctml ...                             # the built `ctml` command
set -euo pipefail

: "${CTML_SOURCE_DIR:?run through ctest}" "${CTML_BUILD_DIR:?run through ctest}"
export CTML_BIN="$CTML_BUILD_DIR/tools/ctml"
export CTML_CLI="$CTML_BIN"
export MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false
# MLflow's Python client retries a down server for minutes by default; the tests ask once.
export MLFLOW_HTTP_REQUEST_MAX_RETRIES=0 MLFLOW_HTTP_REQUEST_TIMEOUT=10
unset MLFLOW_TRACKING_USERNAME MLFLOW_TRACKING_PASSWORD MLFLOW_TRACKING_TOKEN MLFLOW_TRACKING_URI
TMP="$(mktemp -d "${TMPDIR:-/tmp}/ctml-mlflow.XXXXXX")"
_mlflow_pids=()

_mlflow_cleanup() {
  local pid
  for pid in "${_mlflow_pids[@]}"; do
    kill -9 -- "-$pid" 2>/dev/null || kill -9 "$pid" 2>/dev/null || true
  done
  [[ "${KEEP_TMP:-0}" == 1 ]] || rm -rf "$TMP"
}
trap _mlflow_cleanup EXIT

ctml() { "$CTML_BIN" "$@"; }

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

mlflow_require() {
  [[ -x "$CTML_BIN" ]] || fail "$CTML_BIN not built"
  eval "$(bash "$CTML_SOURCE_DIR/scripts/mlflow_env.sh" --print)"
  VENV="$venv"
  TEMPLATE="$template"
  if [[ ! -x "$VENV/bin/mlflow" ]]; then
    if [[ "${CI:-}" == true ]]; then
      fail "CI=true but no MLflow venv in $VENV: .ci/run must run scripts/mlflow_env.sh first"
    fi
    echo "SKIP: no MLflow virtual environment in $VENV; create it with" \
      "'bash scripts/mlflow_env.sh' (PyPI mlflow, about 850 MB)"
    exit 77
  fi
  if [[ ! -s "$TEMPLATE" ]]; then
    bash "$CTML_SOURCE_DIR/scripts/mlflow_env.sh" >/dev/null
  fi
  PY="$VENV/bin/python"
}

_free_port() {
  "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# mlflow_start NAME [--auth]: a server in $TMP/NAME with a copy of the template database.
mlflow_start() {
  local name="$1" auth="${2:-}" dir="$TMP/$1" port
  mkdir -p "$dir/artifacts"
  cp "$TEMPLATE" "$dir/mlflow.db"
  port="$(_free_port)"
  printf -v "${name}_dir" %s "$dir"
  printf -v "${name}_port" %s "$port"
  printf -v "${name}_url" %s "http://127.0.0.1:$port"
  printf -v "${name}_auth" %s "$auth"
  _mlflow_launch "$name"
}

_mlflow_launch() {
  local name="$1" dir port auth pid extra=()
  dir="${name}_dir" && dir="${!dir}"
  port="${name}_port" && port="${!port}"
  auth="${name}_auth" && auth="${!auth}"
  if [[ "$auth" == --auth ]]; then
    extra=(--app-name basic-auth)
    cat >"$dir/auth.ini" <<EOF
[mlflow]
default_permission = READ
database_uri = sqlite:///$dir/basic_auth.db
admin_username = admin
admin_password = ${MLFLOW_TEST_ADMIN_PASSWORD:-ctml-test-admin-pw}
authorization_function = mlflow.server.auth:authenticate_request_basic_auth
EOF
    export MLFLOW_AUTH_CONFIG_PATH="$dir/auth.ini"
    export MLFLOW_FLASK_SERVER_SECRET_KEY="ctml-test-$port"
  fi
  (cd "$dir" && exec setsid "$VENV/bin/mlflow" server --host 127.0.0.1 --port "$port" \
    --workers 1 --backend-store-uri "sqlite:///$dir/mlflow.db" \
    --artifacts-destination "$dir/artifacts" "${extra[@]}" >>"$dir/server.log" 2>&1) &
  pid=$!
  disown "$pid" # no "Killed" notice when a test stops it on purpose
  _mlflow_pids+=("$pid")
  printf -v "${name}_pid" %s "$pid"
  local deadline=$((SECONDS + 120))
  until curl -fsS -o /dev/null "http://127.0.0.1:$port/health" 2>/dev/null; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 30 "$dir/server.log" >&2
      fail "mlflow server $name exited during start-up"
    fi
    ((SECONDS < deadline)) || { tail -n 30 "$dir/server.log" >&2; fail "mlflow server $name not up in 120 s"; }
    sleep 0.5
  done
}

mlflow_stop() {
  local pid="${1}_pid"
  pid="${!pid}"
  kill -9 -- "-$pid" 2>/dev/null || kill -9 "$pid" 2>/dev/null || true
  local port="${1}_port"
  port="${!port}"
  local deadline=$((SECONDS + 30))
  while curl -fsS -o /dev/null "http://127.0.0.1:$port/health" 2>/dev/null; do
    ((SECONDS < deadline)) || fail "server $1 still answers after SIGKILL"
    sleep 0.2
  done
}

mlflow_restart() {
  mlflow_stop "$1"
  _mlflow_launch "$1"
}

# new_workspace DIR URL: a workspace whose config.json names the server.
new_workspace() {
  ctml workspace init "$1" --name "$(basename "$1")" >/dev/null
  "$PY" - "$1/config.json" "$2" <<'EOF'
import json, sys
p, url = sys.argv[1], sys.argv[2]
c = json.load(open(p))
if url:
    c["tracking_uri"] = url
json.dump(c, open(p, "w"))
EOF
}

# wait_for SECONDS COMMAND...: polls COMMAND every 0.5 s until it succeeds or time runs out.
wait_for() {
  local limit="$1"
  shift
  local deadline=$((SECONDS + limit))
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.5
  done
}
