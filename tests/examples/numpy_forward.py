"""Forward pass of a ctml Keras-MNIST model in numpy, compared with ctml's own predictions.

usage: numpy_forward.py MODEL_DIR MNIST_DIR PREDICTIONS_NPY N
"""
import gzip
import json
import pathlib
import sys

import numpy as np


def load_images(folder: pathlib.Path) -> np.ndarray:
    path = next(folder.rglob("t10k-images-idx3-ubyte*"))
    raw = gzip.open(path).read() if path.suffix == ".gz" else path.read_bytes()
    n, rows, cols = np.frombuffer(raw[4:16], dtype=">u4")
    return np.frombuffer(raw[16:], dtype=np.uint8).reshape(n, rows * cols)


def main() -> int:
    model_dir, mnist_dir, pred_path, n = sys.argv[1:5]
    n = int(n)
    model = json.loads((pathlib.Path(model_dir) / "model.json").read_text())
    layers = model["architecture"]["config"]["layers"][1:]
    weights = np.load(pathlib.Path(model_dir) / "weights.npz")
    x = load_images(pathlib.Path(mnist_dir))[:n].astype(np.float32) / np.float32(255)
    for i, layer in enumerate(layers, start=1):
        cfg = layer["config"]
        kernel = weights[f"dense_{i}/kernel"]
        bias = weights[f"dense_{i}/bias"]
        assert kernel.shape == (cfg["input_dim"], cfg["units"]), (kernel.shape, cfg)
        x = x @ kernel + bias
        if cfg["activation"] == "relu":
            x = np.maximum(x, 0)
        elif cfg["activation"] == "softmax":
            e = np.exp(x - x.max(axis=1, keepdims=True))
            x = e / e.sum(axis=1, keepdims=True)
        else:
            raise SystemExit(f"unexpected activation {cfg['activation']}")
    ctml = np.load(pred_path)[:n]
    agree = int((x.argmax(axis=1) == ctml.argmax(axis=1)).sum())
    max_diff = float(np.abs(x - ctml).max())
    print(f"numpy vs ctml on {n} test images: {agree} identical predictions, "
          f"max probability difference {max_diff:.2e}")
    if agree != n or max_diff > 1e-4:
        print("FAIL")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
