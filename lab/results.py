"""The results directory: a directory per run, which is the run's whole
record, and summary.csv, a table made from those records.

    results/
        bn_seed0/                         network bn, seed 0, the original recipe
            run.csv        the run's settings (network, seed, study, lr, init_scale,
                           init_scale_layers, epochs, batch_size, limit, dtype,
                           data: "mnist" for MNIST's known content, else a short
                           digest of the arrays, mnist.content_name), status
                           and test accuracy: one row
            history.csv    one row per epoch, from epoch 0 (before training)
            weights.npz    the trained network (files.save_weights's format); a run
                           that diverged has none
            probes.csv     with python3 -m studies.santurkar, one row per probed step
                           (santurkar.py); a run that diverged has none
        plain_seed0_lr0.1_epochs1_limit1000/
        summary.csv        every run.csv's row in one table, rebuilt from them
                           whenever a run is saved

Any other file in a run's directory (a user's notes, evaluate.py's
mistakes.png) is the user's: a run saved again carries it over into its new
directory.

A run's name is <net>_seed<N> followed by every setting that differs from
its recipe (the original one, or its study's), its value written exactly (repr: lr 0.1 and 0.1000001
are two runs): runs of different settings never share a directory, and a
run saved again with the same settings replaces the earlier one, which
main.py says.

summary.csv is only an index: any edit of it, or damage to it, is repaired
at the next save (with a warning), and no run is ever lost through it.

Why a directory per run: a run's files must change together or not at all.
A new run is written whole into a hidden directory beside its place, then
renamed into place; an earlier run of the same name is first renamed aside
and removed afterwards, once the user's files in it are carried over. Only
hidden directories that a save made (their name and a marker file in them
say so) are ever removed. The renames are done with Ctrl-C, SIGTERM and SIGHUP
held back (signals_deferred), so that a reader finds the earlier run's
directory or the new one, never a mix of the two; if a process is killed
(kill -9) between the two renames, the earlier run is put back at the next
save. Any failure before the renames leaves the earlier run as it was.
(One rename cannot replace a directory that holds files; Linux's renameat2
with RENAME_EXCHANGE could, but Python's standard library has no call for
it. One file per run, an archive, would keep the history from being read
as the CSV it is.)

A results directory is something people download, share and unpack, so
it is read and written only within itself: a symbolic link in it (a run's
directory, a file of a run, summary.csv, a figure) is never followed. A link
named as a run is left out with a warning, and saving over it is refused;
summary.csv and the figures replace a link rather than write through it.

Saving takes the directory's lock (directory_locked), so that processes
saving into one directory take turns; the lock is waited for with signals
working, so Ctrl-C ends a process that waits.
"""
import contextlib
import csv
import io
import math
import os
import re
import shutil
import signal
import sys
import tempfile

try:
    import fcntl                # POSIX; without it (Windows) saves are not locked
except ImportError:
    fcntl = None

import numpy as np

from lab import files
from lab import stopping

TARGET_ACCURACY = 0.94          # the original project's headline figure
EPOCHS_TO_TARGET = f"epochs_to_{TARGET_ACCURACY}"
SUMMARY = "summary.csv"
RECORD, HISTORY, WEIGHTS, PROBES = "run.csv", "history.csv", "weights.npz", "probes.csv"
RUN_FILES = (RECORD, HISTORY, WEIGHTS, PROBES)      # what a save writes: a run's own files
# A run's settings, in the order its name gives them, with the word it uses.
SETTINGS = {"study": "", "lr": "lr", "init_scale": "scale", "init_scale_layers": "scaled",
            "epochs": "epochs", "batch_size": "batch", "limit": "limit", "dtype": "",
            "data": "data"}
FIELDS = ["run", "network", "seed", *SETTINGS, "status", "test_accuracy", "val_accuracy",
          "val_loss", EPOCHS_TO_TARGET, "diverged_epoch", "diverged_batch", "train_seconds"]
STATUSES = ("finished", "diverged")
# How each field of a record is read back; the others stay text.
TYPES = {"seed": int, "lr": float, "init_scale": float, "epochs": int, "batch_size": int,
         "limit": int, "test_accuracy": float, "val_accuracy": float, "val_loss": float,
         EPOCHS_TO_TARGET: int, "diverged_epoch": int, "diverged_batch": int,
         "train_seconds": float}


class ResultsError(Exception):
    """A results file that cannot be read or written, explained in one line."""


# ---------------------------------------------------------------- names

def exact(value):
    """A setting as text, exactly: repr for a float (0.1, 0.1000001, 1e-05),
    without a trailing .0 (2.0 is written 2)."""
    text = repr(value) if isinstance(value, float) else str(value)
    return text[:-2] if text.endswith(".0") else text


def run_name(network, seed, settings, recipe):
    """The name of a run: <network>_seed<seed>, then _<word><value> for each
    of SETTINGS whose value in settings differs from the recipe's."""
    return f"{network}_seed{seed}" + "".join(
        f"_{word}{exact(settings[key])}" for key, word in SETTINGS.items()
        if settings[key] != recipe[key])


def run_path(directory, name, *what):
    """The path of a run's directory, or of the file `what` in it."""
    return os.path.join(directory, name, *what)


def epochs_to_target(history):
    """The first epoch after which the validation accuracy reached
    TARGET_ACCURACY, or None."""
    return next((record["epoch"] for record in history
                 if record["val_accuracy"] >= TARGET_ACCURACY), None)


# ---------------------------------------------------------------- saving

@contextlib.contextmanager
def saving(directory):
    """Within `with saving(directory)`, this process holds the directory's
    lock (waited for with signals working: Ctrl-C ends the wait) and Ctrl-C,
    SIGTERM and SIGHUP are held back until the block ends: a save, and
    whatever the caller notes of it, is done whole."""
    with directory_locked(directory), signals_deferred(*STOP_SIGNALS):
        yield


def save(directory, record, history_fields, history, weights=None, probes=None):
    """Save a run, within `with saving(directory)`: its record (a dict of
    FIELDS), its history, its weights (None for a run that diverged) and its
    probes' records (a list of dicts, if it has any), as one directory; then rebuild summary.csv. Returns the record of the
    earlier run of the same name that this one replaced, or None. Raises
    ResultsError, and changes nothing, if the run cannot be saved; problems
    after the run is in place (summary.csv, removing the earlier run) are
    warnings on standard error."""
    name = record["run"]
    place = run_path(directory, name)
    tidy(directory)
    earlier = None
    if check_place(directory, name):
        earlier = read_record(directory, name) or {"run": name}   # damaged: replaced too
    summary_before = summary_bytes(directory)
    new = aside = None
    try:
        new = temporary_directory(directory, name, "new")
        os.mkdir(os.path.join(new, name))
        write_run(os.path.join(new, name), record, history_fields, history, weights, probes)
        if earlier is not None:
            aside = temporary_directory(directory, name, "old")
            os.rename(place, os.path.join(aside, name))
        try:
            os.rename(os.path.join(new, name), place)
        except OSError:
            if aside:
                os.rename(os.path.join(aside, name), place)
            raise
    except OSError as error:
        if aside and not os.path.lexists(os.path.join(aside, name)):
            with contextlib.suppress(OSError):
                remove_temporary(aside)
        raise ResultsError(error.strerror or str(error)) from None
    finally:
        if new:
            with contextlib.suppress(OSError):
                remove_temporary(new)
    if aside:
        carry_over(os.path.join(aside, name), place)
        remove_aside(aside, place)
    write_summary(directory, summary_before)
    return earlier


# A save's temporary directories: .<run>.new-XXXXXXXX (the new run, written
# whole in it before it takes its place) and .<run>.old-XXXXXXXX (the earlier
# run, set aside in it), each holding MARKER and the run's directory, <run>/.
# Only a directory of that name (not a link) that holds the marker, or is
# empty, is ever removed or read as a run set aside: a user's own hidden
# directory is never touched. Each is removed with its marker last
# (remove_temporary), so that a save killed at any moment leaves only what
# the next save's tidy recognizes; so is summary.csv's temporary file.
MARKER = ".made-by-main.py"
RUN_NAME = r"[A-Za-z0-9][A-Za-z0-9_.+-]*"      # what run_name makes: never "." or "..", no "/"
TEMPORARY = re.compile(rf"\.(?P<name>{RUN_NAME})\.(?P<kind>new|old)-[A-Za-z0-9_]{{8}}")
SUMMARY_TEMPORARY = re.compile(rf"\.{re.escape(SUMMARY)}\.[A-Za-z0-9_]{{8}}\.tmp")


def temporary_directory(directory, name, kind):
    """A new temporary directory of a save of run `name`: kind "new" or "old"."""
    path = tempfile.mkdtemp(dir=directory, prefix=f".{name}.{kind}-")
    try:
        with open(os.path.join(path, MARKER), "wb"):
            pass
    except OSError:
        os.rmdir(path)
        raise
    return path


def temporary(directory, entry):
    """(run name, "new" or "old", whether it holds the marker) if entry is
    a directory named as a save's temporary directory, else None."""
    match = TEMPORARY.fullmatch(entry)
    path = os.path.join(directory, entry)
    if match and is_directory(path):
        marked = files.path_kind(os.path.join(path, MARKER)) == "a file"
        return match["name"], match["kind"], marked
    return None


def is_directory(path):
    """True if path is a directory, not a link to one: the results store
    never follows a link out of its directory."""
    return files.path_kind(path) == "a directory"


def remove_temporary(path):
    """Remove a save's temporary directory, its marker last: killed at any
    moment, it is left either marked or empty, and the next tidy finishes.
    OSError if something in it cannot be removed."""
    for entry in os.listdir(path):
        if entry != MARKER:
            inside = os.path.join(path, entry)
            if is_directory(inside):
                shutil.rmtree(inside)           # removes links in it, never follows them
            else:
                os.unlink(inside)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(os.path.join(path, MARKER))
    os.rmdir(path)


def carry_over(earlier, place):
    """Move into the run directory `place` every file of the earlier run's
    directory that is not a run's own (a user's notes, evaluate.py's
    mistakes.png, a directory of the user's): a run saved again keeps them.
    What cannot be moved stays in `earlier`, which is then not removed.
    Both must be directories, not links."""
    for entry in users_files(earlier):
        if not os.path.lexists(os.path.join(place, entry)):
            with contextlib.suppress(OSError):
                os.rename(os.path.join(earlier, entry), os.path.join(place, entry))


def users_files(run_directory):
    """The entries of a run's directory that a save did not write (none if
    it cannot be read, or is a link)."""
    if not is_directory(run_directory):
        return []
    try:
        return sorted(entry for entry in os.listdir(run_directory) if entry not in RUN_FILES)
    except OSError:
        return []


def check_place(directory, name):
    """True if run `name` has an earlier run in directory, which saving it
    replaces; False if its place is free. ResultsError if it cannot be saved
    there: its name is too long for the file system (with a save's
    temporary names), or something that is not a run is in its place."""
    longest = len(f".{name}.old-12345678".encode())
    with contextlib.suppress(OSError, ValueError):
        most = os.pathconf(directory, "PC_NAME_MAX")
        if longest > most:
            raise ResultsError(f"the run's name {name[:40]}... is {len(name.encode())} bytes, "
                               f"too long for a file name in {directory}/ (at most "
                               f"{most - (longest - len(name.encode()))} with a save's "
                               "temporary names): give smaller values (--seed, --lr)")
    place = run_path(directory, name)
    if not os.path.lexists(place):
        return False
    if os.path.islink(place):
        raise ResultsError(f"{place} is a symbolic link: a run is saved only in a directory of "
                           f"its own inside {directory}/; move what it points to back into its "
                           "place, or remove the link")
    if not os.path.isdir(place) or not os.path.lexists(run_path(directory, name, RECORD)):
        raise ResultsError(f"{place} is in the way: it is not a run's directory (it "
                           f"has no {RECORD}); move it away")
    return True


def write_run(run_directory, record, history_fields, history, weights, probes=None):
    """Write a run's files into run_directory (a new, empty directory)."""
    with open(os.path.join(run_directory, RECORD), "wb") as file:
        write_rows(file, FIELDS, [record])
    with open(os.path.join(run_directory, HISTORY), "wb") as file:
        write_rows(file, history_fields, history)
    if weights is not None:
        with open(os.path.join(run_directory, WEIGHTS), "wb") as file:
            file.write(npz_bytes(weights))
    if probes:
        with open(os.path.join(run_directory, PROBES), "wb") as file:
            write_rows(file, list(probes[0]), probes)


def remove_aside(aside, place):
    """Remove the earlier run set aside, unless something of the user's
    could not be carried over from it."""
    kept = users_files(os.path.join(aside, os.path.basename(place)))
    if kept:
        print(f"warning: {place}/ is saved, but {', '.join(kept)} of the earlier run "
              f"could not be moved into it: it is left in {aside}/", file=sys.stderr)
        return
    try:
        remove_temporary(aside)
    except OSError as error:
        print(f"warning: {place}/ is saved, but the earlier run it replaces could not be "
              f"removed ({error.strerror or error}): it is left in {aside}/", file=sys.stderr)


def tidy(directory):
    """Under the lock: remove what a killed save left (a half-written new
    run, an empty or half-removed temporary directory, summary.csv's
    temporary file), put back an earlier run set aside by a save killed
    between its two renames, and retry removing earlier runs that could not
    be removed. Nothing is followed out of directory."""
    for entry in os.listdir(directory):
        path = os.path.join(directory, entry)
        if SUMMARY_TEMPORARY.fullmatch(entry) and files.path_kind(path) == "a file":
            with contextlib.suppress(OSError):
                os.unlink(path)
            continue
        found = temporary(directory, entry)
        if found is None:
            continue
        name, kind, marked = found
        if not marked:              # killed before its marker was written, or emptied
            with contextlib.suppress(OSError):
                os.rmdir(path)      # removes only an empty directory
            continue
        if kind == "old" and not settle_aside(os.path.join(path, name),
                                              run_path(directory, name)):
            continue
        with contextlib.suppress(OSError):
            remove_temporary(path)


def settle_aside(earlier, place):
    """For tidy: an earlier run set aside by a killed save goes back into
    its place if that is free; else the user's files in it are carried over
    to the run in its place. True if nothing is left in it to keep."""
    if not os.path.lexists(earlier):
        return True
    if not is_directory(earlier):
        return True                 # a link (crafted): removing it removes only the link
    with contextlib.suppress(OSError):
        if not os.path.lexists(place):
            os.rename(earlier, place)
            return True
        if is_directory(place):
            carry_over(earlier, place)
            return not users_files(earlier)
    return False


def write_summary(directory, before=None):
    """Rebuild summary.csv from the runs' records. `before`, if given, is
    what summary.csv should have held (made from the records before this
    save): a summary.csv that differs from it was edited or damaged, which
    a warning says. A summary.csv written by an older main.py is kept, as
    summary-older.csv. A summary.csv that cannot be written is a warning:
    the runs themselves are saved."""
    path = os.path.join(directory, SUMMARY)
    found = read_summary(directory)
    header = found.split(b"\n", 1)[0] if isinstance(found, bytes) else b""
    if (b"network" in header and b"batch_size" not in header         # an older main.py's
            and older_runs(directory)):
        keep = next(name for name in (os.path.join(directory, f"summary-older{suffix}.csv")
                                      for suffix in ("", *range(2, 1000)))
                    if not os.path.lexists(name))
        try:
            os.rename(path, keep)
        except OSError as error:                # never overwritten: it may be all there is
            print(f"warning: {path} was written by an older main.py and cannot be kept as "
                  f"{keep} ({error.strerror or error}): it is left as it was", file=sys.stderr)
            return
        print(f"warning: {path} was written by an older main.py, which kept each run as "
              f"flat files (left as they were): it is kept as {keep}", file=sys.stderr)
    elif before is not None and isinstance(found, bytes) and found != before:
        print(f"warning: {path} did not match the runs' own records (edited, damaged or a "
              "run removed): it is rebuilt from them", file=sys.stderr)
    elif isinstance(found, files.NotARegularFile) and not is_directory(path):
        print(f"warning: {found}: it is replaced by one rebuilt from the runs' own records",
              file=sys.stderr)
        # summary.csv is this program's, made from the records: a link or a
        # FIFO in its place is replaced, never written through.
        with contextlib.suppress(OSError):
            os.unlink(path)
    try:
        files.atomic_write(path, lambda file: file.write(summary_bytes(directory, warn=False)))
    except OSError as error:
        print(f"warning: cannot write {path} ({error.strerror or error}); the runs are saved "
              "in their own directories, and the next save rebuilds it", file=sys.stderr)


def refresh_summary(directory):
    """Rebuild summary.csv if it is missing or does not match the runs'
    records (plot.py does, before drawing), with a warning if it was
    damaged; under the lock, as a save."""
    with saving(directory):
        expected = summary_bytes(directory, warn=False)
        if read_summary(directory) != expected:
            write_summary(directory, expected)


def read_summary(directory):
    """The bytes of directory's summary.csv; None if there is none; the
    error (OSError, files.NotARegularFile) if it cannot be read or is not
    a regular file of at most LARGEST_CSV bytes."""
    try:
        return files.read_regular(os.path.join(directory, SUMMARY), LARGEST_CSV, follow=False)
    except FileNotFoundError:
        return None
    except (OSError, files.NotARegularFile) as error:
        return error


def summary_bytes(directory, warn=True):
    """The bytes of summary.csv made from the runs' records in directory;
    warn: say which records cannot be read."""
    buffer = io.BytesIO()
    write_rows(buffer, FIELDS, read_records(directory, warn))
    return buffer.getvalue()


def write_rows(file, fields, rows):
    """Write rows (dicts) as CSV with a header line to a binary file;
    floats are written exactly (repr), None as an empty value."""
    text = io.TextIOWrapper(file, newline="")
    writer = csv.DictWriter(text, fields, extrasaction="ignore")
    writer.writeheader()
    writer.writerows({key: float(value) if isinstance(value, np.floating) else value
                      for key, value in row.items()} for row in rows)
    text.flush()
    text.detach()


def npz_bytes(arrays):
    """The bytes of a .npz file of arrays, made in memory: written to the
    disk at once, a full disk is a plain OSError (NumPy 1.24's np.savez,
    writing itself, hides it behind "ValueError: seek of closed file")."""
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


STOP_SIGNALS = stopping.STOP_SIGNALS


@contextlib.contextmanager
def signals_deferred(*signals):
    """Within `with signals_deferred(SIGINT, ...)`, those signals are only
    noted; when the block ends, each is handled as it would have been.

    (Blocking them with pthread_sigmask would not do: it holds a signal back
    from this thread only, and the BLAS library's threads would take it.)
    Python runs signal handlers in the main thread only, which is where
    this is used."""
    noted = []
    previous = {number: signal.signal(number, lambda number, frame: noted.append(number))
                for number in signals}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        for number in noted:
            if callable(previous[number]):
                previous[number](number, None)
            elif previous[number] == signal.SIG_DFL:
                os.kill(os.getpid(), number)


@contextlib.contextmanager
def directory_locked(directory):
    """Within `with directory_locked(d)`, this process alone, of those that
    lock d, holds d's lock (an advisory flock, released at the end). If
    another holds it, a line on standard error says what we wait for; the
    wait can be ended by any signal whose handler raises (Ctrl-C)."""
    if fcntl is None:
        yield
        return
    handle = os.open(directory, os.O_RDONLY)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"waiting for another process to finish saving into {directory}/ "
                  "(it holds the directory's lock)", file=sys.stderr, flush=True)
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        os.close(handle)                # closing releases the lock


# ---------------------------------------------------------------- reading

def run_directories(directory):
    """{name: path} of the runs in directory: the directories that hold a
    run.csv, and an earlier run set aside by a save that was killed before
    its new run took its place. A symbolic link named as a run maps to None:
    it is not followed, since a results directory is read only within itself."""
    try:
        entries = sorted(os.listdir(directory))
    except FileNotFoundError:
        raise ResultsError(f"{directory}/ does not exist: run main.py first, or name the "
                           "directory it wrote") from None
    except OSError as error:
        raise ResultsError(f"cannot read {directory}/ ({error.strerror or error})") from None
    runs = {}
    for entry in entries:
        path = os.path.join(directory, entry)
        if entry.startswith("."):
            continue
        if os.path.islink(path):
            if re.fullmatch(rf"{RUN_NAME}_seed\d+.*", entry):
                runs[entry] = None
        elif os.path.lexists(os.path.join(path, RECORD)):
            runs[entry] = path
    for entry in entries:
        name, kind, _ = temporary(directory, entry) or (None, None, None)
        set_aside = os.path.join(directory, entry, name or "")
        if kind == "old" and name not in runs and is_directory(set_aside) and (
                os.path.lexists(os.path.join(set_aside, RECORD))):
            runs[name] = set_aside
    return runs


def read_record(directory, name, path=None):
    """The record of run `name` (run.csv's row, its values typed), or None
    if it has none that can be read. A run directory that is a link is not
    read through: it has none."""
    place = path or run_path(directory, name)
    if not is_directory(place):
        return None
    try:
        return parse_record(read_rows(os.path.join(place, RECORD)))
    except ResultsError:
        return None


def parse_record(rows):
    """The one row of a run.csv, its values typed as TYPES says (an empty
    value is None). ResultsError if it is not one row of a run's settings."""
    if len(rows) != 1:
        raise ResultsError(f"it has {len(rows)} rows, not one")
    record = dict(rows[0])
    record.setdefault("init_scale", "1")         # a weight scale not recorded is He's, 1
    record.setdefault("init_scale_layers", "all")   # ... and applied to every layer
    record["data"] = record.get("data") or "mnist"  # not recorded: an older main.py's run
    record["study"] = record.get("study") or "original"     # likewise
    for field in ("run", "network", "seed", "status", *SETTINGS):
        if not record.get(field):
            raise ResultsError(f"it has no {field}")
    implied = f"{record['network']}_seed{record['seed']}"
    if record["run"] != implied and not record["run"].startswith(implied + "_"):
        raise ResultsError(f"its run {record['run']} is not of network {record['network']}, "
                           f"seed {record['seed']}")
    if record["status"] not in STATUSES:
        raise ResultsError(f"its status {record['status']!r} is not one of "
                           f"{', '.join(STATUSES)}")
    try:
        for field, kind in TYPES.items():
            if record.get(field) not in (None, ""):
                record[field] = kind(record[field])
            else:
                record[field] = None
    except ValueError as error:
        raise ResultsError(f"{field}: {error}") from None
    if record["status"] == "finished" and record["test_accuracy"] is None:
        raise ResultsError("it finished but has no test_accuracy")
    for field in ("lr", "init_scale"):         # as main.py's options take them
        if not (math.isfinite(record[field]) and record[field] > 0):
            raise ResultsError(f"its {field} {record[field]} is not a positive finite number")
    if record["test_accuracy"] is not None and not 0 <= record["test_accuracy"] <= 1:
        raise ResultsError(f"its test_accuracy {record['test_accuracy']} is not an accuracy, "
                           "from 0 to 1")
    return record


UNREADABLE = set()      # the records whose warning this process has printed


def read_records(directory, warn=True):
    """The records of every run in directory, in the order of summary.csv
    (network, settings, seed), each with its "directory". A run whose run.csv
    cannot be read is left out, with a warning (if warn)."""
    records = []
    for name, path in run_directories(directory).items():
        why = None
        if path is None:
            why = ("it is a symbolic link, which is not followed: a run is read only inside "
                   "its results directory")
        else:
            try:
                record = parse_record(read_rows(os.path.join(path, RECORD)))
                if record["run"] != name:
                    why = (f"its {RECORD} is that of {record['run']} (a copy of its "
                           "directory?): a run counts only under its own name")
            except ResultsError as error:
                why = f"its {RECORD} cannot be read ({error})"
        if why:
            said = path or os.path.join(directory, name)
            if warn and said not in UNREADABLE:          # said once, not at every save
                UNREADABLE.add(said)
                print(f"warning: {name} is left out of {SUMMARY} and the figures: {why}",
                      file=sys.stderr)
            continue
        record["run"], record["directory"] = name, path
        records.append(record)
    return sorted(records, key=lambda record: (
        record["network"], *(record[key] for key in SETTINGS), record["seed"]))


def older_runs(directory):
    """The history files an older main.py left in directory (flat files
    <net>_seed<N>_history.csv), which this version does not read."""
    with contextlib.suppress(OSError):
        return sorted(entry for entry in os.listdir(directory)
                      if entry.endswith("_history.csv") and "_seed" in entry)
    return []


# The most bytes read of a CSV file: main.py's are far smaller (a history of
# 50 epochs is 10 kB, a study's probes.csv a few MB).
LARGEST_CSV = 64 * 2**20


def read_rows(path, numbered=False):
    """The rows of a CSV file with a header line, as dicts (with numbered,
    as (line number, dict) pairs). ResultsError,
    naming the file and the line, if a row has more or fewer values than the
    header (a file cut short, say), or if it is not a regular file of at most
    LARGEST_CSV bytes. A byte-order mark is skipped."""
    try:
        text = files.read_regular(path, LARGEST_CSV, follow=False).decode("utf-8-sig")
        reader = csv.reader(io.StringIO(text, newline=""))
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
            rows.append((line, dict(zip(header, values))) if numbered
                        else dict(zip(header, values)))
    except OSError as error:
        raise ResultsError(f"cannot read {path} ({error.strerror})") from None
    except files.NotARegularFile as error:
        raise ResultsError(str(error)) from None
    except (UnicodeDecodeError, csv.Error) as error:
        raise ResultsError(f"{path} is not a CSV file of main.py's ({error})") from None
    return rows


# The columns every history has, which plot.py draws.
HISTORY_NEEDED = ("epoch", "train_loss", "val_loss", "val_accuracy")


def read_history(path, needed=()):
    """A history CSV (or a probes.csv) as {field: array over epochs}
    (floats). ResultsError naming the file and the column, or the line, if
    a column of `needed` is missing or a value is not a number."""
    records = read_rows(path, numbered=True)
    if not records:
        raise ResultsError(f"{path} has no epochs")
    missing = [field for field in needed if field not in records[0][1]]
    if missing:
        raise ResultsError(f"{path} has no column {missing[0]} (renamed or removed?): "
                           "train the run again")
    columns = {field: [] for field in records[0][1]}
    for line, record in records:
        for field, values in columns.items():
            try:
                values.append(float(record[field]))
            except ValueError:
                raise ResultsError(f"{path}: line {line}: {field} {record[field]!r} is not a "
                                   "number") from None
            if field in ("epoch", "step") and not (math.isfinite(values[-1])
                                                   and values[-1] >= 0):
                raise ResultsError(f"{path}: line {line}: {field} {record[field]!r} is not "
                                   "a finite, non-negative number (an edited file?)")
    return {field: np.array(values) for field, values in columns.items()}


def number(value):
    """A record's value as a float (NaN if None or empty)."""
    return float(value) if value not in ("", None) else math.nan
