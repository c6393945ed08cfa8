"""The files main.py leaves in its results directory, and reading them back
(for plot.py and evaluate.py).

For each run (one network trained from one seed, at one learning rate and
one weight scale), named <run> = <net>_seed<N>, followed by _lr<rate> if the
command trained several learning rates and _scale<K> if several weight
scales:
    <run>_history.csv   one row per epoch, from epoch 0 (before training)
    <run>_weights.npz   the trained network (Network.save's format); a run
                        that diverged has none
    <run>_probes.csv    with --study santurkar, one row per probed step
                        (santurkar.py); a run that diverged has none
and, for the whole directory, summary.csv: one row per run whose files are
there, whichever command made them.

A run's files and the new summary.csv are written as one unit, under the
directory's lock (mnist.write_together): summary.csv is read again under
the lock and the run's row merged into it, so that after any interruption,
any failed write, and with any number of main.py processes saving into the
directory, every row of summary.csv describes the files beside it.
"""
import csv
import io
import math
import os
import sys

import numpy as np

import mnist

TARGET_ACCURACY = 0.94          # the original project's headline figure
EPOCHS_TO_TARGET = f"epochs_to_{TARGET_ACCURACY}"
SUMMARY = "summary.csv"
SUMMARY_FIELDS = ["run", "network", "seed", "lr", "init_scale", "epochs", "status",
                  "test_accuracy", "val_accuracy", "val_loss", EPOCHS_TO_TARGET,
                  "diverged_epoch", "diverged_batch", "train_seconds"]


class ResultsError(Exception):
    """A results file that cannot be read, explained in one line."""


def run_name(run, several_rates, several_scales):
    """The <run> part of a run's file names (see above)."""
    name = f"{run.kind}_seed{run.seed}"
    if several_rates:
        name += f"_lr{run.lr:g}"
    if several_scales:
        name += f"_scale{run.init_scale:g}"
    return name


def history_path(directory, name):
    return os.path.join(directory, f"{name}_history.csv")


def weights_path(directory, name):
    return os.path.join(directory, f"{name}_weights.npz")


def probes_path(directory, name):
    return os.path.join(directory, f"{name}_probes.csv")


def epochs_to_target(history):
    """The first epoch after which the validation accuracy reached
    TARGET_ACCURACY, or None."""
    return next((record["epoch"] for record in history
                 if record["val_accuracy"] >= TARGET_ACCURACY), None)


def write_rows(file, fields, rows):
    """Write rows (dicts) as CSV with a header line to a binary file."""
    text = io.TextIOWrapper(file, newline="")
    writer = csv.DictWriter(text, fields, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    text.flush()
    text.detach()


def save(directory, row, history_fields, history, weights=None, probes=None):
    """Save a run: its history, its weights (None for a run that diverged:
    an older weights file of the same name is then removed, since it would
    no longer match the history), its probes' records if it has any (the
    same for an older file of them) and its row of summary.csv, as one unit."""
    name = row["run"]

    def write_summary(file):
        try:
            rows = [other for other in read_summary(directory) if other["run"] != name]
        except ResultsError as error:
            print(f"warning: {error}; it is written anew", file=sys.stderr)
            rows = []
        write_rows(file, SUMMARY_FIELDS, sorted(rows + [row], key=summary_order))
    writers = {history_path(directory, name): lambda file: write_rows(file, history_fields, history),
               os.path.join(directory, SUMMARY): write_summary}
    if weights is not None:
        writers[weights_path(directory, name)] = lambda file: file.write(npz_bytes(weights))
    if probes:
        writers[probes_path(directory, name)] = lambda file: write_rows(file, list(probes[0]),
                                                                        probes)
    mnist.write_together(writers, remove=[path for path in (weights_path(directory, name),
                                                            probes_path(directory, name))
                                          if path not in writers])


def npz_bytes(arrays):
    """The bytes of a .npz file of arrays, made in memory: written to the
    disk at once, a full disk is a plain OSError (NumPy 1.24's np.savez,
    writing itself, hides it behind "ValueError: seek of closed file")."""
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def summary_order(row):
    return (str(row["network"]), float(row.get("lr") or 0), float(row.get("init_scale") or 1),
            int(row["seed"]))


def read_rows(path):
    """The rows of a CSV file with a header line, as dicts. ResultsError,
    naming the file and the line, if a row has more or fewer values than the
    header (a file cut short, say). A byte-order mark is skipped."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as file:
            reader = csv.reader(file)
            header = next(reader, None)
            if not header:
                raise ResultsError(f"{path} is empty: it has no header line")
            rows = []
            for line, values in enumerate(reader, start=2):
                if not values:
                    continue
                if len(values) != len(header):
                    raise ResultsError(f"{path}: line {line} has {len(values)} values, the "
                                       f"header {len(header)} (a file cut short?)")
                rows.append(dict(zip(header, values)))
    except OSError as error:
        raise ResultsError(f"cannot read {path} ({error.strerror})") from None
    except (UnicodeDecodeError, csv.Error) as error:
        raise ResultsError(f"{path} is not a CSV file of main.py's ({error})") from None
    return rows


def read_summary(directory):
    """The rows of directory/summary.csv whose history file is there (none
    if there is no summary.csv). Rows written before the file had a run
    column name their files <net>_seed<N>."""
    path = os.path.join(directory, SUMMARY)
    if not os.path.exists(path):
        return []
    rows = []
    for row in read_rows(path):
        if not row.get("network") or not row.get("seed"):
            raise ResultsError(f"{path} has no network and seed columns: it is not "
                               "main.py's summary")
        row.setdefault("run", f"{row['network']}_seed{row['seed']}")
        if os.path.exists(history_path(directory, row["run"])):
            rows.append(row)
    return rows


def read_history(path):
    """A history CSV as {field: array over epochs} (floats)."""
    records = read_rows(path)
    if not records:
        raise ResultsError(f"{path} has no epochs")
    try:
        return {field: np.array([float(record[field]) for record in records])
                for field in records[0]}
    except ValueError as error:
        raise ResultsError(f"{path}: {error}") from None


def number(text):
    """A summary.csv value as a float (NaN if empty)."""
    return float(text) if text not in ("", None) else math.nan
