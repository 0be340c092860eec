#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The two reference MNIST recipes in TensorFlow / Keras 3, trained with the tutorial's
`model.fit` (Sequential Dense layers, RMSprop or momentum SGD, the test set as validation data).

The recipes are torch_reference.py's (same data loading, widths, initialisers, optimizers,
batch sizes and epochs); so is the output (one Keras verbose=2 line per epoch, then `Final test
loss` / `Final test accuracy`). The epoch time is training only: from the epoch's start to the
end of its last batch, timed by a callback (fit's validation pass comes after it). The first
epoch includes tf.function tracing: run_benchmarks.py leaves each framework's first epoch out of
its medians.

Needs the benchmark venv (scripts/bench_env.sh): CTML_BENCH_VENV/bin/python tf_reference.py ...
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
    p.add_argument("--threads", type=int, default=ref.default_threads(),
                   help="TensorFlow intra- and inter-op threads")
    p.add_argument("--epochs", type=int, default=None, help="override the recipe's epoch count")
    p.add_argument("--train-samples", type=int, default=None,
                   help="train on the first N training images only (smoke tests)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.threads < 1:
        p.error(f"--threads must be >= 1, got {args.threads}")
    if args.epochs is not None and args.epochs < 1:
        p.error(f"--epochs must be >= 1, got {args.epochs}")
    if args.train_samples is not None and args.train_samples < 1:
        p.error(f"--train-samples must be >= 1, got {args.train_samples}")
    return args


def main(argv):
    args = parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    import numpy as np
    import tensorflow as tf
    import keras

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    keras.utils.set_random_seed(args.seed)
    cfg = ref.CONFIGS[args.config]
    epochs = args.epochs or cfg["epochs"]
    x_train, y_train, x_test, y_test = ref.load_mnist(args.data_folder, np)
    if args.train_samples is not None:
        x_train, y_train = x_train[:args.train_samples], y_train[:args.train_samples]
    w = cfg["widths"]

    layers = [keras.Input(shape=(w[0],))]
    for i in range(1, len(w)):
        if args.config == "keras":
            init = keras.initializers.GlorotUniform()
        else:  # Chainer LeCunNormal: N(0, 1/fan_in), not truncated
            init = keras.initializers.RandomNormal(stddev=(1.0 / w[i - 1]) ** 0.5)
        layers.append(keras.layers.Dense(w[i], activation="relu" if i + 1 < len(w) else "softmax",
                                         kernel_initializer=init))
    model = keras.Sequential(layers)
    if args.config == "keras":
        # The tutorial: one-hot labels, categorical cross-entropy, RMSprop(lr 1e-3, rho 0.9).
        opt = keras.optimizers.RMSprop(learning_rate=1e-3, rho=0.9, epsilon=1e-7)
        loss = "categorical_crossentropy"
        y_fit = keras.utils.to_categorical(y_train, 10)
        y_val = keras.utils.to_categorical(y_test, 10)
    else:
        opt = keras.optimizers.SGD(learning_rate=0.01, momentum=0.9)
        loss = "sparse_categorical_crossentropy"
        y_fit, y_val = y_train, y_test
    model.compile(optimizer=opt, loss=loss, metrics=["accuracy"])

    class EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            self.last = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            print(f"Epoch {epoch + 1}/{epochs} - {self.last - self.start:.2f}s - loss: "
                  f"{logs.get('loss', float('nan')):.4f} - accuracy: "
                  f"{logs.get('accuracy', float('nan')):.4f} - val_loss: "
                  f"{logs.get('val_loss', float('nan')):.4f} - val_accuracy: "
                  f"{logs.get('val_accuracy', float('nan')):.4f}", flush=True)

    print(f"tensorflow {tf.__version__}, keras {keras.__version__}, threads {args.threads}, "
          f"config {args.config}, batch {cfg['batch']}, epochs {epochs}, train {len(x_train)}, "
          f"test {len(x_test)}", flush=True)
    model.fit(x_train, y_fit, batch_size=cfg["batch"], epochs=epochs, shuffle=True, verbose=0,
              validation_data=(x_test, y_val), callbacks=[EpochTimer()])
    val_loss, val_acc = model.evaluate(x_test, y_val, batch_size=1000, verbose=0)
    print(f"Final test loss: {val_loss:.6f}")
    print(f"Final test accuracy: {val_acc:.6f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
