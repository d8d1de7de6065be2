"""The pipeline's stages: each reads the folders of the stages before it and writes its own.

A stage function ``run_<stage>(cfg)`` takes the typed config
(:func:`gmmgen.pipeline.config.settle`), wires it to :mod:`gmmgen.core` and
:mod:`gmmgen.viz`, and writes one folder under ``paths.run_dir`` atomically
(complete or absent), with the file names of :mod:`gmmgen.pipeline.files`.
Stages share only :mod:`.common` and never import each other. The registry
(:mod:`gmmgen.pipeline.registry`) lists them; the ``track`` stage lives with
the MLflow code (:mod:`gmmgen.tracking.stage`).

This package imports none of its stage modules, so ``pipelines/stage.py
<stage>`` runs (and DVC lists as its dependencies) exactly one stage's code.
"""
