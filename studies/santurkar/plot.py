"""The tables and figures of Santurkar et al.'s study (studies/santurkar/).

They are made from the results of `python3 -m studies.santurkar`, one
directory per rate:

    python3 -m studies.santurkar.plot DIR [DIR ...] [--figures FIGURE-DIR] [--data-dir MNIST-DIR]
                                      [--table accuracy|probes]

For each directory (its runs all at one learning rate; of runs of several
settings, the setting plot.py would draw, with a warning: runs of different
settings are never taken together) it prints, over the seeds: the test
accuracy and the last epoch's training loss of each network, and the
paired verdicts (with --data-dir, also the noisy networks' test accuracy
with the noise at its mean); then each probe's measure, seed by seed, with
the verdicts. Then, over all the directories, the two tables of
docs/study-santurkar.md in Markdown: accuracy and probes. With matplotlib
it draws santurkar_accuracy.png, santurkar_ics.png and
santurkar_landscape.png into FIGURE-DIR (by default the first DIR); without
it, it says so in one line. With --table NAME it prints that table alone,
and draws nothing.

Every verdict is the study's noise rule (report.seed_differences): a
difference counts only if it has the same sign on every seed and its mean
exceeds the larger standard deviation of the two sets. The probes' measures
are compared as log10 of the ratio, seed by seed: positive when the first
network's measure is the larger.
"""
import collections
import io
import math
import os
import statistics
import sys

import numpy as np

from lab import files
import mnist
from lab import options
import plot
from lab import report
from lab import results
from lab import stopping
from lab import tables

COLORS = {"bn": "tab:blue", "plain": "tab:orange", "bn-noisy": "tab:cyan",
          "plain-noisy": "tab:red"}
EARLY_STEPS = 400           # the first epoch: 391 steps of 128 of the 50,000 samples
SMOOTHING = 5               # the figures show running means over this many probes
# (first, second) pairs the claims compare: the noise in bn and in plain,
# bn against plain with and without it, and the noisy bn against the
# standard network (Santurkar et al.'s comparison).
ACCURACY_PAIRS = (("bn-noisy", "bn"), ("plain-noisy", "plain"), ("bn", "plain"),
                  ("bn-noisy", "plain-noisy"), ("bn-noisy", "plain"))
PROBE_PAIRS = (("bn", "plain"), ("bn-noisy", "plain-noisy"), ("bn-noisy", "plain"))


HISTORY_COLUMNS = ("epoch", "train_loss", "val_accuracy", "seconds")
PROBE_COLUMNS = ("step", "unit_p50", "ics2", "cos2", "grad2", "ics3", "cos3", "grad3",
                 "loss_min", "loss_max", "change_min", "change_max", "beta", "seconds")


def warn(message):
    print(f"studies.santurkar.plot: warning: {message}", file=sys.stderr)


def read_records(directory):
    """results.read_records of directory, saying which runs are left out of
    this program's tables and figures: those whose run.csv cannot be read,
    and a run's directory that has lost its run.csv."""
    records = results.read_records(directory, warn=False)
    read = {record["run"] for record in records}
    for name in sorted(os.listdir(directory)):
        path = os.path.join(directory, name)
        if name.startswith(".") or name in read or not results.is_directory(path):
            continue
        if os.path.isfile(os.path.join(path, results.RECORD)):
            try:
                results.parse_record(results.read_rows(os.path.join(path, results.RECORD)))
                reason = "cannot be read"
            except results.ResultsError as error:
                reason = f"cannot be read ({error})"
            warn(f"{name} is left out of the tables and figures: its {results.RECORD} {reason}")
        elif os.path.isfile(os.path.join(path, results.HISTORY)):
            warn(f"{name} is left out of the tables and figures: it has no {results.RECORD}")
    return records


def read_columns(path, columns, what):
    """A CSV file of a run (its history or its probes) as {field: array of
    floats}. ResultsError, naming the file and the column or the line, if
    it lacks one of columns, has no rows (`what` names them), or holds a
    value that is not a number."""
    again = "train the run again with python3 -m studies.santurkar"
    rows = results.read_rows(path)
    if not rows:
        raise results.ResultsError(f"{path} holds a header and no {what} (a file cut short?): "
                                   f"{again}")
    missing = [column for column in columns if column not in rows[0]]
    if missing:
        raise results.ResultsError(f"{path} has no column {missing[0]}: {again}")
    table = {}
    for field in rows[0]:
        values = []
        for line, row in enumerate(rows, start=2):
            try:
                values.append(float(row[field]))
            except ValueError:
                raise results.ResultsError(f"{path}: line {line}: {field} is {row[field]!r}, "
                                           f"not a number (an edited file?): {again}") from None
        table[field] = np.array(values)
    return table


def read_study(directory):
    """(learning rate, {network: {seed: (test accuracy, history, probes,
    the run's directory)}} for the finished runs of one setting in
    directory, history and probes each {field: array}, {network: the
    (epoch, batch) at which each of its diverged runs of that setting
    diverged, in the order of the seeds}).

    Runs of different settings are never taken together: of several, the
    runs of the one plot.choose_setting chooses (and of its runs, those of
    its most common init_scale_layers) are, with a warning naming it. A
    finished run whose test accuracy or last training loss is not a number
    is left out, with a warning. ResultsError if directory holds no runs of
    the study, runs at several rates, or no run that finished."""
    every_row = [row for row in read_records(directory) if row["network"] in COLORS]
    if not every_row:
        raise results.ResultsError(f"{directory}/ holds no runs of python3 -m studies.santurkar: "
                                   "train them with python3 -m studies.santurkar "
                                   f"--results-dir {directory}")
    rates = {row["lr"] for row in every_row}
    if len(rates) != 1:
        raise results.ResultsError(f"{directory} has runs at {len(rates)} learning rates: "
                                   "give one directory per rate")
    chosen = plot.choose_setting(every_row)
    layers = collections.Counter(row["init_scale_layers"] for row in chosen).most_common(1)[0][0]
    chosen = [row for row in chosen if row["init_scale_layers"] == layers]
    where = plot.describe(chosen[0])
    if len(chosen) < len(every_row):
        warn(f"{directory}/ holds runs of several settings, which are never taken together: "
             f"the tables and figures show the {len(chosen)} runs of {where}, not the other "
             f"{len(every_row) - len(chosen)}")
    diverged = {}
    for row in chosen:
        if row["status"] == "diverged":
            diverged.setdefault(row["network"], []).append((row["diverged_epoch"],
                                                            row["diverged_batch"]))
    runs = {}
    for row in chosen:
        if row["status"] != "finished":
            continue
        history = read_columns(os.path.join(row["directory"], results.HISTORY),
                               HISTORY_COLUMNS, "epochs")
        path = os.path.join(row["directory"], results.PROBES)
        if not os.path.exists(path):
            raise results.ResultsError(f"{path} is missing: train with python3 -m "
                                       "studies.santurkar")
        probes = read_columns(path, PROBE_COLUMNS, "probes")
        if not (math.isfinite(row["test_accuracy"]) and math.isfinite(history["train_loss"][-1])):
            warn(f"{row['run']} is left out: its test accuracy ({row['test_accuracy']}) or its "
                 f"last training loss ({history['train_loss'][-1]}) is not a number")
            continue
        runs.setdefault(row["network"], {})[row["seed"]] = (
            row["test_accuracy"], history, probes, row["directory"])
    if not runs:
        if diverged:
            raise results.ResultsError(f"every run of {where} in {directory}/ diverged: train "
                                       "them again with a lower --lr")
        raise results.ResultsError(f"{directory}/ has no finished runs of {where}: train them "
                                   "with python3 -m studies.santurkar --results-dir "
                                   f"{directory}")
    rate = rates.pop()
    return rate, {network: runs[network] for network in COLORS if network in runs}, diverged


# ---------------------------------------------------------------- the measures
# Each takes a run's probes {field: array over probed steps} and returns one
# number, NaN if the run has too few probes for it; the tables compare them
# seed by seed.

def median(values):
    """The median of values, or NaN (without NumPy's warning) if there are none."""
    return float(np.median(values)) if len(values) else math.nan


def median_relative_ics(layer, steps=None):
    def measure(probes):
        with np.errstate(divide="ignore", invalid="ignore"):       # a gradient of 0
            ratio = probes[f"ics{layer}"] / probes[f"grad{layer}"]
        return median(ratio if steps is None else ratio[probes["step"] <= steps])
    return measure


def median_of(field, steps=None):
    def measure(probes):
        return median(probes[field] if steps is None else probes[field][probes["step"] <= steps])
    return measure


def loss_range(steps=None):
    def measure(probes):
        ranges = probes["loss_max"] - probes["loss_min"]
        return median(ranges if steps is None else ranges[probes["step"] <= steps])
    return measure


def largest(field):
    return lambda probes: float(np.max(probes[field]))


def unit_movement(probes):
    """How far unit 0's median input to the second ReLU moves from one
    probe to the next (after the first epoch, if the run is longer), on
    average."""
    later = probes["step"] > EARLY_STEPS
    medians = probes["unit_p50"][later] if later.sum() > 1 else probes["unit_p50"]
    return float(np.mean(np.abs(np.diff(medians)))) if len(medians) > 1 else math.nan


# key: (name, measure); the tables show them in this order, and the claims
# (studies/claims/santurkar.py) name them by key.
MEASURES = {
    "ics2": ("ICS ||G - G'|| / ||G||, layer 2, median", median_relative_ics(2)),
    "cos2": ("1 - cos(G, G'), layer 2, median", lambda p: 1 - median_of("cos2")(p)),
    "ics3": ("ICS ||G - G'|| / ||G||, layer 3, median", median_relative_ics(3)),
    "cos3": ("1 - cos(G, G'), layer 3, median", lambda p: 1 - median_of("cos3")(p)),
    "loss_early": ("loss range along g, first epoch, median", loss_range(EARLY_STEPS)),
    "loss": ("loss range along g, all steps, median", loss_range()),
    "change_early": ("max ||g(x - eta g) - g||, first epoch, median",
                     median_of("change_max", EARLY_STEPS)),
    "change": ("max ||g(x - eta g) - g||, all steps, median", median_of("change_max")),
    "beta": ("effective beta-smoothness, median", median_of("beta")),
    "beta_max": ("effective beta-smoothness, largest", largest("beta")),
    "unit": ("unit 0's median into ReLU 2, moved per probe", unit_movement),
}
# The probes' table compares bn with plain on each measure, and after it,
# on these measures, the noisy networks (first, second): the peaks of the
# landscape, and the noisy bn's distribution against plain's (Santurkar et
# al.'s comparison).
NOISY_ROWS = {"beta_max": ("bn-noisy", "plain-noisy"), "unit": ("bn-noisy", "plain")}


# ---------------------------------------------------------------- the tables
# runs: {network: {seed: run}}, as read_study returns them; a study: (rate,
# runs, diverged), one of read_study.

def by_seed(runs, value):
    """{network: {seed: value(run)}}."""
    return {network: {seed: value(run) for seed, run in seeds.items()}
            for network, seeds in runs.items()}


def test_accuracies(runs):
    return by_seed(runs, lambda run: run[0])


def last_losses(runs):
    """The training loss of each run's last epoch (with the noise, as trained)."""
    return by_seed(runs, lambda run: float(run[1]["train_loss"][-1]))


def probe_values(runs, key):
    """Measure `key` of MEASURES of each run's probes; NaN where it has too few."""
    # A damaged probe's inf gives inf - inf: NaN, shown as "-", without NumPy's warning.
    with np.errstate(invalid="ignore", over="ignore"):
        return by_seed(runs, lambda run: MEASURES[key][1](run[2]))


# ratios: the first network's value over the second's, seed by seed; mean
# and spread: log10 of their mean and the seeds' spread, by the noise rule
# (report.seed_differences), which says if the difference counts.
Ratio = collections.namedtuple("Ratio", "ratios mean spread counts")


def compare_ratio(first_values, second_values):
    """The noise rule on log10(first / second), seed by seed ({seed: value}
    each): a Ratio, or why they are not compared (a string)."""
    values = [*first_values.values(), *second_values.values()]
    if not all(math.isfinite(value) and value > 0 for value in values):
        return "not compared: a value is 0 or missing (a run too short?)"
    compared = report.seed_differences(
        {seed: math.log10(value) for seed, value in first_values.items()},
        {seed: math.log10(value) for seed, value in second_values.items()})
    if compared is None:
        return "fewer than 2 seeds"
    differences, mean, spread, _, counts = compared
    return Ratio([10 ** difference for difference in differences], mean, spread, counts)


def probe_ratio(runs, key, first="bn", second="plain"):
    """compare_ratio of measure `key` of network first over second's."""
    values = probe_values(runs, key)
    missing = [network for network in (first, second) if network not in values]
    if missing:
        return f"no finished run of {missing[0]}"
    return compare_ratio(values[first], values[second])


def times(ratio):
    """A Ratio's mean, as a factor: "x0.32"."""
    return f"x{10 ** ratio.mean:.3g}"


def ratio_text(ratio, markdown=False):
    """A Ratio (or why there is none) in words: each seed's ratio, then
    "larger, x1.21", "smaller, x0.32" or "within noise"; for the terminal,
    with the spread of log10."""
    if isinstance(ratio, str):
        return ratio
    said = (f"{'larger' if ratio.mean > 0 else 'smaller'}, {times(ratio)}" if ratio.counts
            else "within noise")
    seeds = ", ".join(f"{value:.3g}" for value in ratio.ratios)
    return (f"{seeds}: {said}" if markdown else
            f"ratio per seed {seeds}; log10 spread {ratio.spread:.2f}: {said}")


def mean_and_std(values):
    """Over the seeds: "0.9130 ± 0.0006" (mean ± standard deviation)."""
    if len(values) < 2:
        return f"{values[0]:.4f}"
    return f"{statistics.mean(values):.4f} ± {statistics.stdev(values):.4f}"


def diverged_words(diverged, finished):
    """When the diverged runs of a network diverged ((epoch, batch) pairs),
    beside its `finished` runs: "every seed diverged, in epoch 1 (batch 17,
    24, 19)"."""
    who = (f"{len(diverged)} of {len(diverged) + finished} seeds" if finished
           else "every seed")
    return f"{who} diverged, in " + "; ".join(
        f"epoch {epoch} (batch {', '.join(str(b) for e, b in diverged if e == epoch)})"
        for epoch in sorted({epoch for epoch, _ in diverged}))


def span(values):
    """A set of counts in words: "3", or "2-3" if they differ."""
    return f"{min(values)}" if min(values) == max(values) else f"{min(values)}-{max(values)}"


def accuracy_table(studies, mean_noise=None):
    """In Markdown: each network's test accuracy (mean ± std over the
    seeds) and training loss after the last epoch (mean), at each rate;
    with mean_noise (one {network: {seed: accuracy}} per study), also the
    noisy networks' accuracy with the noise at its mean."""
    networks = [network for network in COLORS
                if any(network in runs or network in diverged for _, runs, diverged in studies)]
    seeds = {len(runs.get(network, {})) + len(diverged.get(network, []))
             for _, runs, diverged in studies for network in networks}
    epochs = {int(run[1]["epoch"][-1]) for _, runs, _ in studies
              for by_seed_runs in runs.values() for run in by_seed_runs.values()}
    rows = []
    for (rate, runs, diverged), at_mean in zip(studies, mean_noise or [None] * len(studies)):
        values = [("test accuracy", test_accuracies(runs), mean_and_std)]
        if at_mean:
            values.append(("the same, noise at its mean", at_mean, mean_and_std))
        values.append(("training loss, last epoch", last_losses(runs),
                       lambda losses: f"{statistics.mean(losses):.4f}"))
        for title, by_network, cell in values:
            row = [f"lr {rate:g}: {title}"]
            for network in networks:
                found = by_network.get(network, {})
                text = cell([found[seed] for seed in sorted(found)]) if found else ""
                if title == "test accuracy" and network in diverged:
                    text = "; ".join(filter(None, [text, diverged_words(diverged[network],
                                                                        len(found))]))
                row.append(text)
            rows.append(row)
    return tables.markdown([f"{span(epochs)} epochs, {span(seeds)} seeds",
                            *(f"`{network}`" for network in networks)], rows)


def probe_count(runs):
    """How many probes each finished run holds, and at which steps: "79,
    steps 1 to 3901"."""
    steps = [run[2]["step"] for seeds in runs.values() for run in seeds.values()]
    return (f"{span({len(each) for each in steps})}, steps {min(each[0] for each in steps):g} "
            f"to {max(each[-1] for each in steps):g}")


def probes_table(studies):
    """In Markdown: how many probes a run holds; at each rate, each
    measure's ratio of bn over plain (and of NOISY_ROWS), seed by seed,
    with its verdict."""
    rows = [["probes per run", *(probe_count(runs) for _, runs, _ in studies)]]
    for key, (name, _) in MEASURES.items():
        for first, second in filter(None, [("bn", "plain"), NOISY_ROWS.get(key)]):
            said = name if first == "bn" else f"the same, `{first}` / `{second}`"
            rows.append([said, *(ratio_text(probe_ratio(runs, key, first, second), markdown=True)
                                 for _, runs, _ in studies)])
    return tables.markdown(["measure: `bn` / `plain` unless said, seed by seed",
                            *(f"lr {rate:g}" for rate, _, _ in studies)], rows)


def accuracy_lines(rate, runs, mean_noise=None):
    """The test accuracy, the last epoch's training loss (with the noise,
    as trained), and, if mean_noise ({network: {seed: accuracy}}) is given,
    the noisy networks' test accuracy with the noise at its mean; each with
    the paired verdicts of ACCURACY_PAIRS."""
    measured = [("test accuracy", test_accuracies(runs)),
                ("train loss, last epoch", last_losses(runs))]
    if mean_noise:
        measured.append(("test accuracy, noise at its mean", {**measured[0][1], **mean_noise}))
    lines = []
    for title, values in measured:
        lines.append(f"\nlr {rate:g}: {title:<33}{report.STATISTICS_HEADER}")
        for network, by_seed in values.items():
            lines.append(f"  {network:<44}"
                         + report.statistics_line([by_seed[seed] for seed in sorted(by_seed)]))
        for first, second in ACCURACY_PAIRS:
            if first in values and second in values:
                verdict = report.paired_verdict(first, second, values[first], values[second])
                if verdict:
                    lines.append("  " + verdict.replace("is better", "is higher"))
    return lines


def mean_noise_accuracy(runs, data_dir):
    """{network: {seed: test accuracy}} of the noisy networks' saved weights,
    evaluated with every NoisyShift replaced by its mean: Y = E[sigma] X,
    E[sigma] = (1 + n_sigma) / 2, E[mu] = 0. (In evaluation NoisyShift is
    the identity, while the layers above it were trained on inputs scaled
    by E[sigma] on average.)"""
    import main
    from studies import santurkar
    from studies.santurkar.noise import NoisyShift
    test = main.prepare(mnist.load(data_dir))["test"]
    accuracies = {}
    for network in (name for name in runs if name in santurkar.NOISY):
        for seed, run in runs[network].items():
            net = santurkar.build_network(network, np.random.default_rng(0))
            files.load_weights(net, os.path.join(run[3], results.WEIGHTS), follow=False)
            for layer in net.layers:
                if isinstance(layer, NoisyShift):
                    mean_scale = np.float32((1 + layer.n_sigma) / 2)
                    layer.forward = lambda X, train=True, scale=mean_scale: X * scale
            accuracies.setdefault(network, {})[seed] = net.accuracy(*test)
    return accuracies


def probe_lines(rate, runs):
    lines = [f"\nlr {rate:g}: the probes (per network, each seed's value; then the first "
             "network's over the second's)"]
    for key, (name, _) in MEASURES.items():
        values = probe_values(runs, key)
        lines.append(f"  {name}")
        for network, by_seed in values.items():
            lines.append(f"    {network:<12} " + "  ".join(
                f"{by_seed[seed]:.3g}" if math.isfinite(by_seed[seed]) else "-"
                for seed in sorted(by_seed)))
        for first, second in PROBE_PAIRS:
            if first in values and second in values:
                lines.append(f"    {first} / {second}: "
                             + ratio_text(compare_ratio(values[first], values[second])))
    seconds = {network: statistics.mean(run[2]["seconds"].sum() / run[1]["seconds"][1:].sum()
                                        if run[1]["seconds"][1:].sum() > 0 else math.nan
                                        for run in seeds.values())
               for network, seeds in runs.items()}
    lines.append("  probes' share of the epochs' seconds: " + ", ".join(
        f"{network} {share:.0%}" if math.isfinite(share) else f"{network} -"
        for network, share in seconds.items()))
    return lines


# ---------------------------------------------------------------- the figures
# Each figure's function takes the list `empty`, to which log_scale adds the
# panels it leaves empty; draw says them in one warning.

def seed_band(arrays):
    """Mean, min and max over seeds of arrays of one length (cut to the
    shortest); NaN, a gap in a figure, where one is not a finite number (a
    damaged file's inf or NaN, which matplotlib cannot draw)."""
    length = min(len(array) for array in arrays)
    stacked = np.array([array[:length] for array in arrays])
    with np.errstate(invalid="ignore", over="ignore"):      # inf - inf, left out below
        band = stacked.mean(axis=0), stacked.min(axis=0), stacked.max(axis=0)
    return tuple(np.where(np.isfinite(values), values, np.nan) for values in band)


def log_scale(axis, empty):
    """Put axis's y on a log scale, if it shows a positive value; else (none
    of its values, from damaged files, is a positive finite number) say in
    the panel that it is empty, and add its title to the list empty."""
    if np.isfinite(axis.dataLim.minposy):       # the smallest positive value drawn
        axis.set_yscale("log")
    else:
        axis.text(0.5, 0.5, "no positive value to draw", transform=axis.transAxes,
                  ha="center", color="grey")
        empty.append(axis.get_title())


def accuracy_figure(pyplot, studies, empty):
    figure, axes = pyplot.subplots(2, len(studies), figsize=(5.2 * len(studies), 6.6),
                                   squeeze=False)
    for error, loss, (rate, runs, diverged) in zip(axes[0], axes[1], studies):
        for network, seeds in runs.items():
            histories = [run[1] for run in seeds.values()]
            epochs = histories[0]["epoch"][1:min(len(h["epoch"]) for h in histories)]
            tests = [run[0] for run in seeds.values()]
            for axis, values, label in (
                    (error, [1 - h["val_accuracy"][1:] for h in histories],
                     f"{network}: test accuracy {np.mean(tests):.4f}"),
                    (loss, [h["train_loss"][1:] for h in histories], network)):
                mean, low, high = seed_band(values)
                axis.plot(epochs, mean, color=COLORS[network], label=label)
                axis.fill_between(epochs, low, high, color=COLORS[network], alpha=0.2,
                                  linewidth=0)
        for network, when in diverged.items():          # a legend line, no curve
            error.plot([], [], color=COLORS[network], linestyle=":",
                       label=f"{network}: {len(when)} seeds diverged (epoch {min(when)[0]})")
        error.set(title=f"lr {rate:g}", ylabel="validation error (1 - accuracy)")
        loss.set(title=f"lr {rate:g}: training loss", xlabel="epoch",
                 ylabel="training loss (with the noise)")
        for axis in (error, loss):
            log_scale(axis, empty)
            axis.legend(fontsize=8, loc="upper right")
            axis.grid(alpha=0.3, which="both")
    figure.suptitle("The noisy networks beside the others (mean of the seeds, band min-max; "
                    "test accuracy after the last epoch)", fontsize=9)
    figure.tight_layout()
    return figure


def running_mean(values):
    """Means over SMOOTHING values (over all of them, if there are fewer)."""
    window = min(SMOOTHING, len(values))
    return np.convolve(values, np.ones(window) / window, mode="valid")


def probe_band(axis, seeds, low_field, high_field=None, color=None, label=None, transform=None):
    """Over the probed steps: the seeds' mean of low_field (and of high_field:
    a band between the two), or of transform(probes), as running means over
    SMOOTHING probes."""
    probes = [run[2] for run in seeds.values()]
    steps = running_mean(probes[0]["step"][:min(len(p["step"]) for p in probes)])
    with np.errstate(divide="ignore", invalid="ignore"):   # a gradient of 0: a gap
        values = [transform(p) if transform else p[low_field] for p in probes]
    low = running_mean(seed_band(values)[0])
    if high_field is None:
        axis.plot(steps, low, color=color, label=label, linewidth=1)
        return
    high = running_mean(seed_band([p[high_field] for p in probes])[0])
    axis.fill_between(steps, low, high, color=color, alpha=0.35, linewidth=0, label=label)


def ics_figure(pyplot, studies, empty):
    figure, axes = pyplot.subplots(len(studies), 4, figsize=(14, 3.1 * len(studies)),
                                   squeeze=False)
    for row, (rate, runs, _) in zip(axes, studies):
        for network, seeds in runs.items():
            for column, layer in enumerate((2, 3)):
                probe_band(row[2 * column], seeds, None, color=COLORS[network], label=network,
                           transform=lambda p, layer=layer: p[f"ics{layer}"] / p[f"grad{layer}"])
                probe_band(row[2 * column + 1], seeds, f"cos{layer}", color=COLORS[network],
                           label=network)
        for column, layer in enumerate((2, 3)):
            row[2 * column].set(title=f"lr {rate:g}: ||G - G'|| / ||G||, layer {layer}",
                                xlabel="step")
            log_scale(row[2 * column], empty)
            row[2 * column + 1].set(title=f"lr {rate:g}: cos(G, G'), layer {layer}",
                                    xlabel="step")
        for axis in row:
            axis.grid(alpha=0.3)
        row[0].legend(fontsize=8)
    figure.suptitle("Internal covariate shift (Santurkar et al.'s Definition 2.1): mean of the "
                    f"seeds, running mean over {SMOOTHING} probes",
                    fontsize=10)
    figure.tight_layout()
    return figure


def landscape_figure(pyplot, studies, empty):
    figure, axes = pyplot.subplots(len(studies), 3, figsize=(15, 3.6 * len(studies)),
                                   squeeze=False)
    for row, (rate, runs, _) in zip(axes, studies):
        for network in ("plain", "bn"):
            if network not in runs:
                continue
            color = COLORS[network]
            probe_band(row[0], runs[network], "loss_min", "loss_max", color, network)
            probe_band(row[1], runs[network], "change_min", "change_max", color, network)
            probe_band(row[2], runs[network], "beta", color=color, label=network)
        row[0].set(title=f"lr {rate:g}: loss at x - eta g (band: its range)", xlabel="step")
        row[1].set(title=f"lr {rate:g}: ||g(x - eta g) - g|| (band: its range)", xlabel="step")
        row[2].set(title=f"lr {rate:g}: effective beta-smoothness", xlabel="step")
        for axis in row:
            log_scale(axis, empty)
            axis.grid(alpha=0.3)
            axis.legend(fontsize=8)
    figure.suptitle("The loss landscape along the gradient, eta = 0.5, 1, 2, 4 x lr "
                    "(Santurkar et al.'s Fig. 4): mean of the seeds, running mean over "
                    f"{SMOOTHING} probes", fontsize=10)
    figure.tight_layout()
    return figure


def draw(studies, directory):
    """Draw the figures of studies into directory; returns their paths.
    Each is written whole or not at all (files.atomic_write): a figure
    drawn before is never lost to a failed or interrupted write. A panel
    with no value to draw on its log scale is left empty, with one warning
    for them all. ResultsError if a figure cannot be drawn or written."""
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib import pyplot
    from PIL import Image
    paths, empty = [], []
    for name, make in (("accuracy", accuracy_figure), ("ics", ics_figure),
                       ("landscape", landscape_figure)):
        paths.append(os.path.join(directory, f"santurkar_{name}.png"))
        # In 256 colors (Pillow comes with matplotlib): a third of the bytes.
        rendered = io.BytesIO()
        try:
            make(pyplot, studies, empty).savefig(rendered, format="png", dpi=80)
        except plot.DRAWING_ERRORS as error:
            raise plot.cannot_draw(paths[-1], error) from None
        finally:
            pyplot.close()          # the figure just made, the current one, drawn or not
        image = Image.open(rendered).convert("RGB").quantize(256)
        try:
            files.atomic_write(paths[-1], lambda file: image.save(file, format="png",
                                                                  optimize=True))
        except OSError as error:
            raise results.ResultsError(f"cannot write {paths[-1]} "
                                       f"({error.strerror or error})") from None
    if empty:
        warn(f"no positive value to draw in {len(empty)} panel{'s' * (len(empty) > 1)}, "
             f"left empty (damaged probes or histories?): {'; '.join(empty)}")
    return paths


def argument_problem(args):
    """What is wrong with the command line's directories, in words, or None."""
    seen = {}
    for directory in args.directories:
        if os.path.realpath(directory) in seen:
            return (f"{directory} is given twice (as {seen[os.path.realpath(directory)]} "
                    "too): give each directory once")
        seen[os.path.realpath(directory)] = directory
    if args.figures is not None and not os.path.isdir(args.figures):
        return f"--figures {args.figures}: " + (
            "it is not a directory" if os.path.exists(args.figures) else "no such directory")
    return None


def main(argv=None):
    parser = options.OneLineParser(prog="studies.santurkar.plot",
                                   description=__doc__.split("\n")[0])
    parser.add_argument("directories", nargs="+", metavar="DIR",
                        help="results of python3 -m studies.santurkar, one learning rate each")
    parser.add_argument("--figures", help="where the figures go (the first DIR)")
    parser.add_argument("--data-dir", help="MNIST's directory: evaluate the noisy networks' "
                                           "weights with the noise at its mean too")
    parser.add_argument("--table", choices=["accuracy", "probes"],
                        help="print this table alone, in Markdown, as the docs hold it (no "
                             "figures)")
    args = parser.parse_args(argv)
    if args.data_dir is not None:
        options.check_data_dir(parser, args.data_dir)
    problem = argument_problem(args)
    if problem:
        print(f"studies.santurkar.plot: error: {problem}", file=sys.stderr)
        return 2
    try:
        studies = sorted((read_study(directory) for directory in args.directories),
                         key=lambda study: study[0])
        mean_noise = [args.data_dir and mean_noise_accuracy(runs, args.data_dir)
                      for _, runs, _ in studies]
    except (results.ResultsError, mnist.DataError, ValueError, OSError) as error:
        print(f"studies.santurkar.plot: error: {error}", file=sys.stderr)
        return 2
    printed = {"accuracy": accuracy_table(studies, mean_noise), "probes": probes_table(studies)}
    if args.table:
        print(printed[args.table], end="")
        return 0
    for (rate, runs, diverged), at_mean in zip(studies, mean_noise):
        for line in accuracy_lines(rate, runs, at_mean) + probe_lines(rate, runs):
            print(line)
        for network, when in diverged.items():
            print(f"  {network}: {len(when)} runs diverged, from epoch {min(when)[0]} "
                  "(no probes saved)")
    print("\n" + "\n".join(printed.values()), end="")
    if not plot.available():
        print(plot.HINT)
        return 0
    try:
        paths = draw(studies, args.figures or args.directories[0])
    except results.ResultsError as error:
        print(f"studies.santurkar.plot: error: {error}", file=sys.stderr)
        return 2
    print("Figures: " + ", ".join(paths))
    return 0


if __name__ == "__main__":
    sys.exit(stopping.tool("studies.santurkar.plot", main))
