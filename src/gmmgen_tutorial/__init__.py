"""The tutorial's other lessons, each a small reproducible experiment.

One module per section, arrays in and results out (no Hydra, DVC or MLflow):
:mod:`em1d` (EM by hand in one dimension), :mod:`clustering` (2-D clustering
and BIC/AIC over K), :mod:`sampling1d` (drawing from a fitted 1-D mixture),
:mod:`segmentation` (image and digit segmentation), :mod:`anomaly` (density
threshold). :mod:`plots` draws their figures, :mod:`config` is the tutorial's
own config root (``conf/tutorial.yaml``, apart from the pipeline's),
:mod:`stages` wires that config to them and writes
``outputs/tutorial/<section>/``, and :mod:`track` logs those folders to MLflow.
"""
