"""What a person reads afterwards: the end summary, the README's findings tables, the comparison table.

Reads the stages' files; imports :mod:`gmmgen.pipeline` and :mod:`gmmgen.core` at most.
"""
