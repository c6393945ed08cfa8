"""Figures of main.py's results: the learning curves, the covariate shift at
the second hidden layer's ReLU (Ioffe & Szegedy 2015, Figure 1(b, c)), and,
for a sweep over learning rates or weight scales, accuracy and speed against
them.

    python3 plot.py [results-dir] [--lr RATE] [--init-scale K] [--table NAME]

It draws from the runs in results-dir (each run's directory: its run.csv
and history.csv; see results.py) and saves learning_curves.png and
covariate_shift.png (for the runs of one setting: --lr and --init-scale
choose the learning rate and weight scale, by default 1e-3 and 1 if there
are such runs; of these, the budget with the most runs: epochs, batch
size, limit, dtype, data, study and layers scaled) and, if the runs of
that budget have several rates or scales, learning_rates.png, all in results-dir. Runs
of different settings are never averaged together. It prints the figures'
numbers too, as Markdown tables, which need no matplotlib (see TABLES); a
missing or damaged summary.csv is rebuilt. With --table NAME it prints that
table alone, and draws and writes nothing: docs/ holds such tables of the
study's snapshot (lab/tables.py). main.py draws the figures itself at the
end of a run when matplotlib is installed. matplotlib is optional (pip install matplotlib):
training and the tests never need it.
"""
import collections
import importlib.util
import math
import os
import sys
import warnings

from lab import stopping                     # first: it makes Ctrl-C quiet during the slow imports
if __name__ == "__main__":
    stopping.quiet_ctrl_c("plot.py")

import numpy as np

from lab import files
from lab import options
from lab import report
from lab import results
from lab import tables

COLORS = {"plain": "tab:orange", "bn": "tab:blue", "bn-after-relu": "tab:green"}   # in this order
HINT = "Figures of the results need matplotlib: pip install matplotlib"
DEFAULT_SETTING = (1e-3, 1.0)        # the original recipe's learning rate and weight scale


def ordered(networks):
    """The networks named, in COLORS's order, then any other by name."""
    found = set(networks)
    return [*(network for network in COLORS if network in found), *sorted(found - set(COLORS))]


def available():
    """True if matplotlib can be imported."""
    return importlib.util.find_spec("matplotlib") is not None


def setting(row):
    """(learning rate, weight scale) of a run's record."""
    return row["lr"], row["init_scale"]


# What else a run's result depends on; runs that differ in any of these are
# never drawn, or averaged, together.
BUDGET = ("epochs", "batch_size", "limit", "dtype", "data", "study", "init_scale_layers")


def budget(row):
    return tuple(row[key] for key in BUDGET)


def choose_setting(rows, lr=None, init_scale=None):
    """The rows of one setting, whose learning curves are drawn together:
    the (learning rate, weight scale) asked for, else the original recipe's
    if there are such rows, else the first; and of its runs, those of the
    budget (epochs, batch size, limit, dtype, data, study, the layers
    scaled) with the most runs."""
    pairs = sorted({setting(row) for row in rows})
    if lr is None and init_scale is None:
        wanted = DEFAULT_SETTING if DEFAULT_SETTING in pairs else pairs[0]
    else:
        matching = [pair for pair in pairs if (lr is None or math.isclose(pair[0], lr)) and
                    (init_scale is None or math.isclose(pair[1], init_scale))]
        if not matching:
            asked = " and ".join(f"{name} {results.exact(value)}" for name, value in
                                 (("--lr", lr), ("--init-scale", init_scale)) if value is not None)
            raise results.ResultsError(f"no runs with {asked}; the runs have " + "; ".join(
                f"lr {results.exact(a)}, scale {results.exact(b)}" for a, b in pairs))
        wanted = matching[0]
    rows = [row for row in rows if setting(row) == wanted]
    counts = collections.Counter(budget(row) for row in rows)
    # The most runs; then the most epochs, the most samples, float32, MNIST,
    # the original experiment, every layer scaled.
    chosen = max(counts, key=lambda each: (counts[each], each[0], each[2], each[3] == "float32",
                                              each[4] == "mnist", each[5] == "original",
                                              each[6] == "all"))
    return [row for row in rows if budget(row) == chosen]


def describe(row):
    """The settings of a run that differ from its recipe (the original one,
    or its study's), in words, as its name gives them: "lr 0.1, epochs 1,
    limit 1000"."""
    suffix = row["run"][len(f"{row['network']}_seed{row['seed']}"):]
    words = []
    for part in suffix.split("_")[1:]:
        # The longest word that begins it: "scaledhidden" is scaled hidden, not scale dhidden.
        word = max((word for word in results.SETTINGS.values() if word and part.startswith(word)),
                   key=len, default="")
        words.append(f"{word} {part[len(word):]}" if word else part)
    return ", ".join(words) or "the original recipe"


def read_run_history(row):
    """The history of the run of record `row` (results.read_history);
    ResultsError naming the file if the run finished but its epochs are not
    0 to its run.csv's epochs, one a line (a file cut short at a line's end,
    or edited)."""
    path = os.path.join(row["directory"], results.HISTORY)
    history = results.read_history(path, results.HISTORY_NEEDED)
    epochs = history["epoch"]
    if row["status"] == "finished" and not np.array_equal(epochs, np.arange(row["epochs"] + 1)):
        raise results.ResultsError(
            f"{path} has epochs {results.exact(float(epochs[0]))} to "
            f"{results.exact(float(epochs[-1]))} in {len(epochs)} lines, but its run finished {row['epochs']} epochs (a file cut "
            "short or edited?): train the run again")
    return history


def read_runs(rows):
    """{network: [(seed, test accuracy, history {field: array over epochs})]}
    for the finished runs among rows, networks in COLORS's order."""
    runs = {}
    for row in rows:
        if row["status"] != "finished":
            continue
        history = read_run_history(row)
        runs.setdefault(row["network"], []).append((row["seed"], row["test_accuracy"], history))
    return {network: runs[network] for network in ordered(runs)}


def over_seeds(runs, field):
    """Epochs, and the mean, min and max over seeds of a history field. Runs
    of different lengths are taken as far as each goes."""
    longest = max((history for _, _, history in runs), key=lambda history: len(history["epoch"]))
    values = np.full((len(runs), len(longest["epoch"])), np.nan)
    for i, (_, _, history) in enumerate(runs):
        values[i, :len(history[field])] = history[field]
    with warnings.catch_warnings():          # a column of NaNs (epoch 0's train_loss) stays NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        return (longest["epoch"], np.nanmean(values, axis=0), np.nanmin(values, axis=0),
                np.nanmax(values, axis=0))


def draw_band(axes, runs, field, first_epoch, label=None, color=None, linestyle="-"):
    """The mean of a field over seeds as a line (with markers when there
    are few points), and its min-max as a band."""
    epochs, mean, low, high = over_seeds(runs, field)
    keep = (epochs >= first_epoch) & np.isfinite(mean)
    marker = "o" if keep.sum() <= 3 else None
    axes.plot(epochs[keep], mean[keep], color=color, linestyle=linestyle, label=label,
              marker=marker)
    if len(runs) > 1:
        axes.fill_between(epochs[keep], low[keep], high[keep], color=color, alpha=0.2, linewidth=0)


def test_label(network, runs):
    accuracies = [accuracy for _, accuracy, _ in runs]
    if len(accuracies) == 1:
        return f"{network}: test {accuracies[0]:.4f}"
    return (f"{network}: test {np.mean(accuracies):.4f} ± {np.std(accuracies, ddof=1):.4f} "
            f"({len(accuracies)} seeds)")


def learning_curves(pyplot, runs, where):
    """Validation accuracy per epoch, the same zoomed on the last half of the
    epochs, and training and validation loss per epoch."""
    figure, (accuracy, zoom, loss) = pyplot.subplots(1, 3, figsize=(15, 4.6))
    seeds = max(len(network_runs) for network_runs in runs.values())
    for network, network_runs in runs.items():
        color = COLORS.get(network)
        draw_band(accuracy, network_runs, "val_accuracy", 1, test_label(network, network_runs), color)
        last_epoch = int(max(history["epoch"][-1] for _, _, history in network_runs))
        draw_band(zoom, network_runs, "val_accuracy", max(1, last_epoch // 2), network, color)
        draw_band(loss, network_runs, "train_loss", 1, f"{network} train", color)
        draw_band(loss, network_runs, "val_loss", 1, f"{network} validation", color, "--")
    band = ", band: min-max over seeds" if seeds > 1 else ""
    accuracy.set(title=f"Validation accuracy, {where}", xlabel="epoch",
                 ylabel=f"validation accuracy (mean{band})")
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


def covariate_shift(pyplot, runs, where):
    """For each network, the 15th, 50th and 85th percentiles of the second
    ReLU's input over training: one unit of one seed's network (top), and
    all units together, mean over seeds (bottom)."""
    figure, axes = pyplot.subplots(2, len(runs), figsize=(5 * len(runs), 7.8),
                                   sharex=True, sharey="row", squeeze=False)
    styles = {"15": ":", "50": "-", "85": "--"}
    for column, (network, network_runs) in enumerate(runs.items()):
        seed, _, history = network_runs[0]
        color = COLORS.get(network)
        marker = "o" if len(history["epoch"]) <= 3 else None
        for q, style in styles.items():
            axes[0, column].plot(history["epoch"], history[f"unit_p{q}"], color=color,
                                 linestyle=style, marker=marker)
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
                  [f"{q}th percentile" for q in styles], loc="lower center", ncol=3)
    figure.suptitle(f"Covariate shift ({where}): the input to a ReLU during training, on 500 "
                    "validation images in evaluation mode\n(epoch 0, before training: BatchNorm's "
                    "running statistics are still 0 and 1, so it passes its input through)",
                    x=0.02, ha="left", fontsize="medium")
    figure.tight_layout(rect=(0, 0.04, 1, 0.95))
    return figure


def drift(runs):
    """The covariate-shift figure in numbers, as a Markdown table: for each
    network, its shift (see shift) for unit 0 and for all units together,
    means over seeds."""
    header = ["network", "epochs", "unit 0: median moved", "width", "all units: median moved",
              "width"]
    rows = []
    for network, network_runs in runs.items():
        moved = shift(network_runs)
        if moved is None:
            rows.append([f"`{network}`", "fewer than 2: nothing to compare", *"----"])
            continue
        cells = [cell for which in ("unit", "layer") for cell in (
            f"{moved[which][0]:.2f}", "no ratio: 0 at epoch 1" if math.isnan(moved[which][1])
            else f"x{moved[which][1]:.2f}")]
        rows.append([f"`{network}`", f"1-{int(network_runs[0][2]['epoch'][-1])}", *cells])
    return tables.markdown(header, rows)


def shift(network_runs):
    """How the second ReLU's input moved in one network's runs, from epoch 1
    (when BatchNorm's running statistics are first estimated) to the last:
    {"unit": unit 0's, "layer": all units'} (how far its median moved, by
    what factor the width between its 15th and 85th percentiles changed, NaN
    if that width was 0 at epoch 1), means over seeds; None if some run has
    fewer than 2 epochs."""
    if min(len(history["epoch"]) for _, _, history in network_runs) < 3:
        return None
    moved = {}
    for which in ("unit", "layer"):
        median = np.mean([abs(h[f"{which}_p50"][-1] - h[f"{which}_p50"][1])
                          for _, _, h in network_runs])
        widths = [(h[f"{which}_p85"][-1] - h[f"{which}_p15"][-1],
                   h[f"{which}_p85"][1] - h[f"{which}_p15"][1]) for _, _, h in network_runs]
        ratio = (np.mean([last / first for last, first in widths])
                 if all(first > 0 for _, first in widths) else math.nan)
        moved[which] = (median, ratio)
    return moved


# Validation accuracies whose epoch of reaching them the sweep figure shows:
# the original project's figure, and about the best any network reaches here.
TARGETS = (results.TARGET_ACCURACY, 0.98)


def sweep_points(rows):
    """One point per run of a sweep: its network, lr, init_scale, status,
    test accuracy (NaN if it diverged) and {target: the first epoch after
    which its validation accuracy reached it, or None} for each of TARGETS."""
    points = []
    for row in rows:
        history = read_run_history(row)
        reached = {target: next((int(epoch) for epoch, accuracy in
                                 zip(history["epoch"], history["val_accuracy"])
                                 if accuracy >= target), None) for target in TARGETS}
        points.append({"network": row["network"], "lr": row["lr"],
                       "init_scale": row["init_scale"], "epochs": row["epochs"],
                       "status": row["status"],
                       "test_accuracy": results.number(row["test_accuracy"]),
                       "epochs_to": reached})
    return points


def along(points, key, held_key, held):
    """{network: {value of key: its points}}, of the points whose held_key
    is held, networks in COLORS's order."""
    grouped = {}
    for point in points:
        if math.isclose(point[held_key], held):
            grouped.setdefault(point["network"], {}).setdefault(point[key], []).append(point)
    return {network: grouped[network] for network in ordered(grouped)}


def log_x_axis(axes, settings, margin=1.6):
    """Make axes' x axis logarithmic, showing every one of settings
    (positive finite numbers, up to 1e308 and down to 5e-324), diverged
    ones too: a margin beyond them where that is still a number, and ticks
    only where they are numbers (matplotlib's own ticks go a few decades
    beyond the limits, to infinity past 1e308, which it cannot label)."""
    axes.set_xscale("log")
    for locator in (axes.xaxis.get_major_locator(), axes.xaxis.get_minor_locator()):
        locator.tick_values = finite_ticks(locator.tick_values)
    low, high = min(settings) / margin, max(settings) * margin
    axes.set_xlim(low if low > 0 else min(settings), high if math.isfinite(high) else max(settings))


def finite_ticks(tick_values):
    """A locator's tick_values(vmin, vmax) without the ticks that are not
    positive finite numbers."""
    def ticks(vmin, vmax):
        with np.errstate(over="ignore", under="ignore"):
            values = np.asarray(tick_values(vmin, vmax))
        return values[np.isfinite(values) & (values > 0)]
    return ticks


def draw_sweep(axes, grouped, value, linestyle="-", label=True):
    """For each network, the mean over seeds of value(point) against the
    swept setting, with its min-max as a band; a hollow marker where only
    some seeds have a value, and (if label) an x at the bottom for each
    seed that diverged."""
    log_x_axis(axes, [x for by_setting in grouped.values() for x in by_setting])
    edge = axes.get_xaxis_transform()            # x in data, y in axes fraction
    for row, (network, by_setting) in enumerate(grouped.items()):
        color = COLORS.get(network)
        xs, means, lows, highs, partial, diverged = [], [], [], [], [], []
        for x, group in sorted(by_setting.items()):
            values = [value(point) for point in group]
            found = [v for v in values if v is not None and not math.isnan(v)]
            diverged += [x] * sum(point["status"] == "diverged" for point in group)
            if found:
                xs.append(x)
                means.append(np.mean(found))
                lows.append(min(found))
                highs.append(max(found))
                if len(found) < len(values):
                    partial.append((x, means[-1]))
        axes.plot(xs, means, color=color, marker="o", linestyle=linestyle,
                  label=network if label else None)
        axes.fill_between(xs, lows, highs, color=color, alpha=0.15, linewidth=0)
        if partial:
            axes.scatter(*zip(*partial), s=90, facecolors="white", edgecolors=color, zorder=3)
        if diverged and label:
            axes.scatter(diverged, [0.04 + 0.05 * row] * len(diverged), transform=edge,
                         marker="x", color=color, s=60)
    axes.grid(alpha=0.3, which="both")


def rate_of_scales(items):
    """The learning rate at which items (run records, or sweep points) have
    the most weight scales."""
    return max({item["lr"] for item in items}, key=lambda lr: len(
        {item["init_scale"] for item in items if item["lr"] == lr}))


def learning_rates(pyplot, points):
    """Test accuracy after the budget, and the epochs to reach each of
    TARGETS, against the learning rate (weight scale 1); and test accuracy
    against the weight scale, if the runs have several."""
    scales = {point["init_scale"] for point in points}
    scale_lr = rate_of_scales(points)
    panels = 3 if len(scales) > 1 else 2
    figure, axes = pyplot.subplots(1, panels, figsize=(5.6 * panels, 5.0), squeeze=False)
    axes = axes[0]
    by_rate = along(points, "lr", "init_scale", 1.0 if 1.0 in scales else min(scales))
    draw_sweep(axes[0], by_rate, lambda point: point["test_accuracy"])
    budget = "/".join(sorted({str(point["epochs"]) for point in points}))
    axes[0].set(title=f"Test accuracy after {budget} epochs", xlabel="learning rate",
                ylabel="test accuracy (mean; band: min-max over seeds)")
    for target, style in zip(TARGETS, ("-", "--")):
        draw_sweep(axes[1], by_rate, lambda point: point["epochs_to"][target], style,
                   label=target == TARGETS[0])
    axes[1].set(title="Epochs to reach a validation accuracy of\n"
                      + " (solid) and ".join(f"{t:g}" for t in TARGETS) + " (dashed)",
                xlabel="learning rate", ylabel="epochs (mean; band: min-max; 1: in the first)")
    if any(len(line.get_xdata()) for line in axes[1].get_lines()):
        axes[1].set_yscale("log")
    else:
        axes[1].text(0.5, 0.5, "no run reached them", transform=axes[1].transAxes,
                     ha="center")
    if panels == 3:
        draw_sweep(axes[2], along(points, "init_scale", "lr", scale_lr),
                   lambda point: point["test_accuracy"])
        axes[2].set(title=f"Test accuracy against the weight scale (lr {results.exact(scale_lr)})",
                    xlabel="initial weights times K", ylabel="test accuracy")
    for each in axes:
        each.legend(loc="best")
    keys = [pyplot.Line2D([], [], color="gray", marker="x", linestyle=""),
            pyplot.Line2D([], [], color="gray", marker="o", markerfacecolor="white",
                          linestyle="")]
    figure.legend(keys, ["a seed that diverged", "mean of the seeds that reached it, not all"],
                  loc="lower center", ncol=2)
    figure.tight_layout(rect=(0, 0.06, 1, 1))
    return figure


def speed(points):
    """The numbers of the sweep figure's middle panel, as a Markdown table:
    per network and learning rate (weight scale 1), the mean epochs to each
    of TARGETS over the seeds that reached it, how many did, and each one's
    epochs (in the order of the summary's seeds)."""
    header = ["network", "lr", *(f"epochs to {target:g}" for target in TARGETS)]
    rows = []
    for network, by_rate in along(points, "lr", "init_scale", 1.0).items():
        for lr, group in sorted(by_rate.items()):
            cells = []
            for target in TARGETS:
                found = epochs_to(group, target)
                seeds = ", ".join(str(epochs) for epochs in found)
                cells.append(f"{np.mean(found):.1f} ({len(found)}/{len(group)}: {seeds})"
                             if found else f"- (0/{len(group)})")
            rows.append([f"`{network}`", results.exact(lr), *cells])
    return tables.markdown(header, rows)


def epochs_to(group, target):
    """The epochs to reach target (one of TARGETS) of the points of group
    that reached it."""
    return [point["epochs_to"][target] for point in group
            if point["epochs_to"][target] is not None]


def scale_table(rows, lr):
    """Test accuracy against the weight scale at learning rate lr, as a
    Markdown table (see scale_means)."""
    scales, means = scale_means(rows, lr)
    header = ["network", *(f"K = {results.exact(scale)}" for scale in scales), "moves by"]
    table = [[f"`{network}`", *(f"{mean:.4f}" if math.isfinite(mean) else "diverged"
                                for mean in network_means),
              f"{moves(network_means):.2f}" if np.isfinite(network_means).sum() > 1 else "-"]
             for network, network_means in means.items()]
    return tables.markdown(header, table)


def scale_means(rows, lr):
    """The weight scales of rows (run records) at learning rate lr, and
    {network: the mean test accuracy over seeds at each (of the seeds that
    finished; NaN if none did)}, networks in COLORS's order."""
    accuracy = report.accuracies(rows)
    scales = sorted({row["init_scale"] for row in rows if row["lr"] == lr})
    return scales, {network: [np.mean(list(accuracy[network, lr, scale].values()))
                              if (network, lr, scale) in accuracy else math.nan
                              for scale in scales]
                    for network in ordered(row["network"] for row in rows)}


def moves(means):
    """How far means move: the largest - the smallest, NaNs left out."""
    return np.nanmax(means) - np.nanmin(means)


def mistakes(pyplot, evaluations, shown=10):
    """For each network (a column): its confusion matrix with the mistakes
    only (the diagonal left blank), and the `shown` images it gets wrong
    with the highest confidence, each with its label, the prediction and
    the probability the network gave it."""
    figure = pyplot.figure(figsize=(5.6 * len(evaluations), 10.4))
    for column, evaluation in zip(figure.subfigures(1, len(evaluations), squeeze=False)[0],
                                  evaluations):
        matrix_part, images_part = column.subfigures(2, 1, height_ratios=(1.25, 1))
        errors = evaluation["matrix"].astype(float)
        np.fill_diagonal(errors, np.nan)
        axes = matrix_part.subplots()
        axes.imshow(errors, cmap="Reds")
        for (true, predicted), count in np.ndenumerate(evaluation["matrix"]):
            if true != predicted and count:
                axes.text(predicted, true, count, ha="center", va="center", fontsize="small",
                          color="white" if count > np.nanmax(errors) / 2 else "black")
        wrong = int(np.nansum(errors))
        axes.set(xticks=range(10), yticks=range(10), xlabel="predicted digit",
                 ylabel="true digit",
                 title=f"{evaluation['kind']}: {wrong} mistakes in {len(evaluation['labels']):,}"
                       f"\n({os.path.basename(evaluation['path'])})")
        predicted = evaluation["probabilities"].argmax(axis=1)
        confidence = evaluation["probabilities"].max(axis=1)
        missed = np.flatnonzero(predicted != evaluation["labels"])
        worst = missed[np.argsort(-confidence[missed], kind="stable")][:shown]
        grid = images_part.subplots(2, (shown + 1) // 2, squeeze=False).ravel()
        for axes, index in zip(grid, worst):
            axes.imshow(evaluation["images"][index].reshape(28, 28), cmap="gray_r")
            axes.set_title(f"{evaluation['labels'][index]} taken for {predicted[index]}\n"
                           f"p = {confidence[index]:.3f}", fontsize="small")
        for axes in grid:
            axes.set_axis_off()
        images_part.suptitle("its most confident mistakes (true digit taken for prediction, "
                             "p: its probability)", fontsize="small")
    return figure


def figure_formats():
    """The file formats matplotlib writes, by extension (png, pdf, svg, ...)."""
    from matplotlib.backend_bases import FigureCanvasBase
    return set(FigureCanvasBase.get_supported_filetypes())


def draw_mistakes(path, evaluations):
    """Draw mistakes() to path, in the format its extension names (PNG if
    it has none); returns path."""
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib import pyplot
    extension = os.path.splitext(path)[1][1:].lower()
    figure = mistakes(pyplot, evaluations)
    try:
        files.atomic_write(path, lambda file: figure.savefig(
            file, format=extension if extension in figure_formats() else "png", dpi=80))
    finally:
        pyplot.close(figure)
    return path


def is_sweep(rows):
    """True if the rows have several learning rates or weight scales."""
    return len({setting(row) for row in rows}) > 1


# rows: every run's record; where: the setting of the learning curves, in
# words; runs: its finished runs (read_runs); budget: the records of its
# budget, every setting; points: theirs, if they are a sweep (sweep_points).
Selection = collections.namedtuple("Selection", "rows where runs budget points")


def drawable(rows):
    """The rows whose learning rate and weight scale are positive finite
    numbers, which a log axis can show and main.py alone trains; any other
    (an edited run.csv) is left out, with a warning."""
    kept = []
    for row in rows:
        odd = [f"{key} {results.exact(row[key])}" for key in ("lr", "init_scale")
               if not (math.isfinite(row[key]) and row[key] > 0)]
        if odd:
            print(f"warning: {row['run']} is left out of the figures: its {odd[0]} is not a "
                  "positive number", file=sys.stderr)
        else:
            kept.append(row)
    return kept


def select(results_dir, names=None, lr=None, init_scale=None):
    """What the figures of results_dir show (of the runs named, if names are
    given): the runs' records; for the learning curves, the setting chosen
    (see choose_setting) in words and its finished runs (see read_runs);
    and, if the runs of the chosen budget are a sweep over rates or scales,
    its points (see sweep_points). Runs of a rate or scale that is not a
    positive number are left out (see drawable)."""
    rows = results.read_records(results_dir)
    if names is not None:
        rows = [row for row in rows if row["run"] in names]
    if not rows:
        older = results.older_runs(results_dir)
        if older:
            raise results.ResultsError(
                f"{results_dir}/ holds runs saved by an older main.py (flat files such as "
                f"{older[0]}), which this plot.py does not read: train them again, or draw "
                "them with the version that saved them")
        if os.path.lexists(os.path.join(results_dir, results.RECORD)):
            parent = os.path.dirname(os.path.abspath(results_dir))
            raise results.ResultsError(f"{results_dir}/ is a run's own directory: name the "
                                       f"results directory that holds it, {parent}/")
        raise results.ResultsError(f"{results_dir}/ holds no runs: run main.py first, or name "
                                   "the directory it wrote")
    rows = drawable(rows)
    if not rows:
        raise results.ResultsError(f"{results_dir}/ holds no runs that can be drawn: every "
                                   "one's learning rate or weight scale is not a positive "
                                   "number")
    # A run copied under another name counts once.
    rows = list({(row["network"], row["seed"], setting(row), budget(row)): row
                 for row in rows}.values())
    chosen = choose_setting(rows, lr, init_scale)
    same_budget = [row for row in rows if budget(row) == budget(chosen[0])]
    points = sweep_points(same_budget) if is_sweep(same_budget) else []
    return Selection(rows, describe(chosen[0]), read_runs(chosen), same_budget, points)


def draw(results_dir, names=None, lr=None, init_scale=None):
    """Draw the figures of the results in results_dir (see select); returns
    their paths."""
    return draw_selected(results_dir, select(results_dir, names, lr, init_scale))


def draw_selected(results_dir, selection):
    """Draw the figures of a Selection into results_dir; returns their paths."""
    import matplotlib
    matplotlib.use("Agg")                   # files only, no window
    from matplotlib import pyplot
    runs, where, figures = selection.runs, selection.where, []
    if runs:
        figures += [("learning_curves.png", lambda: learning_curves(pyplot, runs, where)),
                    ("covariate_shift.png", lambda: covariate_shift(pyplot, runs, where))]
    if selection.points:
        figures.append(("learning_rates.png", lambda: learning_rates(pyplot, selection.points)))
    paths = []
    for name, make in figures:
        path = os.path.join(results_dir, name)
        try:
            figure = make()
            files.atomic_write(path, lambda file: figure.savefig(file, format="png", dpi=80))
        except OSError as error:
            raise results.ResultsError(f"cannot write {path} ({error.strerror or error}): the "
                                       "figures go beside the results") from None
        except DRAWING_ERRORS as error:
            raise cannot_draw(path, error) from None
        finally:
            pyplot.close()          # the figure just made, the current one, drawn or not
        paths.append(path)
    return paths


# What matplotlib raises on numbers it cannot draw (an edited file's): its
# own checks' ValueError, and an overflow in its arithmetic.
DRAWING_ERRORS = (ValueError, ArithmeticError)


def cannot_draw(path, error):
    """The ResultsError that says in one line why the figure path could
    not be drawn (a DRAWING_ERRORS exception)."""
    return results.ResultsError(f"cannot draw {path} ({type(error).__name__}: {error})")


# Each table below is (its title, the table in Markdown), or None if the
# runs have none, for the reason NO_TABLE gives. lr and init_scale: --lr
# and --init-scale, or None.

def accuracy_of(selection, lr, init_scale):
    """Test accuracy over seeds at every setting of the budget drawn, or
    those of lr and init_scale if given (report.accuracy_table)."""
    rows = [row for row in selection.budget if (lr is None or math.isclose(row["lr"], lr)) and
            (init_scale is None or math.isclose(row["init_scale"], init_scale))]
    return ("Test accuracy over seeds:",
            report.accuracy_table(rows, ordered(row["network"] for row in rows)))


def rates_of(selection, lr, init_scale):
    """Each network's largest and best learning rate, at weight scale
    init_scale (1 if not given) (report.rate_table)."""
    wanted = 1.0 if init_scale is None else init_scale
    rows = [row for row in selection.budget if math.isclose(row["init_scale"], wanted)]
    if len({row["lr"] for row in rows}) < 2:
        return None
    return (f"Over the learning rates (scale {results.exact(rows[0]['init_scale'])}):",
            report.rate_table(report.over_rates(rows, ordered(row["network"] for row in rows),
                                                rows[0]["init_scale"])))


def speed_of(selection, lr, init_scale):
    """The epochs to reach TARGETS at each learning rate, weight scale 1
    (speed)."""
    if len({point["lr"] for point in selection.points if point["init_scale"] == 1.0}) < 2:
        return None
    return ("Epochs to reach a validation accuracy, mean over the seeds that reached it "
            "(how many did: their epochs):", speed(selection.points))


def scale_of(selection, lr, init_scale):
    """Test accuracy against the weight scale, at lr (if not given, the rate
    with the most scales) (scale_table)."""
    rates = {row["lr"] for row in selection.budget}
    rate = rate_of_scales(selection.budget) if lr is None else next(
        (each for each in rates if math.isclose(each, lr)), None)
    if rate is None or len({row["init_scale"] for row in selection.budget
                            if row["lr"] == rate}) < 2:
        return None
    return (f"Test accuracy against the weight scale K (lr {results.exact(rate)}; means over "
            "seeds):", scale_table(selection.budget, rate))


def drift_of(selection, lr, init_scale):
    """The covariate shift of the setting drawn (drift)."""
    if not selection.runs:
        return None
    return (f"Covariate shift at the second ReLU's input ({selection.where}; means over seeds):",
            drift(selection.runs))


# The tables plot.py prints, in this order; --table prints one alone.
TABLES = {"accuracy": accuracy_of, "rates": rates_of, "speed": speed_of, "scale": scale_of,
          "drift": drift_of}
NO_TABLE = {"rates": "its runs at that weight scale have fewer than 2 learning rates",
            "speed": "its runs at weight scale 1 have fewer than 2 learning rates",
            "scale": "its runs at that learning rate have fewer than 2 weight scales",
            "drift": "every run of the setting drawn diverged"}


def main(argv=None):
    parser = options.OneLineParser(
        prog="plot.py", description="Draw the figures of main.py's results (needs matplotlib), "
                                    "and print their numbers.")
    parser.add_argument("results_dir", nargs="?", default="results",
                        help="the directory main.py wrote, or its summary.csv (results)")
    parser.add_argument("--lr", type=float, help="the learning rate of the runs whose learning "
                                                 "curves and covariate shift to draw (1e-3 if "
                                                 "there are such runs, else the first)")
    parser.add_argument("--init-scale", type=float, help="their weight scale (likewise, 1)")
    parser.add_argument("--table", choices=list(TABLES),
                        help="print this table alone, in Markdown, and draw and write nothing")
    args = parser.parse_args(argv)
    directory = args.results_dir
    if os.path.basename(directory) == results.SUMMARY and not os.path.isdir(directory):
        directory = os.path.dirname(directory) or "."
    try:
        selection = select(directory, lr=args.lr, init_scale=args.init_scale)
        if args.table:
            found = TABLES[args.table](selection, args.lr, args.init_scale)
            if found is None:
                raise results.ResultsError(f"{directory}/ has no {args.table} table: "
                                           f"{NO_TABLE[args.table]}")
            print(found[1], end="")
            return 0
        results.refresh_summary(directory)
        if not selection.runs and not selection.points:
            print(f"plot.py: every run of {selection.where} in {directory}/ diverged: there "
                  "are no curves to draw", file=sys.stderr)
            return 1
        if available():
            print("Figures: " + ", ".join(draw_selected(directory, selection)))
    except results.ResultsError as error:
        print(f"plot.py: error: {error}", file=sys.stderr)
        return 2
    for make in TABLES.values():
        found = make(selection, args.lr, args.init_scale)
        if found:
            print(f"{found[0]}\n{found[1]}")
    if not available():
        print(HINT)
    return 0


if __name__ == "__main__":
    sys.exit(stopping.tool("plot.py", main))
