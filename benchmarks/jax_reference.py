#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The two reference MNIST recipes in JAX, one jit-compiled function per training step (forward,
loss, gradients and the optimizer update, with the batch gathered inside it).

The recipes are torch_reference.py's (same data loading, widths, initialisers, optimizers,
batch sizes and epochs); so is the output (one Keras verbose=2 line per epoch, training time
only, then `Final test loss` / `Final test accuracy`). The first epoch includes XLA's compilation
(and the Chainer recipe's partial last batch compiles a second shape): run_benchmarks.py leaves
each framework's first epoch out of its medians. XLA's CPU backend sizes its thread pool from
the CPUs it may run on and ignores thread flags: for a 1-thread figure, pin the process
(`taskset -c 0`), as run_benchmarks.py does.

Needs the benchmark venv (scripts/bench_env.sh): CTML_BENCH_VENV/bin/python jax_reference.py ...
"""
import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import torch_reference as ref  # noqa: E402  (data loading and recipe table only; no torch import)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", choices=sorted(ref.CONFIGS), default="keras")
    p.add_argument("--data-folder", default=str(Path(__file__).resolve().parent.parent.parent /
                                                "shared" / "data" / "mnist"))
    p.add_argument("--epochs", type=int, default=None, help="override the recipe's epoch count")
    p.add_argument("--train-samples", type=int, default=None,
                   help="train on the first N training images only (smoke tests)")
    p.add_argument("--threads", type=int, default=None,
                   help="recorded only: XLA ignores it; pin the process with taskset instead")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.epochs is not None and args.epochs < 1:
        p.error(f"--epochs must be >= 1, got {args.epochs}")
    if args.train_samples is not None and args.train_samples < 1:
        p.error(f"--train-samples must be >= 1, got {args.train_samples}")
    return args


def init_params(config, key, jax, jnp):
    w = ref.CONFIGS[config]["widths"]
    params = []
    for i in range(len(w) - 1):
        key, sub = jax.random.split(key)
        if config == "keras":  # glorot_uniform
            limit = (6.0 / (w[i] + w[i + 1])) ** 0.5
            k = jax.random.uniform(sub, (w[i], w[i + 1]), jnp.float32, -limit, limit)
        else:  # Chainer LeCunNormal: N(0, 1/fan_in)
            k = jax.random.normal(sub, (w[i], w[i + 1]), jnp.float32) * (1.0 / w[i]) ** 0.5
        params.append((k, jnp.zeros((w[i + 1],), jnp.float32)))
    return params


def make_step(config, jax, jnp):
    def logits_of(params, x):
        for i, (k, b) in enumerate(params):
            x = x @ k + b
            if i + 1 < len(params):
                x = jax.nn.relu(x)
        return x

    def loss_fn(params, x, y):
        logits = logits_of(params, x)
        logp = jax.nn.log_softmax(logits)
        loss = -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))
        return loss, logits

    if config == "keras":
        lr, rho, eps = 1e-3, 0.9, 1e-7

        def update(p, g, v):
            v = rho * v + (1 - rho) * g * g
            return p - lr * g / (jnp.sqrt(v) + eps), v
    else:
        lr, mu = 0.01, 0.9

        def update(p, g, v):
            v = mu * v - lr * g
            return p + v, v

    @jax.jit
    def step(params, state, x_all, y_all, idx):
        x, y = x_all[idx], y_all[idx]
        (loss, logits), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, x, y)
        flat_p, tree = jax.tree_util.tree_flatten(params)
        flat_g = jax.tree_util.tree_leaves(grads)
        flat_s = jax.tree_util.tree_leaves(state)
        new = [update(p, g, s) for p, g, s in zip(flat_p, flat_g, flat_s)]
        params = jax.tree_util.tree_unflatten(tree, [n[0] for n in new])
        state = jax.tree_util.tree_unflatten(tree, [n[1] for n in new])
        correct = jnp.sum(jnp.argmax(logits, axis=1) == y)
        return params, state, loss * idx.shape[0], correct

    @jax.jit
    def evaluate(params, x, y):
        logits = logits_of(params, x)
        logp = jax.nn.log_softmax(logits)
        return (-jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1)),
                jnp.mean(jnp.argmax(logits, axis=1) == y))

    return step, evaluate


def main(argv):
    args = parse_args(argv)
    import numpy as np
    import jax
    import jax.numpy as jnp

    cfg = ref.CONFIGS[args.config]
    epochs = args.epochs or cfg["epochs"]
    x_train, y_train, x_test, y_test = ref.load_mnist(args.data_folder, np)
    if args.train_samples is not None:
        x_train, y_train = x_train[:args.train_samples], y_train[:args.train_samples]
    xs, ys = jnp.asarray(x_train), jnp.asarray(y_train.astype(np.int32))
    xt, yt = jnp.asarray(x_test), jnp.asarray(y_test.astype(np.int32))
    params = init_params(args.config, jax.random.PRNGKey(args.seed), jax, jnp)
    state = jax.tree_util.tree_map(jnp.zeros_like, params)
    step, evaluate = make_step(args.config, jax, jnp)
    rng = np.random.default_rng(args.seed)
    n, batch = len(x_train), cfg["batch"]
    print(f"jax {jax.__version__}, devices {jax.devices()}, CPUs allowed "
          f"{len(os.sched_getaffinity(0))}, config {args.config}, batch {batch}, epochs {epochs}, "
          f"train {n}, test {len(x_test)}", flush=True)
    val_loss = val_acc = float("nan")
    for epoch in range(1, epochs + 1):
        perm = rng.permutation(n).astype(np.int32)
        batches = [jnp.asarray(perm[i:i + batch]) for i in range(0, n, batch)]
        start = time.perf_counter()
        loss_sum = correct = 0
        for idx in batches:
            params, state, l, c = step(params, state, xs, ys, idx)
            loss_sum, correct = loss_sum + l, correct + c
        loss_sum, correct = float(loss_sum), int(correct)  # waits for the last step
        seconds = time.perf_counter() - start
        vl, va = evaluate(params, xt, yt)
        val_loss, val_acc = float(vl), float(va)
        print(f"Epoch {epoch}/{epochs} - {seconds:.2f}s - loss: {loss_sum / n:.4f} - accuracy: "
              f"{correct / n:.4f} - val_loss: {val_loss:.4f} - val_accuracy: {val_acc:.4f}",
              flush=True)
    print(f"Final test loss: {val_loss:.6f}")
    print(f"Final test accuracy: {val_acc:.6f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
