"""The probes of Santurkar et al.'s study, taken at every step of a run
(Probes.on_step, which network.train calls between backward and update).

The probes change nothing in training. They work on a copy of the network
made at the step (after backward, before the update: network.train's
on_step), in which every NoisyShift holds that step's noise (its hold) and
has no generator at all: the probes see exactly the function the step
differentiated, move no running statistic of the network trained, and draw
nothing from the training generator. tests/test_santurkar.py checks that a
run with probes ends bit for bit as the run without.
"""
import copy
import time

import numpy as np

from layers import Linear, ReLU
from studies.santurkar.noise import NoisyShift

# Probe every PROBE_EVERY steps, from the first: 391 steps make an epoch,
# 8 of them probed. A probe is 6 forward-backward passes, a forward pass to
# the second ReLU and a copy of the network: measured on the AMD EPYC, 15%
# of the epochs' seconds of bn and plain, 7% of the noisy networks'.
PROBE_EVERY = 50
# The step sizes along the gradient, in multiples of the learning rate:
# Santurkar et al.'s range, 0.5 to 4 times the rate, in doublings. It holds
# the step SGD takes (1) and steps of rates 2 and 4 times larger.
STEP_MULTIPLES = (0.5, 1, 2, 4)
PERCENTILES = (15, 50, 85)


def parameters(network):
    """Every parameter of network as ((layer index, name), array)."""
    return [((i, name), array) for i, layer in enumerate(network.layers)
            for name, array in layer.params.items()]


def held(network):
    """A copy of network whose NoisyShift layers hold the noise of its last
    training step and have no generator: a forward pass of the copy in
    training computes the function that step differentiated, and can
    neither draw nor change anything of network."""
    copied = copy.deepcopy(network)
    for layer in copied.layers:
        if isinstance(layer, NoisyShift):
            layer.hold, layer.rng = True, None
    return copied


def loss_and_gradient(network, X, y):
    """The loss of network on the batch (X, y) in training mode, and the
    gradient of every parameter, {(layer index, name): array}, copied."""
    loss = network.loss.forward(network.forward(X, train=True), y)
    network.backward(network.loss.backward())
    return loss, {key: network.layers[key[0]].grads[key[1]].copy()
                  for key, _ in parameters(network)}


def flat(gradients):
    """All arrays of {key: array} in one float64 vector, in key order."""
    return np.concatenate([gradients[key].ravel() for key in sorted(gradients)]).astype(np.float64)


def cosine(a, b):
    """The cosine of the angle between two vectors."""
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


class Probes:
    """Santurkar et al.'s measurements of a network as it trains at rate lr:
    on_step(X, y), given to network.train, appends a record to `records`
    every `every` steps (see the module's docstring for the fields)."""

    def __init__(self, network, lr, every=PROBE_EVERY, multiples=STEP_MULTIPLES):
        self.network, self.lr, self.every, self.multiples = network, lr, every, multiples
        self.linear = [i for i, layer in enumerate(network.layers) if isinstance(layer, Linear)]
        self.steps = 0
        self.records = []

    def on_step(self, X, y):
        """Called by network.train between a step's backward pass and its
        update, with the step's batch: probe the step if it is the first of
        `every`."""
        self.steps += 1
        if (self.steps - 1) % self.every:
            return
        started = time.perf_counter()
        probe = held(self.network)
        x = {key: array.copy() for key, array in parameters(probe)}
        g = {key: probe.layers[key[0]].grads[key[1]].copy() for key in x}
        record = {"step": self.steps, **self.relu_input(probe, X),
                  **self.covariate_shift(probe, X, y, x, g),
                  **self.landscape(probe, X, y, x, g)}
        record["seconds"] = time.perf_counter() - started
        self.records.append(record)

    @staticmethod
    def relu_input(probe, X):
        """The PERCENTILES of unit 0's input to the second ReLU, in training
        (batch statistics, the step's noise), for the batch X."""
        second = [i for i, layer in enumerate(probe.layers) if isinstance(layer, ReLU)][1]
        for layer in probe.layers[:second]:
            X = layer.forward(X, train=True)
        return {f"unit_p{q}": float(value)
                for q, value in zip(PERCENTILES, np.percentile(X[:, 0], PERCENTILES))}

    def covariate_shift(self, probe, X, y, x, g):
        """Definition 2.1 for every Linear layer but the first (which has
        nothing below it): for W of the n-th Linear layer, counted from 1,
        ics<n> = ||G - G'||, cos<n> = cos(G, G') and grad<n> = ||G||."""
        record = {}
        for number, i in enumerate(self.linear[1:], start=2):
            # The layers below i take this step's update, as Network.update
            # computes it; i and above keep their weights.
            set_parameters(probe, {key: x[key] - self.lr * g[key] if key[0] < i else x[key]
                                   for key in x})
            G = g[i, "W"].ravel().astype(np.float64)
            G_after = loss_and_gradient(probe, X, y)[1][i, "W"].ravel().astype(np.float64)
            record[f"ics{number}"] = float(np.linalg.norm(G - G_after))
            record[f"cos{number}"] = cosine(G, G_after)
            record[f"grad{number}"] = float(np.linalg.norm(G))
        return record

    def landscape(self, probe, X, y, x, g):
        """The loss and gradient at x - eta g for eta = m lr, m in multiples:
        the range of the losses, the range of ||g(x - eta g) - g||, the
        largest ||g(x - eta g) - g|| / ||eta g||, and ||g||."""
        g_flat = flat(g)
        losses, changes, smoothness = [], [], []
        for eta in (m * self.lr for m in self.multiples):
            set_parameters(probe, {key: x[key] - eta * g[key] for key in x})
            loss, gradient = loss_and_gradient(probe, X, y)
            change = float(np.linalg.norm(flat(gradient) - g_flat))
            losses.append(loss)
            changes.append(change)
            smoothness.append(change / (eta * np.linalg.norm(g_flat)))
        return {"loss_min": min(losses), "loss_max": max(losses),
                "change_min": min(changes), "change_max": max(changes),
                "beta": max(smoothness), "grad": float(np.linalg.norm(g_flat))}


def set_parameters(network, values):
    """Write {(layer index, name): array} into network's parameters, in place."""
    for (i, name), value in values.items():
        network.layers[i].params[name][...] = value
