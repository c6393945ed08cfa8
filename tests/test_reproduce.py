"""Tests of `python3 -m studies` (lab/reproduce.py, studies/plan.py): a run
saved with the same settings is found and not trained again, the commands
of the runs still to do, the quick pipeline's settings, and the scheduler's
lines, failures and order. On the small CSVs of test_program; no MNIST.
"""
import contextlib
import io
import os
import sys
import tempfile
import types
import unittest
from unittest import mock

import main
from lab import options, reproduce, results
from studies import plan
from tests.test_program import MainProgramCase


def lines_of(function, *args, **kwargs):
    """(what function returns, the lines it shows through `show`)."""
    shown = []
    return function(*args, show=shown.append, **kwargs), shown


class Plan(unittest.TestCase):
    def test_every_command_of_the_plan_is_accepted_by_its_program(self):
        for part in plan.PARTS:
            for _, words in part.trains:
                experiment, program = reproduce.experiment_of(words)
                for given in (words, reproduce.quick(words)):
                    with self.subTest(part=part.name, words=given):
                        options.parse_args(given[2 if given[0] == "-m" else 1:], experiment,
                                           main.TRAIN_SIZE, program)

    def test_the_quick_settings_replace_the_commands_own(self):
        words = ["-m", "studies.santurkar", "--seeds", "3", "--lr", "0.1", "--epochs", "10"]
        self.assertEqual(reproduce.quick(words),
                         ["-m", "studies.santurkar", "--seeds", "2", "--lr", "0.1",
                          "--epochs", "2", "--limit", "500"])
        self.assertEqual(reproduce.quick(["main.py", "--seed", "100"]),
                         ["main.py", "--seed", "100", "--epochs", "2", "--limit", "500"])

    def test_the_full_plan_has_each_run_once(self):
        jobs = [job for part in plan.PARTS
                for job in reproduce.jobs_of(part, "/r", tempfile.gettempdir())]
        unique = {(job.directory, job.name) for job in jobs}
        # lr-sweep's second command repeats the first's lr 1e-3, scale 1 runs (9 of them).
        self.assertEqual(len(jobs) - len(unique), 9)
        self.assertEqual(len(unique), 210)


class Resuming(MainProgramCase):
    PART = plan.Part("tiny", [("tiny", ["main.py", "--net", "plain", "--net", "bn",
                                        "--seeds", "2", "--epochs", "1", "--batch-size", "8"])],
                     [])

    def jobs(self):
        return reproduce.jobs_of(self.PART, self.path("results"), self.path("data"))

    def test_a_run_saved_by_main_py_is_found_under_the_name_it_was_saved(self):
        status, _, err = self.run_main("--net", "plain", "--seed", "1", "--epochs", "1",
                                       "--results-dir", self.path("results/tiny"))
        self.assertEqual(status, 0, err)
        saved = [job.name for job in self.jobs() if reproduce.is_saved(job)]
        self.assertEqual(len(self.jobs()), 4)
        self.assertEqual(len(saved), 1)
        self.assertTrue(saved[0].startswith("plain_seed1_epochs1_batch8_data"), saved)

    def test_a_run_whose_run_csv_says_other_settings_is_not_saved(self):
        # A run.csv edited by hand (or copied) to another rate is not the
        # run its name stands for: it would be compared as a run of other
        # settings, and the reproduction would never train the real one.
        status, _, err = self.run_main("--net", "plain", "--seed", "1", "--epochs", "1",
                                       "--batch-size", "8", "--results-dir",
                                       self.path("results/tiny"))
        self.assertEqual(status, 0, err)
        job = next(job for job in self.jobs() if job.name.startswith("plain_seed1_"))
        self.assertTrue(reproduce.is_saved(job))
        record = os.path.join(job.directory, job.name, "run.csv")
        with open(record, encoding="utf-8") as file:
            text = file.read()
        with open(record, "w", encoding="utf-8") as file:
            file.write(text.replace(",0.001,", ",0.01,"))
        self.assertFalse(reproduce.is_saved(job))

    def test_list_prints_the_runs_still_to_do_as_commands_that_save_them(self):
        status, _, err = self.run_main("--net", "plain", "--seed", "1", "--epochs", "1",
                                       "--results-dir", self.path("results/tiny"))
        self.assertEqual(status, 0, err)
        with contextlib.redirect_stderr(io.StringIO()):     # the CSVs are not MNIST
            status, shown = lines_of(reproduce.reproduce, [self.PART], self.path("results"),
                                     self.path("data"), listing=True)
        self.assertEqual(status, 0)
        self.assertEqual(len(shown), 3)
        self.assertTrue(all(line.startswith("python3 main.py --net ") for line in shown))
        self.assertFalse(any("--net plain --seed 1 " in line for line in shown))
        # Each listed command trains its run under the name it was listed by.
        to_do = [job for job in self.jobs() if not reproduce.is_saved(job)]
        for job, line in zip(to_do, shown):
            argv = line.split()[2:]
            status, _, err = self.run_main(*argv)
            self.assertEqual(status, 0, err)
            self.assertTrue(reproduce.is_saved(job), job.name)


class Scheduling(unittest.TestCase):
    def job(self, name, code, cost=1):
        return reproduce.Job("part", self.directory, ["-c", code], name, cost)

    def setUp(self):
        import tempfile
        self.directory = tempfile.mkdtemp()
        self.addCleanup(__import__("shutil").rmtree, self.directory)

    def saving(self, name, accuracy):
        """Code that saves run `name` as main.py would, then exits."""
        network, seed = name.split("_seed")
        record = {"run": name, "network": network, "seed": int(seed),
                  "study": "original", "lr": 0.001, "init_scale": 1.0,
                  "init_scale_layers": "all", "epochs": 1, "batch_size": 128,
                  "limit": 50000, "dtype": "float32", "data": "mnist", "status": "finished",
                  "test_accuracy": accuracy}
        return (f"from lab import results\nwith results.saving({self.directory!r}):\n"
                f"    results.save({self.directory!r}, {record!r}, ['epoch'], [{{'epoch': 0}}])")

    def test_lines_failures_and_progress(self):
        jobs = [self.job("plain_seed0", self.saving("plain_seed0", 0.9), cost=3),
                self.job("bn_seed0", "import sys; sys.exit('main.py: error: disk full')", 2),
                self.job("bn_seed1", self.saving("bn_seed1", 0.8), cost=1)]
        shown = []
        failed = reproduce.Scheduler(jobs, 2, 4, 1, shown.append).execute()
        self.assertEqual([job.name for job in failed], ["bn_seed0"])
        said = "\n".join(shown)
        self.assertIn("saved     plain_seed0 in ", said)
        self.assertIn(": test accuracy 0.9000, ", said)
        self.assertIn("failed    bn_seed0 in ", said)
        self.assertIn(": main.py: error: disk full", said)
        self.assertRegex(shown[-1], r"^\[3 of 4 runs; \d+ s elapsed\]$")
        self.assertRegex(said, r"\[2 of 4 runs; \d+ s elapsed, about \d+ s left\]")

    def test_every_run_has_one_blas_thread_whatever_the_width(self):
        seen = os.path.join(self.directory, "threads")
        code = f"import os; open({seen!r}, 'a').write(os.environ['OPENBLAS_NUM_THREADS'])"
        for width in (1, 2):
            reproduce.Scheduler([self.job("plain_seed0", code)], width, 1, 0,
                                lambda line: None).execute()
        with open(seen) as file:
            self.assertEqual(file.read(), "11")

    def test_the_costliest_runs_start_first(self):
        order = os.path.join(self.directory, "order")
        jobs = [self.job(f"plain_seed{cost}", f"open({order!r}, 'a').write('{cost} ')", cost)
                for cost in (1, 5, 3)]
        reproduce.Scheduler(jobs, 1, 3, 0, lambda line: None).execute()
        with open(order) as file:
            self.assertEqual(file.read().split(), ["5", "3", "1"])


class Comparison(unittest.TestCase):
    def setUp(self):
        import tempfile
        self.directory = tempfile.mkdtemp()
        self.addCleanup(__import__("shutil").rmtree, self.directory)

    def save(self, where, network, accuracies, lr=0.1):
        """Runs of network at lr, one per seed, with these test accuracies."""
        directory = os.path.join(self.directory, where, "sweep")
        os.makedirs(directory, exist_ok=True)
        for seed, accuracy in enumerate(accuracies):
            record = {"network": network, "seed": seed, "study": "original", "lr": lr,
                      "init_scale": 1.0, "init_scale_layers": "all", "epochs": 1,
                      "batch_size": 128, "limit": 50000, "dtype": "float32", "data": "mnist",
                      "status": "finished", "test_accuracy": accuracy}
            record["run"] = f"{network}_seed{seed}_lr{lr}"
            with results.saving(directory):
                results.save(directory, record, ["epoch"], [{"epoch": 0}])

    def test_identical_within_and_beyond_the_seeds_spread(self):
        self.save("snapshot", "bn", [0.97, 0.971, 0.969])
        self.save("now", "bn", [0.97, 0.971, 0.969])              # the same CPU
        self.save("snapshot", "plain", [0.95, 0.96, 0.94])
        self.save("now", "plain", [0.951, 0.959, 0.941])          # spread 0.01
        self.save("snapshot", "bn-after-relu", [0.97, 0.971, 0.969])
        self.save("now", "bn-after-relu", [0.90, 0.901, 0.899])   # 0.07: 70 spreads
        part = plan.Part("p", [("sweep", ["main.py"])], [])
        (beyond, changed), shown = lines_of(reproduce.compare, [part],
                                            os.path.join(self.directory, "now"),
                                            os.path.join(self.directory, "snapshot"))
        self.assertEqual((beyond, changed), (1, 0))
        self.assertRegex(shown[0], r"3 settings\): 1 identical, 1 within the seeds' spread, "
                                   r"1 beyond it, 0 with other seeds finished$")
        self.assertEqual(shown[1], "  beyond: sweep bn-after-relu lr 0.1, init_scale 1, "
                                   "init_scale_layers all, epochs 1: mean test accuracy "
                                   "0.9700 -> 0.9000")

    def test_a_seed_or_a_setting_on_one_side_only_is_said(self):
        self.save("snapshot", "bn", [0.97, 0.971, 0.969])
        self.save("now", "bn", [0.97, 0.971])                     # seed 2 lost here
        self.save("snapshot", "plain", [0.95, 0.96], lr=0.3)      # not reproduced at all
        part = plan.Part("p", [("sweep", ["main.py"])], [])
        (differ, _), shown = lines_of(reproduce.compare, [part],
                                      os.path.join(self.directory, "now"),
                                      os.path.join(self.directory, "snapshot"))
        self.assertEqual(differ, 2)
        self.assertRegex(shown[0], r"0 beyond it, 2 with other seeds finished$")
        self.assertIn("  seeds differ: sweep bn lr 0.1, init_scale 1, init_scale_layers all, "
                      "epochs 1: [0, 1, 2] in the snapshot, [0, 1] here", shown)
        self.assertIn("  seeds differ: sweep plain lr 0.3, init_scale 1, init_scale_layers all, "
                      "epochs 1: [0, 1] in the snapshot, none here", shown)


class ClaimByClaim(unittest.TestCase):
    """studies.claims.compare, on a table of two made-up claims measured on
    two made-up results directories."""

    def compare(self, measures):
        from studies import claims
        table = types.SimpleNamespace(CLAIMS=[
            claims.Claim(f"claim {name}", ("sweep",), measure) for name, measure in measures])
        with mock.patch.object(claims, "TABLES", {"made-up": "made_up"}), \
                mock.patch.object(claims, "claims_of", lambda name: table):
            return lines_of(claims.compare, "now", "snapshot", ["sweep"])

    def test_identical_the_same_verdict_and_another(self):
        from studies import claims
        by_root = {"snapshot": (0.010, "holds: a is better"), "now": (0.012, "holds: by less")}
        flips = {"snapshot": (0.010, "holds"), "now": (-0.001, "within noise")}
        changed, shown = self.compare([
            ("same", lambda root: claims.Measured("+0.0100", "holds", 0.01, 0.004)),
            ("moved", lambda root: claims.Measured("x", by_root[root][1], by_root[root][0], 0.004)),
            ("flips", lambda root: claims.Measured("y", flips[root][1], flips[root][0], 0.004))])
        self.assertEqual(changed, 1)
        self.assertIn("  identical", shown)
        self.assertIn("  the same verdict; the value moved +0.00200, within the seeds' spread "
                      "(0.0040)", shown)
        self.assertIn("  ANOTHER VERDICT; the value moved -0.01100, beyond the seeds' spread "
                      "(0.0040)", shown)
        self.assertEqual(shown[-1], "\n3 claims: 1 identical, 1 the same verdict, 1 another "
                                    "verdict, 0 not measured")

    def test_a_move_is_set_against_the_larger_spread_of_the_two(self):
        from studies import claims
        spreads = {"snapshot": 0.001, "now": 0.02}
        _, shown = self.compare([("wider", lambda root: claims.Measured(
            root, "holds", {"snapshot": 0.01, "now": 0.02}[root], spreads[root]))])
        self.assertIn("  the same verdict; the value moved +0.01000, within the seeds' spread "
                      "(0.0200)", shown)
        self.assertEqual(shown[-1], "\n1 claim: 0 identical, 1 the same verdict, 0 another "
                                    "verdict, 0 not measured")

    def test_a_claim_whose_runs_are_missing_says_why(self):
        def missing(root):
            raise results.ResultsError(f"{root}/sweep/ holds no runs")
        changed, shown = self.compare([("missing", missing)])
        self.assertEqual(changed, 0)
        self.assertIn("  now      now/sweep/ holds no runs", shown)
        self.assertTrue(shown[-1].endswith("1 not measured"))


class Drawing(unittest.TestCase):
    def test_a_part_that_needs_what_is_missing_is_skipped_in_one_line(self):
        part = plan.Part("pytorch", [], [["-c", "raise SystemExit(3)"]],
                         needs="a_module_that_is_not_there")
        failed, shown = lines_of(reproduce.draw, [part], "/r", "/d")
        self.assertEqual(failed, 0)
        self.assertEqual(len(shown), 1)
        self.assertIn("pytorch: skipped: a_module_that_is_not_there cannot be imported", shown[0])

    def test_a_whole_command_runs_before_the_draws_and_is_tiny_in_quick_mode(self):
        part = plan.Part("p", [], [["-c", "pass", "RESULTS/x"]],
                         whole=[["-c", "pass", "--epochs", "50", "--seeds", "5"]])
        failed, shown = lines_of(reproduce.draw, [part], "/r", "/d", tiny=True)
        self.assertEqual(failed, 0)
        self.assertEqual(shown, ["\n$ python3 -c pass --epochs 2 --seeds 2 --limit 500",
                                 "\n$ python3 -c pass /r/x"])
        failed, shown = lines_of(reproduce.draw, [part], "/r", "/d")
        self.assertEqual(shown[0], "\n$ python3 -c pass --epochs 50 --seeds 5")

    def test_a_drawing_that_fails_is_counted(self):
        part = plan.Part("p", [], [["-c", "import sys; sys.exit(2)", "RESULTS/x", "DATA"]])
        failed, shown = lines_of(reproduce.draw, [part], "/r", "/d")
        self.assertEqual(failed, 1)
        self.assertEqual(shown, ["\n$ python3 -c 'import sys; sys.exit(2)' /r/x /d"])


class TheCostOnMoreCores(unittest.TestCase):
    def test_usage_md_quotes_the_snapshots_training_seconds(self):
        # The projection in docs/usage.md: the sum and the largest of the
        # train_seconds of the snapshot's runs that the scheduler trains.
        snapshot = os.path.join(reproduce.ROOT, "studies", "snapshot")
        directories = {subdirectory for part in plan.PARTS for subdirectory, _ in part.trains}
        seconds = [record["train_seconds"] for directory in sorted(directories) for record in
                   results.read_records(os.path.join(snapshot, directory), warn=False)]
        self.assertEqual(len(seconds), 210)
        with open(os.path.join(reproduce.ROOT, "docs", "usage.md"), encoding="utf-8") as file:
            usage = " ".join(file.read().split())
        for quoted in (f"took {reproduce.duration(sum(seconds))} of training in all and the "
                       f"longest {max(seconds) / 60:.1f} min",
                       f"about {sum(seconds) / 60:.0f}/N minutes"):
            self.assertTrue(quoted in usage, f"docs/usage.md does not say {quoted!r}")

if __name__ == "__main__":
    unittest.main(argv=[sys.argv[0]])
