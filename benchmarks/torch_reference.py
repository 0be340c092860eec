#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The two reference MNIST recipes in PyTorch, the baseline ctml's trainers are measured against.

--config keras:   784-300-100-10, relu, relu, softmax + categorical cross-entropy, RMSprop
                  (lr 1e-3, rho 0.9, eps 1e-7), batch 50, 20 epochs, Glorot-uniform weights.
--config chainer: 784-100-100-10, relu, relu, softmax cross-entropy, momentum SGD (lr 0.01,
                  momentum 0.9), batch 128, 10 epochs, LeCun-normal weights.

Prints one Keras verbose=2 line per epoch (the epoch time covers training only; validation on the
test set follows it), then `Final test loss` and `Final test accuracy`, the format ctml's
trainers print, so benchmarks/run_benchmarks.py parses both the same way.

Run with Debian's /usr/bin/python3 (python3-torch 1.13, numpy).
"""
import argparse
import gzip
import os
import sys
import time
from pathlib import Path

CONFIGS = {
    # widths, batch, epochs
    "keras": {"widths": (784, 300, 100, 10), "batch": 50, "epochs": 20},
    "chainer": {"widths": (784, 100, 100, 10), "batch": 128, "epochs": 10},
}

IDX_FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}


def default_threads():
    return len(os.sched_getaffinity(0))


def parse_args(argv):
    here = Path(__file__).resolve().parent
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", choices=sorted(CONFIGS), default="keras")
    p.add_argument("--data-folder", default=str(here.parent.parent / "shared" / "data" / "mnist"),
                   help="folder searched (recursively) for the four MNIST .gz IDX files")
    p.add_argument("--threads", type=int, default=default_threads(),
                   help="intra-op threads (default: all cores available to this process)")
    p.add_argument("--epochs", type=int, default=None, help="override the recipe's epoch count")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.threads < 1:
        p.error(f"--threads must be >= 1, got {args.threads}")
    if args.epochs is not None and args.epochs < 1:
        p.error(f"--epochs must be >= 1, got {args.epochs}")
    return args


def find_idx(folder, name):
    """The recipes find each file anywhere under the data folder; so does this."""
    root = Path(folder)
    if not root.is_dir():
        sys.exit(f"torch_reference.py: --data-folder {folder!r} is not a directory")
    hits = sorted(root.rglob(name))
    if not hits:
        sys.exit(f"torch_reference.py: {name} not found under --data-folder {folder!r}")
    return hits[0]


def read_idx(path, np):
    """IDX: big-endian magic (0, 0, dtype 0x08 = ubyte, ndim), ndim big-endian uint32 dims, data."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        sys.exit(f"torch_reference.py: {path}: not an unsigned-byte IDX file (magic {raw[:4].hex()})")
    ndim = raw[3]
    header = 4 + 4 * ndim
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = int(np.prod(dims)) if dims else 0
    if len(raw) - header != expected:
        sys.exit(f"torch_reference.py: {path}: header says {dims} = {expected} bytes, "
                 f"file holds {len(raw) - header}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def load_mnist(folder, np):
    arrays = {k: read_idx(find_idx(folder, v), np) for k, v in IDX_FILES.items()}
    # As both recipes: (n, 784) float32 in [0, 1], integer labels.
    x_train = arrays["train_images"].reshape(len(arrays["train_images"]), -1).astype(np.float32) / 255
    x_test = arrays["test_images"].reshape(len(arrays["test_images"]), -1).astype(np.float32) / 255
    return x_train, arrays["train_labels"].astype(np.int64), x_test, arrays["test_labels"].astype(np.int64)


def build_model(config, torch):
    nn = torch.nn
    w = CONFIGS[config]["widths"]
    layers = []
    for i in range(len(w) - 1):
        lin = nn.Linear(w[i], w[i + 1])
        if config == "keras":
            nn.init.xavier_uniform_(lin.weight)  # Keras glorot_uniform: U(+-sqrt(6/(in+out)))
        else:
            # Chainer LeCunNormal(scale=1): N(0, sqrt(1/fan_in)).
            nn.init.normal_(lin.weight, mean=0.0, std=(1.0 / w[i]) ** 0.5)
        nn.init.zeros_(lin.bias)
        layers.append(lin)
        if i + 2 < len(w):
            layers.append(nn.ReLU())
    # Logits out: softmax + cross-entropy is taken as log_softmax + NLL, the same loss.
    return nn.Sequential(*layers)


def build_optimizer(config, params, torch):
    if config == "keras":
        # torch: v = a*v + (1-a)*g^2; w -= lr*g/(sqrt(v)+eps), which is Keras' RMSprop formula.
        return torch.optim.RMSprop(params, lr=1e-3, alpha=0.9, eps=1e-7)
    # Chainer: v = m*v - lr*g; w += v. torch: b = m*b + g; w -= lr*b. Same with a constant lr.
    return torch.optim.SGD(params, lr=0.01, momentum=0.9)


def evaluate(model, x, y, torch):
    F = torch.nn.functional
    with torch.no_grad():
        loss_sum, correct = 0.0, 0
        for i in range(0, len(x), 10000):
            logits = model(x[i:i + 10000])
            loss_sum += F.cross_entropy(logits, y[i:i + 10000], reduction="sum").item()
            correct += (logits.argmax(1) == y[i:i + 10000]).sum().item()
    return loss_sum / len(x), correct / len(x)


def train_epoch(model, opt, x, y, batch, perm, torch):
    """One pass over the shuffled training set; returns (mean loss, accuracy) as Keras reports
    them: averaged over the epoch's batches, weighted by batch size. The last batch is partial
    when the batch size does not divide the set (Chainer's 128 does not: 468 full + one of 96)."""
    F = torch.nn.functional
    n = len(x)
    loss_sum = torch.zeros((), dtype=torch.float64)
    correct = torch.zeros((), dtype=torch.int64)
    for i in range(0, n, batch):
        idx = perm[i:i + batch]
        xb, yb = x.index_select(0, idx), y.index_select(0, idx)
        opt.zero_grad(set_to_none=True)
        logits = model(xb)
        loss = F.cross_entropy(logits, yb)
        loss.backward()
        opt.step()
        with torch.no_grad():
            loss_sum += loss.detach() * len(idx)
            correct += (logits.argmax(1) == yb).sum()
    return loss_sum.item() / n, correct.item() / n


def main(argv):
    args = parse_args(argv)
    # OpenBLAS (which torch's GEMMs call here) sizes its pool at load time: set it before import.
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    os.environ["OPENBLAS_NUM_THREADS"] = str(args.threads)
    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    cfg = CONFIGS[args.config]
    epochs = args.epochs or cfg["epochs"]

    x_train, y_train, x_test, y_test = load_mnist(args.data_folder, np)
    x_train, y_train = torch.from_numpy(x_train), torch.from_numpy(y_train)
    x_test, y_test = torch.from_numpy(x_test), torch.from_numpy(y_test)

    model = build_model(args.config, torch)
    opt = build_optimizer(args.config, model.parameters(), torch)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, config {args.config}, "
          f"batch {cfg['batch']}, epochs {epochs}, train {len(x_train)}, test {len(x_test)}",
          flush=True)

    val_loss, val_acc = float("nan"), float("nan")
    for epoch in range(1, epochs + 1):
        model.train()
        start = time.perf_counter()
        perm = torch.from_numpy(rng.permutation(len(x_train)))
        loss, acc = train_epoch(model, opt, x_train, y_train, cfg["batch"], perm, torch)
        seconds = time.perf_counter() - start
        model.eval()
        val_loss, val_acc = evaluate(model, x_test, y_test, torch)
        print(f"Epoch {epoch}/{epochs} - {seconds:.2f}s - loss: {loss:.4f} - accuracy: {acc:.4f}"
              f" - val_loss: {val_loss:.4f} - val_accuracy: {val_acc:.4f}", flush=True)
    print(f"Final test loss: {val_loss:.6f}")
    print(f"Final test accuracy: {val_acc:.6f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
