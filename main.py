"""Train the seed's networks on MNIST and report their test accuracy.

    python3 main.py                              # the seed's experiment
    python3 main.py --epochs 1 --limit 5000      # a quick run

Each network is trained with minibatch SGD; one line is printed per epoch,
then a table of test accuracies. results/ receives, per network, the history
(<net>_history.csv) and the trained weights (<net>_weights.npz).
"""
import argparse
import csv
import io
import math
import os
import sys
import tempfile
import time

import numpy as np

import mnist
from layers import BatchNorm, Linear, ReLU, SoftmaxCrossEntropyLoss
from network import Diverged, Network

TRAIN_SIZE, VALIDATION_SIZE = 50_000, 10_000
NETWORKS = {
    "bn": "BatchNorm before and after each ReLU (the seed's network 1)",
    "plain": "no BatchNorm (the seed's network 2)",
    "bn-after-relu": "BatchNorm only after each ReLU",
}
HISTORY_FIELDS = ["epoch", "train_loss", "val_loss", "val_accuracy", "seconds"]


def build_network(kind, rng, dtype=np.float32, sizes=(784, 256, 128, 10)):
    """The network `kind` (a key of NETWORKS): Linear layers of the given
    sizes, ReLUs between them, and BatchNorm where `kind` puts it."""
    def hidden(in_dim, out_dim):
        layers = [Linear(in_dim, out_dim, rng, dtype)]
        if kind == "bn":
            layers.append(BatchNorm(out_dim, dtype=dtype))
        layers.append(ReLU())
        if kind in ("bn", "bn-after-relu"):
            layers.append(BatchNorm(out_dim, dtype=dtype))
        return layers
    layers = [layer for in_dim, out_dim in zip(sizes[:-2], sizes[1:-1])
              for layer in hidden(in_dim, out_dim)]
    return Network(layers + [Linear(sizes[-2], sizes[-1], rng, dtype)],
                   SoftmaxCrossEntropyLoss())


def prepare(arrays, dtype=np.float32, train_file=mnist.TRAIN_FILE):
    """Split MNIST's training file into train (its first TRAIN_SIZE rows) and
    validation (its last VALIDATION_SIZE), and normalize train, validation
    and test with the global mean and standard deviation of the train split.
    Returns {"train": (X, y), "validation": (X, y), "test": (X, y)}."""
    images, labels = arrays["x_train"], arrays["y_train"]
    if len(images) < TRAIN_SIZE + VALIDATION_SIZE:
        raise mnist.DataError(
            f"{train_file} has {len(images):,} rows; the split needs "
            f"{TRAIN_SIZE + VALIDATION_SIZE:,} ({TRAIN_SIZE:,} train, "
            f"{VALIDATION_SIZE:,} validation): use MNIST's full training file")
    train = images[:TRAIN_SIZE]
    mean = float(train.mean(dtype=np.float64))
    # E[x^2] - E[x]^2, exact enough in float64 for pixels 0-255, and it
    # needs no float64 copy of the whole split.
    std = math.sqrt(np.square(train, dtype=np.uint16).mean(dtype=np.float64) - mean ** 2)

    def normalize(pixels):
        x = pixels.astype(dtype)
        x -= mean
        x /= std
        return x

    return {"train": (normalize(train), labels[:TRAIN_SIZE]),
            "validation": (normalize(images[-VALIDATION_SIZE:]), labels[-VALIDATION_SIZE:]),
            "test": (normalize(arrays["x_test"]), arrays["y_test"])}


# ---------------------------------------------------------------- options

def checked(convert, is_valid, description):
    """An argparse type: convert(text), refused unless is_valid(value)."""
    def parse(text):
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not is_valid(value):
            raise argparse.ArgumentTypeError(f"{text!r} is not {description}")
        return value
    return parse


positive_int = checked(int, lambda value: value > 0, "a positive integer")
non_negative_int = checked(int, lambda value: value >= 0, "a non-negative integer")
positive_float = checked(float, lambda value: math.isfinite(value) and value > 0,
                         "a positive finite number")


class OneLineParser(argparse.ArgumentParser):
    """Usage errors in one line, not argparse's usage block and then the error."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def parse_args(argv=None):
    parser = OneLineParser(
        description="Train fully connected networks, with and without BatchNorm, on MNIST.",
        epilog="networks: " + "; ".join(f"{k}: {v}" for k, v in NETWORKS.items()))
    parser.add_argument("--epochs", type=positive_int, default=50, help="epochs per network (50)")
    parser.add_argument("--lr", type=positive_float, default=1e-3, help="SGD learning rate (1e-3)")
    parser.add_argument("--batch-size", type=positive_int, default=128, help="minibatch size (128)")
    parser.add_argument("--seed", type=non_negative_int, default=0,
                        help="seeds initialization and shuffling: same seed, same result (0)")
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32",
                        help="floating-point type of the data and the networks (float32)")
    parser.add_argument("--data-dir", default="data",
                        help=f"holds {mnist.TRAIN_FILE} and {mnist.TEST_FILE}, fetched if missing (data)")
    parser.add_argument("--results-dir", default="results",
                        help="receives <net>_history.csv and <net>_weights.npz (results)")
    parser.add_argument("--net", choices=[*NETWORKS, "all"], action="append",
                        help="network to train, may be repeated (bn and plain)")
    parser.add_argument("--limit", type=positive_int, default=TRAIN_SIZE,
                        help="train on the first N training samples only, for quick runs (all 50,000)")
    args = parser.parse_args(argv)
    if args.net is None:
        args.net = ["bn", "plain"]
    elif "all" in args.net:
        args.net = list(NETWORKS)
    args.net = list(dict.fromkeys(args.net))
    if not 2 <= args.limit <= TRAIN_SIZE:
        parser.error(f"--limit must be from 2 to {TRAIN_SIZE}, the size of the train split")
    if args.batch_size > args.limit:
        parser.error(f"--batch-size {args.batch_size} is larger than the training set "
                     f"({args.limit} samples)")
    if args.batch_size < 2 and any(net != "plain" for net in args.net):
        parser.error("--batch-size must be at least 2 for networks with BatchNorm")
    return args


# ---------------------------------------------------------------- results

def check_writable(directory):
    """Fail now, not after minutes of training, if results can't be written."""
    try:
        os.makedirs(directory, exist_ok=True)
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as error:
        raise mnist.DataError(f"cannot write results to {directory}/ ({error.strerror}); "
                              "choose another with --results-dir") from None


def save_results(directory, kind, network, history):
    """Write <kind>_history.csv and <kind>_weights.npz, each atomically."""
    def write_history(file):
        text = io.TextIOWrapper(file, newline="")
        writer = csv.DictWriter(text, HISTORY_FIELDS)
        writer.writeheader()
        writer.writerows(history)
        text.flush()
        text.detach()
    mnist.atomic_write(os.path.join(directory, f"{kind}_history.csv"), write_history)
    mnist.atomic_write(os.path.join(directory, f"{kind}_weights.npz"), network.save)


def print_epoch(kind, epochs):
    def report(record):
        print(f"{kind:<13} epoch {record['epoch']:>3}/{epochs}  "
              f"train loss {record['train_loss']:.4f}  "
              f"val loss {record['val_loss']:.4f}  val acc {record['val_accuracy']:.4f}  "
              f"{record['seconds']:.2f} s", flush=True)
    return report


def print_table(finished):
    if not finished:
        return
    print(f"\n{'network':<13}  test accuracy  train seconds")
    for kind, (accuracy, seconds) in finished.items():
        print(f"{kind:<13}  {accuracy:>13.4f}  {seconds:>13.1f}")


def run(args):
    """The experiment: returns the exit status."""
    check_writable(args.results_dir)
    dtype = np.dtype(args.dtype)
    started = time.perf_counter()
    splits = prepare(mnist.load(args.data_dir), dtype,
                     train_file=os.path.join(args.data_dir, mnist.TRAIN_FILE))
    X_train, y_train = splits["train"]
    X_train, y_train = X_train[:args.limit], y_train[:args.limit]
    print(f"Data: {len(X_train):,} train, {len(splits['validation'][0]):,} validation, "
          f"{len(splits['test'][0]):,} test samples ({time.perf_counter() - started:.1f} s)",
          flush=True)
    finished = {}
    try:
        # An overflow shows up as a non-finite loss, which train() reports as
        # Diverged: NumPy's own warnings about it would only add noise.
        with np.errstate(over="ignore", invalid="ignore"):
            for kind in args.net:
                rng = np.random.default_rng(args.seed)
                network = build_network(kind, rng, dtype)
                history = network.train(X_train, y_train, args.epochs, args.lr,
                                        args.batch_size, rng, validation=splits["validation"],
                                        on_epoch=print_epoch(kind, args.epochs))
                save_results(args.results_dir, kind, network, history)
                finished[kind] = (network.accuracy(*splits["test"]),
                                  sum(record["seconds"] for record in history))
    except Diverged as error:
        print_table(finished)
        print(f"main.py: {kind} diverged: {error}; nothing of it was saved. "
              f"Try a smaller --lr (this run used {args.lr:g})", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print_table(finished)
        print(f"main.py: interrupted while training {kind}; nothing of it was saved"
              + (f" (results of {', '.join(finished)} are in {args.results_dir}/)"
                 if finished else ""), file=sys.stderr)
        return 130
    print_table(finished)
    print(f"\nHistories and weights are in {args.results_dir}/.")
    return 0


def main(argv=None):
    args = parse_args(argv)
    try:
        return run(args)
    except mnist.DataError as error:
        print(f"main.py: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:         # disk full, permissions changed mid-run, ...
        print(f"main.py: error: {error}; nothing was left half-written", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("main.py: interrupted; nothing was left half-written", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
