"""The tutorial's open exercises (docs/tutorial.md), checked on the
learner's code: `python3 test.py --exercises` runs Exercises. Each check
uses the gradient lesson's checker (test.py's GradientCase).
"""
import numpy as np

import layers
import main
import test


class ExerciseChecks(test.GradientCase):
    """What tells a learner that a tutorial exercise is done: each check
    takes the learner's code as an argument, and says what is wrong first:
    the dtype, the input changed, evaluation mode, and only then a gradient
    (with its worst element). tests/test_exercises.py proves that each passes a
    right answer and fails a wrong one."""

    def check_layernorm(self, LayerNorm, name="exercise LayerNorm"):
        """LayerNorm(dim, dtype): each row normalized over its D features,
        then gamma x_hat + beta; no running statistics, the same in training
        and evaluation; forward, and backward by central differences."""
        rng = np.random.default_rng(5)
        X = 3 + 2 * rng.standard_normal((6, 5))
        layer = LayerNorm(5, dtype=np.float64)
        self.assertEqual({key: param.dtype for key, param in layer.params.items()},
                         {"gamma": np.float64, "beta": np.float64},
                         "LayerNorm(5, dtype=np.float64) should learn gamma and beta, in float64")
        given = X.copy()
        Y = layer.forward(X)
        np.testing.assert_array_equal(X, given, err_msg="forward changed its input X: compute "
                                      "X - mean as a new array (not X -= mean in place)")
        nudged = X.copy()
        nudged[0, 0] += 1e-9                   # float32 rounds it away, float64 keeps it
        in_float64 = Y.dtype == np.float64 and not np.array_equal(layer.forward(nudged), Y)
        self.assertTrue(in_float64, "LayerNorm(5, dtype=np.float64) should compute in "
                        "float64: in float32, central differences see rounding only")
        self.assertEqual(LayerNorm(5).forward(X.astype(np.float32)).dtype, np.float32,
                         "LayerNorm(5) should keep float32, like every layer")
        np.testing.assert_allclose(Y.mean(axis=1), 0, atol=1e-10, err_msg="row means")
        np.testing.assert_allclose(Y.var(axis=1), 1, rtol=1e-3, err_msg="row variances")
        for _ in range(3):                                 # batches of other data first
            layer.forward(10 + 5 * rng.standard_normal((6, 5)))
        np.testing.assert_allclose(layer.forward(X, train=False), Y, atol=1e-12,
                                   err_msg="in evaluation, LayerNorm normalizes each row with "
                                   "its own mean and variance, as in training (no running "
                                   "statistics)")
        layer.params["gamma"][:] = rng.standard_normal(5)
        layer.params["beta"][:] = rng.standard_normal(5)
        self.check_layer(name, layer, X)
        self.check_layer(f"{name} (evaluation)", layer, X, train=False)

    def check_bias_free_linear(self, make_linear, build_network,
                               name="exercise Linear without bias"):
        """make_linear(in_dim, out_dim, rng) -> a Linear layer without bias:
        its gradients are right, and in front of a BatchNorm it changes
        nothing: the same output and the same gradient of W as with any b.
        build_network(kind, rng, dtype, sizes), like main.build_network: in
        every network, the Linear layers before a BatchNorm have no bias and
        every other keeps its own, which learns."""
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
        for kind in main.NETWORKS:
            net = build_network(kind, np.random.default_rng(0), np.float64, sizes=(7, 6, 5, 4))
            for i, layer in enumerate(net.layers):
                if "W" not in layer.params:
                    continue
                if i in before_batchnorm(net):
                    self.assertEqual(list(layer.params), ["W"], f"{kind} layer {i}: a Linear "
                                     "layer before a BatchNorm should have no bias")
                else:
                    self.assertIn("b", layer.params, f"{kind} layer {i}: a Linear layer that "
                                  "no BatchNorm follows keeps its bias: its b learns")


def before_batchnorm(net):
    """The indices of net's layers that a BatchNorm follows."""
    return {i for i, after in enumerate(net.layers[1:]) if isinstance(after, layers.BatchNorm)}


class Exercises(ExerciseChecks):
    """The tutorial's open exercises (docs/tutorial.md), checked on the learner's code: run with
    `python3 test.py --exercises`. Each fails until its exercise is done."""
    __test__ = False                  # not part of `python3 test.py`, unittest's or pytest's run

    def test_layernorm(self):
        if not hasattr(layers, "LayerNorm"):
            self.fail("layers.py has no LayerNorm yet (docs/tutorial.md, Exercises)")
        self.check_layernorm(layers.LayerNorm)

    def test_linear_without_bias(self):
        # In `bn`, 0.b and 4.b, the biases of the Linear layers before a
        # BatchNorm, learn nothing (and 3.beta, which the exercise keeps).
        try:
            layers.Linear(2, 2, bias=False)
        except TypeError as error:
            missing = f"Linear(..., bias=False) does not work yet ({error})"
        else:
            missing = None
        if missing:
            self.fail(missing)
        self.check_bias_free_linear(lambda i, o, rng: layers.Linear(i, o, rng, np.float64,
                                                                    bias=False),
                                    main.build_network)
