"""The whole config checked before any work: its root's rules (pipeline or tutorial) and the tracking settings.

One message per problem, ``key=value: must be <allowed>``, every one masked
(:func:`gmmgen.redact.redact`): a message never shows a credential, even the
one it rejects. The entry points (:mod:`gmmgen.runtime.cli`, the Hydra
callbacks, ``pipelines/configure.py``) call :func:`validate`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from gmmgen.errors import ConfigError
from gmmgen.pipeline import config
from gmmgen.redact import redact
from gmmgen.tracking import checks


def _problems(cfg: Any) -> Iterator[str]:
    yield from checks.credential_problems(cfg)
    yield from config.root_of(cfg).rule_problems(cfg)  # the rules of the config's own root (config.ConfigRoot)
    problem = checks.tracking_uri_problem(config.lookup(cfg, "tracking.uri"))
    if problem:
        yield problem


def iter_problems(cfg: Any) -> Iterator[str]:
    """Yield one masked message per invalid value of ``cfg``: a DictConfig, a plain dict or a typed config.

    The rules are those of the root ``cfg`` belongs to (:func:`gmmgen.pipeline.config.root_of`): the pipeline's
    for its Config or a plain dict, the tutorial's for a config composed over its schema.
    """
    for problem in _problems(cfg):
        yield redact(problem)


def validate(cfg: Any) -> None:
    """Raise :class:`ConfigError` naming the first invalid value, if any."""
    for problem in iter_problems(cfg):
        raise ConfigError(problem)
