"""Layers of a fully connected network, each with its forward pass and, right
beside it, the backward pass that differentiates it.

Conventions, for every layer:
    X   (N, D_in)    a minibatch of N samples, one per row
    Y   (N, D_out)   the layer's output, Y = f(X)
    dY  (N, D_out)   dL/dY, the gradient of the scalar loss L with respect to Y
    dX  (N, D_in)    dL/dX, what backward(dY) returns
    params / grads   two dicts with the same keys: the arrays the layer learns
                     and dL/d(array), which backward() fills in
The chain rule for one layer sums over every output element that X[n, i]
reaches, writing J[m, j, n, i] = partial Y[m, j] / partial X[n, i] for the
partial derivative of one output element with respect to one input element
(the Jacobian of Y with respect to X):
    dX[n, i] = sum_m sum_j dY[m, j] J[m, j, n, i]
Most of the sum is zero:
- in Linear, ReLU, Sigmoid and the softmax, a sample's output depends on
  that sample's input only, so only m = n remains (and in ReLU and
  Sigmoid, which are elementwise, only j = i of it):
    dX[n, i] = sum_j dY[n, j] J[n, j, n, i];
- in BatchNorm, an output column depends on its own input column only,
  but, through the batch's mean and variance, on every sample of it, so
  only j = i remains, a sum over the batch that BatchNorm's docstring
  works out:
    dX[n, i] = sum_m dY[m, i] J[m, i, n, i].
Each backward() below computes its sum from a formula, without ever
building the Jacobian of Y with respect to X.

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

    Initialization: W = init_scale V with V ~ N(0, 2 / D_in) (init_scale is
    1 unless asked), b = 0. This is He et al.'s (2015) initialization, which
    keeps the variance of the activations steady through ReLU layers; the
    original mnist-numpy project calls it "Xavier-He". (Xavier, or Glorot, is
    another: variance 2 / (D_in + D_out), made for tanh.)
    """

    def __init__(self, in_dim, out_dim, rng=None, dtype=np.float32, init_scale=1.0):
        super().__init__()
        rng = np.random.default_rng() if rng is None else rng
        W = rng.standard_normal((in_dim, out_dim), dtype=dtype)
        W *= math.sqrt(2.0 / in_dim)
        W *= init_scale
        self.params = {"W": W, "b": np.zeros(out_dim, dtype=dtype)}
        self.grads = {name: np.zeros_like(p) for name, p in self.params.items()}

    def forward(self, X, train=True):
        self.X = X
        return X @ self.params["W"] + self.params["b"]

    def backward(self, dY, need_dX=True):
        self.grads["W"] = self.X.T @ dY
        self.grads["b"] = dY.sum(axis=0)
        return dY @ self.params["W"].T if need_dX else None


class ReLU(Layer):
    """Rectified linear unit, elementwise: Y = max(X, 0).

    Shapes: X, Y, dY, dX all (N, D).
    Gradient: dX = dY * [X > 0], i.e. the gradient passes where the unit was
    active and is zero where it was not (at X = 0 exactly we take 0).
    """

    def forward(self, X, train=True):
        self.mask = X > 0
        return np.maximum(X, 0)

    def backward(self, dY, need_dX=True):
        return dY * self.mask if need_dX else None


class Sigmoid(Layer):
    """Logistic sigmoid, elementwise: Y = 1 / (1 + exp(-X)).

    Shapes: X, Y, dY, dX all (N, D).
    Gradient: with e = exp(-X), Y = 1 / (1 + e) and de/dX = -e, so
        dY/dX = e / (1 + e)^2 = (1 / (1 + e)) (e / (1 + e)) = Y (1 - Y),
    since 1 - Y = e / (1 + e). Hence dX = dY * Y (1 - Y): backward needs only Y.

    For X < 0 large in size, exp(-X) overflows; the same Y is written
    exp(X) / (1 + exp(X)) there (multiply above and below by exp(X)). Both
    forms use e = exp(-|X|), which lies in (0, 1]: no overflow for any X.
    """

    def forward(self, X, train=True):
        e = np.exp(-np.abs(X))
        self.Y = np.where(X >= 0, 1 / (1 + e), e / (1 + e))
        return self.Y

    def backward(self, dY, need_dX=True):
        return dY * self.Y * (1 - self.Y) if need_dX else None


class BatchNorm(Layer):
    """Batch normalization (Ioffe & Szegedy 2015, arXiv:1502.03167), with the
    semantics of PyTorch's BatchNorm1d.

    Shapes: X, Y, dY, dX (N, D); gamma, beta, mean, var, s (D,). Every formula
    below holds column by column: each of the D features is normalized over
    the N samples of the batch, on its own, with its own gamma and beta.

    Forward, in training:
        mean  = (1/N) sum_n X[n]
        var   = (1/N) sum_n (X[n] - mean)^2            (biased)
        s     = 1 / sqrt(var + eps)                    (the inverse std)
        x_hat = (X - mean) s
        Y     = gamma x_hat + beta
    and the running statistics that evaluation will use are updated:
        running_mean = (1 - momentum) running_mean + momentum mean
        running_var  = (1 - momentum) running_var  + momentum var N/(N-1)
    (the unbiased variance, as PyTorch does). With train=False the layer
    normalizes with running_mean and running_var instead and leaves them as
    they are; its backward pass (below) still fills dgamma and dbeta.

    Backward, in training. gamma and beta act on each x_hat[n] separately:
        dbeta  = sum_n dY[n]                      (D,)
        dgamma = sum_n dY[n] x_hat[n]             (D,)
        dx_hat = dY gamma                         (N, D)
    Each x_hat[m] = (X[m] - mean) s depends on X[n] directly (if m = n) and,
    for every m, through mean and var, which the whole batch shares:
        d mean / d X[n] = 1/N
        d var  / d X[n] = 2 (X[n] - mean) / N = 2 x_hat[n] / (N s)
        d s    / d var  = -s^3 / 2
    (in d var, the term through mean vanishes: sum_m (X[m] - mean) = 0), so
        d x_hat[m] / d X[n] = s delta(m, n) - s/N - (s/N) x_hat[m] x_hat[n],
    where delta(m, n) is 1 if m = n and 0 otherwise.
    The chain rule, dX[n] = sum_m dx_hat[m] d x_hat[m] / d X[n], gives three
    terms, one for each path from X[n] to the loss:
        dX[n] = s dx_hat[n]                                   directly
              - (s/N) sum_m dx_hat[m]                         through mean
              - (s/N) x_hat[n] sum_m dx_hat[m] x_hat[m]       through var
    Since sum_m dx_hat[m] = gamma dbeta and sum_m dx_hat[m] x_hat[m] =
    gamma dgamma, they collapse into one line:
        dX = (gamma s / N) (N dY - dbeta - x_hat dgamma)                (N, D)

    The original mnist-numpy project's README writes dX as
        (len(dY) * dY - dbeta - x_hat * np.sum(dY * x_hat, axis=0)) / len(dY)
    that is (1/N) (N G - sum_n G[n] - x_hat sum_n G[n] x_hat[n]) for G = its
    dY, and does not say which dY it means. Two readings:
    - G = dx_hat = gamma dY (and dbeta the column sum of that): the line is
      the three terms above without their factor s, and dX = s * (the line).
    - G = dY = dL/dY: the line lacks the factor gamma s, and equals dX only
      in the columns where gamma s = 1, for example where gamma = 1 and
      var + eps = 1.
    test.py checks both readings.

    Backward, in evaluation (after forward(X, train=False)): running_mean and
    running_var are constants, so Y is affine in X, column by column:
        dX = dY gamma s    with s = 1 / sqrt(running_var + eps),
    and dbeta, dgamma as above, with x_hat = (X - running_mean) s.
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
        self.training = train
        if train:
            N = len(X)
            if N < 2:
                raise ValueError("BatchNorm needs at least 2 samples in a training batch")
            mean = X.mean(axis=0)
            var = ((X - mean) ** 2).mean(axis=0)
            m = self.momentum
            self.running_mean = (1 - m) * self.running_mean + m * mean
            self.running_var = (1 - m) * self.running_var + m * var * N / (N - 1)
        else:
            mean, var = self.running_mean, self.running_var
        self.inv_std = 1 / np.sqrt(var + self.eps)          # s, (D,)
        self.x_hat = (X - mean) * self.inv_std
        return self.params["gamma"] * self.x_hat + self.params["beta"]

    def backward(self, dY, need_dX=True):
        gamma, s, x_hat, N = self.params["gamma"], self.inv_std, self.x_hat, len(dY)
        dbeta = self.grads["beta"] = dY.sum(axis=0)
        dgamma = self.grads["gamma"] = (dY * x_hat).sum(axis=0)
        if not need_dX:
            return None
        # The docstring's three terms, with dx_hat = gamma dY:
        #   directly:          s dx_hat[n]
        #   through the mean:  -(s/N) sum_m dx_hat[m], the same (D,) for every n
        #   through the var:   -(s/N) x_hat[n] sum_m dx_hat[m] x_hat[m]
        directly = s * gamma * dY
        if not self.training:           # mean and var were constants
            return directly
        # Speed: the two sums over the batch are taken from dbeta and dgamma
        # (docstring), not summed again as dx_hat.sum(axis=0) and
        # (dx_hat * x_hat).sum(axis=0).
        through_mean = -(s / N) * gamma * dbeta
        through_var = x_hat * (-(s / N) * gamma * dgamma)
        return directly + through_mean + through_var


class SoftmaxCrossEntropyLoss:
    """Softmax followed by the mean cross-entropy with integer labels.

    Shapes: scores S (N, C) (the logits), labels y (N,) in 0..C-1.

    Forward:
        p[n, c] = exp(S[n, c]) / sum_k exp(S[n, k])
        L = -(1/N) sum_n log p[n, y[n]]
    computed after subtracting each row's maximum from its scores, which
    changes no p but keeps exp from overflowing, even for logits of 1e4.

    Backward (the softmax and the log cancel neatly):
        dS = (p - onehot(y)) / N       (N, C)
    """

    def forward(self, scores, labels):
        """Return the mean cross-entropy L as a Python float."""
        shifted = scores - scores.max(axis=1, keepdims=True)
        exps = np.exp(shifted)
        sums = exps.sum(axis=1, keepdims=True)
        self.probs, self.labels = exps / sums, labels
        # -log p[n, y[n]] = log sum_k exp(shifted[n, k]) - shifted[n, y[n]]
        rows = np.arange(len(labels))
        return float(np.mean(np.log(sums[:, 0]) - shifted[rows, labels]))

    def backward(self):
        """Return dL/dscores for the last forward()."""
        N = len(self.labels)
        dscores = self.probs.copy()
        dscores[np.arange(N), self.labels] -= 1          # p - onehot(y)
        return dscores / N
