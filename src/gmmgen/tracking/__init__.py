"""Everything MLflow: the store checks, the logged run, the served model, the UI's view and the team server.

Reads the folders the stages wrote (:mod:`gmmgen.pipeline.files`); imports no
runtime or report module.
"""
