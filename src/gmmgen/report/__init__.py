"""What a person reads: the end summary, the findings tables, the comparison table, the configuration reference.

Reads the stages' files; imports :mod:`gmmgen.pipeline` and :mod:`gmmgen.core` at most.
"""
