"""The noise of Santurkar et al.'s "noisy BatchNorm": a layer that shifts
and scales its input by new random amounts at every training step.
"""
from layers import Layer


class NoisyShift(Layer):
    """A distribution shift that changes at every training step: Santurkar,
    Tsipras, Ilyas and Madry's "noisy BatchNorm" (2018, arXiv:1805.11604,
    sec. 2.1 and Algorithm 1), placed after a BatchNorm (or where one would
    be) to give the layers above it a shifting input on purpose.

    Shapes: X, Y, dY, dX, scale, shift all (N, D).

    Noise, drawn from rng at each forward pass in training (one step), for
    each unit j and then each sample n:
        mu[j]       ~ U(-n_mu, n_mu)          sigma[j]    ~ U(1, n_sigma)
        shift[n, j] ~ U(mu[j] - r_mu, mu[j] + r_mu)
        scale[n, j] ~ N(sigma[j], r_sigma^2)  (r_sigma taken as a standard
                                               deviation; the paper does not say)
    Forward, in training:    Y = scale * X + shift      (elementwise)
    Forward, in evaluation:  Y = X                      (no noise, nothing drawn)
    Backward: the noise is a constant of the step, so
        dX = dY * scale     (in evaluation, dX = dY)
    and there is nothing to learn.

    With hold = True a forward pass in training reuses the noise of the last
    one instead of drawing new (for a gradient check, and for probes that
    look at the same step again): drawing nothing, it leaves rng as it was.
    """

    def __init__(self, rng, n_mu=0.5, n_sigma=1.25, r_mu=0.1, r_sigma=0.1):
        super().__init__()
        self.rng = rng
        self.n_mu, self.n_sigma, self.r_mu, self.r_sigma = n_mu, n_sigma, r_mu, r_sigma
        self.hold = False
        self.scale = self.shift = None

    def draw(self, N, D, dtype):
        """New noise, scale and shift (N, D), for a step on N samples of D units."""
        mu = self.rng.uniform(-self.n_mu, self.n_mu, D)
        sigma = self.rng.uniform(1, self.n_sigma, D)
        self.shift = self.rng.uniform(mu - self.r_mu, mu + self.r_mu, (N, D)).astype(dtype)
        self.scale = self.rng.normal(sigma, self.r_sigma, (N, D)).astype(dtype)

    def forward(self, X, train=True):
        self.training = train
        if not train:
            return X
        if not self.hold:
            self.draw(*X.shape, X.dtype)
        return self.scale * X + self.shift

    def backward(self, dY, need_dX=True):
        if not need_dX:
            return None
        return dY * self.scale if self.training else dY
