"""The exercise checker (lab/exercises.py, ExerciseChecks) passes a right answer
and fails each wrong one, saying what is wrong. The answers are made from
the layers that exist, so that the tutorial's exercises stay open; they
live here, off the reading path.

    python3 -m unittest test_exercises
"""
import unittest

import numpy as np

import layers
import main
from lab import exercises


class LayerNormFromBatchNorm(layers.Layer):
    """A right LayerNorm, as BatchNorm of X^T: normalizing each row of X over
    its features is normalizing each column of X^T over its entries."""

    def __init__(self, dim, dtype=np.float32):
        super().__init__()
        self.params = {"gamma": np.ones(dim, dtype), "beta": np.zeros(dim, dtype)}
        self.grads = {name: np.zeros_like(p) for name, p in self.params.items()}

    def forward(self, X, train=True):
        self.normalize = layers.BatchNorm(len(X), dtype=X.dtype)
        self.x_hat = self.normalize.forward(X.T, train=True).T    # the same in evaluation
        return self.params["gamma"] * self.x_hat + self.params["beta"]

    def backward(self, dY, need_dX=True):
        self.grads["beta"] = dY.sum(axis=0)
        self.grads["gamma"] = (dY * self.x_hat).sum(axis=0)
        return self.normalize.backward((dY * self.params["gamma"]).T).T


class WithoutTheMeanTerm(LayerNormFromBatchNorm):
    def backward(self, dY, need_dX=True):
        right = super().backward(dY)
        return right + (dY * self.params["gamma"]).mean(axis=1, keepdims=True) \
            * self.normalize.inv_std[:, None]


class WithRunningStatistics(LayerNormFromBatchNorm):
    """Normalizes, in evaluation, with a mean and std kept from training."""

    def forward(self, X, train=True):
        if train:
            self.running = X.mean(), X.std()
            return super().forward(X)
        mean, std = self.running
        self.x_hat = (X - mean) / std
        return self.params["gamma"] * self.x_hat + self.params["beta"]


class InFloat32(LayerNormFromBatchNorm):
    def forward(self, X, train=True):
        return super().forward(X.astype(np.float32), train)


class CentredInPlace(LayerNormFromBatchNorm):
    def forward(self, X, train=True):
        X -= X.mean(axis=1, keepdims=True)     # the caller's X
        return super().forward(X, train)


class LinearWithoutBias(layers.Linear):
    """Y = X W: Linear with its bias taken out."""

    def __init__(self, in_dim, out_dim, rng, dtype=np.float64):
        super().__init__(in_dim, out_dim, rng, dtype)
        del self.params["b"], self.grads["b"]

    def forward(self, X, train=True):
        self.X = X
        return X @ self.params["W"]

    def backward(self, dY, need_dX=True):
        self.grads["W"] = self.X.T @ dY
        return dY @ self.params["W"].T if need_dX else None


def without_biases(every=False):
    """A build_network like main's whose Linear layers before a BatchNorm
    (or, with every=True, all of them) have lost their bias."""
    def build_network(kind, rng, dtype, sizes):
        net = main.build_network(kind, rng, dtype, sizes=sizes)
        for i in range(len(net.layers)) if every else exercises.before_batchnorm(net):
            layer = net.layers[i]
            if isinstance(layer, layers.Linear):
                net.layers[i] = LinearWithoutBias(*layer.params["W"].shape, rng, dtype)
                net.layers[i].params["W"][:] = layer.params["W"]
        return net
    return build_network


class ExerciseChecksWork(exercises.ExerciseChecks):
    def assertCaught(self, message, check, *answer):
        """check(*answer) fails, with a message that matches `message`."""
        with self.assertRaisesRegex(AssertionError, message):
            check(*answer, "a wrong answer, to be caught")

    def test_a_right_layernorm_passes(self):
        self.check_layernorm(LayerNormFromBatchNorm, "LayerNorm from BatchNorm")

    def test_a_wrong_dX_is_caught_with_its_worst_element(self):
        self.assertCaught(r"dX: worst element \(\d+, \d+\): numerical -?\d.*, analytic -?\d",
                          self.check_layernorm, WithoutTheMeanTerm)

    def test_running_statistics_in_evaluation_are_caught(self):
        self.assertCaught("in evaluation", self.check_layernorm, WithRunningStatistics)

    def test_float32_is_caught_as_a_dtype(self):
        self.assertCaught("in float64", self.check_layernorm, InFloat32)

    def test_an_input_changed_in_place_is_caught(self):
        self.assertCaught("changed its input", self.check_layernorm, CentredInPlace)

    def test_a_right_bias_free_linear_passes(self):
        self.check_bias_free_linear(LinearWithoutBias, without_biases(), "Linear without bias")

    def test_a_linear_with_its_bias_is_caught(self):
        self.assertCaught("W only", self.check_bias_free_linear,
                          lambda i, o, rng: layers.Linear(i, o, rng, np.float64), without_biases())

    def test_networks_with_their_biases_are_caught(self):
        self.assertCaught("bn layer 0: .* should have no bias", self.check_bias_free_linear,
                          LinearWithoutBias, main.build_network)

    def test_networks_without_any_bias_are_caught(self):
        self.assertCaught("bn layer 8: .* keeps its bias", self.check_bias_free_linear,
                          LinearWithoutBias, without_biases(every=True))


if __name__ == "__main__":
    unittest.main()
