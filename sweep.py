"""Train many runs, each a network from a seed, one after another or side by
side in worker processes.

main.py says what one run is; this module only schedules runs. With jobs = 1
they are trained here, in this process, in order. With jobs > 1, `jobs`
worker processes take runs from a queue until none are left:
- The data is written once to .npy files that every worker maps read-only,
  so memory holds one copy of it, however many workers there are.
- Each worker's BLAS gets cores // jobs threads, so that the workers do not
  fight over the cores.
- Workers only compute. Everything they have to say (an epoch's record, a
  run's result, its divergence) goes back to this process, which alone
  prints and saves: a worker stopped at any moment leaves no
  half-written file and no half-printed line.
- Workers ignore Ctrl-C, which the terminal sends to every process of the
  job: this process stops them all when it is interrupted, and waits for
  them to end, so that none is left behind.
"""
import collections
import contextlib
import multiprocessing
import os
import queue
import signal
import tempfile

import numpy as np

from network import Diverged

Run = collections.namedtuple("Run", "kind seed")
BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def available_cores():
    """The number of cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:                   # not on Linux
        return os.cpu_count() or 1


def execute(runs, train, splits, settings, jobs, on_event):
    """Train every run in runs, with up to `jobs` at once.

    train(run, splits, settings, on_epoch) trains one run and returns its
    result; it calls on_epoch(record) after each epoch and raises
    network.Diverged if the run diverges. It must be a module-level function,
    so that worker processes can import it.
    on_event(run, event, payload) is called in this process, for each run in
    this order: ("epoch", record) for each epoch, then ("done", result) or
    ("diverged", message). Runs that go side by side
    interleave their events; each run's own events stay in order.
    """
    if jobs == 1:
        for run in runs:
            train_one(run, train, splits, settings, on_event)
    else:
        execute_in_workers(runs, train, splits, settings, jobs, on_event)


def train_one(run, train, splits, settings, send):
    """Train one run, telling send(run, event, payload) what happens."""
    try:
        result = train(run, splits, settings, lambda record: send(run, "epoch", record))
    except Diverged as error:
        send(run, "diverged", str(error))
    else:
        send(run, "done", result)


def execute_in_workers(runs, train, splits, settings, jobs, on_event):
    context = multiprocessing.get_context("spawn")    # a fresh process: no inherited threads
    tasks, events = context.Queue(), context.Queue()
    for run in runs:
        tasks.put(run)
    for _ in range(jobs):
        tasks.put(None)                                # one "stop" for each worker
    threads = str(max(1, available_cores() // jobs))
    workers = []
    with tempfile.TemporaryDirectory(prefix="mnist-numpy-") as directory:
        data_files = write_splits(splits, directory)
        try:
            # Held back until each worker has set SIGINT to be ignored: the
            # mask is inherited, so an early Ctrl-C cannot hit a worker.
            with signals_blocked(signal.SIGINT), environment(dict.fromkeys(BLAS_THREAD_VARIABLES, threads)):
                for _ in range(jobs):
                    worker = context.Process(target=work, daemon=True,
                                             args=(train, data_files, settings, tasks, events))
                    worker.start()
                    workers.append(worker)
            remaining = len(runs)
            while remaining:
                try:
                    run, event, payload = events.get(timeout=1.0)
                except queue.Empty:
                    crashed = [w.exitcode for w in workers if w.exitcode not in (None, 0)]
                    if crashed:
                        raise RuntimeError(f"a worker process died (exit code {crashed[0]})") from None
                    continue
                if event == "failed":
                    raise RuntimeError(f"{run.kind} seed {run.seed} failed in its worker: {payload}")
                on_event(run, event, payload)
                if event in ("done", "diverged"):
                    remaining -= 1
        finally:
            for worker in workers:
                if worker.is_alive():
                    worker.terminate()
            for worker in workers:
                worker.join()


def work(train, data_files, settings, tasks, events):
    """A worker process: train runs from tasks until None, sending every
    event to events."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):          # blocked by the parent until now
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    splits = read_splits(data_files)

    def send(*event):
        events.put(event)
    for run in iter(tasks.get, None):
        try:
            train_one(run, train, splits, settings, send)
        except Exception as error:           # reported, so that the parent does not wait forever
            send(run, "failed", f"{type(error).__name__}: {error}")
            return


def write_splits(splits, directory):
    """Save {name: (X, y)} as .npy files in directory; returns their paths."""
    paths = {}
    for name, arrays in splits.items():
        paths[name] = [os.path.join(directory, f"{name}_{i}.npy") for i in range(len(arrays))]
        for path, array in zip(paths[name], arrays):
            np.save(path, array)
    return paths


def read_splits(paths):
    """Map the files of write_splits read-only: no copy is made."""
    return {name: tuple(np.asarray(np.load(path, mmap_mode="r")) for path in files)
            for name, files in paths.items()}


@contextlib.contextmanager
def environment(variables):
    """Within `with environment({name: value})`, os.environ has those
    variables, which processes started inside inherit; then as before."""
    previous = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                del os.environ[name]
            else:
                os.environ[name] = value


@contextlib.contextmanager
def signals_blocked(*signals):
    """Within `with signals_blocked(SIGINT, ...)`, this thread does not take
    those signals, and processes started inside begin with them blocked."""
    if not hasattr(signal, "pthread_sigmask"):     # Windows: no signal masks
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, signals)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
