"""How a process behaves: entry points' start-up, exit statuses, the run lock, the console, Hydra callbacks.

The top layer: it may import every layer below (pipeline, tracking, report).
None of it decides what a stage computes, so it is never a stage's DVC dependency.
"""
