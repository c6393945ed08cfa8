"""How the programs stop: Ctrl-C, SIGTERM and SIGHUP each end main.py,
plot.py, evaluate.py and the studies' programs at once, with
the exit status a shell expects (130, 143, 129), after main.py has said
what was saved and what was not, and after any temporary file is removed.
Once a program has ended, they are ignored while its interpreter shuts down.

    with stopping.signals_stop_main():     # the handlers, for main.py's run
        ...                                # raises KeyboardInterrupt or Stopped
    sys.exit(stopping.exit_status(main))   # main.py's end: later ones are ignored

    sys.exit(stopping.tool("plot.py", main))   # the same for a smaller tool
"""
import contextlib
import os
import signal
import sys

# The signals that ask a program to stop: Ctrl-C, kill, a closed terminal.
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP")
                     if hasattr(signal, name))


class Stopped(BaseException):
    """SIGTERM or SIGHUP arrived: main.py stops as it does for Ctrl-C."""

    def __init__(self, number):
        super().__init__(number)
        self.number = number


HOW_STOPPED = {signal.SIGINT: ("interrupted", 130)}
HOW_STOPPED.update({getattr(signal, name): (f"{how} ({name})", 128 + getattr(signal, name))
                    for name, how in (("SIGTERM", "terminated"), ("SIGHUP", "hung up"))
                    if hasattr(signal, name)})


def stop_on_first_signal(number, frame):
    """The handler of Ctrl-C, SIGTERM and SIGHUP while main.py runs. The
    first stops it; later ones are ignored, so that a second Ctrl-C cannot
    interrupt the stopping itself (ending workers, removing their data)."""
    for each in STOP_SIGNALS:
        signal.signal(each, signal.SIG_IGN)
    if number == signal.SIGINT:
        raise KeyboardInterrupt
    raise Stopped(number)


def quiet_ctrl_c(name):
    """For a program's first lines, before its slow imports (NumPy's take a
    third of a second): Ctrl-C ends it with one line and Ctrl-C's status,
    not a traceback, until signals_stop_main or tool takes over. (This
    module imports nothing but the standard library, for this.)"""
    signal.signal(signal.SIGINT, lambda number, frame: (
        print(f"{name}: interrupted", file=sys.stderr), os._exit(130)))


def how_stopped(stop):
    """(words, exit status) for a KeyboardInterrupt or Stopped."""
    return HOW_STOPPED[stop.number if isinstance(stop, Stopped) else signal.SIGINT]


STOPS = (KeyboardInterrupt, Stopped)


@contextlib.contextmanager
def signals_stop_main():
    """Within the block, the first of Ctrl-C, SIGTERM and SIGHUP raises
    KeyboardInterrupt or Stopped; the handlers before it come back after
    it, unless a signal came: then the others stay ignored until the
    process ends, so that a late one cannot change the exit status the
    user was told of."""
    previous = {number: signal.signal(number, stop_on_first_signal)
                for number in STOP_SIGNALS}
    try:
        yield
    finally:
        if all(signal.getsignal(number) == stop_on_first_signal for number in previous):
            for number, handler in previous.items():
                signal.signal(number, handler)


def exit_status(main):
    """Run main() (a program's; it returns the exit status) and return its
    exit status; from then on, however main ended (a usage error's
    SystemExit too), Ctrl-C, SIGTERM and SIGHUP are ignored. The program
    has done its work and said so, and only the interpreter's shutdown is
    left, during which Python puts back each signal's default action: a
    Ctrl-C would end the process with no word, status -2, nothing lost."""
    try:
        return main()
    finally:
        for number in STOP_SIGNALS:
            signal.signal(number, signal.SIG_IGN)


def tool(name, main):
    """Run main() (a command-line tool's; it returns the exit status) and
    return its exit status. Ctrl-C, SIGTERM and SIGHUP end it with one line
    on standard error and their status, once its `finally` blocks have run
    (a figure's temporary file is removed); once it has ended, they are
    ignored (exit_status). A closed standard output (tool | head) ends it
    quietly; one that cannot be written (> /dev/full), with one line and
    status 2. Never a traceback for either."""
    return exit_status(lambda: stopped_in_one_line(name, main))


def stopped_in_one_line(name, main):
    """tool(name, main), but for the signals after it."""
    stdout, sys.stdout = sys.stdout, Output(sys.stdout)
    try:
        with signals_stop_main():
            status = main()
            sys.stdout.flush()
    except STOPS as stop:
        how, status = how_stopped(stop)
        print(f"{name}: {how}", file=sys.stderr)
    except BrokenPipeError:              # the reader has what it wanted
        status = 0
    except OutputFailed as failed:
        print(f"{name}: error: cannot write standard output ({failed})", file=sys.stderr)
        status = 2
    finally:
        sys.stdout = stdout
    try:
        sys.stdout.flush()
    except OSError:                      # what stays in its buffer is dropped
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return status


class OutputFailed(Exception):
    """Standard output could not be written (a full disk): not an OSError,
    so that no handler of the tool's own file errors takes it for one."""


class Output:
    """sys.stdout, whose write errors, but a closed pipe's, are OutputFailed."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, text):
        return self.guarded(self.stream.write, text)

    def flush(self):
        return self.guarded(self.stream.flush)

    @staticmethod
    def guarded(function, *args):
        try:
            return function(*args)
        except BrokenPipeError:
            raise
        except OSError as error:
            raise OutputFailed(error.strerror or str(error)) from None

    def __getattr__(self, name):
        return getattr(self.stream, name)
