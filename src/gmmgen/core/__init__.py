"""The maths: digits, PCA, mixtures, likelihoods, sampling and sample metrics.

Arrays and plain values in, results out. Modules here import only each other
and the leaves :mod:`gmmgen.errors` and :mod:`gmmgen.redact`: no config, no
files of other stages, no MLflow, no console. What a stage computes is decided
here, so these modules are the stages' DVC dependencies.
"""
