"""Train the seed's networks on MNIST and report their test accuracy.

    python3 main.py                              # the seed's experiment
    python3 main.py --epochs 1 --limit 5000      # a quick run
    python3 main.py --net all --seeds 5          # every network from seeds 0-4

A run is one network trained from one seed, with minibatch SGD; one line is
printed per epoch, then a table of test accuracies (over seeds: mean, standard
deviation, min and max). results/ receives, per run, the history
(<net>_seed<N>_history.csv) and the trained weights (<net>_seed<N>_weights.npz),
and summary.csv, one row per run.
"""
import argparse
import csv
import io
import itertools
import math
import os
import signal
import statistics
import sys
import tempfile
import time

import numpy as np

import mnist
import plot
import sweep
from layers import BatchNorm, Linear, ReLU, SoftmaxCrossEntropyLoss
from network import Network

TRAIN_SIZE, VALIDATION_SIZE = 50_000, 10_000
NETWORKS = {
    "bn": "BatchNorm before and after each ReLU (the seed's network 1)",
    "plain": "no BatchNorm (the seed's network 2)",
    "bn-after-relu": "BatchNorm only after each ReLU",
}
# Covariate shift, as in Ioffe & Szegedy's Figure 1(b, c): percentiles of the
# input to the second hidden layer's ReLU, for one unit and for all its units
# together, on a fixed batch of validation images, before training (epoch 0)
# and after each epoch.
PERCENTILES = (15, 50, 85)
PROBE_IMAGES, PROBE_UNIT = 500, 0
SHIFT_FIELDS = [f"{which}_p{q}" for which in ("unit", "layer") for q in PERCENTILES]
HISTORY_FIELDS = ["epoch", "train_loss", "val_loss", "val_accuracy", "seconds", *SHIFT_FIELDS]
SUMMARY_FIELDS = ["network", "seed", "test_accuracy", "val_accuracy", "val_loss", "train_seconds"]


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
    seeds = parser.add_mutually_exclusive_group()
    seeds.add_argument("--seed", type=non_negative_int, default=0,
                       help="seeds initialization and shuffling: same seed, same result (0)")
    seeds.add_argument("--seeds", type=non_negative_int, nargs="+", metavar="N",
                       help="train every network from several seeds: one number K means "
                            "seeds 0 to K-1, several numbers are the seeds themselves")
    parser.add_argument("--jobs", type=positive_int,
                        help="runs trained at once, each in its own process (with --seeds: "
                             "the number of cores; else 1)")
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
    if args.seeds is None:
        args.seeds = [args.seed]
    elif len(args.seeds) == 1:
        if args.seeds[0] == 0:
            parser.error("--seeds 0 trains nothing: give a count of seeds, or the seeds")
        args.seeds = list(range(args.seeds[0]))
    else:
        args.seeds = list(dict.fromkeys(args.seeds))
    if args.jobs is None:
        # One seed: the seed's experiment, one network after the other, each
        # timed alone. Several: one run per core, measured faster (README).
        args.jobs = 1 if len(args.seeds) == 1 else sweep.available_cores()
    args.jobs = min(args.jobs, len(args.seeds) * len(args.net))
    if not 2 <= args.limit <= TRAIN_SIZE:
        parser.error(f"--limit must be from 2 to {TRAIN_SIZE}, the size of the train split")
    if args.batch_size > args.limit:
        parser.error(f"--batch-size {args.batch_size} is larger than the training set "
                     f"({args.limit} samples)")
    if args.batch_size < 2 and any(net != "plain" for net in args.net):
        parser.error("--batch-size must be at least 2 for networks with BatchNorm")
    return args


# ---------------------------------------------------------------- one run

def train_run(run, splits, settings, on_epoch):
    """Train the network run.kind from seed run.seed (its initial weights and
    its shuffling), with the options in settings, calling on_epoch(record)
    after each epoch. Returns {"history": one record per epoch, "weights":
    the network's state(), "test_accuracy": a float}. Raises
    network.Diverged if the loss stops being finite."""
    rng = np.random.default_rng(run.seed)
    network = build_network(run.kind, rng, np.dtype(settings.dtype))
    X, y = splits["train"]
    probe = splits["validation"][0][:PROBE_IMAGES]
    val_loss, val_accuracy = network.evaluate(*splits["validation"])
    before = {"epoch": 0, "train_loss": math.nan, "val_loss": val_loss,
              "val_accuracy": val_accuracy, "seconds": 0.0, **shift(network, probe)}

    def after_epoch(record):
        record.update(shift(network, probe))
        on_epoch(record)
    # An overflow shows up as a non-finite loss, which train() reports as
    # Diverged: NumPy's own warnings about it would only add noise.
    with np.errstate(over="ignore", invalid="ignore"):
        history = network.train(X[:settings.limit], y[:settings.limit], settings.epochs,
                                settings.lr, settings.batch_size, rng,
                                validation=splits["validation"], on_epoch=after_epoch)
    return {"history": [before] + history, "weights": network.state(),
            "test_accuracy": network.accuracy(*splits["test"])}


def relu_input(network, images):
    """The input (N, D) of the second hidden layer's ReLU for images (N, 784),
    in evaluation mode (which changes nothing that training uses)."""
    second_relu = [i for i, layer in enumerate(network.layers) if isinstance(layer, ReLU)][1]
    for layer in network.layers[:second_relu]:
        images = layer.forward(images, train=False)
    return images


def shift(network, images):
    """The PERCENTILES of relu_input(network, images): of unit PROBE_UNIT's
    values, and of all units' values together, keyed as SHIFT_FIELDS."""
    inputs = relu_input(network, images)
    return dict(zip(SHIFT_FIELDS, [*np.percentile(inputs[:, PROBE_UNIT], PERCENTILES),
                                   *np.percentile(inputs, PERCENTILES)]))


# ---------------------------------------------------------------- results

class Terminated(BaseException):
    """SIGTERM arrived: main.py stops as it does for Ctrl-C."""


def raise_terminated(signum, frame):
    raise Terminated


def show(text=""):
    """print(text). If standard output is closed (main.py | head -1),
    training goes on silently and its results are still saved."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        # Everything printed from now on, Python's last flush included, is dropped.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def check_writable(directory):
    """Fail now, not after minutes of training, if results can't be written."""
    try:
        os.makedirs(directory, exist_ok=True)
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as error:
        raise mnist.DataError(f"cannot write results to {directory}/ ({error.strerror}); "
                              "choose another with --results-dir") from None


def write_rows(file, fields, rows):
    """Write rows (dicts) as CSV with a header line to a binary file."""
    text = io.TextIOWrapper(file, newline="")
    writer = csv.DictWriter(text, fields, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    text.flush()
    text.detach()


def save_run(directory, run, result):
    """Write the run's <net>_seed<N>_history.csv and <net>_seed<N>_weights.npz
    together: after any interruption both are this run's, or neither is."""
    name = os.path.join(directory, f"{run.kind}_seed{run.seed}")
    mnist.write_together({
        f"{name}_history.csv": lambda file: write_rows(file, HISTORY_FIELDS, result["history"]),
        f"{name}_weights.npz": lambda file: np.savez(file, **result["weights"])})


STATISTICS_HEADER = "  seeds    mean     std     min     max"


def statistics_line(values):
    """The columns of STATISTICS_HEADER for values, one per seed (the
    standard deviation is the sample's, with n - 1)."""
    std = f"{statistics.stdev(values):.4f}" if len(values) > 1 else "-"
    return (f"  {len(values):>5}  {statistics.mean(values):.4f}  {std:>6}  "
            f"{min(values):.4f}  {max(values):.4f}")


def paired_verdict(first, second, rows):
    """Compare networks first and second seed by seed, over the rows of
    summary.csv: the differences of their test accuracies, and a verdict.
    A difference counts only if it has the same sign on every seed and its
    mean exceeds the spread of the seeds (the larger standard deviation of
    the two networks' accuracies); otherwise it is within noise."""
    accuracy = {(row["network"], row["seed"]): row["test_accuracy"] for row in rows}
    seeds = [seed for network, seed in accuracy if network == first and (second, seed) in accuracy]
    if len(seeds) < 2:
        return None
    differences = [accuracy[first, seed] - accuracy[second, seed] for seed in seeds]
    mean = statistics.mean(differences)
    spread = max(statistics.stdev([accuracy[network, seed] for seed in seeds])
                 for network in (first, second))
    higher = sum(difference > 0 for difference in differences)
    if abs(mean) > spread and higher in (0, len(seeds)):
        verdict = f"{first if mean > 0 else second} is better"
    else:
        verdict = "within noise"
    return (f"{first} - {second}: {mean:+.4f} on average ({min(differences):+.4f} to "
            f"{max(differences):+.4f}), {first} higher on {higher} of {len(seeds)} seeds; "
            f"seeds' spread {spread:.4f}: {verdict}")


class Progress:
    """What main.py shows and keeps as runs train, finish or diverge:
    on_event, given to sweep.execute, prints each epoch's line, saves each
    finished run, and reports each divergence."""

    def __init__(self, args, runs):
        self.args, self.runs = args, runs
        self.several_seeds = len(args.seeds) > 1
        self.finished = {}           # run: its row of summary.csv
        self.diverged = []

    def name(self, run):
        return f"{run.kind} seed {run.seed}" if self.several_seeds else run.kind

    def on_event(self, run, event, payload):
        if event == "epoch":
            seed = f"seed {run.seed:<3} " if self.several_seeds else ""
            show(f"{run.kind:<13} {seed}epoch {payload['epoch']:>3}/{self.args.epochs}  "
                 f"train loss {payload['train_loss']:.4f}  "
                 f"val loss {payload['val_loss']:.4f}  val acc {payload['val_accuracy']:.4f}  "
                 f"{payload['seconds']:.2f} s")
        elif event == "done":
            # Saved and counted as finished, or neither: an interruption waits.
            with mnist.signals_deferred(signal.SIGINT, signal.SIGTERM):
                save_run(self.args.results_dir, run, payload)
                last = payload["history"][-1]
                self.finished[run] = {
                    "network": run.kind, "seed": run.seed,
                    "test_accuracy": payload["test_accuracy"],
                    "val_accuracy": last["val_accuracy"], "val_loss": last["val_loss"],
                    "train_seconds": sum(record["seconds"] for record in payload["history"])}
        else:
            self.diverged.append(run)
            print(f"main.py: error: {self.name(run)} diverged: {payload}; nothing of it was "
                  f"saved. Try a smaller --lr (this run used {self.args.lr:g})",
                  file=sys.stderr, flush=True)

    def close(self):
        """Print the table of finished runs and write summary.csv."""
        if not self.finished:
            return
        rows = sorted(self.finished.values(), key=lambda row: (row["network"], row["seed"]))
        mnist.atomic_write(os.path.join(self.args.results_dir, "summary.csv"),
                           lambda file: write_rows(file, SUMMARY_FIELDS, rows))
        if not self.several_seeds:
            show(f"\n{'network':<13}  test accuracy  train seconds")
            for row in self.finished.values():
                show(f"{row['network']:<13}  {row['test_accuracy']:>13.4f}  "
                     f"{row['train_seconds']:>13.1f}")
            return
        show(f"\n{'test accuracy':<13}{STATISTICS_HEADER}  train seconds (mean)")
        for kind in self.args.net:
            accuracies = [row["test_accuracy"] for row in rows if row["network"] == kind]
            seconds = [row["train_seconds"] for row in rows if row["network"] == kind]
            if accuracies:
                show(f"{kind:<13}{statistics_line(accuracies)}  {statistics.mean(seconds):>20.1f}")
        for first, second in itertools.combinations(self.args.net, 2):
            verdict = paired_verdict(first, second, rows)
            if verdict:
                show(verdict)

    def stopped(self, stop):
        """Report a Ctrl-C or SIGTERM; returns the exit status."""
        self.close()
        how, status = (("terminated (SIGTERM)", 143) if isinstance(stop, Terminated)
                       else ("interrupted", 130))
        unfinished = [run for run in self.runs if run not in self.finished and run not in self.diverged]
        message = f"main.py: {how}"
        if unfinished:
            message += (f" before {', '.join(map(self.name, unfinished))} finished; nothing of "
                        f"{'it' if len(unfinished) == 1 else 'them'} was saved")
        if self.finished:
            message += (f" (results of {', '.join(map(self.name, self.finished))} "
                        f"are in {self.args.results_dir}/)")
        print(message, file=sys.stderr)
        return status


def run(args):
    """The experiment: returns the exit status."""
    check_writable(args.results_dir)
    dtype = np.dtype(args.dtype)
    started = time.perf_counter()
    splits = prepare(mnist.load(args.data_dir), dtype,
                     train_file=os.path.join(args.data_dir, mnist.TRAIN_FILE))
    show(f"Data: {args.limit:,} train, {len(splits['validation'][0]):,} validation, "
         f"{len(splits['test'][0]):,} test samples ({time.perf_counter() - started:.1f} s)")
    runs = [sweep.Run(kind, seed) for seed in args.seeds for kind in args.net]
    progress = Progress(args, runs)
    try:
        sweep.execute(runs, train_run, splits, args, args.jobs, progress.on_event)
    except (KeyboardInterrupt, Terminated) as stop:
        return progress.stopped(stop)
    progress.close()
    if progress.finished:
        draw_figures(args.results_dir)
    if progress.diverged:
        return 1
    show(f"\nHistories and weights are in {args.results_dir}/.")
    return 0


def draw_figures(results_dir):
    """The learning curves and the covariate shift, as PNGs in results_dir,
    if matplotlib is installed; else a line that says how to get them."""
    if not plot.available():
        show(plot.HINT)
        return
    try:
        show("Figures: " + ", ".join(plot.draw(results_dir)))
    except Exception as error:           # the results are saved: say so, and go on
        print(f"main.py: warning: the figures could not be drawn ({type(error).__name__}: "
              f"{error}); the results are saved", file=sys.stderr)


def main(argv=None):
    args = parse_args(argv)
    previous_handler = signal.signal(signal.SIGTERM, raise_terminated)
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
    except Terminated:
        print("main.py: terminated (SIGTERM); nothing was left half-written", file=sys.stderr)
        return 143
    finally:
        signal.signal(signal.SIGTERM, previous_handler)


if __name__ == "__main__":
    sys.exit(main())
