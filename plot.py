"""Figures of main.py's results: the learning curves, and the covariate shift
at the second hidden layer's ReLU (Ioffe & Szegedy 2015, Figure 1(b, c)).

    python3 plot.py [results-dir]        # redraws both figures from saved results

They are drawn from the runs that results-dir/summary.csv lists (the last
main.py run there) and their <net>_seed<N>_history.csv files, and saved as
learning_curves.png and covariate_shift.png in results-dir. main.py draws
them itself at the end of a run when matplotlib is installed. matplotlib is
optional (pip install matplotlib): training and the tests never need it.
"""
import csv
import importlib.util
import os
import sys

import numpy as np

import mnist

COLORS = {"plain": "tab:orange", "bn": "tab:blue", "bn-after-relu": "tab:green"}   # in this order
HINT = "Figures of the results need matplotlib: pip install matplotlib"


def available():
    """True if matplotlib can be imported."""
    return importlib.util.find_spec("matplotlib") is not None


def read_runs(results_dir):
    """{network: [(seed, test accuracy, history {field: array over epochs})]}
    for every run in results_dir/summary.csv, networks in COLORS's order."""
    with open(os.path.join(results_dir, "summary.csv"), newline="") as file:
        rows = list(csv.DictReader(file))
    runs = {}
    for row in rows:
        path = os.path.join(results_dir, f"{row['network']}_seed{row['seed']}_history.csv")
        with open(path, newline="") as file:
            records = list(csv.DictReader(file))
        history = {field: np.array([float(record[field]) for record in records])
                   for field in records[0]}
        runs.setdefault(row["network"], []).append(
            (int(row["seed"]), float(row["test_accuracy"]), history))
    order = [*COLORS, *sorted(set(runs) - set(COLORS))]
    return {network: runs[network] for network in order if network in runs}


def over_seeds(runs, field):
    """Epochs, and the mean, min and max over seeds of a history field."""
    values = np.array([history[field] for _, _, history in runs])
    return runs[0][2]["epoch"], values.mean(axis=0), values.min(axis=0), values.max(axis=0)


def draw_band(axes, runs, field, first_epoch, label=None, color=None, linestyle="-"):
    """The mean of a field over seeds as a line, and its min-max as a band."""
    epochs, mean, low, high = over_seeds(runs, field)
    keep = epochs >= first_epoch
    axes.plot(epochs[keep], mean[keep], color=color, linestyle=linestyle, label=label)
    if len(runs) > 1:
        axes.fill_between(epochs[keep], low[keep], high[keep], color=color, alpha=0.2, linewidth=0)


def test_label(network, runs):
    accuracies = [accuracy for _, accuracy, _ in runs]
    if len(accuracies) == 1:
        return f"{network}: test {accuracies[0]:.4f}"
    return (f"{network}: test {np.mean(accuracies):.4f} ± {np.std(accuracies, ddof=1):.4f} "
            f"({len(accuracies)} seeds)")


def learning_curves(pyplot, runs):
    """Validation accuracy per epoch, the same zoomed on the last half of the
    epochs, and training and validation loss per epoch."""
    figure, (accuracy, zoom, loss) = pyplot.subplots(1, 3, figsize=(15, 4.6))
    seeds = max(len(network_runs) for network_runs in runs.values())
    for network, network_runs in runs.items():
        color = COLORS.get(network)
        draw_band(accuracy, network_runs, "val_accuracy", 1, test_label(network, network_runs), color)
        last_epoch = int(network_runs[0][2]["epoch"][-1])
        draw_band(zoom, network_runs, "val_accuracy", max(1, last_epoch // 2), network, color)
        draw_band(loss, network_runs, "train_loss", 1, f"{network} train", color)
        draw_band(loss, network_runs, "val_loss", 1, f"{network} validation", color, "--")
    band = ", band: min-max over seeds" if seeds > 1 else ""
    accuracy.set(title=f"Validation accuracy (mean{band})", xlabel="epoch",
                 ylabel="validation accuracy")
    zoom.set(title="The same, last half of the epochs", xlabel="epoch",
             ylabel="validation accuracy")
    loss.set(title="Loss (training: solid, validation: dashed)", xlabel="epoch",
             ylabel="cross-entropy loss", yscale="log")
    accuracy.legend(loc="lower right")
    zoom.legend(loc="lower right")
    loss.legend(fontsize="small", ncol=2)
    for axes in (accuracy, zoom, loss):
        axes.grid(alpha=0.3)
    figure.tight_layout()
    return figure


def covariate_shift(pyplot, runs):
    """For each network, the 15th, 50th and 85th percentiles of the second
    ReLU's input over training: one unit of one seed's network (top), and
    all units together, mean over seeds (bottom)."""
    figure, axes = pyplot.subplots(2, len(runs), figsize=(5 * len(runs), 7.8),
                                   sharex=True, sharey="row", squeeze=False)
    styles = {"15": ":", "50": "-", "85": "--"}
    for column, (network, network_runs) in enumerate(runs.items()):
        seed, _, history = network_runs[0]
        color = COLORS.get(network)
        for q, style in styles.items():
            axes[0, column].plot(history["epoch"], history[f"unit_p{q}"], color=color,
                                 linestyle=style)
            draw_band(axes[1, column], network_runs, f"layer_p{q}", 0, None, color, style)
        axes[0, column].set_title(f"{network}: one unit (unit 0, seed {seed})")
        seeds = f", mean of {len(network_runs)} seeds" if len(network_runs) > 1 else ""
        axes[1, column].set_title(f"{network}: all units together{seeds}")
        axes[1, column].set_xlabel("epoch")
        for row in (0, 1):
            axes[row, column].grid(alpha=0.3)
    for row in (0, 1):
        axes[row, 0].set_ylabel("input to the 2nd hidden layer's ReLU")
    figure.legend([pyplot.Line2D([], [], color="black", linestyle=style) for style in styles.values()],
                  [f"{q}th percentile" for q in styles], loc="upper right", ncol=3)
    figure.suptitle("Covariate shift: the input to a ReLU during training, on 500 validation "
                    "images in evaluation mode\n(epoch 0, before training: BatchNorm's running "
                    "statistics are still 0 and 1, so it passes its input through)",
                    x=0.02, ha="left", fontsize="medium")
    figure.tight_layout(rect=(0, 0, 1, 0.97))
    return figure


def drift(runs):
    """Lines that put the covariate-shift figure in numbers: from epoch 1 (when
    BatchNorm's running statistics are first estimated) to the last epoch, how
    far the median of the ReLU's input moved, and by what factor the width
    between its 15th and 85th percentiles changed; means over seeds."""
    lines = []
    for network, network_runs in runs.items():
        parts = []
        for which, name in (("unit", "unit 0"), ("layer", "all units")):
            moved = np.mean([abs(h[f"{which}_p50"][-1] - h[f"{which}_p50"][1])
                             for _, _, h in network_runs])
            widened = np.mean([(h[f"{which}_p85"][-1] - h[f"{which}_p15"][-1])
                               / (h[f"{which}_p85"][1] - h[f"{which}_p15"][1])
                               for _, _, h in network_runs])
            parts.append(f"{name}: median moved {moved:.2f}, width x{widened:.2f}")
        lines.append(f"{network:<13} epoch 1 to {int(network_runs[0][2]['epoch'][-1])}: "
                     + "; ".join(parts))
    return lines


def draw(results_dir):
    """Draw both figures from the results in results_dir; returns their paths."""
    import matplotlib
    matplotlib.use("Agg")                   # files only, no window
    from matplotlib import pyplot
    runs = read_runs(results_dir)
    paths = []
    for name, make in (("learning_curves.png", learning_curves),
                       ("covariate_shift.png", covariate_shift)):
        figure = make(pyplot, runs)
        path = os.path.join(results_dir, name)
        mnist.atomic_write(path, lambda file: figure.savefig(file, format="png", dpi=80))
        pyplot.close(figure)
        paths.append(path)
    return paths


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    results_dir = argv[0] if argv else "results"
    if not available():
        print(f"plot.py: error: {HINT}", file=sys.stderr)
        return 2
    try:
        paths = draw(results_dir)
    except (OSError, KeyError, ValueError, IndexError) as error:
        print(f"plot.py: error: cannot draw from {results_dir}/ ({error}); run main.py first, "
              "or name the directory it wrote", file=sys.stderr)
        return 2
    print("Figures: " + ", ".join(paths))
    print("Covariate shift at the second ReLU's input (means over seeds):")
    for line in drift(read_runs(results_dir)):
        print("  " + line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
