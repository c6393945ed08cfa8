"""Train many runs, one after another or side by side in worker processes.

main.py says what one run is; this module only schedules runs. With jobs = 1
they are trained here, in this process, in order. With jobs > 1, that many
worker processes train them, each taking the next run when it is done:
- The data is written to .npy files that every worker maps read-only; once
  the workers have mapped them, the files are deleted. Memory holds one
  copy, however many workers there are. If main.py is killed (kill -9)
  before they are deleted, its workers delete them as they exit; if it is
  killed before any worker started, the next main.py that starts workers
  deletes them (their directory's name holds main.py's process id).
- Each worker's BLAS gets cores // jobs threads, so that the workers do not
  fight over the cores.
- Workers only compute. Everything they have to say (an epoch's record, a
  run's result, its divergence) comes back through a pipe to this process,
  which alone prints and saves: a worker stopped at any moment leaves no
  half-written file and no half-printed line.
- A worker that dies (killed, out of memory) is noticed at once: its run is
  reported lost, and a new worker takes over the runs still to do.
- Workers ignore Ctrl-C and SIGHUP, which a terminal sends to every process
  of the job: this process stops them all and waits for them to end. A
  worker whose parent dies, even by kill -9, exits at once.
"""
import collections
import contextlib
import multiprocessing
import multiprocessing.connection
from multiprocessing import resource_tracker
import os
import re
import shutil
import signal
import stat
import tempfile
import threading

import numpy as np

from lab import results
from network import Diverged

Run = collections.namedtuple("Run", "kind seed lr init_scale")
BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
# What a terminal sends to every process of the job; the workers leave them to us.
JOB_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGHUP") if hasattr(signal, name))


class SweepError(Exception):
    """The worker processes could not be given their data or started."""


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
    on_event(run, event, payload) is called in this process, for each run:
    ("epoch", record) for each epoch, then one of ("done", result),
    ("diverged", the Diverged error) or ("lost", why: its worker died, or
    it ran out of memory). Runs that go side by side interleave their
    events; each run's own events stay in order.
    """
    if jobs == 1:
        for run in runs:
            train_one(run, train, splits, settings, on_event)
    else:
        Workers(train, splits, settings, jobs).execute(runs, on_event)


def train_one(run, train, splits, settings, send):
    """Train one run, telling send(run, event, payload) what happens.
    NumPy's warnings about overflows are silenced: a loss that is not
    finite is reported as the run's divergence (report.py)."""
    try:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            result = train(run, splits, settings, lambda record: send(run, "epoch", record))
    except Diverged as error:
        send(run, "diverged", error)
    except MemoryError:
        send(run, "lost", "it ran out of memory (MemoryError)")
    else:
        send(run, "done", result)


class Workers:
    """Up to `jobs` worker processes, each with a pipe to this one."""

    def __init__(self, train, splits, settings, jobs):
        self.train, self.splits, self.settings, self.jobs = train, splits, settings, jobs
        self.context = multiprocessing.get_context("spawn")   # fresh: no inherited threads
        self.threads = str(max(1, available_cores() // jobs))
        self.idle, self.busy = [], {}          # busy: {worker: the run it trains}

    def execute(self, runs, on_event):
        pending = collections.deque(runs)
        try:
            while pending or self.busy:
                wanted = min(self.jobs, len(pending) + len(self.busy))
                if len(self.idle) + len(self.busy) < wanted:
                    self.start(wanted - len(self.idle) - len(self.busy))
                while self.idle and pending:
                    self.give(self.idle.pop(), pending)
                self.listen(on_event)
        finally:
            with results.signals_deferred(*JOB_SIGNALS, signal.SIGTERM):
                self.stop()

    def give(self, worker, pending):
        run = pending.popleft()
        try:
            worker.connection.send(run)
        except OSError:                        # it died while idle: another takes the run
            pending.appendleft(run)
            worker.process.join()
        else:
            self.busy[worker] = run

    def listen(self, on_event):
        """Wait until a busy worker says something or dies; pass it on."""
        connections = {worker.connection: worker for worker in self.busy}
        sentinels = {worker.sentinel: worker for worker in self.busy}
        for ready in multiprocessing.connection.wait([*connections, *sentinels]):
            worker = connections.get(ready) or sentinels[ready]
            if worker not in self.busy:        # both its pipe and its sentinel were ready
                continue
            try:
                while worker.connection.poll():
                    event, run, payload = worker.connection.recv()
                    on_event(run, event, payload)
                    if event != "epoch":
                        del self.busy[worker]
                        self.idle.append(worker)
                        break
            except (EOFError, OSError):        # its end of the pipe closed: it died
                pass
            if worker in self.busy and not worker.process.is_alive():
                worker.process.join()
                on_event(self.busy.pop(worker), "lost", death(worker.process.exitcode))

    def start(self, count):
        """Start count workers and wait until each has mapped the data,
        which is then deleted from the disk."""
        with temporary_directory(prefix="mnist-numpy-") as directory:
            files = share(self.splits, directory)
            # multiprocessing's resource tracker, started by the first worker
            # otherwise, unblocks SIGINT and SIGTERM once it has started: it
            # is started first, so that they stay blocked below. (Windows
            # has neither signal masks nor the tracker.)
            if hasattr(signal, "pthread_sigmask"):
                resource_tracker.ensure_running()
            # Held back until each worker has set Ctrl-C and SIGHUP to be
            # ignored: the mask is inherited, so an early one cannot hit it.
            with signals_blocked(*JOB_SIGNALS), \
                    environment(dict.fromkeys(BLAS_THREAD_VARIABLES, self.threads)):
                started = []
                for _ in range(count):
                    started.append(Worker(self.context, (self.train, files, self.settings)))
                    self.idle.append(started[-1])          # so that stop() ends it, whatever comes
            for worker in started:
                worker.wait_ready()

    def stop(self):
        """Tell idle workers to end, stop busy ones, and wait for all."""
        for worker in self.idle:
            with contextlib.suppress(OSError):
                worker.connection.send(None)
        for worker in self.busy:
            worker.process.terminate()
        for worker in [*self.idle, *self.busy]:
            worker.process.join(timeout=10)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()
        self.idle, self.busy = [], {}


class Worker:
    """A worker process, running work(*args, its end of the pipe), and this
    process's end of the pipe, `connection`."""

    def __init__(self, context, args):
        self.connection, child = context.Pipe()
        self.process = context.Process(target=work, args=(*args, child), daemon=True)
        self.process.start()
        child.close()           # the worker has its own copy: once it dies, recv() ends
        self.sentinel = self.process.sentinel

    def wait_ready(self):
        """Wait for the worker's "ready"; SweepError if it died first."""
        multiprocessing.connection.wait([self.connection, self.sentinel])
        try:
            if self.connection.poll() and self.connection.recv() == "ready":
                return
        except (EOFError, OSError):
            pass
        self.process.join()
        raise SweepError(f"a worker process could not start ({death(self.process.exitcode)})")


def death(exitcode):
    """How a worker process ended, from its exit code, in words."""
    if exitcode is not None and exitcode < 0:
        try:
            name = f" ({signal.Signals(-exitcode).name})"
        except ValueError:
            name = ""
        return f"its worker process was killed by signal {-exitcode}{name}"
    return f"its worker process exited with status {exitcode}"


def work(train, data_files, settings, connection):
    """A worker process: map the data, say "ready", then train each run it
    is sent until it is sent None, sending every event back."""
    for number in JOB_SIGNALS:
        signal.signal(number, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):          # blocked by the parent until now
        signal.pthread_sigmask(signal.SIG_UNBLOCK, JOB_SIGNALS)
    shared = os.path.dirname(next(iter(data_files.values()))[0])
    exit_with_parent(shared)
    try:
        splits = map_shared(data_files)
        connection.send("ready")
    except (OSError, ValueError):
        # The parent stopped first: it removed the data (gone, or cut short
        # while mapped), or it is gone itself (a broken pipe), and then the
        # data is ours to remove, as exit_with_parent would. Nothing to say.
        if not multiprocessing.parent_process().is_alive():
            shutil.rmtree(shared, ignore_errors=True)
        os._exit(1)

    def send(run, event, payload):
        connection.send((event, run, payload))
    try:
        for run in iter(connection.recv, None):
            try:
                train_one(run, train, splits, settings, send)
            except Exception as error:       # reported, and the next run is taken
                send(run, "lost", f"it failed in its worker ({type(error).__name__}: {error})")
    except (EOFError, OSError):              # the parent is gone
        pass


def exit_with_parent(shared):
    """End this process as soon as the process that started it ends; remove
    the shared data's directory first, in case the parent was killed
    (kill -9) before it could."""
    parent = multiprocessing.parent_process()

    def watch():
        multiprocessing.connection.wait([parent.sentinel])
        shutil.rmtree(shared, ignore_errors=True)
        os._exit(1)
    threading.Thread(target=watch, daemon=True).start()


def share(splits, directory):
    """Save {name: (X, y)} as .npy files in directory; returns their paths.
    A full file system is said in words that name the directory."""
    paths = {}
    try:
        for name, arrays in splits.items():
            paths[name] = [os.path.join(directory, f"{name}_{i}.npy") for i in range(len(arrays))]
            for path, array in zip(paths[name], arrays):
                np.save(path, array)
    except OSError as error:
        size = sum(array.nbytes for arrays in splits.values() for array in arrays)
        # NumPy's own message for a short write names no cause: say it.
        full = shutil.disk_usage(directory).free < size
        reason = error.strerror or ("No space left on device" if full else str(error))
        raise SweepError(
            f"cannot write the data the worker processes share ({size / 1e6:.1f} MB) to "
            f"{directory}/ ({reason}): free space there, point TMPDIR to a larger "
            "file system, or use --jobs 1") from None
    return paths


def map_shared(paths):
    """Map the files of share() read-only: no copy is made."""
    return {name: tuple(np.asarray(np.load(path, mmap_mode="r")) for path in files)
            for name, files in paths.items()}


@contextlib.contextmanager
def temporary_directory(prefix):
    """A new temporary directory, <prefix><this process's id>-XXXXXXXX,
    removed at the end even if a signal comes while it is being removed.
    Those of processes that died without removing theirs (kill -9 before
    any worker started) are removed first (remove_stale)."""
    remove_stale(prefix)
    directory = tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-")
    try:
        yield directory
    finally:
        with results.signals_deferred(*JOB_SIGNALS, signal.SIGTERM):
            shutil.rmtree(directory, ignore_errors=True)


def remove_stale(prefix):
    """Remove the temporary directories <prefix><pid>-XXXXXXXX, of this
    user, whose process `pid` is no longer running."""
    root = tempfile.gettempdir()
    pattern = re.compile(re.escape(prefix) + r"(\d+)-[A-Za-z0-9_]{8}")
    with contextlib.suppress(OSError):
        for entry in os.listdir(root):
            match = pattern.fullmatch(entry)
            path = os.path.join(root, entry)
            if match and not running(int(match[1])) and owned(path):
                shutil.rmtree(path, ignore_errors=True)


def running(pid):
    """True if a process `pid` exists (ours or another user's)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, OverflowError):         # another user's, or no pid at all: left alone
        return True
    return True


def owned(path):
    """True if path is a directory (not a link) of this user."""
    with contextlib.suppress(OSError):
        info = os.lstat(path)
        return stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid()
    return False


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
