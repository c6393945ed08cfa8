"""lab/agreement.py: NumPy's and PyTorch's test accuracies side by side,
from saved runs paired by name (network, seed and settings). No PyTorch
needed: the runs are made up."""
import contextlib
import io
import os
import shutil
import tempfile
import unittest

from lab import agreement, results


class Agreement(unittest.TestCase):
    def setUp(self):
        self.directory = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.directory)

    def save(self, where, network, accuracies, epochs=50):
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
                results.save(directory, record, ["epoch"], [{"epoch": 0}])
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


if __name__ == "__main__":
    unittest.main()
