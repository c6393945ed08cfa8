"""How main.py stops: Ctrl-C, SIGTERM and SIGHUP each end it at once, with
the exit status a shell expects (130, 143, 129), after it has said what was
saved and what was not.

    with stopping.signals_stop_main():     # the handlers, for main.py's run
        ...                                # raises KeyboardInterrupt or Stopped
"""
import contextlib
import signal

import results


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
    for each in results.STOP_SIGNALS:
        signal.signal(each, signal.SIG_IGN)
    if number == signal.SIGINT:
        raise KeyboardInterrupt
    raise Stopped(number)


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
                for number in results.STOP_SIGNALS}
    try:
        yield
    finally:
        if all(signal.getsignal(number) == stop_on_first_signal for number in previous):
            for number, handler in previous.items():
                signal.signal(number, handler)
