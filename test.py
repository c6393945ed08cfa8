"""The gradient lesson: every layer and network of the project, checked
against central differences, and the original mnist-numpy project's own
checks of BatchNorm's backward pass. Needs no internet access and no MNIST; runs in
about a second.

    python3 test.py              the gradient checks, then a report of what
                                 each compared, in reading order: its worst
                                 error against its tolerance
    python3 test.py --exercises  the checks of the tutorial's open exercises
    python3 -m unittest          every test of the project: these, and
                                 those in tests/ (docs/testing.md says what
                                 each file proves)

A gradient check compares a backward pass with central differences,
    df/dx ~= (f(x + epsilon) - f(x - epsilon)) / (2 epsilon),
whose error shrinks as epsilon^2, down to rounding: in float64 and with
epsilon from 1e-4 to 1e-6 the two agree to about 1e-8 or better where the
backward pass is right, and differ visibly where it is wrong.
"""

import sys
import unittest

import numpy as np

import layers
import layersTest
import main
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
# Those checked here are above 0.05, or, for BatchNorm's dX with a batch of
# 2, about 6e-4, or exactly 0: in `bn`, the biases 0.b and 4.b of the Linear
# layers before a BatchNorm, which its mean cancels, and 3.beta, the shift of
# the BatchNorm after the first ReLU, which reaches only Linear layer 4,
# whose output BatchNorm 5 re-centres. Below the floor, 1e-9 absolute is asked.
SAME_FORMULA_TOLERANCE = 1e-12      # two float64 computations of one formula

REPORT = []                         # one line per check, in the order they ran


def report(what, error, tolerance=None, must_exceed=False):
    """Keep one line of the report: what was compared, its worst error, and
    the tolerance it must stay below (or, for a check that shows a failure,
    exceed; or none, for a value only shown)."""
    line = f"{what:<60} {error:7.1e}"
    if tolerance is not None:
        met = error > tolerance if must_exceed else error < tolerance
        line += f" {'>' if must_exceed else '<'} {tolerance:.1e}" + ("" if met else "   NOT MET")
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


def weighted_sum(layer, X, train=True):
    """The scalar f = sum(Y * R) of layer's output Y at X, for a fixed random
    R, and R, which is then dY: every output element counts, with its own
    weight. Returns (f, R); layer's last forward pass is at X."""
    R = np.random.default_rng(1).standard_normal(layer.forward(X, train).shape).astype(X.dtype)

    def f():
        return float(np.sum(layer.forward(X, train) * R))
    return f, R


class GradientCase(unittest.TestCase):
    def assertBelow(self, what, error, tolerance, detail=""):
        """Report the check, then fail it if error is not below tolerance."""
        report(what, error, tolerance)
        self.assertLess(error, tolerance, f"{what}{': ' + detail if detail else ''}")

    def assertGradient(self, what, f, array, analytic):
        """The backward pass's gradient `analytic` of f with respect to array
        agrees with central differences, to RELATIVE_TOLERANCE."""
        self.assertEqual(np.shape(analytic), array.shape,
                         f"{what}: a gradient has the shape of what it differentiates")
        numerical = numerical_gradient(f, array)
        worst = np.unravel_index(np.abs(numerical - analytic).argmax(), array.shape)
        self.assertBelow(f"gradient {what}", relative_error(numerical, analytic),
                         RELATIVE_TOLERANCE,
                         f"worst element {tuple(int(i) for i in worst)}: numerical "
                         f"{numerical[worst]:.8g}, analytic {analytic[worst]:.8g}")

    def check_layer(self, name, layer, X, train=True):
        """Check dX and every parameter gradient of layer at X, for the
        scalar f = sum(Y * R), so that dY = R."""
        f, R = weighted_sum(layer, X, train)
        dX = layer.backward(R)
        self.assertGradient(f"{name} dX", f, X, dX)
        for key, param in layer.params.items():
            layer.forward(X, train)
            layer.backward(R)
            self.assertGradient(f"{name} d{key}", f, param, layer.grads[key].copy())


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

    def test_sigmoid(self):
        self.check_layer("Sigmoid", layers.Sigmoid(), 3 * self.rng.standard_normal((6, 9)))

    def test_batchnorm_training_mode(self):
        for N in (2, 3, 8, 64):
            layer = layers.BatchNorm(5, dtype=np.float64)
            layer.params["gamma"][:] = self.rng.standard_normal(5)
            layer.params["beta"][:] = self.rng.standard_normal(5)
            X = 3 + 2 * self.rng.standard_normal((N, 5))
            if N == 2:
                # x_hat is then +-1 but for eps, and dX ~ 4 eps / gap^3 is tiny
                # for rows far apart, while close rows curve it sharply:
                # rows 0.2-0.4 apart keep dX large enough and smooth enough.
                gap = (0.2 + 0.2 * self.rng.random(5)) * self.rng.choice([-1, 1], 5)
                X[1] = X[0] + gap
            with self.subTest(N=N):           # a failure at one N does not hide the others
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


class Pitfalls(GradientCase):
    """Three ways a gradient check fails a backward pass that is right:
    each is shown on a right one, with the error it gives."""

    def dX_error(self, layer, X, step=STEP):
        f, R = weighted_sum(layer, X)
        dX = layer.backward(R)               # before f moves X
        return relative_error(numerical_gradient(f, X, step), dX)

    def test_float32_rounding_swamps_the_difference(self):
        # float32 keeps 7 digits of f: f(x + step) - f(x - step), for a step
        # of 1e-5, keeps 2 of them. Gradients are checked in float64.
        errors = {}
        for dtype in (np.float32, np.float64):
            rng = np.random.default_rng(0)
            layer = layers.Linear(7, 5, rng=rng, dtype=dtype)
            errors[dtype] = self.dX_error(layer, rng.standard_normal((6, 7)).astype(dtype))
        report("pitfall: Linear dX in float32", errors[np.float32], 1e-4, must_exceed=True)
        report("  the same in float64", errors[np.float64], RELATIVE_TOLERANCE)
        self.assertGreater(errors[np.float32], 1e-4)
        self.assertLess(errors[np.float64], RELATIVE_TOLERANCE)

    def test_a_central_difference_across_relus_kink(self):
        # max(x, 0) has no derivative at 0: a difference across 0 mixes the
        # slopes 0 and 1 (here (0.3 + 1) / 2 = 0.65 of the way from 0 to 1).
        # Gradients are checked away from the kink.
        X = np.random.default_rng(0).standard_normal((4, 5))
        X += np.sign(X) * 0.1
        X[1, 2] = 0.3 * STEP                 # within one step of the kink
        error = self.dX_error(layers.ReLU(), X)
        report("pitfall: ReLU dX, one input 0.3 steps from the kink", error, 1e-2,
               must_exceed=True)
        X[1, 2] = 0.5
        away = self.dX_error(layers.ReLU(), X)
        report("  the same input at 0.5", away, RELATIVE_TOLERANCE)
        self.assertGreater(error, 1e-2)
        self.assertLess(away, RELATIVE_TOLERANCE)

    def test_the_error_against_the_step(self):
        # The truncation error of a central difference falls as step^2; the
        # rounding error, about 1e-16 |f| / step, grows as the step falls:
        # the error is least between them, where STEP is.
        rng = np.random.default_rng(0)
        loss = layers.SoftmaxCrossEntropyLoss()
        scores, labels = 3 * rng.standard_normal((8, 6)), rng.integers(0, 6, 8)
        loss.forward(scores, labels)
        dscores = loss.backward()
        steps = (1e-1, 1e-3, STEP, 1e-7, 1e-9)
        errors = {step: relative_error(numerical_gradient(lambda: loss.forward(scores, labels),
                                                          scores, step), dscores)
                  for step in steps}
        for step, error in errors.items():
            # The largest and the smallest step must exceed 100 times the error at STEP.
            ends = step in (steps[0], steps[-1])
            label = "pitfall: the loss's dscores at a step of" if step == steps[0] else ""
            report(f"{label:<40} {step:.0e}", error, 100 * errors[STEP] if ends else None, ends)
        self.assertEqual(min(errors, key=errors.get), STEP)
        self.assertGreater(min(errors[steps[0]], errors[steps[-1]]), 100 * errors[STEP])


# ---------------------------------------------------------------- layers

class StagedBatchNorm(GradientCase):
    """BatchNorm as a graph of small named steps, forward then backward one
    step at a time (a walk through BatchNorm's computational graph): a reference
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
        self.assertBelow("staged BatchNorm vs BatchNorm.backward", worst, SAME_FORMULA_TOLERANCE)
        def f():
            return float(np.sum(self.forward(X, gamma, beta, layer.eps)[0] * dY))
        self.assertGradient("staged BatchNorm dX", f, X, dX)
        self.assertGradient("staged BatchNorm dgamma", f, gamma, dgamma)



# ---------------------------------------------------------------- networks

class NetworkGradients(GradientCase):
    def test_every_parameter_of_each_network(self):
        for kind in main.NETWORKS:
            rng = np.random.default_rng(3)
            net = main.build_network(kind, rng, np.float64, sizes=(7, 6, 5, 4))
            for layer in net.layers:
                if isinstance(layer, layers.BatchNorm):
                    shape = layer.params["gamma"].shape
                    layer.params["gamma"][:] = 1 + 0.5 * rng.standard_normal(shape)
                    layer.params["beta"][:] = 0.5 * rng.standard_normal(shape)
            X, y = rng.standard_normal((9, 7)), rng.integers(0, 4, 9)

            def f():
                return net.loss.forward(net.forward(X, train=True), y)
            f()
            net.backward(net.loss.backward())
            # In `bn`, 0.b, 3.beta and 4.b learn nothing: their gradients are
            # 0 but for rounding (see GRADIENT_FLOOR), and checked as such.
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
        layer = WrongBatchNorm(4, dtype=np.float64)
        X = np.random.default_rng(0).standard_normal((6, 4))
        f, R = weighted_sum(layer, X)
        dX = layer.backward(R)
        error = relative_error(numerical_gradient(f, X), dX)
        report("a BatchNorm dX without its mean term, caught", error, 1e-3, must_exceed=True)
        self.assertGreater(error, 1e-3)


class OriginalProjectChecks(GradientCase):
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
        self.assertBelow(f"original dBeta: dY/dbeta vs ones, {DBETA_TRIALS} random trials",
                         worst_ones, DBETA_TOLERANCE)
        self.assertBelow("original dBeta: dbeta vs the column sum of dY", worst_sum,
                         SAME_FORMULA_TOLERANCE)

    @staticmethod
    def train_once(seed, index=(0, 0), epsilon=0.0):
        """One epoch of one batch with a network whose one BatchNorm layer
        perturbs its input at index; returns (training loss, BatchNorm's dX)."""
        rng = np.random.default_rng(seed)
        X = rng.standard_normal((BATCH, INPUT_DIM))
        y = rng.integers(0, CLASSES, BATCH)
        batchnorm = layersTest.BatchNorm(HIDDEN_DIM, index=index, epsilon=epsilon,
                                         dtype=np.float64)
        net = networkTest.Network(
            [layers.Linear(INPUT_DIM, HIDDEN_DIM, rng=rng, dtype=np.float64),
             batchnorm,
             layers.ReLU(),
             layers.Linear(HIDDEN_DIM, CLASSES, rng=rng, dtype=np.float64)],
            layers.SoftmaxCrossEntropyLoss())
        # Gradients are checked in a state characteristic of training, not
        # only at initialization: at gamma = 1, dY and gamma dY are the same,
        # and a backward pass that left gamma out of dX would pass.
        batchnorm.params["gamma"][:] = rng.uniform(0.5, 2.0, HIDDEN_DIM)
        batchnorm.params["beta"][:] = rng.standard_normal(HIDDEN_DIM)
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
        self.assertBelow(f"original dX: three networks, {checked} elements, |num - analytic|",
                         worst, DX_TOLERANCE)

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
        # Reading 1: its dY is dx_hat = gamma dY; times s, it is dX.
        worst = np.abs(s * original_line(dx_hat, dx_hat.sum(axis=0)) - dX).max()
        self.assertBelow("original dX line, dY read as gamma dY, times s, vs dX", worst,
                         SAME_FORMULA_TOLERANCE)
        # Reading 2: its dY is dL/dY; it is dX where gamma s = 1, here in
        # columns 0-2 (with var + eps far from 1), and not in 3-4.
        self.assertTrue(np.all(np.abs(1 / s ** 2 - 1) > 0.5), "var + eps should be far from 1")
        gamma[:3] = 1 / s[:3]
        dX = layer.backward(dY)
        line = original_line(dY, dY.sum(axis=0))
        self.assertBelow("original dX line, dY read as dL/dY, vs dX where gamma s = 1",
                         np.abs(line[:, :3] - dX[:, :3]).max(), SAME_FORMULA_TOLERANCE)
        elsewhere = np.abs(line[:, 3:] - dX[:, 3:]).max(axis=0).min()
        report("  and where gamma s != 1 (each column off)", elsewhere, 1e-3, must_exceed=True)
        self.assertGreater(elsewhere, 1e-3)

    def test_perturbation_is_seen_by_the_loss(self):
        # Guards the check above: the perturbed networks must differ at all.
        base, _ = self.train_once(0)
        moved, _ = self.train_once(0, (3, 2), 1e-3)
        self.assertNotEqual(base, moved)


# ---------------------------------------------------------------- running

LESSON = [case for case in list(vars().values())      # in the order they are defined
          if isinstance(case, type) and issubclass(case, GradientCase)]


def in_reading_order(classes):
    """The tests of classes, each class's in the order they are written."""
    return unittest.TestSuite(case(name) for case in classes for name in vars(case)
                              if name.startswith("test"))


def load_tests(loader, tests, pattern):
    """For `python3 -m unittest`: the lesson, in reading order."""
    return in_reading_order(LESSON)


if __name__ == "__main__":
    # lab/lesson.py prints the report; it imports this file as the module
    # `test`, whose checks it runs (and the exercises, lab/exercises.py).
    from lab import lesson
    sys.exit(lesson.main(sys.argv[1:]))
