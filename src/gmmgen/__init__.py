"""gmmgen: Gaussian mixture models on PCA-whitened digits.

Plain functions on arrays and paths (data, reduce, mixture, sampling, plots),
importable without Hydra, DVC or MLflow; ``stages`` wires them to files and
``tracking`` is the only module that talks to MLflow.
"""

__version__ = "0.1.0"
