"""Train the original mnist-numpy project's networks on MNIST and report
their test accuracy.

    python3 main.py                              # the original experiment
    python3 main.py --epochs 1 --limit 5000      # a quick run
    python3 main.py --net all --seeds 5          # every network from seeds 0-4
    python3 main.py --net all --seeds 3 --lr 0.001 0.1 1
                                                 # ... and several learning rates

A run is one network trained from one seed, at one learning rate and one
initial weight scale, with minibatch SGD; one line is printed per epoch,
then a table of test accuracies (over seeds: mean, standard deviation, min
and max). results/ receives each run's history and trained weights, and
summary.csv, one row per run (see results.py for the names).
"""
import argparse
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
import results
import sweep
from layers import BatchNorm, Linear, ReLU, SoftmaxCrossEntropyLoss
from network import Diverged, Network

TRAIN_SIZE, VALIDATION_SIZE = 50_000, 10_000
NETWORKS = {
    "bn": "BatchNorm before and after each ReLU (the original project's network 1)",
    "plain": "no BatchNorm (the original project's network 2)",
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


def build_network(kind, rng, dtype=np.float32, sizes=(784, 256, 128, 10), init_scale=1.0):
    """The network `kind` (a key of NETWORKS): Linear layers of the given
    sizes, ReLUs between them, and BatchNorm where `kind` puts it. Every
    Linear layer's initial weights are multiplied by init_scale."""
    def hidden(in_dim, out_dim):
        layers = [Linear(in_dim, out_dim, rng, dtype, init_scale)]
        if kind == "bn":
            layers.append(BatchNorm(out_dim, dtype=dtype))
        layers.append(ReLU())
        if kind in ("bn", "bn-after-relu"):
            layers.append(BatchNorm(out_dim, dtype=dtype))
        return layers
    layers = [layer for in_dim, out_dim in zip(sizes[:-2], sizes[1:-1])
              for layer in hidden(in_dim, out_dim)]
    return Network(layers + [Linear(sizes[-2], sizes[-1], rng, dtype, init_scale)],
                   SoftmaxCrossEntropyLoss())


def prepare(arrays, dtype=np.float32, train_file=mnist.TRAIN_FILE):
    """Split MNIST's training file into train (its first TRAIN_SIZE rows) and
    validation (its last VALIDATION_SIZE), and normalize train, validation
    and test with the global mean and standard deviation of the train split.
    Returns {"train": (X, y), "validation": (X, y), "test": (X, y)}."""
    images, labels = arrays["x_train"], arrays["y_train"]
    needed = TRAIN_SIZE + VALIDATION_SIZE
    if len(images) < needed:
        raise mnist.DataError(
            f"{train_file} has {len(images):,} rows; the split needs {needed:,} "
            f"({TRAIN_SIZE:,} train, {VALIDATION_SIZE:,} validation): "
            "use MNIST's full training file")
    if len(images) > needed:
        print(f"warning: {train_file} has {len(images):,} rows; the split uses its first "
              f"{TRAIN_SIZE:,} (train) and its last {VALIDATION_SIZE:,} (validation), and leaves "
              f"the {len(images) - needed:,} between them out", file=sys.stderr)
    normalize = normalizer(images[:TRAIN_SIZE], dtype)
    return {"train": (normalize(images[:TRAIN_SIZE]), labels[:TRAIN_SIZE]),
            "validation": (normalize(images[-VALIDATION_SIZE:]), labels[-VALIDATION_SIZE:]),
            "test": (normalize(arrays["x_test"]), arrays["y_test"])}


def normalizer(train_images, dtype=np.float32):
    """The function pixels -> (pixels - mean) / std, in dtype, with the global
    mean and standard deviation of train_images (one number each, not one per
    pixel): every split, and any image given to a trained network, is
    normalized with the training split's statistics."""
    mean = float(train_images.mean(dtype=np.float64))
    # E[x^2] - E[x]^2, exact enough in float64 for pixels 0-255, and it
    # needs no float64 copy of the whole split.
    std = math.sqrt(np.square(train_images, dtype=np.uint16).mean(dtype=np.float64) - mean ** 2)

    def normalize(pixels):
        x = pixels.astype(dtype)
        x -= mean
        x /= std
        return x
    return normalize


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
        prog="main.py",
        description="Train fully connected networks, with and without BatchNorm, on MNIST.",
        epilog="networks: " + "; ".join(f"{k}: {v}" for k, v in NETWORKS.items())
               + ". Exit status: 0 every run finished; 1 some runs diverged or were lost with "
                 "their worker process, and the others finished; 2 a usage, data or write "
                 "error; 130, 143, 129 stopped by Ctrl-C, SIGTERM, SIGHUP.")
    parser.add_argument("--epochs", type=positive_int, default=50, help="epochs per network (50)")
    parser.add_argument("--lr", type=positive_float, nargs="+", default=[1e-3], metavar="RATE",
                        help="SGD learning rate; several rates train every network at each (1e-3)")
    parser.add_argument("--batch-size", type=positive_int, default=128, help="minibatch size (128)")
    seeds = parser.add_mutually_exclusive_group()
    seeds.add_argument("--seed", type=non_negative_int, default=0,
                       help="seeds initialization and shuffling: same seed, same result (0)")
    seeds.add_argument("--seeds", type=non_negative_int, nargs="+", metavar="N",
                       help="train every network from several seeds: one number K means "
                            "seeds 0 to K-1, several numbers are the seeds themselves")
    parser.add_argument("--init-scale", type=positive_float, nargs="+", default=[1.0],
                        metavar="K", help="multiply every Linear layer's initial (He) weights "
                                          "by K; several values train at each (1)")
    parser.add_argument("--jobs", type=positive_int,
                        help="runs trained at once, each in its own process (the number of "
                             "cores when several seeds, rates or scales are given; else 1)")
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32",
                        help="floating-point type of the data and the networks (float32)")
    parser.add_argument("--data-dir", default="data",
                        help=f"holds {mnist.TRAIN_FILE} and {mnist.TEST_FILE}, fetched if "
                             "missing (data)")
    parser.add_argument("--results-dir", default="results",
                        help="receives each run's history and weights, and summary.csv (results)")
    parser.add_argument("--net", choices=[*NETWORKS, "all"], action="append",
                        help="network to train, may be repeated (bn and plain)")
    parser.add_argument("--limit", type=positive_int, default=TRAIN_SIZE,
                        help="train on the first N training samples only, for quick runs "
                             "(all 50,000)")
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
    for option, values in (("--lr", args.lr), ("--init-scale", args.init_scale)):
        repeated = [f"{value:g}" for value in values if values.count(value) > 1]
        if repeated:
            parser.error(f"{option} {repeated[0]} is given twice: give each value once")
    for option, directory in (("--data-dir", args.data_dir), ("--results-dir", args.results_dir)):
        if not directory.strip():
            parser.error(f"{option} is empty: name a directory")
    runs = len(args.seeds) * len(args.lr) * len(args.init_scale)
    if args.jobs is None:
        # One seed, rate and scale: the original experiment, one network
        # after the other, each timed alone. A sweep: one run per core,
        # measured faster (README).
        args.jobs = 1 if runs == 1 else sweep.available_cores()
    args.jobs = min(args.jobs, runs * len(args.net))
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
    its shuffling) at learning rate run.lr, its initial weights scaled by
    run.init_scale, with the other options in settings, calling
    on_epoch(record) after each epoch. Returns {"history": one record per
    epoch, "weights": the network's state(), "test_accuracy": a float}.
    Raises network.Diverged, with the history until then, if the loss stops
    being finite."""
    rng = np.random.default_rng(run.seed)
    network = build_network(run.kind, rng, np.dtype(settings.dtype), init_scale=run.init_scale)
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
        try:
            history = network.train(X[:settings.limit], y[:settings.limit], settings.epochs,
                                    run.lr, settings.batch_size, rng,
                                    validation=splits["validation"], on_epoch=after_epoch)
        except Diverged as error:
            raise Diverged(error.loss, error.epoch, error.batch, [before] + error.history) from None
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


# ---------------------------------------------------------------- reporting

class Stopped(BaseException):
    """SIGTERM or SIGHUP arrived: main.py stops as it does for Ctrl-C."""

    def __init__(self, number):
        super().__init__(number)
        self.number = number


HOW_STOPPED = {signal.SIGINT: ("interrupted", 130)}
HOW_STOPPED.update({getattr(signal, name): (f"{how} ({name})", 128 + getattr(signal, name))
                    for name, how in (("SIGTERM", "terminated"), ("SIGHUP", "hung up"))
                    if hasattr(signal, name)})


def stop_on_first_signal(number, frame):
    """The handler of Ctrl-C, SIGTERM and SIGHUP while main.py runs. The
    first stops it; later ones are ignored, so that a second Ctrl-C cannot
    interrupt the stopping itself (ending workers, removing their data)."""
    for each in mnist.STOP_SIGNALS:
        signal.signal(each, signal.SIG_IGN)
    if number == signal.SIGINT:
        raise KeyboardInterrupt
    raise Stopped(number)


def how_stopped(stop):
    """(words, exit status) for a KeyboardInterrupt or Stopped."""
    return HOW_STOPPED[stop.number if isinstance(stop, Stopped) else signal.SIGINT]


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


STATISTICS_HEADER = "  seeds    mean     std     min     max"


def statistics_line(values):
    """The columns of STATISTICS_HEADER for values, one per seed (the
    standard deviation is the sample's, with n - 1)."""
    std = f"{statistics.stdev(values):.4f}" if len(values) > 1 else "-"
    return (f"  {len(values):>5}  {statistics.mean(values):.4f}  {std:>6}  "
            f"{min(values):.4f}  {max(values):.4f}")


def paired_verdict(first, second, first_accuracy, second_accuracy):
    """Compare two sets of runs seed by seed: first_accuracy and
    second_accuracy are {seed: test accuracy}. A difference counts only if
    it has the same sign on every seed and its mean exceeds the spread of
    the seeds (the larger standard deviation of the two sets' accuracies);
    otherwise it is within noise. None if fewer than 2 seeds are shared."""
    seeds = [seed for seed in first_accuracy if seed in second_accuracy]
    if len(seeds) < 2:
        return None
    differences = [first_accuracy[seed] - second_accuracy[seed] for seed in seeds]
    mean = statistics.mean(differences)
    spread = max(statistics.stdev([accuracy[seed] for seed in seeds])
                 for accuracy in (first_accuracy, second_accuracy))
    higher = sum(difference > 0 for difference in differences)
    if abs(mean) > spread and higher in (0, len(seeds)):
        verdict = f"{first if mean > 0 else second} is better"
    else:
        verdict = "within noise"
    return (f"{first} - {second}: {mean:+.4f} on average ({min(differences):+.4f} to "
            f"{max(differences):+.4f}), {first} higher on {higher} of {len(seeds)} seeds; "
            f"seeds' spread {spread:.4f}: {verdict}")


class RunNotSaved(Exception):
    """A run's files could not be written (disk full, directory read-only)."""


class Progress:
    """What main.py shows and keeps as runs train and end: on_event, given
    to sweep.execute, prints each epoch's line and saves each run that
    finishes or diverges; close() prints the table of this invocation."""

    def __init__(self, args, runs):
        self.args, self.runs = args, runs
        self.several = {"seed": len(args.seeds) > 1, "lr": len(args.lr) > 1,
                        "scale": len(args.init_scale) > 1}
        self.sweep = any(self.several.values())
        self.saved = {}              # run: its row of summary.csv
        self.lost = []

    def name(self, run):
        """The run in words, with what varies in this sweep: "bn seed 2 lr 0.1"."""
        parts = [run.kind]
        for key, value in (("seed", run.seed), ("lr", run.lr), ("scale", run.init_scale)):
            if self.several[key]:
                parts.append(f"{key} {value:g}")
        return " ".join(parts)

    def on_event(self, run, event, payload):
        if event == "epoch":
            show(f"{self.name(run):<{self.width()}} "
                 f"epoch {payload['epoch']:>3}/{self.args.epochs}  "
                 f"train loss {payload['train_loss']:.4f}  "
                 f"val loss {payload['val_loss']:.4f}  val acc {payload['val_accuracy']:.4f}  "
                 f"{payload['seconds']:.2f} s")
        elif event == "done":
            last = payload["history"][-1]
            self.save(run, payload["history"], payload["weights"], status="finished",
                      test_accuracy=payload["test_accuracy"], val_accuracy=last["val_accuracy"],
                      val_loss=last["val_loss"])
        elif event == "diverged":
            self.save(run, payload.history, None, status="diverged",
                      diverged_epoch=payload.epoch, diverged_batch=payload.batch)
            show(f"{self.name(run):<{self.width()}} diverged: {payload}")
            if not self.sweep:
                print(f"main.py: error: {self.name(run)} diverged: {payload}; its history until "
                      f"then is saved, no weights. Try a smaller --lr (this run used {run.lr:g})",
                      file=sys.stderr, flush=True)
        else:
            self.lost.append(run)
            print(f"main.py: error: {self.name(run)}: {payload}; nothing of it was saved",
                  file=sys.stderr, flush=True)

    def width(self):
        return max(13, *(len(self.name(run)) for run in self.runs))

    def save(self, run, history, weights, **outcome):
        """Save a run's files and its row of summary.csv, all or nothing:
        an interruption waits until they are written."""
        row = {"run": results.run_name(run, self.several["lr"], self.several["scale"]),
               "network": run.kind, "seed": run.seed, "lr": run.lr, "init_scale": run.init_scale,
               "epochs": self.args.epochs,
               results.EPOCHS_TO_TARGET: results.epochs_to_target(history),
               "train_seconds": sum(record["seconds"] for record in history), **outcome}
        with mnist.signals_deferred(*mnist.STOP_SIGNALS):
            try:
                results.save(self.args.results_dir, row, HISTORY_FIELDS, history, weights)
            except OSError as error:
                raise RunNotSaved(f"cannot save {self.name(run)} in {self.args.results_dir}/ "
                                  f"({error.strerror or error})") from None
            self.saved[run] = row

    def finished(self):
        return {run: row for run, row in self.saved.items() if row["status"] == "finished"}

    def close(self):
        """Print the table of the runs saved by this invocation."""
        if not self.saved:
            return
        if not self.sweep:
            show(f"\n{'network':<13}  test accuracy  train seconds")
            for row in self.saved.values():
                accuracy = (f"{row['test_accuracy']:>13.4f}" if row["status"] == "finished"
                            else f"{'diverged':>13}")
                show(f"{row['network']:<13}  {accuracy}  {row['train_seconds']:>13.1f}")
            return
        for line in sweep_table(self.args, self.saved.values()):
            show(line)

    def ended(self, how, status, error=False):
        """Report a run of main.py stopped early, by a signal (how: in
        words) or an error (how: "error: ..."); returns the exit status."""
        self.close()
        unfinished = ", ".join(self.name(run) for run in self.runs
                               if run not in self.saved and run not in self.lost)
        message = f"main.py: {how}"
        if unfinished and error:
            message += f"; nothing of {unfinished} was saved"
        elif unfinished:
            message += (f" before {unfinished} finished; nothing of "
                        f"{'them' if ',' in unfinished else 'it'} was saved")
        if self.saved:
            message += (f" (results of {', '.join(map(self.name, self.saved))} "
                        f"are in {self.args.results_dir}/)")
        print(message, file=sys.stderr)
        return status


def sweep_table(args, rows):
    """The closing lines of a sweep: for each network, learning rate and
    weight scale, the test accuracy over seeds, the epochs to reach the
    original project's 0.94, and divergences; then the paired verdicts."""
    rows = list(rows)
    groups = {}
    for row in rows:
        groups.setdefault((row["lr"], row["init_scale"]), []).append(row)
    to_target = f"to {results.TARGET_ACCURACY}"
    lines = [f"\n{'test accuracy':<13} {'lr':>7} {'scale':>6}{STATISTICS_HEADER}  {to_target:>8}"
             f"  diverged  train s"]
    for kind in args.net:
        for (lr, scale), group in sorted(groups.items()):
            runs = [row for row in group if row["network"] == kind]
            if not runs:
                continue
            finished = [row["test_accuracy"] for row in runs if row["status"] == "finished"]
            diverged = [row["diverged_epoch"] for row in runs if row["status"] == "diverged"]
            reached = [row[results.EPOCHS_TO_TARGET] for row in runs
                       if row[results.EPOCHS_TO_TARGET] is not None]
            statistics_part = (statistics_line(finished) if finished
                               else f"  {0:>5}  {'-':>6}  {'-':>6}  {'-':>6}  {'-':>6}")
            target = f"{statistics.mean(reached):.1f}" if len(reached) == len(runs) else (
                f"{len(reached)} of {len(runs)}")
            divergence = f"{len(diverged)} (ep {min(diverged)})" if diverged else "-"
            seconds = statistics.mean(row["train_seconds"] for row in runs)
            lines.append(f"{kind:<13} {lr:>7g} {scale:>6g}{statistics_part}  {target:>8}"
                         f"  {divergence:>8}  {seconds:>7.1f}")
    lines.append(f"({to_target}: mean epochs to reach {results.TARGET_ACCURACY} validation "
                 "accuracy, or how many seeds reached it; diverged: how many seeds, "
                 "earliest epoch)")
    accuracy = {}
    for row in rows:
        if row["status"] == "finished":
            accuracy.setdefault((row["network"], row["lr"], row["init_scale"]), {})[row["seed"]] = \
                row["test_accuracy"]
    for (lr, scale) in sorted(groups):
        where = f"lr {lr:g}, scale {scale:g}: " if len(groups) > 1 else ""
        for first, second in itertools.combinations(args.net, 2):
            verdict = paired_verdict(first, second, accuracy.get((first, lr, scale), {}),
                                     accuracy.get((second, lr, scale), {}))
            if verdict:
                lines.append(where + verdict)
    if len(args.lr) > 1:
        lines += rate_lines(args, rows, accuracy)
    return lines


def rate_lines(args, rows, accuracy):
    """Over the learning rates, for each weight scale: the largest rate at
    which no seed diverged, and at which every seed reached the target; each
    network's best rate (the highest mean test accuracy, every seed
    finished); and the paired verdicts at each network's best rate."""
    lines = []
    for scale in args.init_scale:
        best = {}
        scale_said = f" (scale {scale:g})" if len(args.init_scale) > 1 else ""
        lines.append(f"\nOver the learning rates{scale_said}:")
        for kind in args.net:
            runs = {lr: [row for row in rows if (row["network"], row["lr"], row["init_scale"])
                         == (kind, lr, scale)] for lr in args.lr}
            survived = [lr for lr, group in runs.items()
                        if group and all(row["status"] == "finished" for row in group)]
            reached = [lr for lr, group in runs.items() if group and all(
                row[results.EPOCHS_TO_TARGET] is not None for row in group)]
            means = {lr: statistics.mean(accuracy[kind, lr, scale].values()) for lr in survived}
            if means:
                best[kind] = max(means, key=means.get)
            lines.append(
                f"  {kind:<13} largest lr at which no seed diverged: {largest(survived)}; at "
                f"which every seed reached {results.TARGET_ACCURACY}: {largest(reached)}"
                + (f"; best lr {best[kind]:g} ({means[best[kind]]:.4f})" if kind in best else ""))
        for first, second in itertools.combinations(best, 2):
            verdict = paired_verdict(f"{first} (lr {best[first]:g})",
                                     f"{second} (lr {best[second]:g})",
                                     accuracy[first, best[first], scale],
                                     accuracy[second, best[second], scale])
            if verdict:
                lines.append("  at each one's best rate: " + verdict)
    return lines


def largest(rates):
    return f"{max(rates):g}" if rates else "none"


def run(args):
    """The experiment: returns the exit status."""
    check_writable(args.results_dir)
    dtype = np.dtype(args.dtype)
    started = time.perf_counter()
    splits = prepare(mnist.load(args.data_dir), dtype,
                     train_file=os.path.join(args.data_dir, mnist.TRAIN_FILE))
    X, y = splits["train"]
    splits["train"] = X[:args.limit], y[:args.limit]
    show(f"Data: {args.limit:,} train, {len(splits['validation'][0]):,} validation, "
         f"{len(splits['test'][0]):,} test samples ({time.perf_counter() - started:.1f} s)")
    runs = [sweep.Run(kind, seed, lr, scale) for lr in args.lr for scale in args.init_scale
            for seed in args.seeds for kind in args.net]
    progress = Progress(args, runs)
    try:
        sweep.execute(runs, train_run, splits, args, args.jobs, progress.on_event)
    except (KeyboardInterrupt, Stopped) as stop:
        return progress.ended(*how_stopped(stop))
    except (RunNotSaved, sweep.SweepError) as error:
        return progress.ended(f"error: {error}", 2, error=True)
    progress.close()
    if progress.finished():
        draw_figures(args.results_dir, [row["run"] for row in progress.saved.values()])
    if len(progress.saved) < len(runs) or len(progress.finished()) < len(progress.saved):
        return 1
    show(f"\nHistories and weights are in {args.results_dir}/.")
    return 0


def draw_figures(results_dir, names):
    """The figures of the runs just saved, as PNGs in results_dir, if
    matplotlib is installed; else a line that says how to get them."""
    if not plot.available():
        show(plot.HINT)
        return
    try:
        show("Figures: " + ", ".join(plot.draw(results_dir, names)))
    except Exception as error:           # the results are saved: say so, and go on
        print(f"main.py: warning: the figures could not be drawn ({type(error).__name__}: "
              f"{error}); the results are saved", file=sys.stderr)


def main(argv=None):
    args = parse_args(argv)
    previous = {number: signal.signal(number, stop_on_first_signal)
                for number in mnist.STOP_SIGNALS}
    try:
        return run(args)
    except mnist.DataError as error:
        print(f"main.py: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:         # disk full, permissions changed mid-run, ...
        print(f"main.py: error: {error}; nothing was left half-written", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, Stopped) as stop:
        how, status = how_stopped(stop)
        print(f"main.py: {how}; nothing was left half-written", file=sys.stderr)
        return status
    finally:
        # After a signal, the others stay ignored until the process ends: a
        # late one must not change the exit status the user was told of.
        if all(signal.getsignal(number) == stop_on_first_signal for number in previous):
            for number, handler in previous.items():
                signal.signal(number, handler)


if __name__ == "__main__":
    sys.exit(main())
