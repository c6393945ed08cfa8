"""Ioffe & Szegedy's own MNIST experiment (arXiv:1502.03167, sec. 4.1,
"Activations over time"), and its Figure 1 redrawn.

    python3 main.py --study ioffe-szegedy --seeds 3 --results-dir results/ioffe-szegedy
                                                    # the sweep
    python3 ioffe_szegedy.py results/ioffe-szegedy  # its table, and the figure
                                                    # (with matplotlib), in that directory

The paper's network: a 28x28 binary image, three fully connected hidden
layers of 100 sigmoids, y = g(W u + b), weights initialized to small random
Gaussian values, a fully connected layer of 10 and cross-entropy; 50,000
steps of 60 examples. With BatchNorm, one goes before each sigmoid,
z = g(BN(W u)). What the paper leaves open is chosen below, and
docs/study-ioffe-szegedy.md says why.

main.py builds the networks (NETWORKS: the fields of its Architecture) with
its build_network and trains them with OPTIONS, the study's command-line
defaults; it prepares the pixels with prepare_pixels, and calls probe after
each epoch, which records PROBE_FIELDS: the percentiles of Figure 1(b, c).
"""
import math
import os
import statistics
import sys

import numpy as np

import results
from layers import BatchNorm, Sigmoid

# ---------------------------------------------------------------- the recipe

SIZES = (784, 100, 100, 100, 10)
# "Small random Gaussian values": N(0, 0.1^2). A binarized digit has about
# 100 pixels on, so a first-layer unit's input starts with a standard
# deviation of about 1: where the sigmoid bends, neither flat nor linear.
INIT_STD = 0.1
BATCH_SIZE = 60
# Network.train takes the last 20 of the 50,000 training images as a batch
# of their own: an epoch is 834 steps, and 60 epochs are 50,040 steps.
STEPS_PER_EPOCH = math.ceil((50_000 - 1) / BATCH_SIZE)
EPOCHS = 60
# Chosen by the validation accuracy of the network without BatchNorm over a
# short grid (docs/study-ioffe-szegedy.md), and used for both networks.
LEARNING_RATE = 3.0
# A pixel (0-255) is 1 if it is at least half white, else 0; the 0/1 image
# is the input as it is, with no normalization after it.
THRESHOLD = 128

NETWORKS = {
    "sigmoid": dict(description="Ioffe & Szegedy's MNIST network: 784-100-100-100-10, "
                                "sigmoids, no BatchNorm",
                    before=False, after=False, activation=Sigmoid, sizes=SIZES,
                    init_std=INIT_STD),
    # Each Linear keeps its bias, which BatchNorm's mean subtraction cancels:
    # its gradient is 0 to rounding (test_ioffe_szegedy.py), so it stays at 0.
    "sigmoid-bn": dict(description="the same with a BatchNorm before each sigmoid",
                       before=True, after=False, activation=Sigmoid, sizes=SIZES,
                       init_std=INIT_STD),
}
TRAINS = tuple(NETWORKS)           # what `--study ioffe-szegedy` trains
OPTIONS = {"lr": LEARNING_RATE, "epochs": EPOCHS, "batch_size": BATCH_SIZE}


def prepare_pixels(train_images, dtype=np.float32):
    """The function pixels -> 0/1 images in dtype, 1 where a pixel is at
    least THRESHOLD (the same for every split: train_images is not used)."""
    def binarize(pixels):
        return (pixels >= THRESHOLD).astype(dtype)
    return binarize


# ---------------------------------------------------------------- the probe
# Figure 1(b, c): the 15th, 50th and 85th percentiles of the input to one
# sigmoid of the last hidden layer (unit PROBE_UNIT), on the validation
# images main.py gives: in training mode, as the network trains (each
# BatchNorm normalizes batches of BATCH_SIZE with their own statistics), and
# in evaluation mode (BatchNorm with its running statistics).

PERCENTILES = (15, 50, 85)
PROBE_UNIT = 0
PROBE_FIELDS = [f"{mode}_p{q}" for mode in ("train", "eval") for q in PERCENTILES]


def sigmoid_input(network, images, train):
    """The input (N, D) of the last hidden layer's Sigmoid for images
    (N, 784), in training mode (the BatchNorms normalize with the statistics
    of images, one batch) or not. Nothing that training uses changes: the
    running statistics that a training-mode forward updates are put back
    (what the layers keep for backward is replaced by the next step's
    forward, as always)."""
    last = max(i for i, layer in enumerate(network.layers) if isinstance(layer, Sigmoid))
    running = [(layer, layer.running_mean.copy(), layer.running_var.copy())
               for layer in network.layers if isinstance(layer, BatchNorm)]
    for layer in network.layers[:last]:
        images = layer.forward(images, train)
    for layer, mean, var in running:
        layer.running_mean, layer.running_var = mean, var
    return images


def probe(network, images):
    """The PERCENTILES of unit PROBE_UNIT's sigmoid input, keyed as
    PROBE_FIELDS: in training mode over the whole batches of BATCH_SIZE that
    images holds, each normalized on its own, and in evaluation mode over
    all of images."""
    batches = images[:len(images) // BATCH_SIZE * BATCH_SIZE].reshape(-1, BATCH_SIZE,
                                                                     images.shape[1])
    trained = np.concatenate([sigmoid_input(network, batch, train=True)[:, PROBE_UNIT]
                              for batch in batches])
    evaluated = sigmoid_input(network, images, train=False)[:, PROBE_UNIT]
    return dict(zip(PROBE_FIELDS, [*np.percentile(trained, PERCENTILES),
                                   *np.percentile(evaluated, PERCENTILES)]))


# ---------------------------------------------------------------- the table and the figure

TABLE_STEPS = (10_000, 20_000, 30_000, 50_000)
FIGURE = "ioffe_szegedy_figure1.png"


def in_steps(runs):
    """plot.read_runs's runs with each history's epochs counted in steps."""
    return {network: [(seed, accuracy, {**history, "epoch": history["epoch"] * STEPS_PER_EPOCH})
                      for seed, accuracy, history in network_runs]
            for network, network_runs in runs.items()}


def table(runs):
    """Lines: for each network of runs (in_steps), the validation accuracy
    after the epoch that ends closest to each of TABLE_STEPS (mean over
    seeds, min-max), and the test accuracy at the end."""
    ends = [round(steps / STEPS_PER_EPOCH) * STEPS_PER_EPOCH for steps in TABLE_STEPS]
    header = "".join(f"{f'{steps:,} steps':>28}" for steps in ends)
    lines = [f"{'network':<11} {'seeds':>5}{header}{'test, at the end':>28}"]
    for network, network_runs in runs.items():
        columns = []
        for steps in ends:
            values = [h["val_accuracy"][h["epoch"] == steps] for _, _, h in network_runs]
            values = [float(v[0]) for v in values if len(v)]
            columns.append(spread(values))
        columns.append(spread([accuracy for _, accuracy, _ in network_runs]))
        lines.append(f"{network:<11} {len(network_runs):>5}"
                     + "".join(f"{column:>28}" for column in columns))
    return lines


def spread(values, digits=4):
    """'mean (min to max)' of values, or '-' if there are none."""
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return (f"{statistics.mean(values):.{digits}f} "
            f"({min(values):.{digits}f} to {max(values):.{digits}f})")


def drift(runs):
    """Lines: unit PROBE_UNIT's median sigmoid input and the width between
    its 15th and 85th percentiles, in training mode, before training, after
    the epoch that ends closest to 10,000 steps and at the end, means over
    seeds (each seed's unit PROBE_UNIT is another unit) with min-max; then,
    from 10,000 steps to the end, how far the median moved (the mean of its
    moves' sizes) and by what factor the width changed (mean over seeds)."""
    tenth = round(TABLE_STEPS[0] / STEPS_PER_EPOCH)
    lines = []
    for network, network_runs in runs.items():
        if min(len(h["epoch"]) for _, _, h in network_runs) <= tenth:
            lines.append(f"{network:<11} shorter than {tenth * STEPS_PER_EPOCH:,} steps: "
                         "nothing to compare")
            continue
        medians = [h["train_p50"][[0, tenth, -1]] for _, _, h in network_runs]
        widths = [(h["train_p85"] - h["train_p15"])[[0, tenth, -1]] for _, _, h in network_runs]
        moved = statistics.mean(abs(median[2] - median[1]) for median in medians)
        grew = statistics.mean(width[2] / width[1] for width in widths)
        lines.append(f"{network:<11} median " + " -> ".join(spread(v, 2) for v in zip(*medians))
                     + "; 15-85 width " + " -> ".join(spread(v, 2) for v in zip(*widths))
                     + f"; from {tenth * STEPS_PER_EPOCH:,} steps to the end the median moved "
                       f"by {moved:.2f}, the width x{grew:.2f}")
    return lines


def figure1(pyplot, runs, lr):
    """The paper's Figure 1 for runs (in_steps) at learning rate lr: (a)
    validation accuracy against steps, mean over seeds with a min-max band;
    (b, c) unit PROBE_UNIT's sigmoid input percentiles in the first seed's
    network without and with BatchNorm: in training mode, as the paper
    measured them, and for BatchNorm also in evaluation mode (grey)."""
    import plot
    figure, (accuracy, *panels) = pyplot.subplots(1, 3, figsize=(13, 3.8))
    colors = {"sigmoid": "tab:orange", "sigmoid-bn": "tab:blue"}
    styles = {15: ":", 50: "-", 85: "--"}           # plot.py's covariate-shift figure's
    for network, network_runs in runs.items():
        seeds = f"{len(network_runs)} seed" + ("s" if len(network_runs) > 1 else "")
        plot.draw_band(accuracy, network_runs, "val_accuracy", STEPS_PER_EPOCH,
                       f"{network} ({seeds})", colors.get(network))
    accuracy.set(title=f"(a) held-out accuracy, lr {lr:g}", xlabel="steps",
                 ylabel="validation accuracy, after each epoch", ylim=(0.9, 1.0))
    accuracy.legend(loc="lower right")
    for axes, letter, network in zip(panels, "bc", colors):
        if network not in runs:
            continue
        seed, _, history = runs[network][0]
        for q, style in styles.items():
            if network == "sigmoid-bn":
                axes.plot(history["epoch"], history[f"eval_p{q}"], color="grey", linestyle=style,
                          linewidth=1)
            axes.plot(history["epoch"], history[f"train_p{q}"], color=colors[network],
                      linestyle=style)
        axes.set(title=f"({letter}) {network}: unit {PROBE_UNIT}, seed {seed}", xlabel="steps")
    panels[0].set_ylabel("input to the last hidden layer's sigmoid")
    panels[0].sharey(panels[1])
    keys = [pyplot.Line2D([], [], color="black", linestyle=style) for style in styles.values()]
    figure.legend(keys + [pyplot.Line2D([], [], color="grey", linewidth=1)],
                  [f"{q}th percentile" for q in styles] + ["the same in evaluation mode (BatchNorm "
                                                           "with its running statistics)"],
                  loc="lower center", ncol=4, fontsize="small")
    for axes in (accuracy, *panels):
        axes.grid(alpha=0.3)
        axes.set_xticks(range(0, 50_001, 10_000), ["0", "10k", "20k", "30k", "40k", "50k"])
    figure.tight_layout(rect=(0, 0.06, 1, 1))
    return figure


def check_probe_fields(rows, runs):
    """ResultsError, naming the file and the field, if a history of runs
    (read from rows' runs) lacks one of PROBE_FIELDS: a run of main.py
    without --study ioffe-szegedy, or a history.csv edited."""
    for network, network_runs in runs.items():
        for seed, _, history in network_runs:
            missing = [field for field in PROBE_FIELDS if field not in history]
            if missing:
                [row] = [row for row in rows if (row["network"], row["seed"]) == (network, seed)]
                raise results.ResultsError(
                    f"{os.path.join(row['directory'], results.HISTORY)} has no column "
                    f"{missing[0]}: it was not written by main.py --study ioffe-szegedy; "
                    "train that run again")


def main(argv=None):
    """Print the table and the drift of each learning rate's runs in the
    results directory, and draw Figure 1 of one rate's; returns the exit
    status (2: no runs, or the figure could not be written)."""
    # Imported here, not at the top: main.py imports this module for its
    # networks, recipe and probe alone, and pays nothing for the rest.
    import files
    import options
    import plot
    parser = options.OneLineParser(
        prog="ioffe_szegedy.py",
        description="The held-out accuracy of Ioffe & Szegedy's MNIST study at each learning "
                    "rate, and Figure 1 at one, from the runs of main.py --study ioffe-szegedy.")
    parser.add_argument("results_dir", help="the directory main.py wrote")
    parser.add_argument("--lr", type=float, default=LEARNING_RATE,
                        help=f"the learning rate of the runs in the figure ({LEARNING_RATE:g})")
    parser.add_argument("--figure", help=f"where to save the figure ({FIGURE} in "
                                         "the results directory)")
    args = parser.parse_args(argv)
    figure_path = args.figure or os.path.join(args.results_dir, FIGURE)
    # Said before the work, not after the tables.
    where = os.path.dirname(figure_path) or "."
    if args.figure and plot.available() and not os.path.isdir(where):
        print(f"ioffe_szegedy.py: error: --figure {args.figure}: {where}/ is not a directory",
              file=sys.stderr)
        return 2
    try:
        rows = [row for row in results.read_records(args.results_dir)
                if row["network"] in NETWORKS]
        if not rows:
            raise results.ResultsError(f"{args.results_dir}/ has no runs of "
                                       f"{', '.join(NETWORKS)}: run main.py --study "
                                       "ioffe-szegedy first")
        rates = sorted({row["lr"] for row in rows})
        # Of each rate's runs, those of one budget (epochs, batch size, ...).
        chosen = {lr: plot.choose_setting(rows, lr=lr) for lr in rates}
        runs = {lr: in_steps(plot.read_runs(chosen[lr])) for lr in rates}
        for lr in rates:
            check_probe_fields(chosen[lr], runs[lr])
    except results.ResultsError as error:
        print(f"ioffe_szegedy.py: error: {error}", file=sys.stderr)
        return 2
    for lr in rates:
        print(f"Learning rate {lr:g}: validation accuracy, mean over seeds (min-max)")
        print("\n".join(table(runs[lr])))
        print(f"Unit {PROBE_UNIT}'s sigmoid input, in training mode, at 0, "
              f"{round(TABLE_STEPS[0] / STEPS_PER_EPOCH) * STEPS_PER_EPOCH:,} steps and "
              "at the end:")
        print("\n".join(drift(runs[lr])) + "\n")
    if not plot.available():
        print(plot.HINT)
        return 0
    if args.lr not in runs:
        print(f"ioffe_szegedy.py: error: no runs at --lr {args.lr:g} to draw; the runs have "
              + ", ".join(f"{lr:g}" for lr in rates), file=sys.stderr)
        return 2
    import matplotlib
    matplotlib.use("Agg")                   # files only, no window
    from matplotlib import pyplot
    figure = figure1(pyplot, runs[args.lr], args.lr)
    try:
        files.atomic_write(figure_path, lambda file: figure.savefig(file, format="png", dpi=80))
    except OSError as error:
        print(f"ioffe_szegedy.py: error: cannot write {figure_path} "
              f"({error.strerror or error})", file=sys.stderr)
        return 2
    finally:
        pyplot.close(figure)
    print(f"Figure: {figure_path}")
    return 0


if __name__ == "__main__":
    import stopping
    sys.exit(stopping.tool("ioffe_szegedy.py", main))
