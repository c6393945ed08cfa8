"""lab/agreement.py: NumPy's and PyTorch's test accuracies side by side,
from saved runs paired by name (network, seed and settings). No PyTorch
needed: the runs are made up."""
import contextlib
import io
import os
import shutil
import tempfile
import unittest

import numpy as np

from lab import agreement, results


class Agreement(unittest.TestCase):
    def setUp(self):
        self.directory = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.directory)

    def save(self, where, network, accuracies, epochs=50, weights=None):
        """Runs of network, one per seed, with these test accuracies."""
        directory = os.path.join(self.directory, where)
        os.makedirs(directory, exist_ok=True)
        for seed, accuracy in enumerate(accuracies):
            record = {"run": f"{network}_seed{seed}_epochs{epochs}", "network": network,
                      "seed": seed, "study": "original", "lr": 1e-3, "init_scale": 1.0,
                      "init_scale_layers": "all", "epochs": epochs, "batch_size": 128,
                      "limit": 50000, "dtype": "float32", "data": "mnist",
                      "status": "finished", "test_accuracy": accuracy}
            with results.saving(directory):
                results.save(directory, record, ["epoch"], [{"epoch": 0}], weights)
        return directory

    def run_main(self, *argv):
        printed, said = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(said):
            status = agreement.main(list(argv))
        return status, printed.getvalue(), said.getvalue()

    def test_the_runs_of_the_same_name_side_by_side(self):
        numpy_dir = self.save("numpy", "plain", [0.95, 0.94, 0.96])
        self.save("numpy", "bn", [0.97, 0.96])
        self.save("numpy", "bn", [0.5], epochs=1)               # no PyTorch run of its name
        torch_dir = self.save("torch", "plain", [0.95, 0.9401, 0.9598])
        self.save("torch", "bn", [0.97, 0.96])
        status, printed, _ = self.run_main(numpy_dir, torch_dir)
        self.assertEqual(status, 0)
        self.assertEqual(printed.splitlines()[2:], [
            "| `bn` | 0.9650, 0.0071 (0.9600-0.9700) | 0.9650, 0.0071 (0.9600-0.9700) | "
            "0.0000 to 0.0000; 2 of 2 equal |",
            "| `plain` | 0.9500, 0.0100 (0.9400-0.9600) | 0.9500, 0.0099 (0.9401-0.9598) | "
            "-0.0002 to +0.0001; 1 of 3 equal |"])

    def test_directories_that_share_no_run_are_one_line(self):
        numpy_dir = self.save("numpy", "plain", [0.95])
        torch_dir = self.save("torch", "plain", [0.95], epochs=2)
        status, printed, said = self.run_main(numpy_dir, torch_dir)
        self.assertEqual((status, printed), (2, ""))
        self.assertRegex(said, r"^lab\.agreement: error: .* share no run .*\n$")

    def test_main_pys_runs_are_never_taken_for_pytorchs(self):
        # main.py's runs (saved with weights) and PyTorch's have the same
        # names: a directory of main.py's runs named as PyTorch's would
        # compare NumPy with itself, "all equal".
        numpy_dir = self.save("numpy", "plain", [0.95], weights={"W": np.zeros(2)})
        for argv in ((numpy_dir, numpy_dir), (self.save("torch", "plain", [0.95]), numpy_dir)):
            with self.subTest(argv=argv):
                status, printed, said = self.run_main(*argv)
                self.assertEqual((status, printed), (2, ""))
                self.assertRegex(said, r"^lab\.agreement: error: .*(twice|main\.py's runs)")
                self.assertEqual(len(said.splitlines()), 1)

    def test_the_benchmark_never_saves_pytorchs_runs_among_main_pys(self):
        # Refused before PyTorch or MNIST is needed: its runs would be read
        # as PyTorch's (main.py's accuracies compared with themselves) or
        # replace them.
        from lab import benchmark
        numpy_dir = self.save("numpy", "plain", [0.95], weights={"W": np.zeros(2)})
        other = os.path.join(self.directory, "other")
        os.mkdir(other)
        for argv in (["--results-dir", numpy_dir], [f"--results-dir={numpy_dir}"],
                     ["--numpy-dir", other, "--results-dir", other + "/"]):
            with self.subTest(argv=argv):
                said = io.StringIO()
                with contextlib.redirect_stdout(io.StringIO()), \
                        contextlib.redirect_stderr(said), self.assertRaises(SystemExit) as end:
                    benchmark.main_benchmark(["accuracy", "--net", "plain", "--data-dir",
                                              self.directory, *argv])
                self.assertEqual(end.exception.code, 2)
                self.assertRegex(said.getvalue(), r"^lab\.benchmark: error: --results-dir .*"
                                                  r"directory of their own")
        self.assertEqual(sorted(os.listdir(numpy_dir)), ["plain_seed0_epochs50", "summary.csv"])

    def test_a_numpy_dir_that_does_not_exist_is_one_line(self):
        # Else its runs would be trained, and thrown away, without a word.
        from lab import benchmark
        said = io.StringIO()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(said), \
                self.assertRaises(SystemExit) as end:
            benchmark.main_benchmark(["accuracy", "--numpy-dir", os.path.join(self.directory, "x"),
                                      "--data-dir", self.directory])
        self.assertEqual(end.exception.code, 2)
        self.assertRegex(said.getvalue(), r"^lab\.benchmark: error: --numpy-dir .*: no such "
                                          r"directory: [^\n]*\n$")


if __name__ == "__main__":
    unittest.main()
