"""Santurkar, Tsipras, Ilyas and Madry's three tests of why BatchNorm helps
("How Does Batch Normalization Help Optimization?", NeurIPS 2018,
arXiv:1805.11604), on this project's networks. `python3 -m studies.santurkar` trains them
(main.py's options), probing every step (probes.py); `python3 -m
studies.santurkar.plot` prints the tables and draws the figures (plot.py).

- The noisy networks (their sec. 2.1): `bn` with a NoisyShift (noise.py)
  after every BatchNorm, and `plain` with the same noise at the same places.
- The distribution the noise shifts, as the layers above see it in
  training: the PERCENTILES of unit 0's input to the second ReLU, on the
  step's batch, with the step's noise (unit_p15, unit_p50, unit_p85).
- Internal covariate shift as they define it (their Definition 2.1): for a
  Linear layer i, G is the gradient of its weights W_i at a step and G' the
  gradient of W_i on the same batch once every layer below i has taken
  that step's SGD update; recorded: ||G - G'||, cos(G, G') and ||G||.
- The loss landscape along the gradient (their sec. 3.2): with g the
  gradient of all parameters x at a step, for eta = m * lr, m in
  STEP_MULTIPLES, the loss and the gradient at x - eta g; recorded: the
  lowest and highest of those losses (the "variation of the loss"), the
  smallest and largest ||g(x - eta g) - g|| ("gradient predictiveness": the
  smaller, the more predictive), and the largest ||g(x - eta g) - g|| /
  ||eta g|| ("effective beta-smoothness"); and ||g||.
"""
import numpy as np

import main
from layers import BatchNorm
from studies.santurkar.noise import NoisyShift
from studies.santurkar.probes import Probes

NETWORKS = {
    "bn": main.NETWORKS["bn"],
    "plain": main.NETWORKS["plain"],
    "bn-noisy": main.Architecture("bn with a NoisyShift after every BatchNorm (Santurkar et "
                                  "al.'s noisy BatchNorm)", before=True, after=True),
    "plain-noisy": main.Architecture("plain with the NoisyShift of bn-noisy at the same places",
                                     before=False, after=False),
}
NOISY = ("bn-noisy", "plain-noisy")


def build_network(kind, rng, dtype=np.float32, sizes=None, init_scale=1.0, scale_output=True):
    """main.build_network's network `kind`; a noisy one has a NoisyShift,
    drawing from rng, after every hidden layer's BatchNorm, or where bn has
    one: after each hidden Linear and each ReLU that no BatchNorm follows."""
    network = main.build_network(kind, rng, dtype, sizes, init_scale, scale_output, NETWORKS)
    if kind in NOISY:
        last = len(network.layers) - 1          # the output layer: no noise after it
        network.layers = [noisy for i, layer in enumerate(network.layers) for noisy in (
            [layer, NoisyShift(rng)] if i < last
            and not isinstance(network.layers[i + 1], BatchNorm) else [layer])]
    return network


EXPERIMENT = main.Experiment(
    "santurkar", NETWORKS, tuple(NETWORKS), {}, build_network, main.normalizer, main.shift,
    main.SHIFT_FIELDS, Probes, "python3 -m studies.santurkar.plot")
