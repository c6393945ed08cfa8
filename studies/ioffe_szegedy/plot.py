"""The tables and Figure 1 of Ioffe & Szegedy's MNIST experiment, from the
runs of `python3 -m studies.ioffe_szegedy`:

    python3 -m studies.ioffe_szegedy.plot RESULTS-DIR... [--lr RATE] [--figure PATH]
                                          [--table grid|accuracy|drift]

It prints in Markdown, for each rate, the validation accuracy after 10k,
20k, 30k and 50k steps over the seeds, and how far the sigmoid's input
moved; for several rates (the grid, from one directory or several), each
network's accuracy at each rate. With matplotlib it draws Figure 1 at one
rate. --table prints one of the tables alone.
"""
import math
import os
import statistics
import sys

import plot
from lab import files, options, results, stopping, tables
from studies.ioffe_szegedy import (LEARNING_RATE, NETWORKS, PROBE_FIELDS, PROBE_UNIT,
                                   STEPS_PER_EPOCH, steps_per_epoch)

PROGRAM = "studies.ioffe_szegedy.plot"


# ---------------------------------------------------------------- the table and the figure

TABLE_STEPS = (10_000, 20_000, 30_000, 50_000)
FIGURE = "ioffe_szegedy_figure1.png"
TABLES = ("grid", "accuracy", "drift")           # --table's choices


def in_steps(runs, steps=STEPS_PER_EPOCH):
    """plot.read_runs's runs with each history's epochs counted in steps,
    `steps` an epoch."""
    return {network: [(seed, accuracy, {**history, "epoch": history["epoch"] * steps})
                      for seed, accuracy, history in network_runs]
            for network, network_runs in runs.items()}


def ends(steps=STEPS_PER_EPOCH):
    """The steps at which the epochs that end closest to each of TABLE_STEPS
    end, `steps` an epoch."""
    return [round(wanted / steps) * steps for wanted in TABLE_STEPS]


def accuracy_at(network_runs, end):
    """{seed: validation accuracy after step `end`} of one network's runs
    (in_steps), for the runs that reach it."""
    at = {seed: history["val_accuracy"][history["epoch"] == end]
          for seed, _, history in network_runs}
    return {seed: float(values[0]) for seed, values in at.items() if len(values)}


def test_accuracy(network_runs):
    """{seed: test accuracy at the end} of one network's runs."""
    return {seed: accuracy for seed, accuracy, _ in network_runs}


def table(runs, steps=STEPS_PER_EPOCH):
    """The header and rows of a table: for each network of runs (in_steps,
    `steps` an epoch), the validation accuracy after the epoch that ends
    closest to each of TABLE_STEPS (mean over seeds, min to max), and the
    test accuracy at the end."""
    header = ["network", *(f"{end:,} steps" for end in ends(steps)), "test, at the end"]
    rows = [[f"`{network}`", *(spread(list(accuracy_at(network_runs, end).values()))
                               for end in ends(steps)),
             spread(list(test_accuracy(network_runs).values()))]
            for network, network_runs in runs.items()]
    return header, rows


def grid(runs, every):
    """The header and rows of the learning-rate grid: for each rate of runs
    ({lr: runs in_steps}, each rate's epoch `every[lr]` steps), each
    network's validation accuracy after the epochs that end closest to the
    first and the last of TABLE_STEPS; each network's best rate at the end
    in bold."""
    networks = [network for network in NETWORKS if any(network in each for each in runs.values())]
    first, last = (f"{wanted // 1000}k" for wanted in (TABLE_STEPS[0], TABLE_STEPS[-1]))
    header = ["lr", *(f"`{network}` {when}" for network in networks for when in (first, last))]
    rates = sorted(runs)
    cells = {(lr, network): [list(accuracy_at(runs[lr].get(network, []), end).values())
                             for end in (ends(every[lr])[0], ends(every[lr])[-1])]
             for lr in rates for network in networks}
    best = {}
    for network in networks:
        reached = [lr for lr in rates if cells[lr, network][1]]
        if reached:
            best[network] = max(reached, key=lambda lr: statistics.mean(cells[lr, network][1]))
    rows = []
    for lr in rates:
        row = [f"{lr:g}"]
        for network in networks:
            early, late = (spread(values) for values in cells[lr, network])
            row += [early, f"**{late}**" if best.get(network) == lr else late]
        rows.append(row)
    return header, rows


def spread(values, digits=4):
    """'mean (min to max)' of values, or '-' if there are none."""
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return (f"{statistics.mean(values):.{digits}f} "
            f"({min(values):.{digits}f} to {max(values):.{digits}f})")


def probed(network_runs, steps=STEPS_PER_EPOCH):
    """{seed: (medians, widths)} of one network's runs (in_steps) that go
    past the epoch that ends closest to 10,000 steps: unit PROBE_UNIT's
    median sigmoid input and the width between its 15th and 85th
    percentiles, in training mode, before training, after that epoch and at
    the end; `steps` an epoch."""
    tenth = ends(steps)[0] // steps                 # that epoch
    return {seed: (history["train_p50"][[0, tenth, -1]],
                   (history["train_p85"] - history["train_p15"])[[0, tenth, -1]])
            for seed, _, history in network_runs if len(history["epoch"]) > tenth}


def drifts(network_runs, steps=STEPS_PER_EPOCH):
    """{seed: (moved, grew)} from probed(): from 10,000 steps to the end, how
    far unit PROBE_UNIT's median moved and by what factor its width changed."""
    return {seed: (abs(medians[2] - medians[1]), widths[2] / widths[1])
            for seed, (medians, widths) in probed(network_runs, steps).items()}


def drift(runs, steps=STEPS_PER_EPOCH):
    """The header and rows of a table: for each network of runs (in_steps,
    `steps` an epoch), probed()'s medians and widths, means over seeds
    (each seed's unit PROBE_UNIT is another unit) with min to max; then
    drifts(), the mean over seeds of each seed's move and factor."""
    first = ends(steps)[0]
    header = ["network", "median", "15-85 width", f"from {first:,} steps to the end"]
    rows = []
    for network, network_runs in runs.items():
        probes = probed(network_runs, steps)
        if len(probes) < len(network_runs):
            rows.append([f"`{network}`", "-", "-",
                         f"shorter than {first:,} steps: nothing to compare"])
            continue
        medians, widths = zip(*probes.values())
        moved, grew = zip(*drifts(network_runs, steps).values())
        rows.append([f"`{network}`", *(" -> ".join(spread(v, 2) for v in zip(*each))
                                        for each in (medians, widths)),
                     f"median moved by {statistics.mean(moved):.2f}, "
                     f"width x{statistics.mean(grew):.2f}"])
    return header, rows


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


def read_study(directories):
    """The runs of the study in directories (read together): ({lr: runs
    in_steps}, {lr: the steps of an epoch}). Of each rate's runs, those of
    one budget (plot.choose_setting). ResultsError if there are none, or a
    history lacks the probe."""
    rows = [row for directory in directories for row in results.read_records(directory)
            if row["network"] in NETWORKS]
    if not rows:
        raise results.ResultsError(f"{'/, '.join(directories)}/ has no runs of "
                                   f"{', '.join(NETWORKS)}: run python3 -m "
                                   "studies.ioffe_szegedy first")
    rates = sorted({row["lr"] for row in rows})
    chosen = {lr: plot.choose_setting(rows, lr=lr) for lr in rates}
    # A run's epoch is as many steps as its --limit and --batch-size make.
    every = {lr: steps_per_epoch(chosen[lr][0]["limit"], chosen[lr][0]["batch_size"])
             for lr in rates}
    runs = {lr: in_steps(plot.read_runs(chosen[lr]), every[lr]) for lr in rates}
    for lr in rates:
        check_probe_fields(chosen[lr], runs[lr])
    return runs, every


def rate(runs, lr):
    """The rate of runs ({lr: ...}) that is lr, or ResultsError naming the
    rates there are."""
    for each in runs:
        if math.isclose(each, lr):
            return each
    raise results.ResultsError(f"no runs at --lr {lr:g}; the runs have "
                               + ", ".join(f"{each:g}" for each in runs))


def main(argv=None):
    """Print the table and the drift of each learning rate's runs in the
    results directories, and the grid of rates if there are several, in
    Markdown; draw Figure 1 of one rate's. With --table, print that one
    table only. Returns the exit status (2: no runs, or the figure could
    not be written)."""
    parser = options.OneLineParser(
        prog=PROGRAM,
        description="The held-out accuracy of Ioffe & Szegedy's MNIST study at each learning "
                    "rate, and Figure 1 at one, from the runs of python3 -m studies.ioffe_szegedy.")
    parser.add_argument("results_dir", nargs="+",
                        help="the directories main.py wrote (their runs are read together)")
    parser.add_argument("--lr", type=float, default=LEARNING_RATE,
                        help=f"the learning rate of the runs in the figure and in --table "
                             f"accuracy or drift ({LEARNING_RATE:g})")
    parser.add_argument("--figure", help=f"where to save the figure ({FIGURE} in "
                                         "the first results directory)")
    parser.add_argument("--table", choices=TABLES,
                        help="print this table alone, in Markdown, and draw nothing: "
                             "grid (each rate), accuracy or drift (at --lr)")
    args = parser.parse_args(argv)
    figure_path = args.figure or os.path.join(args.results_dir[0], FIGURE)
    # Said before the work, not after the tables.
    where = os.path.dirname(figure_path) or "."
    if args.figure and not args.table and plot.available() and not os.path.isdir(where):
        print(f"{PROGRAM}: error: --figure {args.figure}: {where}/ is not a directory",
              file=sys.stderr)
        return 2
    try:
        runs, every = read_study(args.results_dir)
        lr = rate(runs, args.lr) if args.table in ("accuracy", "drift") else None
    except results.ResultsError as error:
        print(f"{PROGRAM}: error: {error}", file=sys.stderr)
        return 2
    if args.table:
        made = (grid(runs, every) if args.table == "grid" else
                (table if args.table == "accuracy" else drift)(runs[lr], every[lr]))
        print(tables.markdown(*made), end="")
        return 0
    for each in runs:
        print(f"Learning rate {each:g}: validation accuracy, mean over seeds (min to max)\n")
        print(tables.markdown(*table(runs[each], every[each])))
        print(f"Unit {PROBE_UNIT}'s sigmoid input, in training mode, at 0, "
              f"{ends(every[each])[0]:,} steps and at the end:\n")
        print(tables.markdown(*drift(runs[each], every[each])))
    if len(runs) > 1:
        print("Validation accuracy at each learning rate, each network's best at the end "
              "in bold:\n")
        print(tables.markdown(*grid(runs, every)))
    if not plot.available():
        print(plot.HINT)
        return 0
    try:
        lr = rate(runs, args.lr)
    except results.ResultsError as error:
        print(f"{PROGRAM}: error: {error} (--lr: the rate to draw)", file=sys.stderr)
        return 2
    import matplotlib
    matplotlib.use("Agg")                   # files only, no window
    from matplotlib import pyplot
    figure = figure1(pyplot, runs[lr], lr, every[lr])
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
