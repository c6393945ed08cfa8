"""The project's tests, beyond the gradient lesson (test.py): how layers and
training behave, the data, the programs, the results store, the studies,
the exercise checker and the docs. `python3 -m unittest` from the
repository's root runs them all, with test.py's lesson; none needs
internet access or MNIST."""
