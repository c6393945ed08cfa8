"""The table and Figure 1 of Ioffe & Szegedy's MNIST experiment, from the
runs of `python3 -m studies.ioffe_szegedy`:

    python3 -m studies.ioffe_szegedy.plot RESULTS-DIR [--lr RATE] [--figure PATH]

It prints, for each network and rate, the test accuracy after 10k, 20k,
30k and 50k steps over the seeds, and how far the median of the sigmoid's
input moved; with matplotlib it draws Figure 1 at one rate.
"""
import os
import statistics
import sys

import plot
from lab import files, options, results, stopping
from studies.ioffe_szegedy import (LEARNING_RATE, NETWORKS, PROBE_FIELDS, PROBE_UNIT,
                                   STEPS_PER_EPOCH, steps_per_epoch)

PROGRAM = "studies.ioffe_szegedy.plot"


# ---------------------------------------------------------------- the table and the figure

TABLE_STEPS = (10_000, 20_000, 30_000, 50_000)
FIGURE = "ioffe_szegedy_figure1.png"


def in_steps(runs, steps=STEPS_PER_EPOCH):
    """plot.read_runs's runs with each history's epochs counted in steps,
    `steps` an epoch."""
    return {network: [(seed, accuracy, {**history, "epoch": history["epoch"] * steps})
                      for seed, accuracy, history in network_runs]
            for network, network_runs in runs.items()}


def table(runs, steps=STEPS_PER_EPOCH):
    """Lines: for each network of runs (in_steps, `steps` an epoch), the
    validation accuracy after the epoch that ends closest to each of
    TABLE_STEPS (mean over seeds, min-max), and the test accuracy at the end."""
    ends = [round(wanted / steps) * steps for wanted in TABLE_STEPS]
    header = "".join(f"{f'{end:,} steps':>28}" for end in ends)
    lines = [f"{'network':<11} {'seeds':>5}{header}{'test, at the end':>28}"]
    for network, network_runs in runs.items():
        columns = []
        for end in ends:
            values = [h["val_accuracy"][h["epoch"] == end] for _, _, h in network_runs]
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


def drift(runs, steps=STEPS_PER_EPOCH):
    """Lines: unit PROBE_UNIT's median sigmoid input and the width between
    its 15th and 85th percentiles, in training mode, before training, after
    the epoch that ends closest to 10,000 steps and at the end, means over
    seeds (each seed's unit PROBE_UNIT is another unit) with min-max; then,
    from 10,000 steps to the end, how far the median moved (the mean of its
    moves' sizes) and by what factor the width changed (mean over seeds);
    `steps` an epoch."""
    tenth = round(TABLE_STEPS[0] / steps)
    lines = []
    for network, network_runs in runs.items():
        if min(len(h["epoch"]) for _, _, h in network_runs) <= tenth:
            lines.append(f"{network:<11} shorter than {tenth * steps:,} steps: "
                         "nothing to compare")
            continue
        medians = [h["train_p50"][[0, tenth, -1]] for _, _, h in network_runs]
        widths = [(h["train_p85"] - h["train_p15"])[[0, tenth, -1]] for _, _, h in network_runs]
        moved = statistics.mean(abs(median[2] - median[1]) for median in medians)
        grew = statistics.mean(width[2] / width[1] for width in widths)
        lines.append(f"{network:<11} median " + " -> ".join(spread(v, 2) for v in zip(*medians))
                     + "; 15-85 width " + " -> ".join(spread(v, 2) for v in zip(*widths))
                     + f"; from {tenth * steps:,} steps to the end the median moved "
                       f"by {moved:.2f}, the width x{grew:.2f}")
    return lines


def figure1(pyplot, runs, lr, steps=STEPS_PER_EPOCH):
    """The paper's Figure 1 for runs (in_steps) at learning rate lr: (a)
    validation accuracy against steps, mean over seeds with a min-max band;
    (b, c) unit PROBE_UNIT's sigmoid input percentiles in the first seed's
    network without and with BatchNorm: in training mode, as the paper
    measured them, and for BatchNorm also in evaluation mode (grey)."""
    figure, (accuracy, *panels) = pyplot.subplots(1, 3, figsize=(13, 3.8))
    colors = {"sigmoid": "tab:orange", "sigmoid-bn": "tab:blue"}
    styles = {15: ":", 50: "-", 85: "--"}           # plot.py's covariate-shift figure's
    for network, network_runs in runs.items():
        seeds = f"{len(network_runs)} seed" + ("s" if len(network_runs) > 1 else "")
        plot.draw_band(accuracy, network_runs, "val_accuracy", steps,
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
    without python3 -m studies.ioffe_szegedy, or a history.csv edited."""
    for network, network_runs in runs.items():
        for seed, _, history in network_runs:
            missing = [field for field in PROBE_FIELDS if field not in history]
            if missing:
                [row] = [row for row in rows if (row["network"], row["seed"]) == (network, seed)]
                raise results.ResultsError(
                    f"{os.path.join(row['directory'], results.HISTORY)} has no column "
                    f"{missing[0]}: it was not written by python3 -m studies.ioffe_szegedy; "
                    "train that run again")


def main(argv=None):
    """Print the table and the drift of each learning rate's runs in the
    results directory, and draw Figure 1 of one rate's; returns the exit
    status (2: no runs, or the figure could not be written)."""
    parser = options.OneLineParser(
        prog=PROGRAM,
        description="The held-out accuracy of Ioffe & Szegedy's MNIST study at each learning "
                    "rate, and Figure 1 at one, from the runs of python3 -m studies.ioffe_szegedy.")
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
        print(f"{PROGRAM}: error: --figure {args.figure}: {where}/ is not a directory",
              file=sys.stderr)
        return 2
    try:
        rows = [row for row in results.read_records(args.results_dir)
                if row["network"] in NETWORKS]
        if not rows:
            raise results.ResultsError(f"{args.results_dir}/ has no runs of "
                                       f"{', '.join(NETWORKS)}: run python3 -m "
                                       "studies.ioffe_szegedy first")
        rates = sorted({row["lr"] for row in rows})
        # Of each rate's runs, those of one budget (epochs, batch size, ...).
        chosen = {lr: plot.choose_setting(rows, lr=lr) for lr in rates}
        # A run's epoch is as many steps as its --limit and --batch-size make.
        every = {lr: steps_per_epoch(chosen[lr][0]["limit"], chosen[lr][0]["batch_size"])
                 for lr in rates}
        runs = {lr: in_steps(plot.read_runs(chosen[lr]), every[lr]) for lr in rates}
        for lr in rates:
            check_probe_fields(chosen[lr], runs[lr])
    except results.ResultsError as error:
        print(f"{PROGRAM}: error: {error}", file=sys.stderr)
        return 2
    for lr in rates:
        print(f"Learning rate {lr:g}: validation accuracy, mean over seeds (min-max)")
        print("\n".join(table(runs[lr], every[lr])))
        print(f"Unit {PROBE_UNIT}'s sigmoid input, in training mode, at 0, "
              f"{round(TABLE_STEPS[0] / every[lr]) * every[lr]:,} steps and at the end:")
        print("\n".join(drift(runs[lr], every[lr])) + "\n")
    if not plot.available():
        print(plot.HINT)
        return 0
    if args.lr not in runs:
        print(f"{PROGRAM}: error: no runs at --lr {args.lr:g} to draw; the runs have "
              + ", ".join(f"{lr:g}" for lr in rates), file=sys.stderr)
        return 2
    import matplotlib
    matplotlib.use("Agg")                   # files only, no window
    from matplotlib import pyplot
    figure = figure1(pyplot, runs[args.lr], args.lr, every[args.lr])
    try:
        files.atomic_write(figure_path, lambda file: figure.savefig(file, format="png", dpi=80))
    except OSError as error:
        print(f"{PROGRAM}: error: cannot write {figure_path} "
              f"({error.strerror or error})", file=sys.stderr)
        return 2
    finally:
        pyplot.close(figure)
    print(f"Figure: {figure_path}")
    return 0


if __name__ == "__main__":
    sys.exit(stopping.tool(PROGRAM, main))
