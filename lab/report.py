"""What main.py shows and saves as its runs train: a line per epoch, each
run's files as it ends, and the closing table of test accuracies (over
seeds: mean, standard deviation, min and max), with the paired verdicts of
a sweep and, over several learning rates, each network's largest and best.
A sweep's tables are Markdown, and plot.py prints the same ones, by the
same functions (accuracy_table, rate_table), from the saved runs.
"""
import atexit
import collections
import itertools
import math
import os
import shutil
import statistics
import sys
import tempfile

import numpy as np

import mnist
from lab import results
from lab import tables
from network import Diverged


def show(text=""):
    """print(text). If standard output is closed (main.py | head -1), or
    cannot be written (> /dev/full: said once, on standard error), training
    goes on silently and its results are still saved."""
    try:
        print(text, flush=True)
    except OSError as error:
        if not isinstance(error, BrokenPipeError):
            print(f"main.py: warning: cannot write standard output ({error.strerror or error}); "
                  "training goes on, and its results are saved", file=sys.stderr, flush=True)
        # Everything printed from now on, Python's last flush included, is dropped.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def check_writable(directory):
    """Fail now, not after minutes of training, if results can't be written.
    A directory made here that stays empty (the runs refused, or stopped
    before any was saved) is removed when main.py exits."""
    if os.path.islink(directory) and not os.path.exists(directory):
        raise mnist.DataError(f"{directory} is a link to {os.readlink(directory)}, which does "
                              "not exist (a dangling link): create its target, or choose "
                              "another directory with --results-dir")
    try:
        made = missing_directories(directory)
        os.makedirs(directory, exist_ok=True)
        atexit.register(remove_if_empty, made)
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as error:
        raise mnist.DataError(f"cannot write results to {directory}/ ({error.strerror}); "
                              "choose another with --results-dir") from None


def missing_directories(directory):
    """The directories of the path `directory` that do not exist yet, the
    deepest first."""
    missing, path = [], os.path.abspath(directory)
    while not os.path.lexists(path):
        missing.append(path)
        path = os.path.dirname(path)
    return missing


def remove_if_empty(directories):
    """Remove each of directories (the deepest first) that is empty."""
    for path in directories:
        try:
            os.rmdir(path)
        except OSError:
            return


def check_space(args, runs, build_network):
    """Fail now, not after minutes of training, if the results directory's
    file system has less free space than the runs will write: each one's
    weights (of the network build_network(kind, rng, dtype) makes), history
    and record."""
    weights = {kind: sum(array.nbytes for array in build_network(
        kind, np.random.default_rng(0), np.dtype(args.dtype)).state().values())
        for kind in {run.kind for run in runs}}
    per_epoch, record = 300, 2000       # bytes: a history line, a run.csv and a summary row
    need = sum(weights[run.kind] + per_epoch * (args.epochs + 1) + record
               for run in runs)
    free = shutil.disk_usage(args.results_dir).free
    if free < need:
        runs_said = f"{len(runs)} run{'s' if len(runs) > 1 else ''}"
        raise mnist.DataError(f"{args.results_dir}/ has {free / 1e6:.1f} MB free, and the "
                              f"{runs_said} will write about {need / 1e6:.1f} MB: free space "
                              "there, or choose another directory with --results-dir")


STATISTICS = ["seeds", "mean", "std", "min", "max"]
STATISTICS_HEADER = "  seeds    mean     std     min     max"     # the same, as columns


def statistics_cells(values):
    """The cells of STATISTICS for values, one per seed (the standard
    deviation is the sample's, with n - 1), as strings."""
    if not all(math.isfinite(value) for value in values):
        return [str(len(values)), "nan", "-", "-", "-"]

    def cell(value):                    # a loss in the thousands keeps the columns
        return f"{value:.4f}" if abs(value) < 10 else f"{value:>6.3g}"
    std = cell(statistics.stdev(values)) if len(values) > 1 else "-"
    return [str(len(values)), cell(statistics.mean(values)), std, cell(min(values)),
            cell(max(values))]


def statistics_line(values):
    """statistics_cells(values) as the columns of STATISTICS_HEADER."""
    seeds, *cells = statistics_cells(values)
    return f"  {seeds:>5}" + "".join(f"  {cell:>6}" for cell in cells)


def seed_differences(first_values, second_values):
    """The noise rule, for two sets of runs compared seed by seed
    ({seed: value} each): a difference counts only if it has the same sign
    on every seed and its mean exceeds the spread of the seeds (the larger
    standard deviation of the two sets' values). Returns (differences, their
    mean, the spread, how many seeds first is higher on, whether it counts),
    or None if fewer than 2 seeds are shared."""
    seeds = [seed for seed in first_values if seed in second_values]
    if len(seeds) < 2:
        return None
    differences = [first_values[seed] - second_values[seed] for seed in seeds]
    mean = statistics.mean(differences)
    spread = max(statistics.stdev([values[seed] for seed in seeds])
                 for values in (first_values, second_values))
    higher = sum(difference > 0 for difference in differences)
    return differences, mean, spread, higher, abs(mean) > spread and higher in (0, len(seeds))


def paired_verdict(first, second, first_accuracy, second_accuracy):
    """Compare two sets of runs seed by seed by the noise rule
    (seed_differences): first_accuracy and second_accuracy are {seed: test
    accuracy}. None if fewer than 2 seeds are shared."""
    compared = seed_differences(first_accuracy, second_accuracy)
    if compared is None:
        return None
    return f"{paired_difference(first, second, compared)}: {better(first, second, compared)}"


def paired_difference(first, second, compared):
    """seed_differences's result `compared` in words: the mean difference,
    its range, on how many seeds first is higher, and the seeds' spread."""
    differences, mean, spread, higher, _ = compared
    return (f"{first} - {second}: {mean:+.4f} on average ({min(differences):+.4f} to "
            f"{max(differences):+.4f}), {first} higher on {higher} of {len(differences)} seeds; "
            f"seeds' spread {spread:.4f}")


def better(first, second, compared):
    """Which of first and second is better, by seed_differences's result
    `compared`, or "within noise"."""
    mean, counts = compared[1], compared[4]
    return f"{first if mean > 0 else second} is better" if counts else "within noise"


def run_settings(args, run):
    """The settings of a run (a sweep.Run) of the options args, as results.py
    records them and names the run."""
    return {"study": args.study, "lr": run.lr, "init_scale": run.init_scale,
            "init_scale_layers": getattr(args, "init_scale_layers", "all"),
            "epochs": args.epochs, "batch_size": args.batch_size, "limit": args.limit,
            "dtype": args.dtype, "data": mnist.content(args.data_dir)}


class RunNotSaved(Exception):
    """A run's files could not be written (disk full, directory read-only)."""


class Progress:
    """What main.py shows and keeps as runs train and end: on_event, given
    to sweep.execute, prints each epoch's line and saves each run that
    finishes or diverges; close() prints the table of this invocation. It
    checks first that the results directory has room for the runs
    (build_network: main.build_network, which says what a run weighs)."""

    def __init__(self, args, runs, history_fields, build_network):
        self.args, self.runs, self.history_fields = args, runs, history_fields
        self.several = {"seed": len(args.seeds) > 1, "lr": len(args.lr) > 1,
                        "scale": len(args.init_scale) > 1}
        self.sweep = any(self.several.values())
        self.saved = {}              # run: its record (results.py)
        self.lost = []
        self.check_places()
        check_space(args, runs, build_network)

    def check_places(self):
        """Fail now, not after training, if a run cannot be saved under its
        name: too long a name, or something not a run's in its place."""
        for run in self.runs:
            try:
                results.check_place(self.args.results_dir, results.run_name(
                    run.kind, run.seed, run_settings(self.args, run), self.args.recipe))
            except results.ResultsError as error:
                raise mnist.DataError(f"cannot save {self.name(run)} in "
                                      f"{self.args.results_dir}/ ({error})") from None

    def name(self, run):
        """The run in words, with what varies in this sweep: "bn seed 2 lr 0.1"."""
        parts = [run.kind]
        for key, value in (("seed", run.seed), ("lr", run.lr), ("scale", run.init_scale)):
            if self.several[key]:
                parts.append(f"{key} {results.exact(value)}")
        return " ".join(parts)

    def on_event(self, run, event, payload):
        if event == "epoch":
            show(f"{self.name(run):<{self.width()}} "
                 f"epoch {payload['epoch']:>3}/{self.args.epochs}  "
                 f"train loss {payload['train_loss']:.4f}  "
                 f"val loss {payload['val_loss']:.4f}  val acc {payload['val_accuracy']:.4f}  "
                 f"{payload['seconds']:.2f} s")
        elif event == "done" and unfinite_epoch(payload["history"]) is not None:
            self.on_event(run, "diverged", unfinite_epoch(payload["history"]))
        elif event == "done":
            last = payload["history"][-1]
            self.save(run, payload["history"], payload["weights"], payload.get("probes"),
                      status="finished",
                      test_accuracy=payload["test_accuracy"], val_accuracy=last["val_accuracy"],
                      val_loss=last["val_loss"])
        elif event == "diverged":
            self.save(run, payload.history, None, None, status="diverged",
                      diverged_epoch=payload.epoch, diverged_batch=payload.batch)
            show(f"{self.name(run):<{self.width()}} diverged: {payload}")
            if not self.sweep:
                print(f"main.py: error: {self.name(run)} diverged: {payload}; its history until "
                      f"then is saved, no weights. {advice(run)}", file=sys.stderr, flush=True)
        else:
            self.lost.append(run)
            print(f"main.py: error: {self.name(run)}: {payload}; nothing of it was saved",
                  file=sys.stderr, flush=True)

    def width(self):
        return max(13, *(len(self.name(run)) for run in self.runs))

    def save(self, run, history, weights, probes, **outcome):
        """Save a run's directory (results.py), all or nothing: once the
        directory's lock is taken, an interruption waits until it is saved
        and noted here. Says so if it replaces an earlier run."""
        args = self.args
        settings = run_settings(args, run)
        record = {"run": results.run_name(run.kind, run.seed, settings, args.recipe),
                  "network": run.kind, "seed": run.seed, **settings,
                  results.EPOCHS_TO_TARGET: results.epochs_to_target(history),
                  "train_seconds": sum(record["seconds"] for record in history), **outcome}
        with results.saving(args.results_dir):
            try:
                earlier = results.save(args.results_dir, record, self.history_fields, history,
                                       weights, probes)
            except (OSError, results.ResultsError) as error:
                raise RunNotSaved(f"cannot save {self.name(run)} in {args.results_dir}/ "
                                  f"({getattr(error, 'strerror', None) or error})") from None
            self.saved[run] = record
        if earlier:
            was = (f", whose test accuracy was {earlier['test_accuracy']:.4f}"
                   if earlier.get("test_accuracy") is not None else "")
            print(f"main.py: {self.name(run)} replaced the earlier run of the same settings in "
                  f"{results.run_path(args.results_dir, record['run'])}/{was}",
                  file=sys.stderr, flush=True)

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

    def finish(self):
        """After every run: print the table, draw the figures of the runs
        that finished; returns the exit status, 1 if some run diverged or
        was lost, else 0."""
        self.close()
        if self.finished() and self.args.plot_command:
            show(f"\nThe study's table and figure: {self.args.plot_command} "
                 f"{self.args.results_dir}")
        elif self.finished():
            draw_figures(self.args.results_dir, [row["run"] for row in self.saved.values()])
        if len(self.saved) < len(self.runs) or len(self.finished()) < len(self.saved):
            return 1
        show(f"\nHistories and weights are in {self.args.results_dir}/.")
        return 0

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
    """The closing lines of a sweep: the accuracy table; the paired
    verdicts at each learning rate and weight scale; and, over several
    rates, each network's largest and best rate (rate_lines)."""
    rows = list(rows)
    lines = ["\nTest accuracy over seeds:", accuracy_table(rows, args.net)]
    accuracy = accuracies(rows)
    settings = sorted({(row["lr"], row["init_scale"]) for row in rows})
    for lr, scale in settings:
        where = (f"lr {results.exact(lr)}, scale {results.exact(scale)}: "
                 if len(settings) > 1 else "")
        for first, second in itertools.combinations(args.net, 2):
            verdict = paired_verdict(first, second, accuracy.get((first, lr, scale), {}),
                                     accuracy.get((second, lr, scale), {}))
            if verdict:
                lines.append(where + verdict)
    if len(args.lr) > 1:
        lines += rate_lines(args, rows, accuracy)
    return lines


def accuracies(rows):
    """{(network, lr, init_scale): {seed: test accuracy}} of the finished
    runs among rows (run records)."""
    found = {}
    for row in rows:
        if row["status"] == "finished":
            found.setdefault((row["network"], row["lr"], row["init_scale"]), {})[row["seed"]] = \
                row["test_accuracy"]
    return found


def accuracy_table(rows, networks):
    """The test accuracy of each network (in the order of networks) at each
    setting of rows (run records), over seeds, in Markdown: the learning
    rate and the weight scale (a column each, if the rows have several); the
    seeds, mean, std, min and max of the runs that finished; the epochs to
    reach TARGET_ACCURACY (their mean, if every seed reached it); and, if
    some run diverged, how many seeds did, and the earliest epoch."""
    rows = list(rows)
    varying = [(key, title) for key, title in (("lr", "lr"), ("init_scale", "scale"))
               if len({row[key] for row in rows}) > 1]
    some_diverged = any(row["status"] == "diverged" for row in rows)
    header = ["network", *(title for _, title in varying), *STATISTICS,
              f"epochs to {results.TARGET_ACCURACY}",
              *(["diverged (earliest epoch)"] if some_diverged else [])]
    table = []
    for kind in networks:
        for lr, scale in sorted({(row["lr"], row["init_scale"]) for row in rows}):
            runs = [row for row in rows
                    if (row["network"], row["lr"], row["init_scale"]) == (kind, lr, scale)]
            if not runs:
                continue
            finished = [row["test_accuracy"] for row in runs if row["status"] == "finished"]
            diverged = [row["diverged_epoch"] for row in runs if row["status"] == "diverged"]
            reached = [row[results.EPOCHS_TO_TARGET] for row in runs
                       if row[results.EPOCHS_TO_TARGET] is not None]
            target = (f"{statistics.mean(reached):.1f}" if len(reached) == len(runs)
                      else f"{len(reached)} of {len(runs)} seeds")
            table.append([f"`{kind}`", *(results.exact(runs[0][key]) for key, _ in varying),
                          *(statistics_cells(finished) if finished else ["0", *"----"]),
                          target,
                          *([f"{len(diverged)} ({min(diverged)})" if diverged else "-"]
                            if some_diverged else [])])
    return tables.markdown(header, table)


# A network's learning rates (lr-sweep): those at which no seed diverged
# (survived), at which every seed reached TARGET_ACCURACY (reached), and at
# which every seed diverged ({rate: the epoch by which all had}); its best
# rate (the highest mean test accuracy, every seed finished), and that mean.
Rates = collections.namedtuple("Rates", "survived reached diverged best mean")


def over_rates(rows, networks, scale):
    """{network: Rates} over the learning rates of rows (run records) at
    weight scale `scale`, for each of networks (in their order) that has
    runs there."""
    accuracy = accuracies(rows)
    found = {}
    for kind in networks:
        runs = {}
        for row in rows:
            if (row["network"], row["init_scale"]) == (kind, scale):
                runs.setdefault(row["lr"], []).append(row)
        if not runs:                        # every run of it was lost: nothing to say
            continue
        survived = sorted(lr for lr, group in runs.items()
                          if all(row["status"] == "finished" for row in group))
        reached = sorted(lr for lr, group in runs.items()
                         if all(row[results.EPOCHS_TO_TARGET] is not None for row in group))
        diverged = {lr: max(row["diverged_epoch"] for row in group)
                    for lr, group in sorted(runs.items())
                    if all(row["status"] == "diverged" for row in group)}
        means = {lr: statistics.mean(accuracy[kind, lr, scale].values()) for lr in survived}
        best = max(means, key=means.get) if means else None
        found[kind] = Rates(survived, reached, diverged, best, means.get(best))
    return found


def rate_table(rates):
    """over_rates's {network: Rates} in Markdown, a row per network."""
    header = ["network", "largest rate, no seed diverged",
              f"largest rate, every seed reached {results.TARGET_ACCURACY}",
              "every seed diverged at (by epoch)", "best rate", "its mean test accuracy"]
    table = []
    for kind, each in rates.items():
        diverged = (", ".join(map(results.exact, each.diverged))
                    + f" ({max(each.diverged.values())})" if each.diverged else "none")
        table.append([f"`{kind}`", largest(each.survived), largest(each.reached), diverged,
                      "none" if each.best is None else results.exact(each.best),
                      "-" if each.mean is None else f"{each.mean:.4f}"])
    return tables.markdown(header, table)


def rate_lines(args, rows, accuracy):
    """Over the learning rates, for each weight scale: rate_table, and the
    paired verdicts at each network's best rate."""
    lines = []
    for scale in args.init_scale:
        rates = over_rates(rows, args.net, scale)
        scale_said = f" (scale {results.exact(scale)})" if len(args.init_scale) > 1 else ""
        lines += [f"\nOver the learning rates{scale_said}:", rate_table(rates)]
        best = {kind: each.best for kind, each in rates.items() if each.best is not None}
        for first, second in itertools.combinations(best, 2):
            verdict = paired_verdict(f"{first} (lr {results.exact(best[first])})",
                                     f"{second} (lr {results.exact(best[second])})",
                                     accuracy[first, best[first], scale],
                                     accuracy[second, best[second], scale])
            if verdict:
                lines.append("at each one's best rate: " + verdict)
    return lines


class ValidationDiverged(Diverged):
    """A run whose training loss stayed finite, but whose validation loss or
    accuracy was not after `epoch`: its weights are as good as lost."""

    def __str__(self):
        return f"the validation loss became {self.loss} after epoch {self.epoch}"


def unfinite_epoch(history):
    """ValidationDiverged for the first epoch of history whose validation
    loss or accuracy is not finite, with the epochs before it; else None."""
    for index, record in enumerate(history):
        if not (math.isfinite(record["val_loss"]) and math.isfinite(record["val_accuracy"])):
            return ValidationDiverged(record["val_loss"], record["epoch"], None, history[:index])
    return None


def advice(run):
    """What to try after a run diverged: a smaller rate, and a weight scale
    nearer He's if it was not 1."""
    said = f"Try a smaller --lr (this run used {results.exact(run.lr)})"
    if run.init_scale != 1:
        said += f", or an --init-scale nearer 1 (it used {results.exact(run.init_scale)})"
    return said


def largest(rates):
    return results.exact(max(rates)) if rates else "none"


def draw_figures(results_dir, names):
    """The figures of the runs just saved, as PNGs in results_dir, if
    matplotlib is installed; else a line that says how to get them."""
    import plot           # not at the top: plot.py imports this module, for its tables
    if not plot.available():
        show(plot.HINT)
        return
    try:
        show("Figures: " + ", ".join(plot.draw(results_dir, names)))
    except Exception as error:           # the results are saved: say so, and go on
        # Our own errors are said in words; another's type is part of what it says.
        said = (str(error) if isinstance(error, (results.ResultsError, OSError))
                else f"{type(error).__name__}: {error}")
        print(f"main.py: warning: the figures could not be drawn ({said}); the results are "
              "saved", file=sys.stderr)
