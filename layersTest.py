"""layers.py, instrumented for the original project's numerical check of BatchNorm's dX
(see test.py). Only what the check needs is added here."""
import layers


class BatchNorm(layers.BatchNorm):
    """layers.BatchNorm that, in its forward pass, adds `epsilon` to the one
    element `index` = (row, column) of its input, and that keeps the dX its
    backward pass returned, as self.dX.

    Three networks that differ only in epsilon (0, -e, +e) then give the
    analytic dX and the two losses of a central difference at `index`."""

    def __init__(self, dim, index=(0, 0), epsilon=0.0, **options):
        super().__init__(dim, **options)
        self.index, self.epsilon = index, epsilon

    def forward(self, X, train=True):
        X = X.copy()      # the caller's array is left as it was
        X[self.index] += self.epsilon
        return super().forward(X, train)

    def backward(self, dY, need_dX=True):
        self.dX = super().backward(dY, need_dX)
        return self.dX
