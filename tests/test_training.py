"""How layers and training behave: BatchNorm's running statistics and
evaluation mode, the loss's value, float32 kept everywhere, SGD, seeds,
initialization, learning, saving. Needs no network and no MNIST.
test.py holds the gradient checks, the lesson; these are the rest.

    python3 -m unittest test_training
"""
import math
import os
import tempfile
import unittest

import numpy as np

import layers
import main
import network
from lab import files


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

    def test_weights_a_times_larger_before_it_give_the_same_output_and_du_and_dW_over_a(self):
        # Ioffe & Szegedy, sec. 3.3: BN((a W) u) = BN(W u), and the gradient
        # passed back to u is unchanged, while the one of W shrinks by 1/a
        # (eps = 0 here: eps is what keeps it from holding exactly).
        rng = np.random.default_rng(8)
        u, R = rng.standard_normal((32, 6)), rng.standard_normal((32, 4))
        outputs = {}
        for a in (1.0, 0.1, 10.0):
            linear = layers.Linear(6, 4, np.random.default_rng(1), np.float64, init_scale=a)
            batchnorm = layers.BatchNorm(4, eps=0.0, dtype=np.float64)
            Y = batchnorm.forward(linear.forward(u))
            du = linear.backward(batchnorm.backward(R))
            outputs[a] = (Y, du, linear.grads["W"])
        for a in (0.1, 10.0):
            np.testing.assert_allclose(outputs[a][0], outputs[1.0][0], atol=1e-12)
            np.testing.assert_allclose(outputs[a][1], outputs[1.0][1], atol=1e-12)
            np.testing.assert_allclose(a * outputs[a][2], outputs[1.0][2], atol=1e-12)

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


class SoftmaxCrossEntropyValue(unittest.TestCase):
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
                # Every gradient is nonzero, so the step is seen; even those of
                # 0.b, 3.beta and 4.b, which learn nothing in `bn` (test.py's
                # GRADIENT_FLOOR): 0 but for float32 rounding.
                self.assertTrue(np.any(layer.grads[key] != 0), f"{i}.{key}")

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
            self.assertGreaterEqual(accuracy, 0.95, f"{kind}: held-out accuracy")
            self.assertEqual(history[-1]["val_accuracy"], accuracy)
            self.assertLess(history[-1]["train_loss"], history[0]["train_loss"])

    def test_a_last_batch_of_one_sample_is_left_out(self):
        # BatchNorm cannot take the variance of one sample; two are enough.
        # (A network without BatchNorm trains on batches of 1 but the last.)
        for n, batch_size, sizes in ((21, 5, [5, 5, 5, 5]), (22, 5, [5, 5, 5, 5, 2]),
                                     (4, 1, [1, 1, 1])):
            rng = np.random.default_rng(0)
            net = main.build_network("plain", rng, np.float32, sizes=(6, 5, 4, 3))
            seen = []
            net.train_step = lambda X, y, lr, on_step=None: seen.append(len(X)) or 1.0
            X = rng.standard_normal((n, 6)).astype(np.float32)
            net.train(X, np.arange(n) % 3, 1, 0.1, batch_size, rng)
            self.assertEqual(seen, sizes, (n, batch_size))

    def test_divergence_stops_training(self):
        rng = np.random.default_rng(0)
        net = main.build_network("plain", rng, np.float32, sizes=(6, 5, 4, 3))
        X = rng.standard_normal((40, 6)).astype(np.float32)
        with np.errstate(all="ignore"), self.assertRaisesRegex(network.Diverged, "epoch 1, batch"):
            net.train(X, np.arange(40) % 3, 5, 1e30, 8, rng)

    def test_the_default_weights_are_he_initialization_for_every_seed(self):
        # --init-scale 1, the default, must give the original recipe's
        # weights bit for bit: N(0, 1) draws in order, times sqrt(2 / D_in).
        for seed in range(5):
            for kind in main.NETWORKS:
                net = main.build_network(kind, np.random.default_rng(seed))
                rng = np.random.default_rng(seed)
                for layer in net.layers:
                    if isinstance(layer, layers.Linear):
                        W = rng.standard_normal(layer.params["W"].shape, dtype=np.float32)
                        W *= math.sqrt(2.0 / len(W))
                        np.testing.assert_array_equal(layer.params["W"], W)

    def test_init_scale_multiplies_every_linear_weight_exactly(self):
        for kind in main.NETWORKS:
            plain = main.build_network(kind, np.random.default_rng(3))
            for scale in (0.1, 10.0):
                scaled = main.build_network(kind, np.random.default_rng(3), init_scale=scale)
                for one, other in zip(plain.layers, scaled.layers):
                    for key, array in one.state().items():
                        expected = array * np.float32(scale) if key == "W" else array
                        np.testing.assert_array_equal(other.state()[key], expected, key)

    def test_save_and_load_round_trip(self):
        rng = np.random.default_rng(0)
        net = main.build_network("bn", rng, np.float32, sizes=(6, 5, 4, 3))
        X = rng.standard_normal((12, 6)).astype(np.float32)
        net.train(X, np.arange(12) % 3, 2, 0.1, 4, rng)
        with tempfile.TemporaryDirectory() as directory:
            path = os.path.join(directory, "weights.npz")
            files.save_weights(net, path)
            copy = main.build_network("bn", np.random.default_rng(1), np.float32,
                                      sizes=(6, 5, 4, 3))
            files.load_weights(copy, path)
        for key, array in net.state().items():
            np.testing.assert_array_equal(copy.state()[key], array)
        np.testing.assert_array_equal(copy.predict(X), net.predict(X))
