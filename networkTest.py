"""network.py, instrumented for the original project's numerical check of BatchNorm's dX
(see test.py). Only what the check needs is added here."""
import layersTest
import network


class Network(network.Network):
    """network.Network whose train() returns, besides the history (with the
    training loss), the dX that the last backward pass computed through the
    network's layersTest.BatchNorm layer."""

    def train(self, *args, **kwargs):
        history = super().train(*args, **kwargs)
        batchnorm = next(layer for layer in self.layers
                         if isinstance(layer, layersTest.BatchNorm))
        return history, batchnorm.dX
