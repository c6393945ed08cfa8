"""Tests of Ioffe & Szegedy's MNIST study (studies/ioffe_szegedy/): the Sigmoid
layer's gradients and its overflow, the study's networks, recipe, data and
probe, and how main.py and its options run it. Needs no network and no MNIST.

    python3 -m unittest test_ioffe_szegedy
"""
import contextlib
import io
import os
import tempfile
import unittest
from unittest import mock

import numpy as np

from studies import ioffe_szegedy as study
from studies.claims import ioffe_szegedy as claims
from studies.ioffe_szegedy import plot as study_plot
import layers
import main
from lab import options
import plot
from lab import results
from lab import sweep
import test


def parse(*given, experiment=study.EXPERIMENT):
    return options.parse_args(list(given), experiment, main.TRAIN_SIZE)


class SigmoidLayer(unittest.TestCase):
    # Its gradient check is test.py's, with every other layer's.
    def test_no_overflow_for_inputs_of_any_size_and_sign(self):
        for dtype in (np.float32, np.float64):
            X = np.array([[-1e30, -1e4, -800, -100, -1, 0, 1, 100, 800, 1e4, 1e30]], dtype=dtype)
            sigmoid = layers.Sigmoid()
            with np.errstate(over="raise", invalid="raise", divide="raise"):
                Y = sigmoid.forward(X)
                dX = sigmoid.backward(np.ones_like(X))
            self.assertEqual(Y.dtype, dtype)
            self.assertEqual(dX.dtype, dtype)
            np.testing.assert_array_equal(Y[0, [0, 1, 2, -3, -2, -1]], [0, 0, 0, 1, 1, 1])
            self.assertEqual(Y[0, 5], 0.5)
            self.assertTrue(np.isfinite(dX).all())
            # sigmoid(-x) = 1 - sigmoid(x); and the value at 1, 1 / (1 + e^-1)
            np.testing.assert_allclose(Y[0, 4] + Y[0, 6], 1, rtol=1e-6)
            np.testing.assert_allclose(Y[0, 6], 1 / (1 + np.exp(-1.0)), rtol=1e-6)

    def test_backward_is_dY_times_Y_times_one_minus_Y(self):
        X = np.linspace(-6, 6, 13).reshape(1, -1)
        sigmoid = layers.Sigmoid()
        Y = sigmoid.forward(X)
        dY = np.arange(13.0).reshape(1, -1)
        np.testing.assert_array_equal(sigmoid.backward(dY), dY * Y * (1 - Y))
        self.assertIsNone(sigmoid.backward(dY, need_dX=False))


class Networks(test.GradientCase):
    def test_layers_of_each_network(self):
        expected = {"sigmoid": ["Linear", "Sigmoid"] * 3 + ["Linear"],
                    "sigmoid-bn": ["Linear", "BatchNorm", "Sigmoid"] * 3 + ["Linear"]}
        for kind, names in expected.items():
            net = study.build_network(kind, np.random.default_rng(0))
            self.assertEqual([type(layer).__name__ for layer in net.layers], names)
            shapes = [layer.params["W"].shape for layer in net.layers if "W" in layer.params]
            self.assertEqual(shapes, [(784, 100), (100, 100), (100, 100), (100, 10)])

    def test_initial_weights_are_gaussian_with_the_study_std(self):
        for kind in study.NETWORKS:
            net = study.build_network(kind, np.random.default_rng(4), np.float64)
            rng = np.random.default_rng(4)
            for layer in net.layers:
                if isinstance(layer, layers.Linear):
                    draws = rng.standard_normal(layer.params["W"].shape)
                    np.testing.assert_allclose(layer.params["W"], study.INIT_STD * draws,
                                               rtol=1e-12)
            scaled = study.build_network(kind, np.random.default_rng(4), np.float64, init_scale=3)
            np.testing.assert_allclose(scaled.layers[0].params["W"],
                                       3 * net.layers[0].params["W"], rtol=1e-12)

    def test_a_bias_before_a_batchnorm_gets_no_gradient(self):
        rng = np.random.default_rng(3)
        net = study.build_network("sigmoid-bn", rng, np.float64, sizes=(7, 6, 5, 5, 4))
        X, y = rng.standard_normal((9, 7)), rng.integers(0, 4, 9)
        net.loss.forward(net.forward(X), y)
        net.backward(net.loss.backward())
        for linear, after in zip(net.layers, net.layers[1:]):
            if isinstance(after, layers.BatchNorm):
                np.testing.assert_allclose(linear.grads["b"], 0, atol=1e-12)


class NetworkGradients(test.NetworkGradients):
    """test.py's check of every parameter of every network, on the study's."""

    def test_every_parameter_of_each_network(self):
        studied = dict(study.NETWORKS)
        with mock.patch.dict(main.NETWORKS, studied, clear=True):
            super().test_every_parameter_of_each_network()


class Recipe(unittest.TestCase):
    def test_the_study_sets_its_options_and_given_ones_win(self):
        args = parse()
        self.assertEqual((args.net, args.epochs, args.batch_size, args.lr),
                         (list(study.NETWORKS), 60, 60, [study.LEARNING_RATE]))
        self.assertEqual(args.plot_command, "python3 -m studies.ioffe_szegedy.plot")
        args = parse("--net", "sigmoid", "--epochs", "3", "--lr", "0.1", "1")
        self.assertEqual((args.net, args.epochs, args.batch_size, args.lr),
                         (["sigmoid"], 3, 60, [0.1, 1.0]))

    def test_main_py_s_options_are_the_original_ones(self):
        args = parse(experiment=main.ORIGINAL)
        self.assertEqual((args.net, args.epochs, args.batch_size, args.lr, args.study),
                         (["bn", "plain"], 50, 128, [1e-3], "original"))
        self.assertEqual(parse("--net", "all", experiment=main.ORIGINAL).net,
                         list(main.NETWORKS))
        self.assertIs(args.experiment, main.ORIGINAL)

    def test_a_network_of_another_experiment_is_refused(self):
        for experiment, net in ((main.ORIGINAL, "sigmoid"), (study.EXPERIMENT, "bn")):
            with mock.patch("sys.stderr") as stderr, self.assertRaises(SystemExit) as stop:
                parse("--net", net, experiment=experiment)
            self.assertEqual(stop.exception.code, 2)
            self.assertIn(f"invalid choice: '{net}'",
                          "".join(call.args[0] for call in stderr.write.call_args_list))

    def test_steps_per_epoch_are_the_batches_network_train_takes(self):
        rng = np.random.default_rng(0)
        net = main.build_network("plain", rng, sizes=(2, 3, 3, 2))
        X = np.zeros((main.TRAIN_SIZE, 2), np.float32)
        with mock.patch.object(net, "train_step", return_value=0.0) as step:
            net.train(X, np.zeros(main.TRAIN_SIZE, int), 1, 0.1, study.BATCH_SIZE, rng)
        self.assertEqual(step.call_count, study.STEPS_PER_EPOCH)
        self.assertEqual(study.STEPS_PER_EPOCH * study.EPOCHS, 50_040)

    def test_pixels_become_zero_or_one_at_the_threshold(self):
        pixels = np.array([[0, 1, 127, 128, 200, 255]], dtype=np.uint8)
        for dtype in (np.float32, np.float64):
            binary = study.prepare_pixels(pixels, dtype)(pixels)
            self.assertEqual(binary.dtype, dtype)
            np.testing.assert_array_equal(binary, [[0, 0, 0, 1, 1, 1]])

    def test_main_prepares_every_split_with_the_study(self):
        rng = np.random.default_rng(0)
        n = main.TRAIN_SIZE + main.VALIDATION_SIZE
        arrays = {"x_train": rng.integers(0, 256, (n, 4), dtype=np.uint8),
                  "y_train": np.zeros(n, int),
                  "x_test": rng.integers(0, 256, (5, 4), dtype=np.uint8),
                  "y_test": np.zeros(5, int)}
        splits = main.prepare(arrays, prepare_pixels=study.prepare_pixels)
        for name, (X, _) in splits.items():
            self.assertEqual(set(np.unique(X)), {0.0, 1.0}, name)
        np.testing.assert_array_equal(splits["test"][0], arrays["x_test"] >= study.THRESHOLD)


class Probe(unittest.TestCase):
    def setUp(self):
        self.images = (np.random.default_rng(1).random((130, 784)) < 0.2).astype(np.float32)

    def trained(self, kind, probe_every_step):
        rng = np.random.default_rng(2)
        net = study.build_network(kind, rng)
        data = np.random.default_rng(3)
        for _ in range(4):
            X = (data.random((60, 784)) < 0.2).astype(np.float32)
            net.train_step(X, data.integers(0, 10, 60), 0.5)
            if probe_every_step:
                study.probe(net, self.images)
        return net

    def test_the_probe_changes_nothing(self):
        for kind in study.NETWORKS:
            probed, left = self.trained(kind, True), self.trained(kind, False)
            for key, array in left.state().items():
                np.testing.assert_array_equal(probed.state()[key], array, f"{kind} {key}")

    def test_training_mode_normalizes_with_each_batch_own_statistics(self):
        net = self.trained("sigmoid-bn", False)
        last_bn = [layer for layer in net.layers if isinstance(layer, layers.BatchNorm)][-1]
        gamma, beta = last_bn.params["gamma"], last_bn.params["beta"]
        batch = self.images[:60]
        inputs = study.sigmoid_input(net, batch, train=True)
        np.testing.assert_allclose(inputs.mean(axis=0), beta, atol=1e-5)
        np.testing.assert_allclose(inputs.std(axis=0), np.abs(gamma), rtol=1e-3)
        evaluated = study.sigmoid_input(net, batch, train=False)
        self.assertFalse(np.allclose(evaluated, inputs, atol=1e-3))

    def test_percentiles_of_unit_0_in_both_modes(self):
        for kind in study.NETWORKS:
            net = self.trained(kind, False)
            recorded = study.probe(net, self.images)
            self.assertEqual(list(recorded), study.PROBE_FIELDS)
            batches = [study.sigmoid_input(net, self.images[i:i + 60], train=True)[:, 0]
                       for i in (0, 60)]        # 130 images: two whole batches of 60
            np.testing.assert_allclose(
                [recorded[f"train_p{q}"] for q in study.PERCENTILES],
                np.percentile(np.concatenate(batches), study.PERCENTILES), rtol=1e-6)
            np.testing.assert_allclose(
                [recorded[f"eval_p{q}"] for q in study.PERCENTILES],
                np.percentile(study.sigmoid_input(net, self.images, False)[:, 0],
                              study.PERCENTILES), rtol=1e-6)
            # On whole batches, the two modes differ only with BatchNorm.
            whole = study.probe(net, self.images[:120])
            same = np.allclose([whole[f"train_p{q}"] for q in study.PERCENTILES],
                               [whole[f"eval_p{q}"] for q in study.PERCENTILES])
            self.assertEqual(same, kind == "sigmoid", kind)

    def test_a_run_of_the_study_records_the_probe(self):
        rng = np.random.default_rng(0)
        binary = lambda n: (rng.random((n, 784)) < 0.2).astype(np.float32)
        splits = {"train": (binary(120), rng.integers(0, 10, 120)),
                  "validation": (binary(70), rng.integers(0, 10, 70)),
                  "test": (binary(10), rng.integers(0, 10, 10))}
        settings = parse("--epochs", "2", "--limit", "120")
        for kind in study.NETWORKS:
            recorded = main.train_run(sweep.Run(kind, 0, 0.5, 1.0), splits, settings,
                                      lambda record: None)
            self.assertEqual([record["epoch"] for record in recorded["history"]], [0, 1, 2])
            for record in recorded["history"]:
                self.assertEqual(set(record), {*main.TRAINING_FIELDS, *study.PROBE_FIELDS})


class Table(unittest.TestCase):
    def test_accuracy_at_the_epochs_closest_to_the_steps(self):
        epochs = np.arange(61.0)
        runs = {"sigmoid": [(seed, 0.9, {"epoch": epochs,
                                         "val_accuracy": epochs / 100 + seed / 1000})
                            for seed in range(3)]}
        header, [row] = study_plot.table(study_plot.in_steps(runs))
        self.assertEqual(header, ["network", "10,008 steps", "20,016 steps", "30,024 steps",
                                  "50,040 steps", "test, at the end"])
        # 10,008, 20,016, 30,024 and 50,040 steps: epochs 12, 24, 36 and 60
        self.assertEqual(row, ["`sigmoid`", *(f"{epoch / 100 + 0.001:.4f} ({epoch / 100:.4f} to "
                                              f"{epoch / 100 + 0.002:.4f})"
                                              for epoch in (12, 24, 36, 60)),
                               "0.9000 (0.9000 to 0.9000)"])

    def test_runs_shorter_than_the_columns_leave_them_empty(self):
        history = {"epoch": np.arange(4.0), "val_accuracy": np.full(4, 0.9),
                   **{field: np.zeros(4) for field in study.PROBE_FIELDS}}
        runs = study_plot.in_steps({"sigmoid": [(0, 0.9, history)]})
        self.assertEqual(study_plot.table(runs)[1][0][1:], ["-"] * 4 + ["0.9000"])
        self.assertEqual(study_plot.drift(runs)[1][0][1:3], ["-", "-"])
        self.assertIn("nothing to compare", study_plot.drift(runs)[1][0][3])

    def test_the_drift_is_the_mean_of_each_seed_s_move_and_factor(self):
        runs = {"sigmoid": [(seed, 0.9, made_history("sigmoid", seed, 60))
                            for seed in (0, 1)]}
        runs = study_plot.in_steps(runs)
        header, [row] = study_plot.drift(runs)
        self.assertEqual(header[3], "from 10,008 steps to the end")
        # Each seed's median: 0 before training, seed / 10 - 1.2 at epoch 12, seed / 10 - 6 at
        # the end; its width: 1 + seed / 10 + epoch / 10.
        self.assertEqual(row[1], "0.00 (0.00 to 0.00) -> -1.15 (-1.20 to -1.10) -> "
                                 "-5.95 (-6.00 to -5.90)")
        self.assertEqual(row[2], "1.05 (1.00 to 1.10) -> 2.25 (2.20 to 2.30) -> "
                                 "7.05 (7.00 to 7.10)")
        moved, grew = 4.8, (7 / 2.2 + 7.1 / 2.3) / 2
        self.assertEqual(row[3], f"median moved by {moved:.2f}, width x{grew:.2f}")
        drifts = study_plot.drifts(runs["sigmoid"])
        self.assertEqual(set(drifts), {0, 1})
        for seed, expected in ((0, (4.8, 7 / 2.2)), (1, (4.8, 7.1 / 2.3))):
            np.testing.assert_allclose(drifts[seed], expected, rtol=1e-12)

    def test_the_grid_bolds_each_network_s_best_rate_at_the_end(self):
        runs, every = {}, {}
        for lr, shift in ((0.3, 0.01), (3.0, 0.0), (10.0, -0.01)):
            runs[lr] = study_plot.in_steps(
                {kind: [(0, 0.9, {"epoch": np.arange(61.0),
                                  "val_accuracy": 0.9 + shift * (1 if kind == "sigmoid-bn" else -1)
                                  + np.arange(61.0) / 1000})]
                 for kind in study.NETWORKS})
            every[lr] = study.STEPS_PER_EPOCH
        header, rows = study_plot.grid(runs, every)
        self.assertEqual(header, ["lr", "`sigmoid` 10k", "`sigmoid` 50k", "`sigmoid-bn` 10k",
                                  "`sigmoid-bn` 50k"])
        self.assertEqual(rows, [["0.3", "0.9020", "0.9500", "0.9220", "**0.9700**"],
                                ["3", "0.9120", "0.9600", "0.9120", "0.9600"],
                                ["10", "0.9220", "**0.9700**", "0.9020", "0.9500"]])


def made_history(kind, seed, epoch_count, better=0.0, drift=1.0):
    """A made-up history of the study's run: validation accuracy 0.9 +
    epoch / 1000 + seed / 1000 (+ better for sigmoid-bn); unit 0's median 0
    before training, then seed / 10 - epoch / 10, its 15-85 width 1 + seed /
    10 + epoch / 10, both in both modes, each epoch's part times drift for
    sigmoid-bn."""
    epoch = np.arange(epoch_count + 1.0)
    scale = drift if kind == "sigmoid-bn" else 1.0
    median = np.where(epoch > 0, seed / 10 - scale * epoch / 10, 0.0)
    width = 1 + seed / 10 + scale * epoch / 10
    percentiles = {15: median - width / 2, 50: median, 85: median + width / 2}
    return {"epoch": epoch,
            "val_accuracy": 0.9 + epoch / 1000 + seed / 1000 + (better if kind == "sigmoid-bn"
                                                                 else 0),
            **{f"{mode}_p{q}": percentiles[q] for mode in ("train", "eval") for q in percentiles}}


def save_ioffe_runs(directory, epochs=60, limit=main.TRAIN_SIZE, lr=3.0, seeds=(0, 1),
                    better=0.0, later_better=None, drift=1.0):
    """Save made-up runs of the study (each network from each of seeds, at
    lr) into directory: their histories made_history's (with better and
    drift), their test accuracy 0.97 + seed / 1000 (+ later_better, or
    else better, for sigmoid-bn)."""
    os.makedirs(directory, exist_ok=True)
    fields = [*main.TRAINING_FIELDS, *study.PROBE_FIELDS]
    at_the_end = better if later_better is None else later_better
    for kind in study.NETWORKS:
        for seed in seeds:
            made = made_history(kind, seed, epochs, better, drift)
            history = [{"train_loss": 0.1, "val_loss": 0.1, "seconds": 1.0,
                        **{field: float(values[epoch]) for field, values in made.items()}}
                       for epoch in range(epochs + 1)]
            record = {"run": f"{kind}_seed{seed}_ioffe-szegedy"
                             + (f"_lr{results.exact(lr)}" if lr != study.LEARNING_RATE else "")
                             + (f"_limit{limit}" if limit != main.TRAIN_SIZE else ""),
                      "network": kind, "seed": seed, "study": "ioffe-szegedy", "data": "mnist",
                      "lr": lr, "init_scale": 1.0, "init_scale_layers": "all",
                      "epochs": epochs, "batch_size": 60, "limit": limit, "dtype": "float32",
                      "status": "finished",
                      "test_accuracy": 0.97 + seed / 1000 + (at_the_end if kind == "sigmoid-bn"
                                                             else 0)}
            with results.saving(directory):
                results.save(directory, record, fields, history)


class Program(unittest.TestCase):
    """python3 -m studies.ioffe_szegedy.plot RESULTS_DIR: the table, and the figure."""

    def run_program(self, *argv):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = study_plot.main(list(argv))
        return status, out.getvalue(), err.getvalue()

    def test_a_directory_without_runs_is_said_in_one_line(self):
        with tempfile.TemporaryDirectory() as directory:
            status, _, err = self.run_program(directory)
            self.assertEqual(status, 2)
            self.assertEqual(err.count("\n"), 1)
            self.assertIn("run python3 -m studies.ioffe_szegedy first", err)
            status, _, err = self.run_program(os.path.join(directory, "missing"))
            self.assertEqual((status, err.count("\n")), (2, 1))

    def test_the_table_and_the_figure_of_saved_runs(self):
        with tempfile.TemporaryDirectory() as directory:
            save_ioffe_runs(directory)
            figure = os.path.join(directory, "figure.png")
            status, out, _ = self.run_program(directory, "--figure", figure)
            self.assertEqual(status, 0)
            self.assertIn("Learning rate 3:", out)
            self.assertIn("0.9125 (0.9120 to 0.9130)", out)       # epoch 12: 10,008 steps
            if plot.available():
                self.assertGreater(os.path.getsize(figure), 10_000)
            else:
                self.assertIn(plot.HINT, out)
                self.assertFalse(os.path.exists(figure))


    def test_an_epoch_is_the_steps_of_the_runs_own_limit_and_batch_size(self):
        with tempfile.TemporaryDirectory() as directory:
            save_ioffe_runs(directory, epochs=300, limit=2000)     # 34 steps an epoch
            status, out, _ = self.run_program(directory, "--figure",
                                              os.path.join(directory, "figure.png"))
            self.assertEqual(status, 0)
            self.assertIn("9,996 steps", out)                    # epoch 294, not 10,008
            self.assertIn("at 0, 9,996 steps and at the end", out)


    def test_a_table_alone_is_the_same_markdown_and_draws_nothing(self):
        with tempfile.TemporaryDirectory() as directory:
            save_ioffe_runs(directory)
            _, everything, _ = self.run_program(directory, "--figure",
                                                os.path.join(directory, "figure.png"))
            for name, first in (("accuracy", "| network | 10,008 steps |"),
                                ("drift", "| network | median | 15-85 width |")):
                status, out, err = self.run_program(directory, "--table", name)
                self.assertEqual((status, err), (0, ""))
                self.assertTrue(out.startswith(first), out)
                self.assertTrue(all(line.startswith("| ") for line in out.splitlines()), out)
                self.assertIn(out, everything)
            self.assertNotIn(study_plot.FIGURE, os.listdir(directory))

    def test_the_grid_reads_the_rates_of_several_directories(self):
        with tempfile.TemporaryDirectory() as directory:
            low, high = os.path.join(directory, "low"), os.path.join(directory, "high")
            save_ioffe_runs(low, lr=0.3, seeds=(0,), better=0.01)
            save_ioffe_runs(high, seeds=(1,))
            status, out, _ = self.run_program(low, high, "--table", "grid")
            self.assertEqual(status, 0)
            self.assertEqual(out.splitlines()[2:],
                             ["| 0.3 | 0.9120 | 0.9600 | 0.9220 | **0.9700** |",
                              "| 3 | 0.9130 | **0.9610** | 0.9130 | 0.9610 |"])
            _, everything, _ = self.run_program(low, high, "--figure",
                                                os.path.join(directory, "figure.png"))
            self.assertIn(out, everything)

    def test_a_table_at_a_rate_without_runs_is_said_in_one_line(self):
        with tempfile.TemporaryDirectory() as directory:
            save_ioffe_runs(directory)
            status, out, err = self.run_program(directory, "--table", "drift", "--lr", "0.3")
            self.assertEqual((status, out), (2, ""))
            self.assertEqual(err, f"{study_plot.PROGRAM}: error: no runs at --lr 0.3; the runs "
                                  "have 3\n")


class Claims(unittest.TestCase):
    """studies/claims/ioffe_szegedy.py: each verdict follows the numbers."""

    def measure(self, lr3, lr03):
        """Each claim's Measured on made-up sweeps of 3 seeds at lr 3 and
        0.3, saved with the keywords of save_ioffe_runs in lr3 and lr03."""
        with tempfile.TemporaryDirectory() as root:
            save_ioffe_runs(os.path.join(root, "ioffe-szegedy"), seeds=(0, 1, 2), **lr3)
            save_ioffe_runs(os.path.join(root, "ioffe-szegedy-lr0.3"), lr=0.3, seeds=(0, 1, 2),
                            **lr03)
            return [claim.measure(root) for claim in claims.CLAIMS]

    def test_batchnorm_ahead_higher_and_steadier_at_both_rates_holds(self):
        ahead = {"better": 0.01, "drift": 0.5}
        faster, higher, stable = self.measure(ahead, ahead)
        self.assertEqual(faster.verdict, "holds: ahead at lr 3 and 0.3")
        self.assertEqual(higher.verdict, "holds: higher at lr 3 and 0.3")
        self.assertEqual(stable.verdict, "holds: steadier at lr 3 and 0.3")
        self.assertIn("lr 3 +0.0100 (higher on 3 of 3 seeds; spread 0.0010)", faster.text)
        self.assertAlmostEqual(faster.value, 0.01)
        self.assertAlmostEqual(faster.spread, 0.001)
        # The median moves 4.8 without BatchNorm, 2.4 with it; the width
        # grows 7 / 2.2 times without, 4 / 1.6 times with it (seed 0).
        self.assertIn("lr 3: median moved 4.80 / 2.40, width x", stable.text)
        self.assertAlmostEqual(stable.value, 2.4)

    def test_the_verdicts_turn_with_the_numbers(self):
        behind = {"better": -0.01, "drift": 2.0}
        faster, higher, stable = self.measure(behind, {"better": 0.01, "drift": 0.5})
        self.assertEqual(faster.verdict, "holds in part: ahead at lr 0.3; behind at lr 3")
        self.assertEqual(stable.verdict, "holds in part: steadier at lr 0.3; less steady at lr 3")
        self.assertLess(faster.value, 0)
        faster, higher, stable = self.measure(behind, behind)
        self.assertEqual(faster.verdict, "does not hold: behind at lr 3 and 0.3")
        self.assertEqual(higher.verdict, "does not hold: lower at lr 3 and 0.3")
        self.assertEqual(stable.verdict, "does not hold: less steady at lr 3 and 0.3")
        level = {"better": 0.0, "drift": 1.0}
        faster, higher, stable = self.measure(level, {"better": 0.01, "later_better": -0.0002})
        self.assertEqual(faster.verdict, "holds in part: ahead at lr 0.3; within noise at lr 3")
        self.assertEqual(higher.verdict, "within noise: at lr 3 and 0.3")

    def test_a_width_that_shrinks_is_no_steadier_than_one_that_grows(self):
        # sigmoid's width stays (x1.0, x1.01, x0.99); sigmoid-bn's median
        # moves less, but its width halves: not "steadier".
        drifts = iter([{0: (0.1, 1.0), 1: (0.11, 1.01), 2: (0.12, 0.99)},
                       {0: (0.01, 0.5), 1: (0.011, 0.51), 2: (0.012, 0.49)}] * 2)
        with mock.patch.object(claims.study, "drifts", lambda runs, every: next(drifts)):
            stable = self.measure({}, {})[2]
        self.assertIn("width x1.00 / x0.50", stable.text)
        self.assertEqual(stable.verdict, "does not hold: less steady at lr 3 and 0.3")

    def test_a_missing_sweep_is_a_results_error(self):
        with tempfile.TemporaryDirectory() as root:
            save_ioffe_runs(os.path.join(root, "ioffe-szegedy"), seeds=(0, 1, 2))
            for claim in claims.CLAIMS:
                with self.assertRaises(results.ResultsError):
                    claim.measure(root)


if __name__ == "__main__":
    unittest.main()
