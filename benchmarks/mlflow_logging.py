#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Logging N metric points (default 100,000) to one MLflow tracking server: ctml beside MLflow's
own Python client, on the same server in the same run.

    python3 benchmarks/mlflow_logging.py [--build build] [--points 100000] [--results]

Needs the venv of scripts/mlflow_env.sh (the script re-runs itself with its Python) and a build
with tools/ctml and tests/mlflow/ctml_mlflow_driver (cmake --build build --target ctml_cli
ctml_mlflow_driver). It starts its own server on a free loopback port from the template
database and prints one table:
  ctml, live run        the trainer logs N points through ctml::run::get_context(); its
                        forwarder sends them; time from the trainer's start until the run is
                        FINISHED on the server with all N points (the trainer's own time in
                        its log calls is shown too)
  ctml sync             `ctml sync --to` of a local workspace holding the same N points
  mlflow log_batch      MlflowClient().log_batch in requests of 1000 points (MLflow's limit)
  mlflow log_metric     (only with --per-point) one request per point, as mlflow.log_metric
--results appends the table to benchmarks/RESULTS.md.
"""
import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def venv_paths():
    out = subprocess.check_output(["bash", os.path.join(ROOT, "scripts", "mlflow_env.sh"), "--print"], text=True)
    kv = dict(line.split("=", 1) for line in out.split())
    return kv["venv"], kv["template"]


def reexec_in_venv():
    venv, template = venv_paths()
    py = os.path.join(venv, "bin", "python")
    if not os.path.exists(py):
        sys.exit(f"no MLflow venv in {venv}: run `bash scripts/mlflow_env.sh` first")
    if not os.path.exists(template):
        subprocess.check_call(["bash", os.path.join(ROOT, "scripts", "mlflow_env.sh")])
    if os.path.realpath(sys.prefix) != os.path.realpath(venv):
        os.execv(py, [py] + sys.argv)
    return venv, template


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start_server(venv, template, tmp):
    os.makedirs(os.path.join(tmp, "artifacts"))
    shutil.copy(template, os.path.join(tmp, "mlflow.db"))
    port = free_port()
    env = dict(os.environ, MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false")
    log = open(os.path.join(tmp, "server.log"), "w")
    proc = subprocess.Popen([os.path.join(venv, "bin", "mlflow"), "server", "--host", "127.0.0.1", "--port", str(port),
                             "--workers", "1", "--backend-store-uri", f"sqlite:///{tmp}/mlflow.db",
                             "--artifacts-destination", f"{tmp}/artifacts"],
                            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    import urllib.request
    deadline = time.time() + 120
    while True:
        try:
            urllib.request.urlopen(url + "/health", timeout=2)
            return proc, url
        except Exception:
            if proc.poll() is not None or time.time() > deadline:
                os.killpg(proc.pid, signal.SIGKILL)
                sys.exit(f"mlflow server did not start; see {tmp}/server.log")
            time.sleep(0.5)


def workspace(ctml, path, url):
    subprocess.check_call([ctml, "workspace", "init", path, "--name", os.path.basename(path)], stdout=subprocess.DEVNULL)
    if url:
        cfg = json.load(open(os.path.join(path, "config.json")))
        cfg["tracking_uri"] = url
        json.dump(cfg, open(os.path.join(path, "config.json"), "w"))


def count_on_server(client, experiment, key):
    import mlflow
    runs = mlflow.search_runs(experiment_names=[experiment], output_format="list")
    if not runs:
        return None, 0
    r = runs[0]
    return r.info.status, len(client.get_metric_history(r.info.run_id, key))


def main():
    venv, template = reexec_in_venv()
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--points", type=int, default=100_000)
    ap.add_argument("--per-point", action="store_true", help="also time one request per point (slow)")
    ap.add_argument("--results", action="store_true", help="append the table to benchmarks/RESULTS.md")
    a = ap.parse_args()
    a.build = os.path.abspath(a.build)
    ctml = os.path.join(a.build, "tools", "ctml")
    driver = os.path.join(a.build, "tests", "mlflow", "ctml_mlflow_driver")
    for exe in (ctml, driver):
        if not os.access(exe, os.X_OK):
            sys.exit(f"{exe} missing: cmake --build {a.build} --target ctml_cli ctml_mlflow_driver")
    os.environ["CTML_CLI"] = ctml
    os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"
    tmp = tempfile.mkdtemp(prefix="ctml-mlflow-bench.")
    proc, url = start_server(venv, template, os.path.join(tmp, "server"))
    rows = []
    try:
        import mlflow
        from mlflow import MlflowClient
        from mlflow.entities import Metric
        mlflow.set_tracking_uri(url)
        client = MlflowClient(url)
        n = a.points

        # ctml, live: trainer + forwarder.
        live = os.path.join(tmp, "live")
        workspace(ctml, live, url)
        t0 = time.perf_counter()
        out = subprocess.check_output([driver, "--epochs", "1", "--points", str(n), "--experiment", "bench-live"], cwd=live, text=True)
        trainer_s = time.perf_counter() - t0
        in_log_calls = float(out.split()[2])
        while True:
            status, got = count_on_server(client, "bench-live", "batch_loss")
            if status == "FINISHED" and got == n:
                break
            if time.perf_counter() - t0 > 1800:
                sys.exit(f"ctml live: only {got} of {n} points after 30 min")
            time.sleep(0.2)
        rows.append(("ctml, live run (trainer + forwarder)", time.perf_counter() - t0,
                     f"trainer {trainer_s:.3f} s, of which {in_log_calls:.4f} s in log calls"))

        # ctml sync of a local workspace.
        local = os.path.join(tmp, "local")
        workspace(ctml, local, "")
        subprocess.check_call([driver, "--epochs", "1", "--points", str(n), "--experiment", "bench-sync"], cwd=local, stdout=subprocess.DEVNULL)
        subprocess.check_call([ctml, "run", "list"], cwd=local, stdout=subprocess.DEVNULL)  # ingest first
        t0 = time.perf_counter()
        sent = json.loads(subprocess.check_output([ctml, "sync", "--to", url, "--json"], cwd=local))
        sync_s = time.perf_counter() - t0
        status, got = count_on_server(client, "bench-sync", "batch_loss")
        assert got == n, (got, n)
        rows.append(("ctml sync --to (local workspace)", sync_s, f"{sent['requests']} write requests"))

        # MLflow's Python client, log_batch of 1000.
        exp = client.create_experiment("bench-mlflow-batch")
        run = client.create_run(exp)
        ts = int(time.time() * 1000)
        t0 = time.perf_counter()
        for i in range(0, n, 1000):
            client.log_batch(run.info.run_id, metrics=[Metric("batch_loss", 1.0 / (s + 1), ts, s) for s in range(i, min(n, i + 1000))])
        client.set_terminated(run.info.run_id)
        batch_s = time.perf_counter() - t0
        assert len(client.get_metric_history(run.info.run_id, "batch_loss")) == n
        rows.append(("mlflow MlflowClient.log_batch (1000/request)", batch_s, f"{(n + 999) // 1000} requests"))

        if a.per_point:
            exp = client.create_experiment("bench-mlflow-point")
            run = client.create_run(exp)
            t0 = time.perf_counter()
            for s in range(n):
                client.log_metric(run.info.run_id, "batch_loss", 1.0 / (s + 1), step=s)
            rows.append(("mlflow MlflowClient.log_metric (1/request)", time.perf_counter() - t0, f"{n} requests"))
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the server and its uvicorn workers
        proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)

    title = f"Logging {n:,} metric points to one MLflow {mlflow.__version__} server (sqlite backend, 1 worker), same machine"
    lines = [title, "", "| client | seconds | points/s | notes |", "| --- | ---: | ---: | --- |"]
    for name, secs, note in rows:
        lines.append(f"| {name} | {secs:.2f} | {n / secs:,.0f} | {note} |")
    lines.append("")
    lines.append(f"ratio ctml sync / mlflow log_batch: {rows[1][1] / rows[2][1]:.2f}")
    print("\n".join(lines))
    if a.results:
        with open(os.path.join(ROOT, "benchmarks", "RESULTS.md"), "a") as f:
            f.write("\n## MLflow tracking server (benchmarks/mlflow_logging.py)\n\n" + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
