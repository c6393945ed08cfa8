"""The results tables the docs hold, on made-up runs: plot.py --table NAME
(Markdown, nothing else printed, nothing written), the same tables in its
usual output, and the claims' verdicts of studies/claims/original.py and
batchnorm.py, which must follow the numbers: made worse, a claim that held
no longer does."""
import contextlib
import io
import os
import shutil
import tempfile
import unittest
from unittest import mock

import main
import plot
from lab import results
from studies import claims
from studies.claims import batchnorm, original
from tests.test_program import markdown_rows

NETWORKS = ("plain", "bn", "bn-after-relu")


def save_run(directory, network, seed, accuracy, lr=0.001, scale=1.0, epochs=3, layers="all",
             reached=(), widening=1.0, diverged=False):
    """Save a made-up run: test accuracy `accuracy`; its validation accuracy
    reaches each of `reached` ({accuracy: epoch}) at that epoch; the second
    ReLU's input, its 15-85 width 1 at epoch 1, grows to `widening` at the
    last epoch, its median moving by widening - 1. A run that diverged did
    so in epoch 1."""
    os.makedirs(directory, exist_ok=True)
    history = []
    for epoch in range(epochs + 1):
        accuracy_then = max([0.5, *(value for value, at in dict(reached).items() if epoch >= at)])
        grown = 1.0 if epoch <= 1 else 1 + (widening - 1) * (epoch - 1) / (epochs - 1)
        history.append({"epoch": epoch, "train_loss": 0.1, "val_loss": 0.1,
                        "val_accuracy": accuracy_then, "seconds": 1.0,
                        **{f"{which}_p{q}": value for which in ("unit", "layer")
                           for q, value in ((15, 0.0), (50, grown - 1), (85, grown))}})
    if diverged:
        history = history[:1]
    record = {"network": network, "seed": seed, "study": "original", "lr": lr,
              "init_scale": scale, "init_scale_layers": layers, "epochs": epochs,
              "batch_size": 128, "limit": 50000, "dtype": "float32", "data": "mnist",
              "status": "diverged" if diverged else "finished",
              "test_accuracy": None if diverged else accuracy,
              results.EPOCHS_TO_TARGET: next((at for value, at in sorted(dict(reached).items())
                                              if value >= results.TARGET_ACCURACY), None),
              "diverged_epoch": 1 if diverged else None}
    record["run"] = results.run_name(network, seed, record, {
        **record, "lr": 0.001, "init_scale": 1.0, "init_scale_layers": "all"})
    with results.saving(directory):
        results.save(directory, record, main.HISTORY_FIELDS, history)


class MadeUpStudy(unittest.TestCase):
    """A results directory laid out as studies/plan.py says: original/,
    lr-sweep/ and scale-hidden/, with made-up runs of 3 seeds."""

    # Test accuracy at lr 1e-3 of each network, seed by seed.
    ORIGINAL = {"plain": [0.945, 0.947, 0.946], "bn": [0.952, 0.953, 0.954],
                "bn-after-relu": [0.953, 0.952, 0.955]}
    # {network: {rate: the mean accuracy}}; plain diverges at 1.
    SWEEP = {"plain": {0.001: 0.946, 0.1: 0.980}, "bn": {0.001: 0.953, 0.1: 0.980, 1: 0.984},
             "bn-after-relu": {0.001: 0.954, 0.1: 0.979, 1: 0.983}}

    def setUp(self):
        self.root = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.root)
        self.save_original()
        for network, rates in self.SWEEP.items():
            for seed in range(3):
                for lr, accuracy in rates.items():
                    # plain is the slower: to 0.94 at lr 1e-3, to 0.98 at the larger rates
                    slower = network == "plain"
                    save_run(self.path("lr-sweep"), network, seed, accuracy + seed / 10000, lr,
                             reached={0.94: 1, 0.98: 1 + slower} if lr > 0.01
                             else {0.94: 2 + slower})
                if network == "plain":
                    save_run(self.path("lr-sweep"), network, seed, 0.9, 1, diverged=True)
                for scale, accuracy in ((0.1, 0.98), (10, 0.85)):
                    save_run(self.path("lr-sweep"), network, seed, accuracy, scale=scale)
        self.save_scales(bn=(0.97, 0.88, 0.57), plain=(0.79, 0.88, 0.82))

    def path(self, *parts):
        return os.path.join(self.root, *parts)

    def save_original(self, accuracies=None, widening=None):
        """original/ anew: accuracies {network: per seed}; widening {network:
        how much the second ReLU's input widens}."""
        shutil.rmtree(self.path("original"), ignore_errors=True)
        widening = widening or {"plain": 1.6, "bn": 1.0, "bn-after-relu": 1.05}
        for network, per_seed in (accuracies or self.ORIGINAL).items():
            for seed, accuracy in enumerate(per_seed):
                save_run(self.path("original"), network, seed, accuracy,
                         reached={0.94: 2}, widening=widening[network])

    def save_scales(self, **means):
        """scale-hidden/ anew: {network: its accuracy at K = 0.1, 1, 10}."""
        shutil.rmtree(self.path("scale-hidden"), ignore_errors=True)
        for network, accuracies in means.items():
            for scale, accuracy in zip((0.1, 1.0, 10.0), accuracies):
                for seed in range(3):
                    save_run(self.path("scale-hidden"), network, seed, accuracy + seed / 10000,
                             scale=scale, layers="hidden")

    def plot(self, *argv):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
                mock.patch.object(plot, "available", return_value=False):
            status = plot.main(list(argv))
        return status, out.getvalue(), err.getvalue()

    def verdicts(self, module):
        """{number of the claim (1, 2, ...): its Measured} of a claims module."""
        return {number: claim.measure(self.root)
                for number, claim in enumerate(module.CLAIMS, 1)}


class PlotTables(MadeUpStudy):
    def listing(self):
        return sorted(os.path.relpath(os.path.join(where, name), self.root)
                      for where, _, names in os.walk(self.root) for name in names)

    def test_each_table_alone_in_markdown_and_nothing_written(self):
        before = self.listing()
        for argv, header in (
                (["original", "--table", "accuracy"],
                 ["network", "seeds", "mean", "std", "min", "max", "epochs to 0.94"]),
                (["lr-sweep", "--table", "rates"],
                 ["network", "largest rate, no seed diverged",
                  "largest rate, every seed reached 0.94", "every seed diverged at (by epoch)",
                  "best rate", "its mean test accuracy"]),
                (["lr-sweep", "--table", "speed"], ["network", "lr", "epochs to 0.94",
                                                    "epochs to 0.98"]),
                (["scale-hidden", "--table", "scale"],
                 ["network", "K = 0.1", "K = 1", "K = 10", "moves by"]),
                (["original", "--table", "drift"],
                 ["network", "epochs", "unit 0: median moved", "width",
                  "all units: median moved", "width"])):
            status, out, err = self.plot(self.path(argv[0]), *argv[1:])
            self.assertEqual((status, err), (0, ""), argv)
            self.assertTrue(all(line.startswith("| ") for line in out.splitlines()), out)
            self.assertEqual(markdown_rows(out)[0], header, argv)
        self.assertEqual(self.listing(), before, "a --table wrote a file (summary.csv?)")

    def test_the_numbers_of_each_table(self):
        rows = markdown_rows(self.plot(self.path("original"), "--table", "accuracy")[1])
        self.assertEqual(rows[2], ["`bn`", "3", "0.9530", "0.0010", "0.9520", "0.9540", "2.0"])
        rows = markdown_rows(self.plot(self.path("lr-sweep"), "--table", "rates")[1])
        self.assertEqual(rows[1:], [["`plain`", "0.1", "0.1", "1 (1)", "0.1", "0.9801"],
                                    ["`bn`", "1", "1", "none", "1", "0.9841"],
                                    ["`bn-after-relu`", "1", "1", "none", "1", "0.9831"]])
        rows = markdown_rows(self.plot(self.path("lr-sweep"), "--table", "speed")[1])
        self.assertIn(["`plain`", "0.001", "3.0 (3/3: 3, 3, 3)", "- (0/3)"], rows)
        self.assertIn(["`plain`", "1", "- (0/3)", "- (0/3)"], rows)
        rows = markdown_rows(self.plot(self.path("scale-hidden"), "--table", "scale")[1])
        self.assertEqual(rows[1:], [["`plain`", "0.7901", "0.8801", "0.8201", "0.09"],
                                    ["`bn`", "0.9701", "0.8801", "0.5701", "0.40"]])
        rows = markdown_rows(self.plot(self.path("original"), "--table", "drift")[1])
        self.assertEqual(rows[1], ["`plain`", "1-3", "0.60", "x1.60", "0.60", "x1.60"])
        rows = markdown_rows(self.plot(self.path("lr-sweep"), "--lr", "0.001", "--table",
                                       "scale")[1])
        self.assertEqual(rows[2][1:4], ["0.9800", "0.9531", "0.8500"])

    def test_a_table_its_runs_do_not_have_is_one_line(self):
        for argv in (["original", "--table", "rates"], ["original", "--table", "speed"],
                     ["original", "--table", "scale"]):
            status, out, err = self.plot(self.path(argv[0]), *argv[1:])
            self.assertEqual((status, out, err.count("\n")), (2, "", 1), argv)
            self.assertTrue(err.startswith(f"plot.py: error: {self.path('original')}/ has no "
                                           f"{argv[-1]} table: its runs"), err)

    def test_a_history_cut_short_at_a_line_end_is_one_line_naming_it(self):
        path = next(os.path.join(where, "history.csv") for where, _, names
                    in sorted(os.walk(self.path("original"))) if "history.csv" in names)
        with open(path) as file:
            lines = file.readlines()
        with open(path, "w") as file:
            file.writelines(lines[:3])              # epochs 0 and 1 of 3
        for table in ("drift", "accuracy"):
            status, out, err = self.plot(self.path("original"), "--table", table)
            self.assertEqual((status, out), (2, ""), err)
            self.assertEqual(err, f"plot.py: error: {path} has epochs 0 to 1 in 2 lines, but its "
                             "run finished 3 epochs (a file cut short or edited?): train the "
                             "run again\n")

    def test_the_usual_output_shows_the_same_tables(self):
        status, out, err = self.plot(self.path("lr-sweep"))
        self.assertEqual(status, 0, err)
        for name in plot.TABLES:
            table = self.plot(self.path("lr-sweep"), "--table", name)[1]
            self.assertIn(table, out, name)


class OriginalClaims(MadeUpStudy):
    def test_the_verdicts_of_the_numbers(self):
        verdicts = self.verdicts(original)
        self.assertEqual(verdicts[1].verdict, "holds: every run is above 0.94")
        self.assertTrue(verdicts[2].verdict.startswith("holds: `bn` is better"))
        self.assertAlmostEqual(verdicts[2].value, 0.007)
        self.assertTrue(verdicts[3].verdict.startswith("within noise: higher on 2 of 3 seeds"))
        self.assertTrue(verdicts[4].verdict.startswith("does not hold at lr 0.001"))

    def test_worse_numbers_change_the_verdicts(self):
        self.save_original({"plain": [0.955, 0.956, 0.957], "bn": [0.90, 0.91, 0.92],
                            "bn-after-relu": [0.95, 0.951, 0.952]},
                           widening={"plain": 1.6, "bn": 1.0, "bn-after-relu": 1.5})
        verdicts = self.verdicts(original)
        self.assertEqual(verdicts[1].verdict, "holds in part: some runs are below 0.935")
        self.assertEqual(verdicts[2].verdict, "does not hold: `plain` is better")
        self.assertEqual(verdicts[3].verdict, "holds: `bn-after-relu` is better")
        self.assertTrue(verdicts[4].verdict.startswith("holds at lr 0.001"))

    def test_a_width_that_narrows_is_a_change_too(self):
        # x0.75 is as far from x1 as x1.33: more than half of plain's x1.6 (by |log|).
        # Measured as |factor - 1| it would count as less.
        self.save_original({"plain": [0.95, 0.951, 0.952], "bn": [0.95, 0.951, 0.952],
                            "bn-after-relu": [0.95, 0.951, 0.952]},
                           widening={"plain": 1.6, "bn": 1.0, "bn-after-relu": 0.75})
        self.assertTrue(self.verdicts(original)[4].verdict.startswith("holds at lr 0.001"))

    def test_the_table_of_the_claims(self):
        table = claims.table("original", self.root)
        self.assertEqual(markdown_rows(table)[0], list(original.HEADER))
        self.assertEqual(len(markdown_rows(table)), 1 + len(original.CLAIMS))

    def test_a_missing_directory_is_a_results_error(self):
        shutil.rmtree(self.path("original"))
        with self.assertRaises(results.ResultsError):
            original.CLAIMS[0].measure(self.root)

    def test_a_missing_part_names_the_command_that_trains_it(self):
        shutil.rmtree(self.path("scale-hidden"))
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            status = claims.main([self.root, "--table", "batchnorm"])
        self.assertEqual(status, 2)
        self.assertEqual(err.getvalue(), f"studies.claims: error: {self.path('scale-hidden')}/ "
                         "does not exist: train it with python3 -m studies --only scale "
                         f"--results-dir {self.root}\n")


class BatchNormClaims(MadeUpStudy):
    def test_the_verdicts_of_the_numbers(self):
        verdicts = self.verdicts(batchnorm)
        self.assertEqual(verdicts[1].verdict, "holds: 10 times the rate")
        self.assertIn("to 0.94 at 0.001: `plain` 3.0, `bn` 2.0", verdicts[2].text)
        self.assertEqual(verdicts[2].verdict,
                         "holds in part: `bn` needs only 1.5-2.0 times fewer epochs")
        self.assertTrue(verdicts[3].verdict.startswith("holds in part: the function is "
                                                        "scale-free"))
        self.assertTrue(verdicts[4].verdict.startswith("holds in part: `bn` also gains at 1 "
                                                       "of the 2 rates both use"))

    def test_worse_numbers_change_the_verdicts(self):
        self.save_scales(bn=(0.88, 0.89, 0.87), plain=(0.79, 0.88, 0.82))
        self.assertEqual(self.verdicts(batchnorm)[3].verdict,
                         "holds: `bn`'s accuracy moves less")
        for seed in range(3):                       # bn no better than plain at any rate
            for lr, accuracy in self.SWEEP["plain"].items():
                save_run(self.path("lr-sweep"), "bn", seed, accuracy + seed / 10000, lr,
                         reached={0.94: 3, 0.98: 2} if lr > 0.01 else {0.94: 3})
            save_run(self.path("lr-sweep"), "bn", seed, 0.9, 1, diverged=True)
        verdicts = self.verdicts(batchnorm)
        self.assertEqual(verdicts[1].verdict, "does not hold: no higher rate")
        self.assertTrue(verdicts[2].verdict.startswith("does not hold"), verdicts[2])
        self.assertEqual(verdicts[4].verdict, "does not hold: no gain at each one's best rate")

    def test_a_network_that_finished_every_seed_at_no_rate_is_one_results_error(self):
        # bn loses a seed at every rate: the claims that need its rates say
        # so, as a ResultsError, not a KeyError or a ValueError.
        for lr in (*self.SWEEP["bn"], 0.001):
            save_run(self.path("lr-sweep"), "bn", 3, 0.9, lr, diverged=True)
        for claim in (batchnorm.gain_at_equal_rates,):
            with self.assertRaisesRegex(results.ResultsError, "every seed of bn finished"):
                claim(self.root)
        for seed in range(3):                       # and plain likewise
            save_run(self.path("lr-sweep"), "plain", seed, 0.9, 0.001, diverged=True)
            save_run(self.path("lr-sweep"), "plain", seed, 0.9, 0.1, diverged=True)
        for claim in (batchnorm.fewer_steps, batchnorm.gain_at_equal_rates):
            with self.assertRaisesRegex(results.ResultsError, "every seed of"):
                claim(self.root)


if __name__ == "__main__":
    unittest.main()
