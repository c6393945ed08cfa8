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
import functools
import math

import numpy as np


def sum_over_batch(A):
    """A.sum(axis=0): the column sums (D,) of A (N, D), sum_n A[n].

    Speed: written as the vector-matrix product ones(N) A, which BLAS
    computes in about half the time of A.sum(axis=0) for a batch of 128."""
    return _ones(len(A), A.dtype) @ A


@functools.lru_cache(maxsize=None)
def _ones(n, dtype):
    """A read-only vector of n ones, made once per (n, dtype)."""
    ones = np.ones(n, dtype=dtype)
    ones.flags.writeable = False
    return ones


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
        Y = X @ self.params["W"]
        Y += self.params["b"]          # Speed: Y = X @ W + b, without a second (N, D_out) array
        return Y

    def backward(self, dY, need_dX=True):
        # Speed: grads["W"] = X.T @ dY, written into the array it already has
        # (dW is the largest array of a step; a new one each step costs more).
        np.matmul(self.X.T, dY, out=self.grads["W"])
        self.grads["b"] = sum_over_batch(dY)
        return dY @ self.params["W"].T if need_dX else None


class ReLU(Layer):
    """Rectified linear unit, elementwise: Y = max(X, 0).

    Shapes: X, Y, dY, dX all (N, D).
    Gradient: dX = dY * [X > 0], i.e. the gradient passes where the unit was
    active and is zero where it was not (at X = 0 exactly we take 0).
    """

    def forward(self, X, train=True):
        # Speed: the mask [X > 0] kept as 0.0/1.0 in X's dtype, not as the
        # booleans X > 0: NumPy multiplies two float arrays faster than a
        # float array by a boolean one. Plainly: Y = np.maximum(X, 0).
        self.active = (X > 0).astype(X.dtype)
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
    Each x_hat[m] = (X[m] - mean) s, with s = 1/sqrt(var + eps), depends on
    X[n] directly (if m = n) and, for every m, through mean and var, which
    the whole batch shares:
        d mean / dX[n] = 1/N
        d var  / dX[n] = 2 (X[n] - mean) / N = 2 x_hat[n] / (N s)
        d s    / d var = -s^3 / 2
    (in d var, the term through mean vanishes: sum_m (X[m] - mean) = 0), so
        d x_hat[m] / dX[n] = s ([m = n] - 1/N - x_hat[m] x_hat[n] / N).
    The chain rule, dX[n] = sum_m dx_hat[m] d x_hat[m] / dX[n], gives
        dX[n] = s dx_hat[n] - (s/N) sum_m dx_hat[m]
                - (s/N) x_hat[n] sum_m dx_hat[m] x_hat[m]
              = (gamma s / N) (N dY[n] - dbeta - x_hat[n] dgamma)       (N, D)
    The last form reuses dbeta and dgamma: backward costs a few passes over dY.

    The seed's README writes dX as
        (len(dY) * dY - dbeta - x_hat * np.sum(dY * x_hat, axis=0)) / len(dY)
    which is the bracket above, (1/N) (N G - sum_n G[n] - x_hat sum_n G[n] x_hat[n]),
    for G = dY, without the factor gamma s. It is right when its dY means
    dx_hat = gamma dY (and dbeta the column sum of that), and it is then
    multiplied by s = 1/sqrt(var + eps): dX = s * (that line). Taken with
    dY = dL/dY, it is dX only where gamma = 1 and var + eps = 1 (test.py checks
    both statements).
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
        gamma, beta = self.params["gamma"], self.params["beta"]
        if not train:
            # Y = gamma (X - running_mean) / sqrt(running_var + eps) + beta,
            # folded into one scale and one shift per column.
            scale = gamma / np.sqrt(self.running_var + self.eps)
            Y = X * scale
            Y += beta - self.running_mean * scale
            return Y
        N = X.shape[0]
        if N < 2:
            raise ValueError("BatchNorm needs at least 2 samples in a training batch")
        # Plainly: mean = X.mean(axis=0); var = X.var(axis=0);
        # x_hat = (X - mean) / np.sqrt(var + eps). Speed: sum_over_batch for
        # the column sums, and x_hat made in one array, centered then scaled.
        mean = sum_over_batch(X) / N
        x_hat = X - mean
        var = sum_over_batch(x_hat * x_hat) / N
        self.inv_std = 1 / np.sqrt(var + self.eps)          # s, (D,)
        x_hat *= self.inv_std
        self.x_hat = x_hat
        m = self.momentum
        self.running_mean *= 1 - m
        self.running_mean += m * mean
        self.running_var *= 1 - m
        self.running_var += (m * N / (N - 1)) * var
        Y = x_hat * gamma
        Y += beta                      # Speed: Y = x_hat * gamma + beta, in one array
        return Y

    def backward(self, dY, need_dX=True):
        dbeta = self.grads["beta"] = sum_over_batch(dY)
        dgamma = self.grads["gamma"] = sum_over_batch(dY * self.x_hat)
        if not need_dX:
            return None
        # dX = (gamma s / N) (N dY - dbeta - x_hat dgamma). Speed: the (D,)
        # factors are multiplied out first, so that each (N, D) pass is one
        # operation: dX = dY (gamma s) - x_hat (gamma s dgamma / N) - gamma s dbeta / N.
        scale = self.params["gamma"] * self.inv_std
        scale_N = scale / len(dY)
        dX = dY * scale
        dX -= self.x_hat * (scale_N * dgamma)
        dX -= scale_N * dbeta
        return dX


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
        probs = np.exp(shifted)
        sums = probs.sum(axis=1, keepdims=True)
        probs /= sums
        self.probs, self.labels, self.rows = probs, labels, np.arange(len(labels))
        # -log p[n, y[n]] = log sum_k exp(shifted[n, k]) - shifted[n, y[n]]
        return float(np.log(sums).mean() - shifted[self.rows, labels].mean())

    def backward(self):
        """Return dL/dscores for the last forward()."""
        N = len(self.labels)
        # (p - onehot(y)) / N, without making onehot(y): subtract 1/N where
        # each row's label is.
        dscores = self.probs / N
        dscores[self.rows, self.labels] -= 1 / N
        return dscores
