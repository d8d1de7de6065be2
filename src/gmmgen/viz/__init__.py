"""Figures: matplotlib (Agg) drawings of arrays, in the project's style. Imports :mod:`gmmgen.core` at most."""
