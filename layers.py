"""Layers of a fully connected network, each with its forward pass and, right
beside it, the backward pass that differentiates it.

Conventions, for every layer:
    X   (N, D_in)    a minibatch of N samples, one per row
    Y   (N, D_out)   the layer's output, Y = f(X)
    dY  (N, D_out)   dL/dY, the gradient of the scalar loss L with respect to Y
    dX  (N, D_in)    dL/dX, what backward(dY) returns
    params / grads   two dicts with the same keys: the arrays the layer learns
                     and dL/d(array), which backward() fills in
The chain rule for one layer is dX = dY . dY/dX, and each backward() below
computes it without ever building the Jacobian dY/dX.

A layer keeps the dtype it is given: float32 in, float32 out.
"""
import math

import numpy as np


class Layer:
    """A transformation Y = f(X) with its gradient. Subclasses set params."""

    def __init__(self):
        self.params = {}
        self.grads = {}

    def forward(self, X, train=True):
        """Return Y = f(X), remembering what backward() will need."""
        raise NotImplementedError

    def backward(self, dY, need_dX=True):
        """Fill self.grads from dY = dL/dY and return dX = dL/dX.

        With need_dX=False only the parameter gradients are computed and
        None is returned: nothing needs the gradient of the network's input.
        """
        raise NotImplementedError

    def state(self):
        """The arrays that define the layer, by name: what save/load keep."""
        return dict(self.params)


class Linear(Layer):
    """Fully connected layer: Y = X W + b.

    Shapes: X (N, D_in), W (D_in, D_out), b (D_out,), Y (N, D_out).

    Gradients, from Y[n, j] = sum_i X[n, i] W[i, j] + b[j]:
        dW = X^T dY              (D_in, D_out)
        db = sum_n dY[n, :]      (D_out,)
        dX = dY W^T              (N, D_in)

    Initialization ("Xavier-He", He et al. 2015): W ~ N(0, 2 / D_in), b = 0,
    which keeps the variance of the activations steady through ReLU layers.
    """

    def __init__(self, in_dim, out_dim, rng=None, dtype=np.float32):
        super().__init__()
        rng = np.random.default_rng() if rng is None else rng
        W = rng.standard_normal((in_dim, out_dim), dtype=dtype)
        W *= math.sqrt(2.0 / in_dim)
        self.params = {"W": W, "b": np.zeros(out_dim, dtype=dtype)}
        self.grads = {name: np.zeros_like(p) for name, p in self.params.items()}

    def forward(self, X, train=True):
        self.X = X
        return X @ self.params["W"] + self.params["b"]

    def backward(self, dY, need_dX=True):
        # Written into the existing arrays: no allocation in the training loop.
        np.matmul(self.X.T, dY, out=self.grads["W"])
        np.sum(dY, axis=0, out=self.grads["b"])
        return dY @ self.params["W"].T if need_dX else None


class ReLU(Layer):
    """Rectified linear unit, elementwise: Y = max(X, 0).

    Shapes: X, Y, dY, dX all (N, D).
    Gradient: dX = dY * [X > 0], i.e. the gradient passes where the unit was
    active and is zero where it was not (at X = 0 exactly we take 0).
    """

    def forward(self, X, train=True):
        self.active = X > 0
        return X * self.active

    def backward(self, dY, need_dX=True):
        return dY * self.active if need_dX else None


class BatchNorm(Layer):
    """Batch normalization (Ioffe & Szegedy 2015, arXiv:1502.03167), with the
    semantics of PyTorch's BatchNorm1d.

    Shapes: X, Y, dY, dX (N, D); gamma, beta, mean, var (D,).

    Forward, in training, column by column over the batch:
        mean  = (1/N) sum_n X[n]
        var   = (1/N) sum_n (X[n] - mean)^2            (biased)
        x_hat = (X - mean) / sqrt(var + eps)
        Y     = gamma * x_hat + beta
    and the running statistics that evaluation will use are updated:
        running_mean = (1 - momentum) running_mean + momentum mean
        running_var  = (1 - momentum) running_var  + momentum var N/(N-1)
    (the unbiased variance, as PyTorch does). With train=False the layer
    normalizes with running_mean and running_var instead, and learns nothing.

    Backward. gamma and beta act on each x_hat[n] separately, so
        dbeta  = sum_n dY[n]                      (D,)
        dgamma = sum_n dY[n] * x_hat[n]           (D,)
        dx_hat = dY * gamma                       (N, D)
    x_hat depends on X[n] directly and through mean and var, which every
    sample of the batch shares. Write s = 1/sqrt(var + eps). Then
        dx_hat/dX[n]  gives  s                     (direct path)
        d mean/dX[n]  = 1/N
        d var /dX[n]  = 2 (X[n] - mean) / N = 2 x_hat[n] / (N s)
        d s   /d var  = -s^3 / 2
    Summing the three paths:
        dX[n] = s dx_hat[n] - (s/N) sum_m dx_hat[m]
                - (s/N) x_hat[n] sum_m dx_hat[m] x_hat[m]
              = (gamma s / N) (N dY[n] - dbeta - x_hat[n] dgamma)
    The last form reuses dbeta and dgamma: backward costs a few passes over dY.
    """

    def __init__(self, dim, momentum=0.1, eps=1e-5, dtype=np.float32):
        super().__init__()
        self.momentum = momentum
        self.eps = eps
        self.params = {"gamma": np.ones(dim, dtype=dtype),
                       "beta": np.zeros(dim, dtype=dtype)}
        self.grads = {name: np.zeros_like(p) for name, p in self.params.items()}
        self.running_mean = np.zeros(dim, dtype=dtype)
        self.running_var = np.ones(dim, dtype=dtype)

    def state(self):
        return dict(self.params, running_mean=self.running_mean,
                    running_var=self.running_var)

    def forward(self, X, train=True):
        if not train:
            scale = 1 / np.sqrt(self.running_var + self.eps)
            return (X - self.running_mean) * (self.params["gamma"] * scale) \
                + self.params["beta"]
        N = X.shape[0]
        if N < 2:
            raise ValueError("BatchNorm needs at least 2 samples in a training batch")
        mean = X.mean(axis=0)
        centered = X - mean
        var = np.mean(centered * centered, axis=0)
        self.inv_std = 1 / np.sqrt(var + self.eps)
        self.x_hat = centered
        self.x_hat *= self.inv_std           # in place: centered is not needed again
        m = self.momentum
        self.running_mean *= 1 - m
        self.running_mean += m * mean
        self.running_var *= 1 - m
        self.running_var += (m * N / (N - 1)) * var
        return self.params["gamma"] * self.x_hat + self.params["beta"]

    def backward(self, dY, need_dX=True):
        dbeta = np.sum(dY, axis=0, out=self.grads["beta"])
        dgamma = np.sum(dY * self.x_hat, axis=0, out=self.grads["gamma"])
        if not need_dX:
            return None
        N = dY.shape[0]
        return (self.params["gamma"] * self.inv_std / N) * (N * dY - dbeta - self.x_hat * dgamma)


class SoftmaxCrossEntropyLoss:
    """Softmax followed by the mean cross-entropy with integer labels.

    Shapes: scores S (N, C) (the logits), labels y (N,) in 0..C-1.

    Forward:
        log p[n, c] = S[n, c] - log sum_k exp(S[n, k])
        L = -(1/N) sum_n log p[n, y[n]]
    computed as log-sum-exp after subtracting each row's maximum, so that
    exp never overflows, even for logits of 1e4.

    Backward (the softmax and the log cancel neatly):
        dS = (p - onehot(y)) / N       (N, C)
    """

    def forward(self, scores, labels):
        """Return the mean cross-entropy L as a Python float."""
        shifted = scores - scores.max(axis=1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        rows = np.arange(len(labels))
        self.probs, self.labels = np.exp(log_probs), labels
        return float(-log_probs[rows, labels].mean())

    def backward(self):
        """Return dL/dscores for the last forward()."""
        N = len(self.labels)
        dscores = self.probs.copy()
        dscores[np.arange(N), self.labels] -= 1
        dscores /= N
        return dscores
