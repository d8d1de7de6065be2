"""gmmgen: Gaussian mixture models on PCA-whitened digits.

Plain functions on arrays and paths (data, reduce, mixture, sampling, plots),
importable without Hydra, DVC or MLflow; ``stages`` wires them to files and
``tracking`` is the only module that talks to MLflow.
"""

import os

# scikit-learn's Array API path (compute.namespace other than numpy) needs SciPy
# imported with this set; it leaves numpy results unchanged (the default run is
# byte-identical with and without it). A value set by the user is kept.
os.environ.setdefault("SCIPY_ARRAY_API", "1")

__version__ = "0.1.0"
