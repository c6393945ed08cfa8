"""The gradient checks: every layer and network, checked against central
differences, and the original mnist-numpy project's own checks of
BatchNorm's backward pass; then how layers and training behave. Needs no
network and no MNIST.

    python3 test.py              every test of the project, this file's and
                                 the plumbing's (test_data.py, test_program.py)
    python3 test.py --exercises  the checks of README's open exercises

A gradient check compares a backward pass with central differences,
    df/dx ~= (f(x + epsilon) - f(x - epsilon)) / (2 epsilon),
whose error shrinks as epsilon^2, down to rounding: in float64 and with
epsilon from 1e-4 to 1e-6 the two agree to about 1e-8 or better where the
backward pass is right, and differ visibly where it is wrong.
"""
import math
import os
import sys
import tempfile
import unittest

import numpy as np

import layers
import layersTest
import main
import network
import networkTest

# ---------------------------------------------------------------- testing parameters
# The original project's checks of BatchNorm ("throughout a wide range of
# testing parameters"):
SEEDS = (0, 1, 2)                   # each seed: new data, weights and perturbed elements
EPSILONS = (1e-4, 1e-5, 1e-6)       # central-difference steps
ELEMENTS_PER_RUN = 4                # input elements of the BatchNorm layer checked per run
BATCH = 128                         # the original's: one epoch of one batch of 128
INPUT_DIM, HIDDEN_DIM, CLASSES = 20, 16, 10   # Linear -> BatchNorm -> ReLU -> Linear
DX_TOLERANCE = 1e-8                 # the original's: |numerical dX - analytic dX|
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
        # After forward(train=False) the statistics are the running ones,
        # constants: backward must not reuse a training batch's x_hat or s.
        layer = layers.BatchNorm(4, dtype=np.float64)
        layer.params["gamma"][:] = self.rng.standard_normal(4)
        layer.params["beta"][:] = self.rng.standard_normal(4)
        layer.forward(5 + 3 * self.rng.standard_normal((7, 4)), train=True)   # another batch
        layer.running_mean[:] = self.rng.standard_normal(4)
        layer.running_var[:] = 1 + self.rng.random(4)
        self.check_layer("BatchNorm (evaluation)", layer, self.rng.standard_normal((5, 4)),
                         train=False)

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


class StagedBatchNorm(GradientCase):
    """BatchNorm as a graph of small named steps, forward then backward one
    step at a time (the "computational graph" walk-through): a reference
    for layers.BatchNorm, whose backward is the three-term result of the
    same chain rule. Every step holds column by column."""

    @staticmethod
    def forward(X, gamma, beta, eps):
        N = len(X)
        mean = X.sum(axis=0) / N                         # (D,)
        centered = X - mean                              # (N, D)
        var = (centered ** 2).sum(axis=0) / N            # (D,)
        inv_std = (var + eps) ** -0.5                    # (D,)   s
        x_hat = centered * inv_std                       # (N, D)
        Y = gamma * x_hat + beta                         # (N, D)
        return Y, (centered, inv_std, x_hat, gamma)

    @staticmethod
    def backward(dY, steps):
        """Each line differentiates one forward step, last step first: the
        gradient of a step's input is the gradient of its output times the
        step's local derivative, summed over every use of the input."""
        centered, inv_std, x_hat, gamma = steps
        N = len(dY)
        dbeta = dY.sum(axis=0)                           # Y = gamma x_hat + beta
        dgamma = (dY * x_hat).sum(axis=0)
        dx_hat = dY * gamma
        dinv_std = (dx_hat * centered).sum(axis=0)       # x_hat = centered inv_std
        dcentered = dx_hat * inv_std
        dvar = dinv_std * -0.5 * inv_std ** 3            # inv_std = (var + eps)^(-1/2)
        dcentered += dvar * 2 * centered / N             # var = sum_n centered[n]^2 / N
        dX = dcentered.copy()                            # centered = X - mean
        dmean = -dcentered.sum(axis=0)
        dX += dmean / N                                  # mean = sum_n X[n] / N
        return dX, dgamma, dbeta

    def test_staged_backward_matches_the_layer_and_central_differences(self):
        rng = np.random.default_rng(7)
        layer = layers.BatchNorm(6, dtype=np.float64)
        gamma, beta = layer.params["gamma"], layer.params["beta"]
        gamma[:], beta[:] = rng.standard_normal(6), rng.standard_normal(6)
        X, dY = 3 + 2 * rng.standard_normal((16, 6)), rng.standard_normal((16, 6))
        Y, steps = self.forward(X, gamma, beta, layer.eps)
        np.testing.assert_allclose(Y, layer.forward(X), atol=1e-12)
        dX, dgamma, dbeta = self.backward(dY, steps)
        worst = max(np.abs(dX - layer.backward(dY)).max(),
                    np.abs(dgamma - layer.grads["gamma"]).max(),
                    np.abs(dbeta - layer.grads["beta"]).max())
        report(f"staged BatchNorm vs BatchNorm.backward: worst error {worst:.1e}")
        self.assertLess(worst, 1e-12)
        def f():
            return float(np.sum(self.forward(X, gamma, beta, layer.eps)[0] * dY))
        self.assertGradient("staged BatchNorm dX", f, X, dX)
        self.assertGradient("staged BatchNorm dgamma", f, gamma, dgamma)


class OriginalProjectChecks(unittest.TestCase):
    """The original mnist-numpy project's checks of BatchNorm's backward pass
    (its README, "test.py"), at its tolerances.

    The generic checker above tests each layer alone, on a made-up scalar
    sum(Y * R). These test BatchNorm where it works: inside a network, on
    the real training loss that Network.train computes, with the gradient
    that reaches it through the layers above it (ReLU, Linear, the softmax
    loss); and they reproduce what the original project claimed."""

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
        report(f"original dBeta: central differences of Y(beta) vs ones, {DBETA_TRIALS} random "
               f"trials: worst error {worst_ones:.1e}")
        report(f"original dBeta: backward's dbeta vs column sum of dY: worst error {worst_sum:.1e}")
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
        report(f"original dX: three networks, {checked} elements over seeds {SEEDS} and "
               f"epsilons {EPSILONS}: worst |numerical - analytic| {worst:.1e}")
        self.assertLess(worst, DX_TOLERANCE)

    def test_the_original_formula_as_the_docstring_relates_it(self):
        # BatchNorm's docstring: the original project's line, given
        # dx_hat = gamma dY for dY, times s = 1/sqrt(var + eps), is dX; given
        # dY itself, it is dX exactly in the columns where gamma s = 1.
        rng = np.random.default_rng(4)
        layer = layers.BatchNorm(5, dtype=np.float64)
        gamma = layer.params["gamma"]
        gamma[:] = rng.standard_normal(5)
        X, dY = 3 + 2 * rng.standard_normal((16, 5)), rng.standard_normal((16, 5))
        layer.forward(X)
        dX = layer.backward(dY)
        s = layer.inv_std

        def original_line(dY, dbeta):          # with x_hat of the last forward pass
            x_hat = layer.x_hat
            return (len(dY) * dY - dbeta - x_hat * np.sum(dY * x_hat, axis=0)) / len(dY)
        dx_hat = gamma * dY
        worst = np.abs(s * original_line(dx_hat, dx_hat.sum(axis=0)) - dX).max()
        report(f"original dX formula: s * line(gamma dY) vs backward's dX: worst error {worst:.1e}")
        self.assertLess(worst, 1e-12)
        # gamma s = 1 in columns 0-2 (with var + eps far from 1), not in 3-4:
        gamma[:3] = 1 / s[:3]
        dX = layer.backward(dY)
        line = original_line(dY, dY.sum(axis=0))
        np.testing.assert_allclose(line[:, :3], dX[:, :3], atol=1e-12)
        self.assertGreater(np.abs(line[:, 3:] - dX[:, 3:]).min(axis=0).max(), 1e-3)
        self.assertTrue(np.all(np.abs(1 / s ** 2 - 1) > 0.5), "var + eps should be far from 1")

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

    def test_the_scale_of_the_weights_before_it_changes_its_output_but_not_its_gradient_scale(self):
        # Ioffe & Szegedy, sec. 3.3: BN((a W) u) = BN(W u), and the gradient
        # passed back to u is unchanged, while the one of W shrinks by 1/a.
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
            net.save(path)
            copy = main.build_network("bn", np.random.default_rng(1), np.float32, sizes=(6, 5, 4, 3))
            copy.load(path)
        for key, array in net.state().items():
            np.testing.assert_array_equal(copy.state()[key], array)
        np.testing.assert_array_equal(copy.predict(X), net.predict(X))


# ---------------------------------------------------------------- README's open exercises

class ExerciseChecks(GradientCase):
    """What tells a learner that an exercise of README's is done: each check
    takes the learner's code as an argument."""

    def check_layernorm(self, LayerNorm, name="exercise LayerNorm"):
        """LayerNorm(dim): each row normalized over its D features, then
        gamma x_hat + beta; forward, and backward by central differences."""
        rng = np.random.default_rng(5)
        X = 3 + 2 * rng.standard_normal((6, 5))
        Y = LayerNorm(5, dtype=np.float64).forward(X)
        np.testing.assert_allclose(Y.mean(axis=1), 0, atol=1e-10, err_msg="row means")
        np.testing.assert_allclose(Y.var(axis=1), 1, rtol=1e-3, err_msg="row variances")
        layer = LayerNorm(5, dtype=np.float64)
        layer.params["gamma"][:] = rng.standard_normal(5)
        layer.params["beta"][:] = rng.standard_normal(5)
        self.check_layer(name, layer, X)

    def check_bias_free_linear(self, make_linear, name="exercise Linear without bias"):
        """make_linear(in_dim, out_dim, rng) -> a Linear layer without bias:
        its gradients are right, and in front of a BatchNorm it changes
        nothing: the same output and the same gradient of W as with any b."""
        rng = np.random.default_rng(6)
        X, R = rng.standard_normal((8, 6)), rng.standard_normal((8, 4))
        bias_free = make_linear(6, 4, np.random.default_rng(1))
        self.assertEqual(list(bias_free.params), ["W"], "the layer should learn W only")
        self.check_layer(name, bias_free, X)
        with_bias = layers.Linear(6, 4, np.random.default_rng(1), np.float64)
        with_bias.params["b"][:] = 10 * rng.standard_normal(4)
        outputs, gradients = [], []
        for linear in (bias_free, with_bias):
            batchnorm = layers.BatchNorm(4, dtype=np.float64)
            outputs.append(batchnorm.forward(linear.forward(X)))
            linear.backward(batchnorm.backward(R))
            gradients.append(linear.grads["W"])
        np.testing.assert_allclose(outputs[0], outputs[1], atol=1e-9)
        np.testing.assert_allclose(gradients[0], gradients[1], atol=1e-9)


class Exercises(ExerciseChecks):
    """README's open exercises, checked on the learner's code: run with
    `python3 test.py --exercises`. Each fails until its exercise is done."""
    __test__ = False                  # not part of `python3 test.py` or pytest's run

    def test_layernorm(self):
        if not hasattr(layers, "LayerNorm"):
            self.fail("layers.py has no LayerNorm yet (README, Exercises)")
        self.check_layernorm(layers.LayerNorm)

    def test_linear_without_bias(self):
        try:
            self.check_bias_free_linear(lambda i, o, rng: layers.Linear(i, o, rng, np.float64,
                                                                        bias=False))
        except TypeError as error:
            self.fail(f"Linear(..., bias=False) does not work yet ({error})")


class ExerciseChecksWork(ExerciseChecks):
    """The exercise checks pass a right answer and fail a wrong one: here,
    answers made from the layers that exist (README's folded answers are
    written out by hand)."""

    class LayerNormFromBatchNorm(layers.Layer):
        """LayerNorm as BatchNorm of X^T: normalizing each row of X over its
        features is normalizing each column of X^T over its entries."""

        def __init__(self, dim, dtype=np.float32):
            super().__init__()
            self.params = {"gamma": np.ones(dim, dtype), "beta": np.zeros(dim, dtype)}
            self.grads = {name: np.zeros_like(p) for name, p in self.params.items()}

        def forward(self, X, train=True):
            self.normalize = layers.BatchNorm(len(X), dtype=X.dtype)
            self.x_hat = self.normalize.forward(X.T).T
            return self.params["gamma"] * self.x_hat + self.params["beta"]

        def backward(self, dY, need_dX=True):
            self.grads["beta"] = dY.sum(axis=0)
            self.grads["gamma"] = (dY * self.x_hat).sum(axis=0)
            return self.normalize.backward((dY * self.params["gamma"]).T).T

    def test_a_right_layernorm_passes_and_a_wrong_one_fails(self):
        self.check_layernorm(self.LayerNormFromBatchNorm, "LayerNorm from BatchNorm")

        class WithoutTheMeanTerm(self.LayerNormFromBatchNorm):
            def backward(self, dY, need_dX=True):
                right = super().backward(dY)
                return right + (dY * self.params["gamma"]).mean(axis=1, keepdims=True) \
                    * self.normalize.inv_std[:, None]
        with self.assertRaises(AssertionError):
            self.check_layernorm(WithoutTheMeanTerm, "a wrong LayerNorm, to be caught")

    class LinearWithoutBias(layers.Linear):
        """Y = X W: Linear with its bias taken out."""

        def __init__(self, in_dim, out_dim, rng):
            super().__init__(in_dim, out_dim, rng, np.float64)
            del self.params["b"], self.grads["b"]

        def forward(self, X, train=True):
            self.X = X
            return X @ self.params["W"]

        def backward(self, dY, need_dX=True):
            self.grads["W"] = self.X.T @ dY
            return dY @ self.params["W"].T

    def test_a_right_bias_free_linear_passes_and_one_with_bias_fails(self):
        self.check_bias_free_linear(self.LinearWithoutBias, "Linear without bias")
        with self.assertRaises(AssertionError):
            self.check_bias_free_linear(lambda i, o, rng: layers.Linear(i, o, rng, np.float64),
                                        "Linear with its bias, to be caught")


# ---------------------------------------------------------------- running

def run(argv):
    """Run every test of the project (or, with --exercises, the exercise
    checks), print what the gradient checks compared, and end with one line
    `N passed, N failed`; returns the exit status."""
    import test_data
    import test_program
    loader = unittest.defaultTestLoader
    if "--exercises" in argv:
        suite = loader.loadTestsFromTestCase(Exercises)
    else:
        suite = unittest.TestSuite(
            test for module in (sys.modules[__name__], test_data, test_program)
            for test in loader.loadTestsFromModule(module)
            if not all(isinstance(case, Exercises) for case in test))
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
    sys.exit(run(sys.argv[1:]))
