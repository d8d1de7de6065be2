"""The experiment as stages: the typed config, the file map, the stage registry and the stages themselves.

A stage (:mod:`gmmgen.pipeline.stages`) wires the config to :mod:`gmmgen.core`
and :mod:`gmmgen.viz` and writes one folder. Nothing here imports the layers
above (tracking, report, runtime), so the code DVC lists as a stage's
dependencies is the code that decides its outputs.
"""
