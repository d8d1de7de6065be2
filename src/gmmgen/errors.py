"""The pipeline's own error kinds that have no home in a lower module.

Each kind has its own exit status (see :mod:`gmmgen.cli`): a user, a script
or ``make`` can tell "fix the config" from "rebuild a file" from "wait".
"""

from __future__ import annotations


class UpstreamError(RuntimeError):
    """A file an earlier stage wrote is missing or cannot be loaded."""


class CheckoutBusy(RuntimeError):
    """Another run holds this checkout (its params.yaml and stage folders)."""
