"""Running the gradient lesson, `python3 test.py`: its checks (or, with
--exercises, the tutorial's exercise checks), then what each compared, in
reading order, and one closing line `N passed, N failed`.
"""
import io
import os
import sys
import unittest

import test as gradient_lesson
from lab import exercises

USAGE = "usage: python3 test.py [--exercises]"


def run(argv):
    """Run the lesson (or, with --exercises, the exercise checks), print what
    each check compared, and end with one line `N passed, N failed`;
    returns the exit status."""
    if "-h" in argv or "--help" in argv:
        print(f"{USAGE}\n\n{gradient_lesson.__doc__}")
        return 0
    unknown = [arg for arg in argv if arg != "--exercises"]
    if unknown:
        print(f"test.py: error: unknown argument {unknown[0]!r} ({USAGE})", file=sys.stderr)
        return 2
    output = io.StringIO()
    result = unittest.TextTestRunner(stream=output, verbosity=0).run(
        gradient_lesson.in_reading_order([exercises.Exercises] if argv else gradient_lesson.LESSON))
    if gradient_lesson.REPORT:
        print("What each check compared: its worst error, and the tolerance it must stay "
              "below\n(or, shown where a check must fail, exceed):")
    for line in gradient_lesson.REPORT:
        print("  " + line)
    failed = {getattr(test, "test_case", test).id()          # a subTest counts for its test
              for test, _ in result.failures + result.errors}
    failed |= {test.id() for test in result.unexpectedSuccesses}
    if failed:
        # unittest's account of each failure, without its own count at the
        # end, which counts each failing batch size (a subTest) apart.
        print(output.getvalue().rsplit("\n" + "-" * 70 + "\n", 1)[0])
    for test, reason in result.skipped:
        print(f"skipped: {test.id().split('.', 1)[1]}: {reason}")
    skipped = f", {len(result.skipped)} skipped" if result.skipped else ""
    print(f"{result.testsRun - len(failed) - len(result.skipped)} passed, {len(failed)} failed"
          + skipped)
    return 0 if not failed else 1


def main(argv):
    """run(argv), its report written to standard output; a report that
    cannot be written (python3 test.py > /dev/full, a closed pipe) is one
    line on standard error. Returns the exit status."""
    try:
        status = run(argv)
        sys.stdout.flush()
    except OSError as error:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        print(f"test.py: error: cannot write the report ({error.strerror or error})",
              file=sys.stderr)
        status = 1
    return status
