"""The checks of Santurkar et al.'s study (studies/santurkar/): the noise layer's
gradient and distribution, the noisy networks, that the probes measure what
Definition 2.1 and sec. 3.2 define, and that they change nothing in
training. Needs no network and no MNIST.

    python3 -m unittest tests.test_santurkar
"""
import contextlib
import csv
import glob
import io
import os
import shutil
import tempfile
import unittest

import numpy as np

import layers
import main
from lab import options
from lab import results
from studies import santurkar
from studies.santurkar import plot as santurkar_plot
from studies.santurkar import probes as study_probes
from studies.santurkar.noise import NoisyShift
from lab import sweep
from lab import tables
from studies import claims
from studies import plan
from studies.claims import santurkar as santurkar_claims
from test import GradientCase

SIZES = (6, 8, 5, 3)


def noisy_layer(seed=0):
    return NoisyShift(np.random.default_rng(seed))


def held_network(kind, seed=3, dtype=np.float64, sizes=SIZES, batch=9):
    """A network of kind, its BatchNorms' gamma and beta moved off 1 and 0,
    after one training forward pass on a random batch (X, y) whose noise it
    then holds; returns (network, X, y)."""
    rng = np.random.default_rng(seed)
    net = santurkar.build_network(kind, rng, dtype, sizes=sizes)
    for layer in net.layers:
        if isinstance(layer, layers.BatchNorm):
            layer.params["gamma"][:] = 1 + 0.5 * rng.standard_normal(layer.params["gamma"].shape)
            layer.params["beta"][:] = 0.5 * rng.standard_normal(layer.params["beta"].shape)
    X, y = rng.standard_normal((batch, sizes[0])).astype(dtype), rng.integers(0, sizes[-1], batch)
    net.forward(X, train=True)
    for layer in net.layers:
        if isinstance(layer, NoisyShift):
            layer.hold = True
    return net, X, y


class NoisyShiftLayer(unittest.TestCase):
    # Its gradient check is test.py's, with every other layer's.
    def test_evaluation_is_the_identity(self):
        layer, X = noisy_layer(), np.random.default_rng(1).standard_normal((4, 3))
        state = layer.rng.bit_generator.state
        np.testing.assert_array_equal(layer.forward(X, train=False), X)
        np.testing.assert_array_equal(layer.backward(2 * X), 2 * X)
        self.assertEqual(layer.rng.bit_generator.state, state)      # nothing drawn

    def test_the_noise_has_the_papers_distribution(self):
        # n_mu = 0.5, n_sigma = 1.25, r_mu = r_sigma = 0.1, r_sigma a std.
        layer = noisy_layer()
        layer.forward(np.zeros((20_000, 40)))
        shift, scale = layer.shift, layer.scale
        unit_mean = shift.mean(axis=0)                     # mu_j, to about 0.0004
        self.assertTrue(np.all(np.abs(unit_mean) < 0.5))
        self.assertGreater(unit_mean.std(), 0.2)           # U(-0.5, 0.5): std 0.29
        np.testing.assert_allclose(shift.max(axis=0) - shift.min(axis=0), 0.2, atol=1e-3)
        self.assertTrue(np.all((scale.mean(axis=0) > 1 - 0.01) & (scale.mean(axis=0) < 1.26)))
        np.testing.assert_allclose(scale.std(axis=0), 0.1, rtol=0.03)

    def test_new_noise_at_each_step_unless_held_and_the_same_from_the_same_seed(self):
        X = np.ones((5, 4))
        first, again = noisy_layer(7), noisy_layer(7)
        step1 = first.forward(X)
        np.testing.assert_array_equal(again.forward(X), step1)
        step2 = first.forward(X)
        self.assertFalse(np.array_equal(step1, step2))
        first.hold = True
        state = first.rng.bit_generator.state
        np.testing.assert_array_equal(first.forward(X), step2)
        self.assertEqual(first.rng.bit_generator.state, state)

    def test_keeps_float32(self):
        layer = noisy_layer()
        Y = layer.forward(np.ones((3, 2), np.float32))
        self.assertEqual(Y.dtype, np.float32)
        self.assertEqual(layer.backward(Y).dtype, np.float32)


class NoisyNetworks(GradientCase):
    def test_noise_after_every_batchnorm_and_at_the_same_places_without(self):
        def kinds(kind):
            return [type(layer).__name__ for layer in
                    santurkar.build_network(kind, np.random.default_rng(0), sizes=SIZES).layers]
        bn = kinds("bn-noisy")
        for i, name in enumerate(bn):
            if name == "BatchNorm":
                self.assertEqual(bn[i + 1], "NoisyShift")
        self.assertEqual(bn.count("NoisyShift"), 4)
        self.assertEqual(kinds("plain-noisy"), [name for name in bn if name != "BatchNorm"])
        self.assertEqual([name for name in bn if name != "NoisyShift"], kinds("bn"))

    def test_every_parameter_of_each_noisy_network(self):
        # Through the probes' own study_probes.loss_and_gradient, with the noise held.
        for kind in santurkar.NETWORKS:
            net, X, y = held_network(kind)
            gradient = study_probes.loss_and_gradient(net, X, y)[1]
            for (i, key), param in study_probes.parameters(net):
                self.assertGradient(f"{kind} layer {i} d{key}",
                                    lambda: net.loss.forward(net.forward(X), y), param,
                                    gradient[i, key])


class ProbesMeasure(unittest.TestCase):
    def probe_once(self, net, X, y, lr, multiples=study_probes.STEP_MULTIPLES):
        net.loss.forward(net.forward(X, train=True), y)
        net.backward(net.loss.backward())
        probes = study_probes.Probes(net, lr, every=1, multiples=multiples)
        probes.on_step(X, y)
        return probes.records[0]

    def test_covariate_shift_is_definition_2_1(self):
        # G' by another road: the whole network takes its SGD step
        # (Network.update), then layer i and those above get their weights back.
        for kind in santurkar.NETWORKS:
            net, X, y = held_network(kind)
            lr = 0.3
            record = self.probe_once(net, X, y, lr)
            linear = [i for i, layer in enumerate(net.layers) if isinstance(layer, layers.Linear)]
            for number, i in enumerate(linear[1:], start=2):
                G = net.layers[i].grads["W"].copy()
                moved = study_probes.held(net)
                moved.update(lr)
                for j in range(i, len(net.layers)):
                    for key, param in net.layers[j].params.items():
                        moved.layers[j].params[key][...] = param
                moved.loss.forward(moved.forward(X, train=True), y)
                moved.backward(moved.loss.backward())
                G_after = moved.layers[i].grads["W"]
                self.assertAlmostEqual(record[f"ics{number}"], np.linalg.norm(G - G_after), 12)
                self.assertGreater(record[f"ics{number}"], 1e-6, kind)
                cos = np.sum(G * G_after) / np.linalg.norm(G) / np.linalg.norm(G_after)
                self.assertAlmostEqual(record[f"cos{number}"], cos, 12)

    def test_the_second_relus_input_has_the_steps_noise(self):
        # plain-noisy: Linear, NoisyShift, ReLU, NoisyShift, Linear, NoisyShift, ReLU, ...
        net, X, y = held_network("plain-noisy")
        record = self.probe_once(net, X, y, 0.1)
        hidden = np.maximum(net.layers[1].forward(net.layers[0].forward(X)), 0)
        hidden = net.layers[3].forward(hidden)
        inputs = net.layers[5].scale * (hidden @ net.layers[4].params["W"]) + net.layers[5].shift
        self.assertAlmostEqual(record["unit_p50"], np.median(inputs[:, 0]), 12)
        self.assertLess(record["unit_p15"], record["unit_p85"])

    def test_no_step_no_shift(self):
        net, X, y = held_network("bn-noisy")
        with np.errstate(invalid="ignore"):         # the landscape's 0 / 0 at eta = 0
            record = self.probe_once(net, X, y, lr=0.0, multiples=(1,))
        self.assertEqual((record["ics2"], record["ics3"]), (0.0, 0.0))
        self.assertAlmostEqual(record["cos2"], 1.0, 15)

    def test_landscape_along_the_gradient(self):
        # The loss and gradient at x - eta g by another road: Network.update(eta).
        for kind in santurkar.NETWORKS:
            net, X, y = held_network(kind)
            lr, multiples = 0.1, (0.5, 2)
            record = self.probe_once(net, X, y, lr, multiples)
            g = study_probes.flat({(i, k): layer.grads[k] for i, layer in enumerate(net.layers)
                                for k in layer.params})
            losses, changes = [], []
            for m in multiples:
                moved = study_probes.held(net)
                moved.update(m * lr)
                losses.append(moved.loss.forward(moved.forward(X, train=True), y))
                moved.backward(moved.loss.backward())
                changes.append(np.linalg.norm(study_probes.flat(
                    {(i, k): layer.grads[k] for i, layer in enumerate(moved.layers)
                     for k in layer.params}) - g))
            self.assertAlmostEqual(record["loss_min"], min(losses), 12)
            self.assertAlmostEqual(record["loss_max"], max(losses), 12)
            self.assertAlmostEqual(record["change_max"], max(changes), 12)
            self.assertAlmostEqual(record["beta"], max(
                change / (m * lr * np.linalg.norm(g)) for change, m in zip(changes, multiples)), 10)
            self.assertLess(record["loss_min"], record["loss_max"])

    def test_small_steps_lower_the_loss_as_the_gradient_says(self):
        # First order: L(x - eta g) = L(x) - eta ||g||^2 + O(eta^2).
        net, X, y = held_network("bn-noisy")
        loss = net.loss.forward(net.forward(X, train=True), y)
        eta = 1e-6
        record = self.probe_once(net, X, y, 1.0, multiples=(eta,))
        self.assertAlmostEqual((loss - record["loss_min"]) / eta, record["grad"] ** 2, 3)


class ProbesChangeNothing(unittest.TestCase):
    def train(self, kind, probes):
        rng = np.random.default_rng(11)
        net = santurkar.build_network(kind, rng, np.float32, sizes=(10, 16, 8, 3))
        data = np.random.default_rng(5)
        X = data.standard_normal((90, 10)).astype(np.float32)
        y = data.integers(0, 3, 90)
        probe = study_probes.Probes(net, 0.1, every=1) if probes else None
        history = net.train(X[:70], y[:70], 3, 0.1, 16, rng, validation=(X[70:], y[70:]),
                            on_step=probe and probe.on_step)
        for record in history:
            del record["seconds"]
        return net.state(), history, net.accuracy(X[70:], y[70:]), rng.bit_generator.state, probe

    def test_a_run_with_probes_at_every_step_is_bit_identical(self):
        for kind in santurkar.NETWORKS:
            without, probed = self.train(kind, False), self.train(kind, True)
            self.assertEqual(len(probed[4].records), 3 * 5)
            for key, array in without[0].items():       # weights and running statistics
                np.testing.assert_array_equal(probed[0][key], array, f"{kind} {key}")
            self.assertEqual(probed[1:4], without[1:4], kind)   # history, accuracy, generator

    def test_main_train_run_saves_the_probes_and_trains_as_without(self):
        data = np.random.default_rng(0)
        splits = {name: (data.standard_normal((n, 784)).astype(np.float32),
                         data.integers(0, 10, n)) for name, n in
                  (("train", 40), ("validation", 20), ("test", 20))}
        common = ["--epochs", "1", "--batch-size", "8", "--limit", "40"]
        runs = {}
        for probed in (False, True):
            experiment = santurkar.EXPERIMENT._replace(
                step_probes=santurkar.EXPERIMENT.step_probes if probed else None)
            settings = options.parse_args(common, experiment, main.TRAIN_SIZE)
            settings.experiment = experiment
            runs[probed] = main.train_run(sweep.Run("bn-noisy", 2, 0.01, 1.0), splits,
                                          settings, lambda record: None)
        self.assertNotIn("probes", runs[False])
        self.assertEqual([r["step"] for r in runs[True]["probes"]], [1])
        for key, array in runs[False]["weights"].items():
            np.testing.assert_array_equal(runs[True]["weights"][key], array)
        self.assertEqual(runs[True]["test_accuracy"], runs[False]["test_accuracy"])


def save_study_runs(directory, networks=("bn", "plain"), seeds=range(3), epochs=2, steps=1000,
                    **changed):
    """Save made-up runs of studies.santurkar.plot's study into directory: `bn`'s
    gradient changes 10 times less than `plain`'s on every seed, their
    losses' ranges differ by less than the seeds' spread; a probe every 50
    steps up to `steps`. changed: fields of the runs' records to change
    (epochs, status, test_accuracy, ...)."""
    os.makedirs(directory, exist_ok=True)
    for network in networks:
        change = 0.1 if network == "bn" else 1.0
        for seed in seeds:
            history = [{"epoch": epoch, "train_loss": 1.0 / (epoch + 1),
                        "val_loss": 1.0, "val_accuracy": 0.9 + 0.01 * epoch, "seconds": 10.0}
                       for epoch in range(epochs + 1)]
            spread = 1 + seed if network == "bn" else 3 - seed
            probes = [{"step": step, "unit_p15": -1.0, "unit_p50": 0.1 * step,
                       "unit_p85": 1.0, **{f"{name}{n}": 0.5 for name in ("ics", "cos", "grad")
                                            for n in (2, 3)},
                       "loss_min": 1.0, "loss_max": 1.0 + 0.01 * spread,
                       "change_min": change, "change_max": change * (1 + seed / 10),
                       "beta": 5.0, "grad": 1.0, "seconds": 0.1}
                      for step in range(1, steps, 50)]
            row = {"network": network, "seed": seed, "study": "santurkar", "data": "mnist",
                   "lr": 0.1, "init_scale": 1.0,
                   "init_scale_layers": "all", "epochs": epochs, "batch_size": 128,
                   "limit": 1000, "dtype": "float32", "status": "finished",
                   "test_accuracy": 0.9 + 0.01 * seed, **changed}
            row["run"] = results.run_name(network, seed, row, RECIPE)
            with results.saving(directory):
                results.save(directory, row, main.HISTORY_FIELDS[:5], history, None,
                             probes if row["status"] == "finished" else None)


# The recipe whose settings the runs' names leave out, as main.py names them.
RECIPE = options.parse_args([], santurkar.EXPERIMENT, main.TRAIN_SIZE).recipe


class StudyTables(unittest.TestCase):
    """studies.santurkar.plot's reading and verdicts, on a results directory of
    made-up runs (save_study_runs)."""

    def test_the_ratios_and_their_verdicts(self):
        with tempfile.TemporaryDirectory() as directory:
            save_study_runs(directory)
            rate, runs, diverged = santurkar_plot.read_study(directory)
            lines = santurkar_plot.probe_lines(rate, runs)
        self.assertEqual((rate, list(runs), diverged), (0.1, ["bn", "plain"], {}))

        def verdict(measure):
            return lines[lines.index(f"  {measure}") + 3]
        self.assertIn("ratio per seed 0.1, 0.1, 0.1", verdict(
            "max ||g(x - eta g) - g||, first epoch, median"))
        self.assertTrue(verdict("max ||g(x - eta g) - g||, first epoch, median").endswith(
            "smaller, x0.1"))
        self.assertIn("ratio per seed 0.333, 1, 3", verdict(
            "loss range along g, all steps, median"))
        self.assertTrue(verdict("loss range along g, all steps, median").endswith(
            "within noise"))
        self.assertIn("bn 10%, plain 10%", lines[-1])      # 20 probes of 0.1 s in 2 epochs of 10 s


class StudyTablesInMarkdown(unittest.TestCase):
    """studies.santurkar.plot --table: one table in Markdown, as the docs hold
    it, written from the runs alone (no file written)."""

    def test_each_table_alone_and_both_at_the_end_of_the_usual_output(self):
        with tempfile.TemporaryDirectory() as directory:
            save_study_runs(directory)
            save_study_runs(directory, networks=["plain-noisy"], status="diverged",
                            test_accuracy=None, diverged_epoch=1, diverged_batch=7)
            before = files_and_times(directory)
            accuracy, probes = (tables.output(f"-m studies.santurkar.plot {directory} "
                                              f"--table {name}") for name in ("accuracy", "probes"))
            self.assertEqual(files_and_times(directory), before)
            printed = io.StringIO()
            with contextlib.redirect_stdout(printed):
                santurkar_plot.main([directory, "--figures", directory])
        self.assertIn(f"\n{accuracy}\n{probes}", printed.getvalue())
        self.assertEqual(accuracy.splitlines()[0],
                         "| 2 epochs, 3 seeds | `bn` | `plain` | `plain-noisy` |")
        self.assertIn("| lr 0.1: test accuracy | 0.9100 ± 0.0100 | 0.9100 ± 0.0100 | every seed "
                      "diverged, in epoch 1 (batch 7, 7, 7) |\n", accuracy)
        self.assertIn("| lr 0.1: training loss, last epoch | 0.3333 | 0.3333 |  |\n", accuracy)
        self.assertIn("| probes per run | 20, steps 1 to 951 |\n", probes)   # every 50 of 1000
        self.assertIn("| max \\|\\|g(x - eta g) - g\\|\\|, first epoch, median | 0.1, 0.1, 0.1: "
                      "smaller, x0.1 |\n", probes)
        self.assertIn("| loss range along g, all steps, median | 0.333, 1, 3: within noise |\n",
                      probes)
        self.assertIn("| the same, `bn-noisy` / `plain` | no finished run of bn-noisy |\n", probes)

    def test_the_chapter_says_how_often_the_probes_are_taken(self):
        with open(os.path.join(tables.ROOT, "docs", "study-santurkar.md"), encoding="utf-8") as file:
            self.assertIn(f"**Every {study_probes.PROBE_EVERY} steps**, from the first step",
                          file.read())


def files_and_times(directory):
    """{path: modification time} of every file under directory."""
    return {os.path.join(where, name): os.stat(os.path.join(where, name)).st_mtime_ns
            for where, _, names in os.walk(directory) for name in names}


def save_sweeps(root, change=lambda rate, network: {}):
    """Made-up runs of the study's three sweeps in root, as studies/plan.py
    lays them out: every network, by save_study_runs, the noisy ones as
    `plain`; change(rate, network): the fields of their records to change."""
    for rate in plan.SANTURKAR_RATES:
        for network in santurkar.NETWORKS:
            save_study_runs(os.path.join(root, f"santurkar-lr{rate}"), networks=[network],
                            lr=float(rate), **change(rate, network))


def change_probes(root, network, column, change):
    """Replace each value v of a column of every probes.csv of network's
    runs in root by change(v)."""
    for path in glob.glob(os.path.join(root, "*", f"{network}_seed*", "probes.csv")):
        with open(path, newline="") as file:
            rows = list(csv.DictReader(file))
        for row in rows:
            row[column] = repr(change(float(row[column])))
        with open(path, "w", newline="") as file:
            writer = csv.DictWriter(file, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)


def scale_probes(root, network, column, factor):
    """Multiply a column of every probes.csv of network's runs in root."""
    change_probes(root, network, column, lambda value: value * factor)


DIVERGED = {"status": "diverged", "test_accuracy": None, "diverged_epoch": 1,
            "diverged_batch": 7}


class SanturkarClaims(unittest.TestCase):
    """studies/claims/santurkar.py on made-up sweeps (save_sweeps): every
    verdict follows the numbers."""

    def verdict(self, root, number):
        """The verdict of claim `number` ("1a", "2", ...) measured on root."""
        claim = next(claim for claim in santurkar_claims.CLAIMS
                     if claim.says.startswith(number + ". "))
        return claim.measure(root).verdict

    def test_the_verdicts_turn_with_the_numbers(self):
        with tempfile.TemporaryDirectory() as root:
            save_sweeps(root)
            # The noise changes nothing; bn's gradient changes 10 times less than plain's.
            self.assertEqual(self.verdict(root, "1a"),
                             "holds: it trains as `bn` does at every rate")
            self.assertEqual(self.verdict(root, "1b"), "does not hold: it trains at every rate")
            self.assertEqual(self.verdict(root, "2"), "holds: layer 2: within noise at every "
                                                      "rate; layer 3: within noise at every rate")
            self.assertEqual(self.verdict(root, "3b"), "holds in part: smaller, by at most 10 "
                                                       "times, not 100, at every rate")
            scale_probes(root, "bn", "change_max", 0.001)
            self.assertEqual(self.verdict(root, "3b"),
                             "holds: smaller, by at most 10000 times at every rate")
            scale_probes(root, "bn", "change_max", 1e5)
            self.assertEqual(self.verdict(root, "3b"), "does not hold: larger at every rate")
            scale_probes(root, "bn", "ics2", 10)
            self.assertEqual(self.verdict(root, "2"), "holds: layer 2: increased at every "
                                                      "rate; layer 3: within noise at every rate")
            scale_probes(root, "bn", "ics3", 0.1)
            self.assertEqual(self.verdict(root, "2"), "holds in part: layer 2: increased at "
                                                      "every rate; layer 3: reduced at every rate")

    def test_a_shift_smaller_in_direction_only_is_said_so(self):
        with tempfile.TemporaryDirectory() as root:
            save_sweeps(root)
            # bn's 1 - cos at layer 2 ten times smaller; its norm as plain's.
            change_probes(root, "bn", "cos2", lambda cos: 1 - (1 - cos) / 10)
            self.assertEqual(self.verdict(root, "2"), "holds in part: layer 2: reduced in "
                                                      "direction only at every rate; layer 3: "
                                                      "within noise at every rate")

    def test_the_noisy_networks(self):
        with tempfile.TemporaryDirectory() as root:
            save_sweeps(root, lambda rate, network: (
                {"test_accuracy": 0.85} if network == "bn-noisy" else
                DIVERGED if network == "plain-noisy" and rate == "0.3" else {}))
            noisy_bn = santurkar_claims.noisy_bn(root)
            self.assertEqual(noisy_bn.verdict, "holds in part: it trains at every rate, but with "
                                               "a lower test accuracy")
            self.assertAlmostEqual(noisy_bn.value, -0.06)         # at lr 0.1: 0.85 - 0.91
            self.assertEqual(self.verdict(root, "1b"), "holds in part: every seed diverges at "
                                                       "lr 0.3; it trains at lr 0.001 and 0.1")
            self.assertIn("lr 0.3: every seed diverged, in epoch 1 (batch 7, 7, 7)",
                          santurkar_claims.noisy_plain(root).text)
        with tempfile.TemporaryDirectory() as root:
            save_sweeps(root, lambda rate, network: DIVERGED if network == "plain-noisy" else {})
            self.assertEqual(self.verdict(root, "1b"), "holds: every seed diverges at every rate")

    def test_bn_diverged_at_a_rate_leaves_that_rate_out_of_1a_without_a_traceback(self):
        with tempfile.TemporaryDirectory() as root:
            save_sweeps(root, lambda rate, network: DIVERGED if network == "bn" and rate == "0.3"
                        else {})
            noisy_bn = santurkar_claims.noisy_bn(root)
            self.assertEqual(noisy_bn.verdict, "holds: it trains as `bn` does at lr 0.001 and 0.1")
            self.assertIn("lr 0.3: no `bn` to compare with, every seed diverged, in epoch 1",
                          noisy_bn.text)
        with tempfile.TemporaryDirectory() as root:
            save_sweeps(root, lambda rate, network: DIVERGED if network == "bn" else {})
            with self.assertRaisesRegex(results.ResultsError, "`bn` diverges at every rate"):
                santurkar_claims.noisy_bn(root)

    def test_a_missing_sweep_or_one_at_another_rate_is_a_results_error(self):
        with tempfile.TemporaryDirectory() as root:
            save_sweeps(root)
            shutil.rmtree(os.path.join(root, "santurkar-lr0.3"))
            with self.assertRaisesRegex(results.ResultsError, "santurkar-lr0.3/ does not exist"):
                claims.table("santurkar", root)
            save_study_runs(os.path.join(root, "santurkar-lr0.3"), lr=0.2)
            with self.assertRaisesRegex(results.ResultsError, "holds runs at lr 0.2, not 0.3"):
                claims.table("santurkar", root)


class InitScaleLayers(unittest.TestCase):
    def test_hidden_only_leaves_the_output_layer_at_he(self):
        for kind in main.NETWORKS:
            he = main.build_network(kind, np.random.default_rng(3))
            scaled = main.build_network(kind, np.random.default_rng(3), init_scale=10.0,
                                        scale_output=False)
            linear = [i for i, layer in enumerate(he.layers) if isinstance(layer, layers.Linear)]
            for i in linear:
                factor = 1.0 if i == linear[-1] else 10.0
                np.testing.assert_array_equal(scaled.layers[i].params["W"],
                                              he.layers[i].params["W"] * np.float32(factor))

    def test_bn_scaled_before_its_batchnorms_computes_the_same_function(self):
        # BN((aW)u) = BN(Wu): scaling only the layers a BatchNorm follows
        # changes bn's output by rounding alone (eps aside).
        X = np.random.default_rng(0).standard_normal((32, 784)).astype(np.float64)
        he = main.build_network("bn", np.random.default_rng(3), np.float64)
        scaled = main.build_network("bn", np.random.default_rng(3), np.float64, init_scale=10.0,
                                    scale_output=False)
        np.testing.assert_allclose(scaled.forward(X), he.forward(X), rtol=1e-6, atol=1e-6)


if __name__ == "__main__":
    unittest.main()


class NoisyShiftGradient(GradientCase):
    """NoisyShift's backward pass, checked by the gradient lesson's checker."""

    def setUp(self):
        self.rng = np.random.default_rng(0)

    def test_noisy_shift_with_the_noise_of_its_step(self):
        # The noise is drawn anew at each forward pass in training: held, the
        # central differences see the same function the backward pass does.
        layer = NoisyShift(np.random.default_rng(2))
        X = self.rng.standard_normal((7, 5))
        layer.forward(X)
        layer.hold = True
        self.check_layer("NoisyShift", layer, X)
