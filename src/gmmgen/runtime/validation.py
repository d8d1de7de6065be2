"""The whole config checked before any work: the experiment's rules, the tracking settings, the tutorial's.

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
from gmmgen_tutorial.config import iter_problems as tutorial_problems


def _problems(cfg: Any) -> Iterator[str]:
    yield from checks.credential_problems(cfg)
    yield from config.rule_problems(cfg)
    problem = checks.tracking_uri_problem(config.lookup(cfg, "tracking.uri"))
    if problem:
        yield problem
    yield from tutorial_problems(config.lookup(cfg, "tutorial"))


def iter_problems(cfg: Any) -> Iterator[str]:
    """Yield one masked message per invalid value of ``cfg`` (a DictConfig, a plain dict or a :class:`Config`)."""
    for problem in _problems(cfg):
        yield redact(problem)


def validate(cfg: Any) -> None:
    """Raise :class:`ConfigError` naming the first invalid value, if any."""
    for problem in iter_problems(cfg):
        raise ConfigError(problem)
