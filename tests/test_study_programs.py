"""The faults of the two studies' programs, studies.santurkar.plot and
studies.ioffe_szegedy.plot, each run as a user runs it (in a process of its own, on
made-up runs saved by results.save): bad input, signals, closed or full
standard output and odd figure paths each give one line and an exit status,
no traceback, and lose nothing. Also files.atomic_write's refusal of what
is not a regular file, and evaluate.py's word on the studies' weights.
Needs no network and no MNIST.

    python3 test_study_programs.py
"""
import csv
import glob
import os
import stat
import subprocess
import sys
import tempfile
import unittest

import numpy as np

import plot
from lab import files
from tests import test_results
from tests.test_ioffe_szegedy import save_ioffe_runs
from tests.test_santurkar import save_study_runs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SANTURKAR, IOFFE = "studies.santurkar.plot", "studies.ioffe_szegedy.plot"
RUN = "{}_seed{}_santurkar_lr0.1_epochs2_limit1000"          # save_study_runs's runs' names
# A program run as its __main__ block runs it, with `patch` run first.
PATCHED = """
import os, signal, sys
import plot
from lab import files, results, stopping
{patch}
import {module}
sys.exit(stopping.tool("{module}", {module}.main))
"""
# The figures' writes, each interrupted by a signal once its bytes are
# written (test_results.py's patch); without matplotlib, studies.santurkar.plot's
# figures are a few bytes written as its draw writes them.
SIGNAL_IN_A_FIGURE = test_results.SIGNAL_IN_A_FIGURE + """
import importlib.util
from studies.santurkar import plot as santurkar_plot
if importlib.util.find_spec("matplotlib") is None:
    santurkar_plot.draw = lambda studies, directory: [files.atomic_write(
        os.path.join(directory, "santurkar_accuracy.png"), lambda file: file.write(b"png"))]
"""
# The first history read is interrupted by a signal.
SIGNAL_WHILE_READING = """
read_rows = results.read_rows
def read_rows_then_signal(path):
    os.kill(os.getpid(), signal.{name})
    return read_rows(path)
results.read_rows = read_rows_then_signal
"""
SIGNALS = (("SIGINT", 130, "interrupted"), ("SIGTERM", 143, "terminated (SIGTERM)"),
           ("SIGHUP", 129, "hung up (SIGHUP)"))
needs_matplotlib = unittest.skipUnless(plot.available(), "matplotlib is not installed")


def run(program, *argv, patch=None, stdout=subprocess.PIPE):
    """(exit status, standard output, standard error) of `python3 program
    argv` (with patch run first, if given), in a process of its own."""
    command = ([sys.executable, "-c", PATCHED.format(patch=patch, module=program)]
               if patch else [sys.executable, program] if program.endswith(".py")
               else [sys.executable, "-m", program])
    process = subprocess.run([*command, *argv], stdout=stdout, stderr=subprocess.PIPE,
                             text=True, cwd=ROOT, timeout=300)
    return process.returncode, process.stdout, process.stderr


class ProgramCase(unittest.TestCase):
    def setUp(self):
        self.directory = tempfile.mkdtemp()
        self.addCleanup(subprocess.run, ["rm", "-rf", self.directory])

    def path(self, *names):
        return os.path.join(self.directory, *names)

    def assertOneLine(self, err, *words):
        """err is one line, no traceback, that holds each of words."""
        self.assertEqual(err.count("\n"), 1, err)
        self.assertNotIn("Traceback", err)
        for word in words:
            self.assertIn(word, err)

    def assertNoTemporaryFiles(self):
        self.assertEqual(glob.glob(self.path("**", ".*.tmp"), recursive=True), [])

    def assertStandardOutputFaults(self, program):
        """program on the directory "study", its standard output closed
        (program | head, head gone): quiet, status 0; full (> /dev/full):
        one line, status 2."""
        status, _, err = run(program, self.path("study"), stdout=self.closed_pipe())
        self.assertEqual((status, err), (0, ""))
        if os.path.exists("/dev/full"):
            with open("/dev/full", "w") as full:
                status, _, err = run(program, self.path("study"), stdout=full)
            self.assertEqual((status, err), (2, f"{program}: error: cannot write standard "
                                                "output (No space left on device)\n"))

    def closed_pipe(self):
        """A pipe's write end whose read end is closed (program | head, head gone)."""
        read, write = os.pipe()
        os.close(read)
        self.addCleanup(os.close, write)
        return write


class AtomicWriteTargets(unittest.TestCase):
    """What atomic_write does with a path that is not a regular file."""

    def setUp(self):
        self.directory = tempfile.mkdtemp()
        self.addCleanup(subprocess.run, ["rm", "-rf", self.directory])

    def path(self, name):
        return os.path.join(self.directory, name)

    def assertRefused(self, path, said="it exists and is not a regular file"):
        with self.assertRaises(files.NotAFileToReplace) as refused:
            files.atomic_write(path, lambda file: file.write(b"png"))
        self.assertIn(said, refused.exception.strerror)
        self.assertEqual(sorted(os.listdir(self.directory)), sorted(self.before))

    def test_a_fifo_and_a_directory_are_refused_and_left_as_they_are(self):
        os.mkfifo(self.path("fifo"))
        os.mkdir(self.path("folder"))
        self.before = os.listdir(self.directory)
        self.assertRefused(self.path("fifo"))
        self.assertTrue(stat.S_ISFIFO(os.lstat(self.path("fifo")).st_mode))
        self.assertRefused(self.path("folder"), "Is a directory")
        self.assertTrue(os.path.isdir(self.path("folder")))

    def test_a_character_device_is_refused(self):
        try:
            os.mknod(self.path("null"), stat.S_IFCHR | 0o666, os.makedev(1, 3))
        except (PermissionError, AttributeError, OSError):
            self.skipTest("cannot make a device here")
        self.before = os.listdir(self.directory)
        self.assertRefused(self.path("null"))
        self.assertTrue(stat.S_ISCHR(os.lstat(self.path("null")).st_mode))

    def test_a_symbolic_link_is_replaced_and_its_target_left_as_it_was(self):
        with open(self.path("figure.png"), "wb") as file:
            file.write(b"old")
        for target in ("figure.png", "new.png"):            # a link, and a dangling one
            os.symlink(target, self.path("link.png"))
            files.atomic_write(self.path("link.png"), lambda file: file.write(b"new"))
            self.assertFalse(os.path.islink(self.path("link.png")))
            with open(self.path("link.png"), "rb") as file:
                self.assertEqual(file.read(), b"new")
            with open(self.path("figure.png"), "rb") as file:
                self.assertEqual(file.read(), b"old")
            self.assertEqual(sorted(os.listdir(self.directory)), ["figure.png", "link.png"])
            os.remove(self.path("link.png"))


class SanturkarPlot(ProgramCase):
    def setUp(self):
        super().setUp()
        save_study_runs(self.path("study"))

    def test_the_tables_of_saved_runs(self):
        status, out, err = run(SANTURKAR, self.path("study"))
        self.assertEqual((status, err), (0, ""))
        self.assertIn("bn / plain: ratio per seed 0.1, 0.1, 0.1", out)

    def test_signals_end_it_in_one_line_and_leave_the_earlier_figure(self):
        with open(self.path("study", "santurkar_accuracy.png"), "wb") as file:
            file.write(b"earlier")
        for name, expected, how in SIGNALS:
            for patch in (SIGNAL_WHILE_READING, SIGNAL_IN_A_FIGURE):
                status, _, err = run(SANTURKAR, self.path("study"), patch=patch.format(name=name))
                self.assertEqual((status, err), (expected, f"studies.santurkar.plot: {how}\n"))
                self.assertNoTemporaryFiles()
                with open(self.path("study", "santurkar_accuracy.png"), "rb") as file:
                    self.assertEqual(file.read(), b"earlier")

    def test_a_closed_or_full_standard_output(self):
        self.assertStandardOutputFaults(SANTURKAR)

    def test_figures_in_a_missing_directory_or_a_file_are_refused_before_any_work(self):
        for figures, said in (("missing", "no such directory"),
                              (os.path.join("study", "summary.csv"), "it is not a directory")):
            status, out, err = run(SANTURKAR, self.path("study"), "--figures", self.path(figures))
            self.assertEqual((status, out), (2, ""))
            self.assertOneLine(err, said)

    def test_an_abbreviation_or_a_data_dir_that_does_not_exist_is_refused_in_one_line(self):
        for argv, said in (
                (["--figure", self.path("study")], "unrecognized arguments: --figure"),
                (["--figures", self.path("study"), "--figures", self.path("study")],
                 "--figures is given twice: give it once"),
                (["--data-dir", self.path("typo")], f"--data-dir {self.path('typo')} does not "
                                                    "exist: create it, or name the directory "
                                                    "that holds MNIST (see --help)")):
            status, out, err = run(SANTURKAR, self.path("study"), *argv)
            self.assertEqual((status, out), (2, ""), argv)
            self.assertOneLine(err, f"{SANTURKAR}: error: {said}")
        self.assertFalse(os.path.exists(self.path("typo")))

    def test_a_directory_given_twice_is_refused(self):
        status, out, err = run(SANTURKAR, self.path("study"), self.path("study") + "/")
        self.assertEqual((status, out), (2, ""))
        self.assertOneLine(err, "is given twice")

    def test_a_directory_of_the_other_study_is_said_to_hold_no_runs_of_this_one(self):
        save_ioffe_runs(self.path("ioffe"), epochs=2)
        status, out, err = run(SANTURKAR, self.path("ioffe"))
        self.assertEqual((status, out), (2, ""))
        self.assertOneLine(err, "holds no runs of python3 -m studies.santurkar")

    def test_every_run_diverged(self):
        save_study_runs(self.path("diverged"), status="diverged", test_accuracy=None,
                        diverged_epoch=1)
        status, out, err = run(SANTURKAR, self.path("diverged"))
        self.assertEqual((status, out), (2, ""))
        self.assertOneLine(err, "every run of", "diverged", "a lower --lr")

    def test_runs_of_other_settings_are_left_out_and_said(self):
        # The same seeds with other epochs (and bn's seed 0 at another batch
        # size): kept apart, the tables show the setting with the most runs.
        save_study_runs(self.path("study"), seeds=range(2), epochs=3, test_accuracy=0.5)
        save_study_runs(self.path("study"), networks=["bn"], seeds=[0], batch_size=64,
                        test_accuracy=0.1)
        status, out, err = run(SANTURKAR, self.path("study"))
        self.assertEqual(status, 0, err)
        self.assertOneLine(err, "the 6 runs of santurkar, lr 0.1, epochs 2, limit 1000",
                           "not the other 5")
        self.assertIn("  bn" + " " * 48 + "3  0.9100  0.0100  0.9000  0.9200", out)
        self.assertNotIn("0.5000", out)

    def test_a_run_whose_numbers_are_not_numbers_is_left_out_with_a_warning(self):
        run_csv = self.path("study", RUN.format("bn", 0), "run.csv")
        with open(run_csv) as file:
            text = file.read()
        with open(run_csv, "w") as file:
            file.write(text.replace(",finished,0.9,", ",finished,nan,"))
        history = self.path("study", RUN.format("plain", 1), "history.csv")
        with open(history) as file:
            lines = file.read().splitlines()
        lines[-1] = ",".join(["2", "nan", *lines[-1].split(",")[2:]])
        with open(history, "w") as file:
            file.write("\n".join(lines) + "\n")
        status, out, err = run(SANTURKAR, self.path("study"))
        self.assertEqual(status, 0, err)
        self.assertNotIn("Traceback", err)
        self.assertEqual(err.count("is left out"), 2, err)
        self.assertIn("  bn" + " " * 48 + "2", out)

    def test_damaged_probes_are_said_in_one_line_naming_the_file(self):
        probes = self.path("study", RUN.format("bn", 1), "probes.csv")
        with open(probes) as file:
            header, *rows = file.read().splitlines()
        column = header.split(",").index("ics2")
        for text, said in (
                ("\n".join(",".join(value for i, value in enumerate(line.split(","))
                                    if i != column) for line in [header, *rows]),
                 "probes.csv has no column ics2"),
                (header + "\n", "probes.csv holds a header and no probes"),
                ("\n".join([header, "abc" + rows[0][1:], *rows[1:]]),
                 "probes.csv: line 2: step is 'abc', not a number")):
            with open(probes, "w") as file:
                file.write(text)
            status, out, err = run(SANTURKAR, self.path("study"))
            self.assertEqual((status, out), (2, ""))
            self.assertOneLine(err, said, RUN.format("bn", 1), "train the run again")

    def test_a_run_without_its_run_csv_is_said_to_be_left_out(self):
        os.remove(self.path("study", RUN.format("bn", 0), "run.csv"))
        with open(self.path("study", RUN.format("plain", 0), "run.csv"), "w") as file:
            file.write("damaged\n")
        status, out, err = run(SANTURKAR, self.path("study"))
        self.assertEqual(status, 0, err)
        lines = err.splitlines()
        self.assertEqual(len(lines), 2, err)
        self.assertIn(f"{RUN.format('bn', 0)} is left out of the tables and figures: it has no run.csv",
                      lines[0])
        self.assertIn(f"{RUN.format('plain', 0)} is left out of the tables and figures: its run.csv cannot "
                      "be read", lines[1])
        self.assertNotIn("summary.csv", err)

    def test_runs_too_short_for_a_measure_show_a_dash_without_warnings(self):
        save_study_runs(self.path("short"), steps=2, epochs=1)     # one probe each
        status, out, err = run(SANTURKAR, self.path("short"))
        self.assertEqual((status, err), (0, ""))
        self.assertIn("  unit 0's median into ReLU 2, moved per probe\n    bn           -  -  -",
                      out)
        self.assertNotIn("nan", out)

    def test_probes_that_are_no_positive_numbers_leave_their_panels_empty_in_one_line(self):
        # The loss landscape's probes all inf, NaN or 0: the tables compare
        # none of them, the figures (with matplotlib) leave their panels
        # empty, and say so.
        for value in ("inf", "nan", "0"):
            for path in glob.glob(self.path("study", "*", "probes.csv")):
                with open(path, newline="") as file:
                    rows = list(csv.DictReader(file))
                for row in rows:
                    row.update(dict.fromkeys(("loss_min", "loss_max", "change_min",
                                              "change_max", "beta"), value))
                with open(path, "w", newline="") as file:
                    writer = csv.DictWriter(file, list(rows[0]))
                    writer.writeheader()
                    writer.writerows(rows)
            status, out, err = run(SANTURKAR, self.path("study"))
            self.assertEqual(status, 0, err)
            self.assertIn("  effective beta-smoothness, largest\n", out)
            self.assertIn("bn / plain: not compared: a value is 0 or missing", out)
            if plot.available():
                self.assertOneLine(err, "studies.santurkar.plot: warning: no positive value to draw in 3 "
                                        "panels, left empty",
                                   "lr 0.1: effective beta-smoothness")
            else:
                self.assertEqual(err, "")

    @needs_matplotlib
    def test_a_figure_that_cannot_be_drawn_is_one_line(self):
        patch = """
from studies.santurkar import plot as santurkar_plot
def ics_figure(pyplot, studies, empty):
    raise ValueError("Data cannot be log-scaled because all values are <= 0.")
santurkar_plot.ics_figure = ics_figure
"""
        status, out, err = run(SANTURKAR, self.path("study"), patch=patch)
        self.assertEqual(status, 2, err)
        self.assertEqual(err, f"studies.santurkar.plot: error: cannot draw "
                              f"{self.path('study', 'santurkar_ics.png')} (ValueError: Data "
                              "cannot be log-scaled because all values are <= 0.)\n")
        self.assertTrue(os.path.exists(self.path("study", "santurkar_accuracy.png")))
        self.assertNoTemporaryFiles()

    @needs_matplotlib
    def test_figures_are_drawn_whole_into_the_first_directory(self):
        status, out, err = run(SANTURKAR, self.path("study"))
        self.assertEqual((status, err), (0, ""))
        for name in ("accuracy", "ics", "landscape"):
            with open(self.path("study", f"santurkar_{name}.png"), "rb") as file:
                self.assertEqual(file.read(8), b"\x89PNG\r\n\x1a\n")
        self.assertNoTemporaryFiles()


class IoffeSzegedy(ProgramCase):
    def setUp(self):
        super().setUp()
        save_ioffe_runs(self.path("study"), epochs=2)

    def test_a_closed_or_full_standard_output(self):
        self.assertStandardOutputFaults(IOFFE)

    def test_signals_end_it_in_one_line(self):
        for name, expected, how in SIGNALS:
            status, _, err = run(IOFFE, self.path("study"),
                                 patch=SIGNAL_WHILE_READING.format(name=name))
            self.assertEqual((status, err), (expected, f"studies.ioffe_szegedy.plot: {how}\n"))

    @needs_matplotlib
    def test_a_signal_in_the_figures_write_leaves_no_temporary_file(self):
        for name, expected, how in SIGNALS:
            status, _, err = run(IOFFE, self.path("study"),
                                 patch=SIGNAL_IN_A_FIGURE.format(name=name))
            self.assertEqual((status, err), (expected, f"studies.ioffe_szegedy.plot: {how}\n"))
            self.assertNoTemporaryFiles()
            self.assertFalse(os.path.exists(self.path("study", "ioffe_szegedy_figure1.png")))

    @needs_matplotlib
    def test_the_figure_goes_into_the_results_directory_by_default(self):
        status, out, err = run(IOFFE, self.path("study"))
        self.assertEqual((status, err), (0, ""))
        self.assertTrue(out.endswith(f"Figure: {self.path('study', 'ioffe_szegedy_figure1.png')}"
                                     "\n"), out)
        self.assertGreater(os.path.getsize(self.path("study", "ioffe_szegedy_figure1.png")), 1000)

    @needs_matplotlib
    def test_a_fifo_given_as_the_figure_is_left_as_it_is(self):
        os.mkfifo(self.path("figure.png"))
        status, _, err = run(IOFFE, self.path("study"), "--figure", self.path("figure.png"))
        self.assertEqual(status, 2)
        self.assertOneLine(err, "cannot write", "not a regular file")
        self.assertTrue(stat.S_ISFIFO(os.lstat(self.path("figure.png")).st_mode))

    def test_a_figure_in_a_missing_directory_is_refused_before_the_tables(self):
        status, out, err = run(IOFFE, self.path("study"), "--figure",
                               self.path("missing", "figure.png"),
                               patch="plot.available = lambda: True")
        self.assertEqual((status, out), (2, ""))
        self.assertOneLine(err, "is not a directory")

    def test_usage_errors_are_one_line(self):
        for argv, said in (([], "the following arguments are required: results_dir"),
                           ([self.path("study"), "--lr", "x"], "argument --lr: invalid float "
                                                              "value: 'x'"),
                           ([self.path("study"), "--fig", "x.png"], "unrecognized arguments: "
                                                                   "--fig x.png")):
            status, out, err = run(IOFFE, *argv)
            self.assertEqual((status, out, err), (2, "", f"{IOFFE}: error: {said} (see "
                                                         "--help)\n"))

    def test_a_history_without_the_probe_is_said_in_one_line(self):
        history = self.path("study", "sigmoid_seed1_ioffe-szegedy", "history.csv")
        with open(history) as file:
            lines = file.read().splitlines()
        with open(history, "w") as file:
            file.write("\n".join(",".join(line.split(",")[:5]) for line in lines) + "\n")
        status, out, err = run(IOFFE, self.path("study"))
        self.assertEqual((status, out), (2, ""))
        self.assertOneLine(err, "sigmoid_seed1_ioffe-szegedy", "history.csv has no column train_p15")


class EvaluateOnAStudysWeights(ProgramCase):
    def test_it_says_which_study_and_which_program(self):
        from studies import ioffe_szegedy, santurkar
        for kind, study, program in (("bn-noisy", santurkar, SANTURKAR),
                                     ("sigmoid", ioffe_szegedy, IOFFE)):
            weights = self.path(f"{kind}.npz")
            files.save_weights(study.build_network(kind, np.random.default_rng(0)), weights)
            status, out, err = run("evaluate.py", weights, "--data-dir", self.path())
            self.assertEqual((status, out), (2, ""))
            self.assertOneLine(err, f"holds the weights of {kind}, a network of "
                                    f"{study.__name__}", "evaluates the original networks only",
                               f"python3 -m {program}")


if __name__ == "__main__":
    unittest.main()
