"""The experiment: the original mnist-numpy project's networks, trained on
MNIST with minibatch SGD, and their test accuracy.

    python3 main.py                              # the original experiment
    python3 main.py --epochs 1 --limit 5000      # a quick run
    python3 main.py --net all --seeds 5          # every network from seeds 0-4
    python3 main.py --net all --seeds 3 --lr 0.001 0.1 1   # ... and several rates

Read from the top: the networks (build_network), the split (prepare), the
covariate-shift probe (shift), what a study may replace (Experiment), one
run (train_run: one network from one seed, at one rate and one weight
scale), and main(), which trains every run the options ask for. The
program around the experiment lives in lab/: options.py, report.py (lines,
tables, saving), stopping.py (signals), sweep.py, results.py. Each study in
studies/ builds its own Experiment from these parts and runs main() with it.
"""
import collections
import math
import os
import sys
import time

if __name__ == "__main__":      # before NumPy's slow import: Ctrl-C is then one line
    from lab import stopping
    stopping.quiet_ctrl_c("main.py")
import numpy as np

import mnist
from layers import BatchNorm, Linear, ReLU, SoftmaxCrossEntropyLoss
from network import Diverged, Network

TRAIN_SIZE, VALIDATION_SIZE = 50_000, 10_000
# A network: Linear layers of `sizes`; after each hidden one, a BatchNorm if
# `before`, then the activation, then a BatchNorm if `after`.
Architecture = collections.namedtuple("Architecture", "description before after activation sizes",
                                      defaults=(ReLU, (784, 256, 128, 10)))
NETWORKS = {
    "bn": Architecture("BatchNorm before and after each ReLU (the original project's network 1)",
                       before=True, after=True),
    "plain": Architecture("no BatchNorm (the original project's network 2)",
                          before=False, after=False),
    "bn-after-relu": Architecture("BatchNorm only after each ReLU", before=False, after=True),
}
# Covariate shift, as in Ioffe & Szegedy's Figure 1(b, c): percentiles of the
# second ReLU's input, for one unit and for all its units, on fixed validation
# images, before training (epoch 0) and after each epoch.
PERCENTILES = (15, 50, 85)
PROBE_IMAGES, PROBE_UNIT = 500, 0
SHIFT_FIELDS = [f"{which}_p{q}" for which in ("unit", "layer") for q in PERCENTILES]
TRAINING_FIELDS = ["epoch", "train_loss", "val_loss", "val_accuracy", "seconds"]
HISTORY_FIELDS = [*TRAINING_FIELDS, *SHIFT_FIELDS]


def build_network(kind, rng, dtype=np.float32, sizes=None, init_scale=1.0, scale_output=True,
                  networks=NETWORKS):
    """The network `kind`, a key of networks, with its sizes unless others
    are given. Every Linear layer starts from He's N(0, 2/D_in), and the
    weights of every hidden one, and of the output layer unless scale_output
    is False, are multiplied by init_scale."""
    architecture = networks[kind]
    sizes = sizes or architecture.sizes

    def batchnorm(wanted, dim):
        return [BatchNorm(dim, dtype=dtype)] if wanted else []

    def hidden(in_dim, out_dim):
        return [Linear(in_dim, out_dim, rng, dtype, init_scale),
                *batchnorm(architecture.before, out_dim), architecture.activation(),
                *batchnorm(architecture.after, out_dim)]
    layers = [layer for in_dim, out_dim in zip(sizes[:-2], sizes[1:-1])
              for layer in hidden(in_dim, out_dim)]
    output = Linear(sizes[-2], sizes[-1], rng, dtype, init_scale if scale_output else 1.0)
    return Network(layers + [output], SoftmaxCrossEntropyLoss())


def prepare(arrays, dtype=np.float32, train_file=mnist.TRAIN_FILE, prepare_pixels=None,
            limit=None):
    """Split MNIST's training file into train (its first TRAIN_SIZE rows, or
    only the first `limit`) and validation (its last VALIDATION_SIZE), and
    normalize train, validation and test with the global mean and standard
    deviation of the train split (or prepare them with prepare_pixels(train
    images, dtype), a function like normalizer). Returns {"train": (X, y),
    "validation": (X, y), "test": (X, y)}."""
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
    normalize = (prepare_pixels or normalizer)(images[:TRAIN_SIZE], dtype)
    train = limit or TRAIN_SIZE
    return {"train": (normalize(images[:train]), labels[:train]),
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


# ---------------------------------------------------------------- the probe

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


# ---------------------------------------------------------------- the experiment
# What a study may replace (studies/; a first reading can skip this). study: its name, recorded in each run; networks
# ({name: Architecture}) and trains, those --net gives by default; recipe:
# the defaults of lr, epochs and batch_size it changes; build_network,
# prepare_pixels (as normalizer) and probe (after each epoch, its record's
# probe_fields); step_probes: a class of probes at every step, or None;
# plot_command: the command that draws its figures, or None for plot.py's.
Experiment = collections.namedtuple(
    "Experiment", "study networks trains recipe build_network prepare_pixels probe "
                  "probe_fields step_probes plot_command")
ORIGINAL = Experiment("original", NETWORKS, ("bn", "plain"), {}, build_network, normalizer,
                      shift, SHIFT_FIELDS, None, None)


# ---------------------------------------------------------------- one run

def train_run(run, splits, settings, on_epoch):
    """Train the network run.kind from seed run.seed (its initial weights and
    its shuffling) at learning rate run.lr, its initial weights scaled by
    run.init_scale, with the other options in settings, calling
    on_epoch(record) after each epoch. Returns {"history": one record per
    epoch, "weights": network.state(), "test_accuracy": a float}; raises
    network.Diverged, with the history until then, if the loss is not finite."""
    experiment = settings.experiment
    rng = np.random.default_rng(run.seed)
    network = experiment.build_network(run.kind, rng, np.dtype(settings.dtype),
                                       init_scale=run.init_scale,
                                       scale_output=settings.init_scale_layers == "all")
    measure = experiment.probe
    probes = experiment.step_probes and experiment.step_probes(network, run.lr)
    X, y = splits["train"]
    probe = splits["validation"][0][:PROBE_IMAGES]
    val_loss, val_accuracy = network.evaluate(*splits["validation"])
    before = {"epoch": 0, "train_loss": math.nan, "val_loss": val_loss,
              "val_accuracy": val_accuracy, "seconds": 0.0, **measure(network, probe)}

    def after_epoch(record):
        record.update(measure(network, probe))
        on_epoch(record)
    # An overflow shows up as a non-finite loss, which train() reports as
    # Diverged: NumPy's own warnings about it would only add noise.
    with np.errstate(over="ignore", invalid="ignore"):
        try:
            history = network.train(X, y, settings.epochs, run.lr, settings.batch_size, rng,
                                    validation=splits["validation"], on_epoch=after_epoch,
                                    on_step=probes and probes.on_step)
        except Diverged as error:
            raise Diverged(error.loss, error.epoch, error.batch, [before] + error.history) from None
    return {"history": [before] + history, "weights": network.state(),
            "test_accuracy": network.accuracy(*splits["test"]),
            **({"probes": probes.records} if probes else {})}


# ---------------------------------------------------------------- the program

def main(argv=None, experiment=ORIGINAL, program="main.py"):
    """Train every run that the options in argv ask for (by default the
    original experiment: bn, then plain, seed 0), print a line per epoch
    and the table of test accuracies, save each run in the results
    directory; returns the exit status (see lab/options.py). A study gives
    its own experiment, and its command's name as program."""
    # The program around the experiment is imported here, not at the top:
    # test.py and a Python session import main.py for its networks alone.
    from lab import options, report, stopping, sweep
    args = options.parse_args(argv, experiment, TRAIN_SIZE, program)
    with stopping.signals_stop_main():
        try:
            report.check_writable(args.results_dir)
            started = time.perf_counter()
            splits = prepare(mnist.load(args.data_dir), np.dtype(args.dtype),
                             train_file=os.path.join(args.data_dir, mnist.TRAIN_FILE),
                             prepare_pixels=experiment.prepare_pixels, limit=args.limit)
            report.show(f"Data: {args.limit:,} train, {len(splits['validation'][0]):,} "
                        f"validation, {len(splits['test'][0]):,} test samples "
                        f"({time.perf_counter() - started:.1f} s)")
            runs = [sweep.Run(kind, seed, lr, scale) for lr in args.lr
                    for scale in args.init_scale for seed in args.seeds for kind in args.net]
            progress = report.Progress(args, runs, [*TRAINING_FIELDS, *experiment.probe_fields],
                                       experiment.build_network)
            try:
                sweep.execute(runs, train_run, splits, args, args.jobs, progress.on_event)
            except stopping.STOPS as stop:
                return progress.ended(*stopping.how_stopped(stop))
            except (report.RunNotSaved, sweep.SweepError) as error:
                return progress.ended(f"error: {error}", 2, error=True)
            return progress.finish()
        except mnist.DataError as error:
            print(f"{program}: error: {error}", file=sys.stderr)
            return 2
        except OSError as error:         # disk full, permissions changed mid-run, ...
            print(f"{program}: error: {error}; nothing was left half-written", file=sys.stderr)
            return 2
        except stopping.STOPS as stop:
            how, status = stopping.how_stopped(stop)
            print(f"{program}: {how}; nothing was left half-written", file=sys.stderr)
            return status


if __name__ == "__main__":
    sys.exit(stopping.exit_status(main))
