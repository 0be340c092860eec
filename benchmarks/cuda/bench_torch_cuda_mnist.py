#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The two reference MNIST networks in PyTorch on a CUDA GPU, timed as bench_cuda_mnist.cu times
ctml::cuda::mlp_trainer, for comparison.

Same work per step: MNIST bytes live on the GPU; each step gathers its shuffled rows, converts
them to float32 / 255, runs forward, cross-entropy, backward and the optimizer (torch's default
foreach implementation). Loss and accuracy accumulate on the GPU and are read once per epoch.
fp32 matmuls (TF32 off, torch's default). An epoch's time covers training only (synchronised);
evaluation on the test set is timed apart.

usage: bench_torch_cuda_mnist.py DATA_FOLDER [--keras-epochs N] [--chainer-epochs N] [--seed S]
"""
import argparse
import gzip
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F


def read_idx(path):
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    if raw[:3] != b"\x00\x00\x08":
        sys.exit(f"{path}: not an unsigned-byte IDX file")
    ndim = raw[3]
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def find(folder, stem):
    for ext in (".gz", ""):
        p = Path(folder) / (stem + ext)
        if p.exists():
            return p
    sys.exit(f"{folder}: no {stem}[.gz]")


def load(folder, prefix, dev):
    x = read_idx(find(folder, f"{prefix}-images-idx3-ubyte"))
    y = read_idx(find(folder, f"{prefix}-labels-idx1-ubyte"))
    x = torch.from_numpy(x.reshape(len(x), -1).copy()).to(dev)
    y = torch.from_numpy(y.astype(np.int64)).to(dev)
    return x, y


def build(widths, glorot, dev):
    layers = []
    for i in range(len(widths) - 1):
        lin = torch.nn.Linear(widths[i], widths[i + 1])
        if glorot:
            torch.nn.init.xavier_uniform_(lin.weight)
        else:
            torch.nn.init.normal_(lin.weight, 0.0, (1.0 / widths[i]) ** 0.5)
        torch.nn.init.zeros_(lin.bias)
        layers.append(lin)
        if i + 2 < len(widths):
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers).to(dev)


def run(name, widths, make_opt, batch, glorot, epochs, data, seed):
    x_train, y_train, x_test, y_test = data
    dev = x_train.device
    torch.manual_seed(seed)
    model = build(widths, glorot, dev)
    opt = make_opt(model.parameters())
    gen = torch.Generator(device=dev)
    gen.manual_seed(seed + 1)
    n = len(x_train)
    times, evals = [], []
    print(f"== {name} (torch {torch.__version__}), batch {batch}, {epochs} epochs", flush=True)
    for e in range(1, epochs + 1):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        perm = torch.randperm(n, device=dev, generator=gen)
        loss_sum = torch.zeros((), dtype=torch.float64, device=dev)
        correct = torch.zeros((), dtype=torch.int64, device=dev)
        model.train()
        for i in range(0, n, batch):
            idx = perm[i:i + batch]
            xb = x_train.index_select(0, idx).float().mul_(1.0 / 255.0)
            yb = y_train.index_select(0, idx)
            logits = model(xb)
            loss = F.cross_entropy(logits, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            with torch.no_grad():
                loss_sum += loss.detach() * len(idx)
                correct += (logits.argmax(1) == yb).sum()
        train_loss, train_acc = loss_sum.item() / n, correct.item() / n
        t1 = time.perf_counter()
        model.eval()
        with torch.no_grad():
            logits = model(x_test.float().mul_(1.0 / 255.0))
            val_loss = F.cross_entropy(logits, y_test).item()
            val_acc = (logits.argmax(1) == y_test).float().mean().item()
        t2 = time.perf_counter()
        times.append(t1 - t0)
        evals.append(t2 - t1)
        print(f"Epoch {e}/{epochs} - {1e3 * times[-1]:.1f} ms (eval {1e3 * evals[-1]:.1f} ms) - "
              f"loss: {train_loss:.4f} - accuracy: {train_acc:.4f} - val_loss: {val_loss:.4f} - "
              f"val_accuracy: {val_acc:.4f}", flush=True)
    med = statistics.median(times)
    steps = (n + batch - 1) // batch
    print(f"RESULT torch {name}: median epoch {1e3 * med:.2f} ms (min {1e3 * min(times):.2f}, "
          f"first {1e3 * times[0]:.2f}), {1e6 * med / steps:.1f} us/step, {n / med:.0f} samples/s, "
          f"eval median {1e3 * statistics.median(evals):.2f} ms, final test loss {val_loss:.4f}, "
          f"final test accuracy {val_acc:.4f}", flush=True)


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("data_folder")
    p.add_argument("--keras-epochs", type=int, default=20)
    p.add_argument("--chainer-epochs", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    if not torch.cuda.is_available():
        print("no CUDA device: skipped")
        return 77
    torch.backends.cuda.matmul.allow_tf32 = False
    dev = torch.device("cuda")
    print(f"device: {torch.cuda.get_device_name(0)}, torch {torch.__version__}", flush=True)
    data = (*load(a.data_folder, "train", dev), *load(a.data_folder, "t10k", dev))
    run("keras 784-300-100-10 rmsprop", (784, 300, 100, 10),
        lambda ps: torch.optim.RMSprop(ps, lr=1e-3, alpha=0.9, eps=1e-7), 50, True,
        a.keras_epochs, data, a.seed)
    run("chainer 784-100-100-10 momentum-sgd", (784, 100, 100, 10),
        lambda ps: torch.optim.SGD(ps, lr=0.01, momentum=0.9), 128, False,
        a.chainer_epochs, data, a.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
