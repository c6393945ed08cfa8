"""Ioffe & Szegedy's own MNIST experiment (arXiv:1502.03167, sec. 4.1,
"Activations over time"), and its Figure 1 redrawn.

    python3 -m studies.ioffe_szegedy --seeds 3 --results-dir results/ioffe-szegedy
                                                # the sweep (main.py's options)
    python3 -m studies.ioffe_szegedy.plot results/ioffe-szegedy
                                                # its table, and the figure (with
                                                # matplotlib), in that directory

The paper's network: a 28x28 binary image, three fully connected hidden
layers of 100 sigmoids, y = g(W u + b), weights initialized to small random
Gaussian values, a fully connected layer of 10 and cross-entropy; 50,000
steps of 60 examples. With BatchNorm, one goes before each sigmoid,
z = g(BN(W u)). What the paper leaves open is chosen below, and
docs/study-ioffe-szegedy.md says why.

EXPERIMENT gives main.py the networks (NETWORKS, built by build_network)
and the recipe (RECIPE: the defaults of the study's options); main.py
prepares the pixels with prepare_pixels, and calls probe after each epoch,
which records PROBE_FIELDS: the percentiles of Figure 1(b, c).
"""
import math

import numpy as np

import main
from layers import BatchNorm, Linear, Sigmoid

# ---------------------------------------------------------------- the recipe

SIZES = (784, 100, 100, 100, 10)
# "Small random Gaussian values": N(0, 0.1^2). A binarized digit has about
# 100 pixels on, so a first-layer unit's input starts with a standard
# deviation of about 1: where the sigmoid bends, neither flat nor linear.
INIT_STD = 0.1
BATCH_SIZE = 60


def steps_per_epoch(limit, batch_size):
    """Network.train's steps in an epoch of `limit` training images: a last
    batch of one image is left out."""
    return math.ceil((limit - 1) / batch_size)


# Network.train takes the last 20 of the 50,000 training images as a batch
# of their own: an epoch is 834 steps, and 60 epochs are 50,040 steps.
STEPS_PER_EPOCH = steps_per_epoch(50_000, BATCH_SIZE)
EPOCHS = 60
# Chosen by the validation accuracy of the network without BatchNorm over a
# short grid (docs/study-ioffe-szegedy.md), and used for both networks.
LEARNING_RATE = 3.0
# A pixel (0-255) is 1 if it is at least half white, else 0; the 0/1 image
# is the input as it is, with no normalization after it.
THRESHOLD = 128

NETWORKS = {
    "sigmoid": main.Architecture("Ioffe & Szegedy's MNIST network: 784-100-100-100-10, "
                                 "sigmoids, no BatchNorm",
                                 before=False, after=False, activation=Sigmoid, sizes=SIZES),
    # Each Linear keeps its bias, which BatchNorm's mean subtraction cancels:
    # its gradient is 0 to rounding (tests/test_ioffe_szegedy.py), so it stays at 0.
    "sigmoid-bn": main.Architecture("the same with a BatchNorm before each sigmoid",
                                    before=True, after=False, activation=Sigmoid, sizes=SIZES),
}
RECIPE = {"lr": LEARNING_RATE, "epochs": EPOCHS, "batch_size": BATCH_SIZE}


def build_network(kind, rng, dtype=np.float32, sizes=None, init_scale=1.0, scale_output=True):
    """main.build_network's network `kind`, its initial weights drawn from
    N(0, INIT_STD^2) (times init_scale) instead of He's N(0, 2/D_in): the
    same draw, rescaled."""
    network = main.build_network(kind, rng, dtype, sizes, 1.0, True, NETWORKS)
    linears = [layer for layer in network.layers if isinstance(layer, Linear)]
    for number, layer in enumerate(linears):
        scale = init_scale if scale_output or number < len(linears) - 1 else 1.0
        layer.params["W"] *= scale * INIT_STD / math.sqrt(2 / layer.params["W"].shape[0])
    return network


def prepare_pixels(train_images, dtype=np.float32):
    """The function pixels -> 0/1 images in dtype, 1 where a pixel is at
    least THRESHOLD (the same for every split: train_images is not used)."""
    def binarize(pixels):
        return (pixels >= THRESHOLD).astype(dtype)
    return binarize


# ---------------------------------------------------------------- the probe
# Figure 1(b, c): the 15th, 50th and 85th percentiles of the input to one
# sigmoid of the last hidden layer (unit PROBE_UNIT), on the validation
# images main.py gives: in training mode, as the network trains (each
# BatchNorm normalizes batches of BATCH_SIZE with their own statistics), and
# in evaluation mode (BatchNorm with its running statistics).

PERCENTILES = (15, 50, 85)
PROBE_UNIT = 0
PROBE_FIELDS = [f"{mode}_p{q}" for mode in ("train", "eval") for q in PERCENTILES]


def sigmoid_input(network, images, train):
    """The input (N, D) of the last hidden layer's Sigmoid for images
    (N, 784), in training mode (the BatchNorms normalize with the statistics
    of images, one batch) or not. Nothing that training uses changes: the
    running statistics that a training-mode forward updates are put back
    (what the layers keep for backward is replaced by the next step's
    forward, as always)."""
    last = max(i for i, layer in enumerate(network.layers) if isinstance(layer, Sigmoid))
    running = [(layer, layer.running_mean.copy(), layer.running_var.copy())
               for layer in network.layers if isinstance(layer, BatchNorm)]
    for layer in network.layers[:last]:
        images = layer.forward(images, train)
    for layer, mean, var in running:
        layer.running_mean, layer.running_var = mean, var
    return images


def probe(network, images):
    """The PERCENTILES of unit PROBE_UNIT's sigmoid input, keyed as
    PROBE_FIELDS: in training mode over the whole batches of BATCH_SIZE that
    images holds, each normalized on its own, and in evaluation mode over
    all of images."""
    batches = images[:len(images) // BATCH_SIZE * BATCH_SIZE].reshape(-1, BATCH_SIZE,
                                                                     images.shape[1])
    trained = np.concatenate([sigmoid_input(network, batch, train=True)[:, PROBE_UNIT]
                              for batch in batches])
    evaluated = sigmoid_input(network, images, train=False)[:, PROBE_UNIT]
    return dict(zip(PROBE_FIELDS, [*np.percentile(trained, PERCENTILES),
                                   *np.percentile(evaluated, PERCENTILES)]))


EXPERIMENT = main.Experiment(
    "ioffe-szegedy", NETWORKS, tuple(NETWORKS), RECIPE, build_network, prepare_pixels, probe,
    PROBE_FIELDS, None, "python3 -m studies.ioffe_szegedy.plot")
