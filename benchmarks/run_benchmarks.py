#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Issue #5/#13 harness: ctml's trainers against the same networks in PyTorch, JAX and
TensorFlow/Keras, on the same threads.

For each configuration (keras, chainer) and each thread count it runs the ctml trainer binary and
benchmarks/torch_reference.py as child processes on the same MNIST files, with OMP_NUM_THREADS and
OPENBLAS_NUM_THREADS set to the thread count for both, and reports per run: the median epoch time,
samples/s, the final test accuracy, the child's peak RSS (from os.wait4) and the GEMM throughput
the epoch implies; then torch/ctml speed ratios and the 1-thread vs N-thread scaling. With
--kernels it also runs the kernel benchmark (bench_kernels) and relates the trainers to its
whole-step GEMM figure. Results go to stdout and into benchmarks/RESULTS.md between marker
comments, so sections written by hand or by other tools survive.

Frameworks (--frameworks, default torch,jax,tf): torch_reference.py runs under --python (Debian's
python3-torch); jax_reference.py and tf_reference.py under --bench-python, the venv made by
scripts/bench_env.sh. Every implementation's first epoch is left out of its median (JAX and
TensorFlow compile the step in it); the JAX runs are pinned with taskset to as many CPUs as the
thread count, since XLA ignores thread settings.

Run with Debian's /usr/bin/python3 (the torch reference needs its python3-torch).
"""
import argparse
import ctypes
import datetime
import json
import os
import platform
import re
import resource
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
TRAIN_SAMPLES = 60000
FRAMEWORKS = ("torch", "jax", "tf")
FRAMEWORK_SCRIPTS = {"torch": "torch_reference.py", "jax": "jax_reference.py",
                     "tf": "tf_reference.py"}
DEFAULT_BENCH_PYTHON = str(Path(os.environ.get("CTML_BENCH_VENV") or
                                Path.home() / ".cache" / "ctml" / "bench-venv") / "bin" / "python")

# The recipes (shared/REFERENCE.md). The trainer flags are the tutorials' own arguments, passed
# explicitly because the scripts' defaults differ from what the tutorials run (first layer 100 vs
# 300, batch 100 vs 128, 20 vs 10 epochs).
RECIPES = {
    "keras": {
        "binary": "keras_mnist",
        "widths": (784, 300, 100, 10),
        "batch": 50,
        "epochs": 20,
        "ctml_args": ["--batch-size", "50", "--first-layer-neurons", "300",
                      "--second-layer-neurons", "100", "--learning-rate", "0.001"],
    },
    "chainer": {
        "binary": "chainer_mnist",
        "widths": (784, 100, 100, 10),
        "batch": 128,
        "epochs": 10,
        "ctml_args": ["--batchsize", "128"],
    },
}

EPOCH_RE = re.compile(r"^Epoch (\d+)/(\d+) - ([0-9.]+)s - loss: (\S+) - accuracy: (\S+)"
                      r" - val_loss: (\S+) - val_accuracy: (\S+)\s*$")
FINAL_ACC_RE = re.compile(r"^Final test accuracy: (\S+)\s*$")
FINAL_LOSS_RE = re.compile(r"^Final test loss: (\S+)\s*$")


def gemm_flop_per_sample(widths):
    """GEMM FLOP one sample costs in one training step: forward and dW for every layer, dX for
    every layer but the first (2·in·out each). Independent of the batch size."""
    pairs = list(zip(widths[:-1], widths[1:]))
    return sum(2 * 2 * i * o for i, o in pairs) + sum(2 * i * o for i, o in pairs[1:])


def parse_threads(text):
    try:
        values = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        values = []
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"expected positive integers separated by commas, got {text!r}")
    return sorted(set(values))


def parse_configs(text):
    names = [c.strip() for c in text.split(",") if c.strip()]
    bad = [c for c in names if c not in RECIPES]
    if not names or bad:
        raise argparse.ArgumentTypeError(f"configs must be among {sorted(RECIPES)}, got {text!r}")
    return names


def parse_frameworks(text):
    names = [c.strip() for c in text.split(",") if c.strip()]
    bad = [n for n in names if n not in FRAMEWORKS]
    if bad:
        raise argparse.ArgumentTypeError(f"unknown framework(s) {bad}; expected among {','.join(FRAMEWORKS)}")
    return list(dict.fromkeys(names))


def parse_args(argv):
    all_cores = len(os.sched_getaffinity(0))
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--configs", type=parse_configs, default=list(RECIPES),
                   help="comma-separated, among keras,chainer (default: both)")
    p.add_argument("--threads", type=parse_threads, default=sorted({1, all_cores}),
                   help=f"comma-separated thread counts (default: 1,{all_cores})")
    p.add_argument("--epochs", type=int, default=None,
                   help="epochs per run (default: the recipe's, keras 20, chainer 10)")
    p.add_argument("--ctml-bin", default=str(REPO / "build" / "examples"),
                   help="folder holding keras_mnist and chainer_mnist (default: build/examples)")
    p.add_argument("--skip-ctml", action="store_true", help="run the PyTorch reference alone")
    p.add_argument("--skip-torch", action="store_true", help="leave PyTorch out")
    p.add_argument("--frameworks", type=parse_frameworks, default=list(FRAMEWORKS),
                   help="comma-separated reference frameworks among torch,jax,tf (default: all; "
                        "'' for none: the ctml trainers alone)")
    p.add_argument("--bench-python", default=DEFAULT_BENCH_PYTHON,
                   help="interpreter of the venv with jax and tensorflow-cpu (scripts/bench_env.sh; "
                        f"default {DEFAULT_BENCH_PYTHON})")
    p.add_argument("--openblas-coretype", default="auto", metavar="CORE|auto|none",
                   help="OPENBLAS_CORETYPE for every run. auto (default): SKYLAKEX when OpenBLAS "
                        "does not know this CPU (it then falls back to its SSE3 'Prescott' "
                        "kernels) but the CPU has AVX-512, else unset; an OPENBLAS_CORETYPE "
                        "already in the environment is kept")
    p.add_argument("--keep-first-epoch", action="store_true",
                   help="count the first epoch in the medians (default: left out, it holds JAX's "
                        "and TensorFlow's compilation)")
    p.add_argument("--data-folder", default=str(REPO.parent / "shared" / "data" / "mnist"))
    p.add_argument("--python", default="/usr/bin/python3",
                   help="interpreter with python3-torch for torch_reference.py")
    p.add_argument("--torch-env", action="append", default=[], metavar="KEY=VALUE",
                   help="extra environment for the torch runs only (repeatable)")
    p.add_argument("--seed", type=int, default=0, help="seed passed to torch_reference.py")
    p.add_argument("--wait-idle", type=float, default=0.0, metavar="SECONDS",
                   help="before each run, wait up to SECONDS for other processes to leave the "
                        "CPUs idle (default 0: do not wait)")
    p.add_argument("--kernels", nargs="?", const=str(REPO / "build" / "benchmarks" / "bench_kernels"),
                   default=None, metavar="BENCH_KERNELS",
                   help="also run the kernel benchmark (default path: build/benchmarks/bench_kernels)")
    p.add_argument("--kernels-only", action="store_true", help="run only the kernel benchmark")
    p.add_argument("--kernels-min-time", type=float, default=0.1, metavar="SECONDS",
                   help="Google Benchmark's --benchmark_min_time per repetition (default 0.1)")
    p.add_argument("--results", default=str(HERE / "RESULTS.md"), help="file to update")
    p.add_argument("--section", default="trainers",
                   help="marker name of the trainer section written to --results (default: trainers)")
    p.add_argument("--no-write", action="store_true", help="print only; leave --results alone")
    args = p.parse_args(argv)
    if args.epochs is not None and args.epochs < 1:
        p.error(f"--epochs must be >= 1, got {args.epochs}")
    if args.kernels_only and args.kernels is None:
        args.kernels = str(REPO / "build" / "benchmarks" / "bench_kernels")
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", args.section):
        p.error(f"--section must be letters, digits, '_', '.', '-', got {args.section!r}")
    if args.skip_torch and "torch" in args.frameworks:
        args.frameworks.remove("torch")
    for kv in args.torch_env:
        if "=" not in kv:
            p.error(f"--torch-env expects KEY=VALUE, got {kv!r}")
    return args


# ---------------------------------------------------------------------------------------------
# Child processes

class child_failed(Exception):
    pass


def cpu_busy_seconds():
    """CPU time all processes have used since boot (the first line of /proc/stat, idle and iowait
    excluded; guest time is already inside user time)."""
    with open("/proc/stat") as f:
        ticks = [int(v) for v in f.readline().split()[1:9]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def wait_for_idle(max_wait, label):
    """Waits (at most max_wait seconds) until the machine has been idle for 2 s: other processes
    using less than a fifth of a core. Returns the seconds waited."""
    start = time.perf_counter()
    while True:
        before = cpu_busy_seconds()
        time.sleep(2.0)
        busy = (cpu_busy_seconds() - before) / 2.0
        waited = time.perf_counter() - start
        if busy < 0.2 or waited >= max_wait:
            if waited > 2.5:
                sys.stderr.write(f"[{label}] waited {waited:.0f} s for an idle machine "
                                 f"(last 2 s: {busy:.2f} cores busy)\n")
            return waited


def run_child(cmd, env, label, cwd):
    """Runs cmd, echoing its output to stderr as it comes; returns (output lines, peak RSS in
    bytes, wall seconds, others' load). The RSS comes from wait4 on this child alone; it is at
    least the RSS this harness had when it forked (reported with the results as the floor).
    Others' load is the CPU time every other process used during the run, in cores: the machine
    may be shared, and a busy neighbour slows multi-threaded runs most."""
    sys.stderr.write(f"[{label}] $ {shlex.join(cmd)}\n")
    busy_before = cpu_busy_seconds()
    start = time.perf_counter()
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                                cwd=cwd, text=True, bufsize=1)
    except OSError as e:
        raise child_failed(f"{label}: cannot start {cmd[0]}: {e}") from e
    lines = []
    try:
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            sys.stderr.write(f"[{label}] {line}")
    except BaseException:
        # Interrupted (Ctrl-C, SIGTERM): a trainer left running would skew whatever runs next.
        proc.kill()
        proc.wait()
        raise
    proc.stdout.close()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here; Popen must not wait again
    wall = time.perf_counter() - start
    others = (cpu_busy_seconds() - busy_before - usage.ru_utime - usage.ru_stime) / wall
    if proc.returncode != 0:
        tail = "\n".join(lines[-15:])
        raise child_failed(f"{label}: {shlex.join(cmd)} exited with {proc.returncode}:\n{tail}")
    return lines, usage.ru_maxrss * 1024, wall, max(0.0, others)


def parse_trainer_output(lines, label):
    epochs, final_acc, final_loss, header = [], None, None, None
    for line in lines:
        m = EPOCH_RE.match(line)
        if m:
            epochs.append({"epoch": int(m[1]), "seconds": float(m[3]), "loss": float(m[4]),
                           "accuracy": float(m[5]), "val_loss": float(m[6]),
                           "val_accuracy": float(m[7])})
            continue
        m = FINAL_ACC_RE.match(line)
        if m:
            final_acc = float(m[1])
            continue
        m = FINAL_LOSS_RE.match(line)
        if m:
            final_loss = float(m[1])
            continue
        if header is None and line.startswith(("torch ", "jax ", "tensorflow ")):
            header = line
    if not epochs:
        raise child_failed(f"{label}: no 'Epoch i/n - Xs - loss: ...' line in its output")
    if final_acc is None:
        raise child_failed(f"{label}: no 'Final test accuracy: X' line in its output")
    # Accuracy is a fraction as Keras prints it; accept a percentage too.
    if final_acc > 1.0:
        final_acc /= 100.0
    return epochs, final_acc, final_loss, header


def child_env(threads, extra=()):
    env = dict(os.environ)
    env["OMP_NUM_THREADS"] = str(threads)
    env["OPENBLAS_NUM_THREADS"] = str(threads)
    for kv in extra:
        k, v = kv.split("=", 1)
        env[k] = v
    return env


def run_trainer(impl, config, threads, args, workdir):
    recipe = RECIPES[config]
    epochs = args.epochs or recipe["epochs"]
    data = str(Path(args.data_folder).resolve())
    if impl == "ctml":
        binary = Path(args.ctml_bin) / recipe["binary"]
        cmd = [str(binary.resolve()), *recipe["ctml_args"], "--epochs", str(epochs),
               "--threads", str(threads), "--data-folder", data]
        env = child_env(threads)
    else:
        python = args.python if impl == "torch" else args.bench_python
        cmd = [python, str(HERE / FRAMEWORK_SCRIPTS[impl]), "--config", config,
               "--epochs", str(epochs), "--threads", str(threads), "--data-folder", data,
               "--seed", str(args.seed)]
        if impl == "jax":
            # XLA sizes its pool from the CPUs it may use and ignores thread flags.
            cpus = sorted(os.sched_getaffinity(0))[:threads]
            cmd = ["taskset", "-c", ",".join(map(str, cpus)), *cmd]
        env = child_env(threads, args.torch_env if impl == "torch" else ())
    label = f"{impl} {config} t{threads}"
    if args.wait_idle > 0:
        wait_for_idle(args.wait_idle, label)
    lines, rss, wall, others = run_child(cmd, env, label, workdir)
    per_epoch, acc, loss, header = parse_trainer_output(lines, label)
    times = [e["seconds"] for e in per_epoch]
    counted = times if args.keep_first_epoch or len(times) < 2 else times[1:]
    median = statistics.median(counted)
    flop = gemm_flop_per_sample(recipe["widths"]) * TRAIN_SAMPLES
    return {
        "impl": impl, "config": config, "threads": threads, "epochs": len(per_epoch),
        "epoch_seconds": times, "median_s": median, "samples_per_s": TRAIN_SAMPLES / median,
        "final_accuracy": acc, "final_loss": loss, "peak_rss": rss, "wall_s": wall,
        "gemm_gflops": flop / median / 1e9, "others_load": others, "cmd": shlex.join(cmd), "header": header,
        "env": [kv for kv in args.torch_env] if impl == "torch" else [],
        "first_epoch_excluded": counted is not times,
    }


def check_binaries(args):
    missing = []
    if not args.skip_ctml and not args.kernels_only:
        for config in args.configs:
            b = Path(args.ctml_bin) / RECIPES[config]["binary"]
            if not (b.is_file() and os.access(b, os.X_OK)):
                missing.append(f"ctml trainer {b} (build the examples, pass --ctml-bin DIR, "
                               f"or --skip-ctml to run the torch reference alone)")
    if args.kernels is not None:
        b = Path(args.kernels)
        if not (b.is_file() and os.access(b, os.X_OK)):
            missing.append(f"kernel benchmark {b} (configure with -DCTML_BUILD_BENCHMARKS=ON and "
                           f"build bench_kernels, or pass --kernels PATH)")
    if "torch" in args.frameworks and not args.kernels_only and not Path(args.python).is_file():
        missing.append(f"python {args.python} (for torch_reference.py; pass --python)")
    if ({"jax", "tf"} & set(args.frameworks)) and not args.kernels_only and \
            not Path(args.bench_python).is_file():
        missing.append(f"python {args.bench_python} (for jax_reference.py / tf_reference.py: run "
                       f"scripts/bench_env.sh, pass --bench-python, or --frameworks torch)")
    if not Path(args.data_folder).is_dir():
        missing.append(f"MNIST data folder {args.data_folder} (pass --data-folder)")
    if missing:
        sys.exit("run_benchmarks.py: missing:\n  " + "\n  ".join(missing))


# ---------------------------------------------------------------------------------------------
# Kernel benchmark

def run_kernels(binary, threads, wait_idle, min_time):
    # Short, interleaved repetitions: on a shared machine a 3-minute run rarely stays undisturbed;
    # spread over the run, a burst of load spoils one repetition of many benchmarks, and the
    # median of 5 drops it, instead of spoiling every repetition of one benchmark.
    cmd = [str(Path(binary).resolve()), f"--blas_threads={','.join(map(str, threads))}",
           "--benchmark_format=json", "--benchmark_repetitions=5",
           f"--benchmark_min_time={min_time:g}", "--benchmark_report_aggregates_only=true",
           "--benchmark_enable_random_interleaving=true"]
    if wait_idle > 0:
        wait_for_idle(wait_idle, "kernels")
    sys.stderr.write(f"[kernels] $ {shlex.join(cmd)}\n")
    busy_before, start = cpu_busy_seconds(), time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, env=child_env(max(threads)))
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    own = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    others = max(0.0, (cpu_busy_seconds() - busy_before - own) / (time.perf_counter() - start))
    if out.returncode != 0:
        raise child_failed(f"kernels: {shlex.join(cmd)} exited with {out.returncode}")
    doc = json.loads(out.stdout)
    rows = {}
    for b in doc["benchmarks"]:
        if b.get("aggregate_name") != "median":
            continue
        name = b["run_name"]
        rows[name] = {"name": name, "gflops": b["FLOPS"] / 1e9 if "FLOPS" in b else None,
                      "gbytes": b["bytes"] / 1e9 if "bytes" in b else None, "time": b["real_time"],
                      "unit": b["time_unit"], "threads": int(b["blas_threads"]),
                      "order": b.get("family_index", 0)}
    # Interleaving shuffles the output; report in registration order.
    rows = dict(sorted(rows.items(), key=lambda kv: kv[1]["order"]))
    return {"cmd": shlex.join(cmd), "rows": rows, "context": doc.get("context", {}),
            "others_load": others}


TIME_UNIT_S = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}


def kernel_lookup(kernels, prefix, threads):
    if kernels is None:
        return None
    for name, row in kernels["rows"].items():
        if name.startswith(prefix + "/") and row["threads"] == threads:
            return row
    return None


# ---------------------------------------------------------------------------------------------
# Machine description

def openblas_config(env):
    """openblas_get_config() as a process with `env` sees it (OpenBLAS picks its kernels when it
    loads, from OPENBLAS_CORETYPE or CPUID)."""
    code = ("import ctypes; l = ctypes.CDLL('libopenblas.so.0'); "
            "l.openblas_get_config.restype = ctypes.c_char_p; print(l.openblas_get_config().decode())")
    try:
        return subprocess.run([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def choose_openblas_coretype(choice):
    """Sets os.environ's OPENBLAS_CORETYPE for the children; returns a note for the report."""
    if "OPENBLAS_CORETYPE" in os.environ:
        return f"OPENBLAS_CORETYPE={os.environ['OPENBLAS_CORETYPE']} kept from the environment"
    if choice == "none":
        return None
    if choice != "auto":
        os.environ["OPENBLAS_CORETYPE"] = choice
        return f"OPENBLAS_CORETYPE={choice} (--openblas-coretype)"
    config = openblas_config(dict(os.environ))
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        flags = []
    if " Prescott" in f" {config}" and "avx512f" in flags:
        os.environ["OPENBLAS_CORETYPE"] = "SKYLAKEX"
        return ("OPENBLAS_CORETYPE=SKYLAKEX for every run: this OpenBLAS does not know the CPU "
                f"and fell back to its SSE3 kernels ({config}), though the CPU has AVX-512")
    return None


def machine_info(torch_header):
    info = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}
    model, flags = platform.processor() or "unknown", ""
    try:
        lscpu = subprocess.run(["lscpu"], stdout=subprocess.PIPE, text=True, check=True).stdout
        for line in lscpu.splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "Model name":
                model = value.strip()
            elif key.strip() == "Flags":
                flags = value
    except (OSError, subprocess.CalledProcessError):
        pass
    info["cpu"] = model
    info["cores"] = len(os.sched_getaffinity(0))
    avx512 = sorted(f for f in flags.split() if f.startswith("avx512"))
    info["avx512"] = ", ".join(avx512) if avx512 else "no"
    try:
        lib = ctypes.CDLL("libopenblas.so.0")
        lib.openblas_get_config.restype = ctypes.c_char_p
        info["openblas"] = lib.openblas_get_config().decode()
    except (OSError, AttributeError):
        info["openblas"] = "not found (libopenblas.so.0)"
    info["torch"] = torch_header or "not run"
    info["openblas_env"] = ", ".join(f"{k}={v}" for k, v in sorted(os.environ.items())
                                     if k.startswith("OPENBLAS")) or "none set"
    info["kernel"] = platform.release()
    try:
        head = subprocess.run(["git", "-C", str(REPO), "log", "-1", "--format=%h %cI"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--",
                                "include", "examples", "benchmarks"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                               check=True).stdout.strip()
        info["commit"] = head + (" (with uncommitted changes under include/, examples/ or "
                                 "benchmarks/)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        info["commit"] = "unknown (no git)"
    info["load"] = "%.2f %.2f %.2f" % os.getloadavg()
    return info


# ---------------------------------------------------------------------------------------------
# Report

def fmt_mb(nbytes):
    return f"{nbytes / 1e6:.0f}"


def speed_rows(results):
    """Framework/ctml ratios of median epoch times: per framework on the same threads, and
    against the fastest framework run at any thread count (PyTorch can be slower on more
    threads; the fair baseline is the best any framework reached)."""
    rows = []
    for config in dict.fromkeys(r["config"] for r in results):
        ref_runs = [r for r in results if r["impl"] != "ctml" and r["config"] == config]
        best = min(ref_runs, key=lambda r: r["median_s"]) if ref_runs else None
        for c in (r for r in results if r["impl"] == "ctml" and r["config"] == config):
            same = {}
            for fw in dict.fromkeys(r["impl"] for r in ref_runs):
                t = next((r for r in ref_runs if r["impl"] == fw and r["threads"] == c["threads"]),
                         None)
                if t:
                    same[fw] = {"ratio": t["median_s"] / c["median_s"],
                                "acc_diff": (c["final_accuracy"] - t["final_accuracy"]) * 100}
            rows.append({
                "config": config, "threads": c["threads"], "same": same,
                "best": best["median_s"] / c["median_s"] if best else None,
                "best_impl": f"{best['impl']} on {best['threads']}" if best else None,
            })
    return rows


def scaling_rows(results):
    rows = []
    keys = dict.fromkeys((r["impl"], r["config"]) for r in results)
    for impl, config in keys:
        runs = sorted((r for r in results if r["impl"] == impl and r["config"] == config),
                      key=lambda r: r["threads"])
        if len(runs) >= 2:
            one, many = runs[0], runs[-1]
            rows.append({"impl": impl, "config": config, "from": one["threads"],
                         "to": many["threads"], "speedup": one["median_s"] / many["median_s"]})
    return rows


def render_trainers(results, kernels, info, args, harness_rss):
    out = []
    cmdline = shlex.join(["/usr/bin/python3", "benchmarks/run_benchmarks.py", *sys.argv[1:]])
    out.append(f"Measured {info['date']} with `{cmdline}`.")
    out.append("")
    out.append(f"- CPU: {info['cpu']}, {info['cores']} cores available; AVX-512: {info['avx512']}")
    out.append(f"- OpenBLAS: {info['openblas']}; OPENBLAS_* in the environment: {info['openblas_env']}"
               + (f" ({info['coretype_note']})" if info.get("coretype_note") else ""))
    out.append(f"- PyTorch: {info['torch']}" + "".join(
        f"; {h}" for h in dict.fromkeys(r["header"].split(",")[0] for r in results
                                        if r["header"] and not r["header"].startswith("torch "))))
    out.append(f"- Linux {info['kernel']}; load average at the end: {info['load']}")
    out.append(f"- ctml checkout: {info['commit']} (the binaries were built from it, or earlier)")
    out.append("- OMP_NUM_THREADS and OPENBLAS_NUM_THREADS = the thread count for every run"
               + (f"; torch runs also with {', '.join(args.torch_env)}" if args.torch_env else ""))
    out.append("")
    out.append("| config | threads | impl | median epoch (s) | samples/s | final test acc | "
               "peak RSS (MB) | dense GEMM GFLOP/s | % of step-GEMM bench | others' load (cores) |")
    out.append("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        k = kernel_lookup(kernels, f"step_gemms/{r['config']}", r["threads"])
        pct = f"{100 * r['gemm_gflops'] / k['gflops']:.0f}%" if k else "–"
        out.append(f"| {r['config']} | {r['threads']} | {r['impl']} | {r['median_s']:.3f} | "
                   f"{r['samples_per_s']:,.0f} | {100 * r['final_accuracy']:.2f}% | "
                   f"{fmt_mb(r['peak_rss'])} | {r['gemm_gflops']:.1f} | {pct} | "
                   f"{r['others_load']:.2f} |")
    out.append("")
    first = ("all epochs but the first (left out: JAX and TensorFlow compile in it)"
             if any(r.get("first_epoch_excluded") for r in results) else "all epochs")
    out.append(f"Median over {first} of a run; samples/s = {TRAIN_SAMPLES} / median epoch; "
               "dense GEMM GFLOP/s = the dense GEMM FLOP of one epoch (forward, dW, dX but the first "
               "layer's) / median epoch: the throughput of an implementation doing every "
               "multiply-add (one that skips work, such as zero pixels, can pass 100% of the "
               "step-GEMM benchmark); % of step-GEMM bench relates it to step_gemms on the same "
               "threads (the kernel section). Peak RSS is ru_maxrss from wait4 on the child; it includes the "
               f"harness's RSS at fork (at most {fmt_mb(harness_rss)} MB) as a floor. MB = 10^6 bytes. "
               "Others' load: CPU time used by every other process during the run, in cores "
               "(from /proc/stat); a shared machine slows multi-threaded runs most.")
    speeds = speed_rows(results)
    if speeds:
        out.append("")
        fws = list(dict.fromkeys(fw for s in speeds for fw in s["same"]))
        out.append("| config | threads | " + "".join(f"{fw}/ctml, same threads | " for fw in fws)
                   + "fastest framework (any threads)/ctml | "
                   + "".join(f"accuracy ctml − {fw} (points) | " for fw in fws))
        out.append("|---|---:|" + "---:|" * (2 * len(fws) + 1))
        for s in speeds:
            same = "".join((f"{s['same'][fw]['ratio']:.2f}× | " if fw in s["same"] else "– | ")
                           for fw in fws)
            diff = "".join((f"{s['same'][fw]['acc_diff']:+.2f} | " if fw in s["same"] else "– | ")
                           for fw in fws)
            best = (f"{s['best']:.2f}× ({s['best_impl']})" if s["best"] is not None else "–")
            out.append(f"| {s['config']} | {s['threads']} | {same}{best} | {diff}")
    scal = scaling_rows(results)
    if scal:
        out.append("")
        out.append("| impl | config | threads | speedup (median epoch) |")
        out.append("|---|---|---|---:|")
        for s in scal:
            out.append(f"| {s['impl']} | {s['config']} | {s['from']} → {s['to']} | "
                       f"{s['speedup']:.2f}× |")
    out.append("")
    out.append("<details><summary>Per-epoch times (s) and commands</summary>")
    out.append("")
    for r in results:
        env = f" (env {' '.join(r['env'])})" if r["env"] else ""
        out.append(f"- {r['impl']} {r['config']} threads {r['threads']}: "
                   f"{', '.join(f'{t:.2f}' for t in r['epoch_seconds'])}; final test loss "
                   f"{r['final_loss'] if r['final_loss'] is not None else '?'}; wall "
                   f"{r['wall_s']:.0f} s; `{r['cmd']}`{env}")
    out.append("")
    out.append("</details>")
    return "\n".join(out)


def render_kernels(kernels, info):
    cmdline = shlex.join(["/usr/bin/python3", "benchmarks/run_benchmarks.py", *sys.argv[1:]])
    out = [f"Measured {info['date']} with `{cmdline}`, which ran `{kernels['cmd']}` "
           "(median of 5 repetitions).", ""]
    out.append(f"- CPU: {info['cpu']}, {info['cores']} cores; OpenBLAS: {info['openblas']}")
    out.append(f"- ctml checkout: {info['commit']}")
    out.append(f"- Others' load during the run: {kernels['others_load']:.2f} cores (CPU time of "
               "every other process, from /proc/stat)")
    ctx = kernels["context"]
    if ctx.get("library_build_type") == "debug":
        out.append("- Google Benchmark reports its own library as a debug build (Debian's "
                   "libbenchmark); this does not affect the timed code, which is ctml + OpenBLAS.")
    out.append("")
    by_name = {}
    for name, row in kernels["rows"].items():
        short = re.sub(r"(/blas_threads:\d+)?(/real_time)?$", "", name)
        by_name.setdefault(short, {})[row["threads"]] = row
    threads = sorted({row["threads"] for row in kernels["rows"].values()})
    out.append("| benchmark | " + " | ".join(f"{t} thr: time | rate | % ceiling"
                                             for t in threads) + " |")
    out.append("|---|" + "---:|---:|---:|" * len(threads))
    for short, per_threads in by_name.items():
        cells = []
        for t in threads:
            row = per_threads.get(t)
            ceiling = kernel_lookup(kernels, "sgemm_ceiling", t)
            if row is None:
                cells.append("– | – | –")
                continue
            if row["gflops"] is not None:
                pct = f"{100 * row['gflops'] / ceiling['gflops']:.0f}%" if ceiling else "–"
                rate = f"{row['gflops']:.1f} GFLOP/s"
            else:
                pct, rate = "–", f"{row['gbytes']:.1f} GB/s"
            cells.append(f"{row['time']:.2f} {row['unit']} | {rate} | {pct}")
        out.append(f"| {short} | " + " | ".join(cells) + " |")
    out.append("")
    out.append("gemm/CONFIG/PASS/B×in×out: fwd = X(B×in)·W(in×out); dW = Xᵀ·dY; dX = dY·Wᵀ. "
               "step_gemms = every GEMM of one training step (forward all layers, dW all, dX all "
               "but the first), the ceiling for the trainers' whole step at the same shapes. "
               "% ceiling: of the 1024³ SGEMM on the same number of threads. fused/* and "
               "step_non_gemm (every element-wise kernel of one step, the optimizer update and "
               "the uint8 → float batch gather) are single-threaded; their rate is the bytes each "
               "call reads and writes per second.")
    out.append("")
    out.append("The kernels summed per step (an estimate of the step's cost without the "
               "trainer's own overhead):")
    out.append("")
    for config in RECIPES:
        other = kernel_lookup(kernels, f"step_non_gemm/{config}", 1)
        for t in threads:
            gemm = kernel_lookup(kernels, f"step_gemms/{config}", t)
            if other and gemm and other["unit"] == gemm["unit"]:
                step = other["time"] + gemm["time"]
                samples = RECIPES[config]["batch"]
                out.append(f"- {config}, {t} BLAS thread(s): GEMMs {gemm['time']:.0f} + "
                           f"non-GEMM {other['time']:.0f} = {step:.0f} {gemm['unit']} per step of "
                           f"{samples} samples (non-GEMM {100 * other['time'] / step:.0f}% of it); "
                           f"an epoch at that rate: "
                           f"{step * TIME_UNIT_S[gemm['unit']] * TRAIN_SAMPLES / samples:.3f} s.")
    return "\n".join(out)


def print_console(results, kernels):
    if results:
        if any(r.get("first_epoch_excluded") for r in results):
            print("medians leave out each run's first epoch (JAX/TensorFlow compile in it)")
        print(f"{'config':8} {'thr':>3} {'impl':5} {'median s':>9} {'samples/s':>10} "
              f"{'acc %':>6} {'RSS MB':>7} {'GEMM GF/s':>9} {'others':>6}")
        for r in results:
            print(f"{r['config']:8} {r['threads']:>3} {r['impl']:5} {r['median_s']:>9.3f} "
                  f"{r['samples_per_s']:>10,.0f} {100 * r['final_accuracy']:>6.2f} "
                  f"{fmt_mb(r['peak_rss']):>7} {r['gemm_gflops']:>9.1f} {r['others_load']:>6.2f}")
        for s in speed_rows(results):
            same = ", ".join(f"{fw}/ctml {v['ratio']:.2f}x" for fw, v in s["same"].items())
            best = f"{s['best']:.2f}x" if s["best"] is not None else "-"
            print(f"{s['config']} threads {s['threads']}: {same or 'no framework'} same threads; "
                  f"{best} vs the fastest framework ({s['best_impl']})")
        for s in scaling_rows(results):
            print(f"scaling {s['impl']} {s['config']} {s['from']}->{s['to']} threads: "
                  f"{s['speedup']:.2f}x")
    if kernels:
        for name, row in kernels["rows"].items():
            rate = (f"{row['gflops']:8.1f} GFLOP/s" if row["gflops"] is not None
                    else f"{row['gbytes']:8.1f} GB/s")
            print(f"{name:60} {row['time']:10.2f} {row['unit']:2} {rate}")


def update_results(path, section, body, title):
    begin = f"<!-- run_benchmarks:BEGIN {section} -->"
    end = f"<!-- run_benchmarks:END {section} -->"
    block = f"{begin}\n## {title}\n\n{body}\n{end}"
    p = Path(path)
    text = p.read_text() if p.exists() else (
        "# ctml benchmark results\n\nSections between `run_benchmarks` markers are rewritten by "
        "`benchmarks/run_benchmarks.py`; edit outside them.\n")
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, p)


SECTION_TITLES = {
    "trainers": "Trainers: ctml vs PyTorch, JAX and TensorFlow (run_benchmarks.py)",
    "kernels": "Kernel benchmarks (bench_kernels)",
    "pytorch-reference": "PyTorch reference alone (torch_reference.py through run_benchmarks.py --skip-ctml)",
}


def main(argv):
    args = parse_args(argv)
    # SIGTERM (kill PID, nohup runs) unwinds like Ctrl-C, so run_child can stop its child.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("run_benchmarks.py: terminated"))
    check_binaries(args)
    coretype_note = choose_openblas_coretype(args.openblas_coretype)
    if coretype_note:
        print(f"run_benchmarks.py: {coretype_note}", file=sys.stderr)
    results = []
    impls = ([] if args.skip_ctml else ["ctml"]) + list(args.frameworks)
    try:
        with tempfile.TemporaryDirectory(prefix="ctml-bench-") as workdir:
            # Trainers write ./outputs; run them in a scratch folder, not in the checkout.
            if not args.kernels_only:
                for config in args.configs:
                    for threads in args.threads:
                        for impl in impls:
                            results.append(run_trainer(impl, config, threads, args, workdir))
        kernels = run_kernels(args.kernels, args.threads, args.wait_idle, args.kernels_min_time) if args.kernels else None
    except child_failed as e:
        sys.exit(f"run_benchmarks.py: {e}")
    harness_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    torch_header = next((r["header"].split(",")[0] for r in results
                         if r["header"] and r["impl"] == "torch"), None)
    info = machine_info(torch_header)
    info["coretype_note"] = coretype_note
    print_console(results, kernels)
    if args.no_write:
        return 0
    if results:
        title = SECTION_TITLES.get(args.section, args.section)
        update_results(args.results, args.section,
                       render_trainers(results, kernels, info, args, harness_rss), title)
    if kernels:
        update_results(args.results, "kernels", render_kernels(kernels, info),
                       SECTION_TITLES["kernels"])
    print(f"updated {args.results}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
