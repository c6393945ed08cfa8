"""A sequential network of layers, trained with minibatch SGD."""
import math
import time

import numpy as np


class Network:
    """Layers applied in order, followed by a loss on the last layer's output.

    layers: a list of layers.Layer (anything with forward/backward, params
    and grads); loss: a layers.SoftmaxCrossEntropyLoss.
    """

    def __init__(self, layers, loss):
        self.layers = layers
        self.loss = loss

    def forward(self, X, train=True):
        """Return the scores (N, C) for inputs X (N, D), layer by layer."""
        for layer in self.layers:
            X = layer.forward(X, train)
        return X

    def backward(self, dscores):
        """Backpropagate dscores = dL/dscores through every layer, last to
        first, filling each layer's grads."""
        dY = dscores                    # the dY of the last layer
        first, *others = self.layers
        for layer in reversed(others):
            dY = layer.backward(dY)     # its dX: the dY of the layer before it
        first.backward(dY, need_dX=False)
        # Speed: nothing needs dL/d(images), the first layer's dX, which for
        # a Linear first layer is the largest product of the step: skipped.
        # Plainly: for layer in reversed(self.layers): dY = layer.backward(dY).

    def update(self, lr):
        """Vanilla SGD: p -= lr * dL/dp for every parameter p, in place."""
        for layer in self.layers:
            for name, param in layer.params.items():
                param -= lr * layer.grads[name]

    def train_step(self, X, y, lr, on_step=None):
        """One SGD step on the batch (X, y): forward, loss, backward and
        update, with on_step(X, y) called between backward and update, if
        given. Returns the batch's loss."""
        loss = self.loss.forward(self.forward(X, train=True), y)
        self.backward(self.loss.backward())
        if on_step is not None:         # a probe: it sees this step's gradient, before the step
            on_step(X, y)
        self.update(lr)
        return loss

    def train(self, X, y, epochs, lr, batch_size, rng, validation=None,
              on_epoch=None, on_step=None):
        """Minibatch SGD over (X, y) for `epochs` epochs.

        Every epoch visits the samples in a new order drawn from rng (a
        numpy.random.Generator), in batches of batch_size; a last batch of a
        single sample is left out, since BatchNorm cannot take the variance of
        one sample. validation, an (X, y) pair, is evaluated after each epoch.
        Returns the history: one dict per epoch with epoch, train_loss (the
        mean of the batch losses), val_loss, val_accuracy and seconds; each
        is also passed to on_epoch(record) as its epoch ends. on_step, if
        given, is passed to every train_step.
        Raises Diverged at the first batch whose loss is NaN or infinite,
        with the history of the epochs before it.
        """
        history = []
        n = len(X)
        if n < 2:
            raise ValueError(f"training needs at least 2 samples, not {n}")
        for epoch in range(1, epochs + 1):
            start = time.perf_counter()
            order = rng.permutation(n)
            losses = []
            # Batches start at 0, batch_size, 2 batch_size, ... up to n - 2:
            # a batch starting at n - 1 would hold one sample, which BatchNorm
            # cannot normalize, and is left out.
            for first in range(0, n - 1, batch_size):
                batch = order[first:first + batch_size]
                loss = self.train_step(X[batch], y[batch], lr, on_step)
                if not math.isfinite(loss):
                    raise Diverged(loss, epoch, first // batch_size + 1, history)
                losses.append(loss)
            record = {"epoch": epoch, "train_loss": float(np.mean(losses)),
                      "val_loss": math.nan, "val_accuracy": math.nan}
            if validation is not None:
                record["val_loss"], record["val_accuracy"] = self.evaluate(*validation)
            record["seconds"] = time.perf_counter() - start
            history.append(record)
            if on_epoch is not None:
                on_epoch(record)
        return history

    def scores(self, X, batch_size=2000):
        """The scores (N, C) in evaluation mode, computed batch_size rows at
        a time to bound the memory for large X."""
        return np.concatenate([self.forward(X[i:i + batch_size], train=False)
                               for i in range(0, len(X), batch_size)])

    def predict(self, X):
        """The predicted class of each row of X: the highest score."""
        return self.scores(X).argmax(axis=1)

    def accuracy(self, X, y):
        """The fraction of samples whose predicted class is the label."""
        return float(np.mean(self.predict(X) == y))

    def evaluate(self, X, y):
        """The mean loss and the accuracy on (X, y), in evaluation mode."""
        scores = self.scores(X)
        return self.loss.forward(scores, y), float(np.mean(scores.argmax(axis=1) == y))

    def state(self):
        """Every array that defines the network, keyed "<layer>.<name>"
        (W, b, gamma, beta, running_mean, running_var)."""
        return {f"{i}.{name}": array for i, layer in enumerate(self.layers)
                for name, array in layer.state().items()}

    def load_state(self, arrays):
        """Copy arrays, keyed as state() keys them, into the network's own
        arrays, in place (lab/files.py reads them from a weights file and
        checks them first)."""
        state = self.state()
        for key, array in arrays.items():
            state[key][...] = array


class Diverged(ArithmeticError):
    """The training loss became `loss` (NaN or infinite) in `epoch`, at
    `batch`; `history` holds the records of the epochs before it."""

    def __init__(self, loss, epoch, batch, history=()):
        super().__init__(loss, epoch, batch, list(history))     # args: what pickle keeps
        self.loss, self.epoch, self.batch, self.history = loss, epoch, batch, list(history)

    def __str__(self):
        return f"the training loss became {self.loss} in epoch {self.epoch}, batch {self.batch}"
