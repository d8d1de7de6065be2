"""Champion and challenger: which registered model version ``make serve`` serves, and why.

A new version becomes ``@champion`` only when it earns it (:func:`decide`,
a pure function of plain values):

1. its chosen fit is not degenerate and the copying test did not find it
   copying its training digits (:data:`BLOCKING_FIT_STATUS`,
   :data:`BLOCKING_COPYING`; a missing copying verdict reads ``unknown``,
   which blocks nothing and is shown);
2. it has a validation NLL; and then
3. there is no champion yet (the first model of a registry), or it has a
   lower validation NLL than the champion's on the same validation digits
   (the same dataset digest, :mod:`gmmgen.tracking.datasets`).

Otherwise it gets ``@challenger``. Either way the version's tags say which
and why (``promotion``, ``promotion.reason``), and the console says it too.
``make promote VERSION=n REASON="..."`` moves an alias by hand and records who
and why (:func:`promote_by_hand`).

Every registered version carries a description and tags (:func:`version_tags`):
K, covariance type, criterion, validation NLL (nats per digit and bits per
pixel), FD, the fit's status, copying status, the data's md5 and validation
digest, and the git commit. The champion's own numbers are read back from its
tags, or, for a version registered before these tags existed, from its source
run (:func:`standing_of_version`).

The alias moves only after the pipeline run ended FINISHED: :func:`settle` is
called once the run is closed (``gmmgen.tracking.log.track``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any

from gmmgen.core.choices import COPYING, NOT_COPYING
from gmmgen.core.verdict import DEGENERATE
from gmmgen.tracking.standing import (
    TAG_COPYING,
    UNKNOWN,
    Standing,
    describe_version,
    finite,
    standing_from_tags,
    to_float,
    version_tags,
)
from gmmgen.tracking.standing import run_dir_standing as run_dir_standing  # gmmgen.tracking.log calls it here

log = logging.getLogger(__name__)

BLOCKING_FIT_STATUS = frozenset({DEGENERATE})
"""A chosen fit with one of these statuses (``gmmgen.core.mixture``) never becomes champion by itself."""
BLOCKING_COPYING = frozenset({COPYING})
"""Copying-test verdicts that keep a version from becoming champion (absent: ``unknown``, not blocking).

The same two exclusions as the evaluate stage's verdict (:func:`gmmgen.core.verdict.exclusion`)."""
TAG_DECISION = "promotion"
TAG_REASON = "promotion.reason"
TAG_COMPARED = "promotion.compared_with"
TAG_BY = "promotion.by"


@dataclass(frozen=True)
class Decision:
    """Where a new version goes: ``alias`` (the champion's or the challenger's name) and why.

    ``margin``: candidate minus champion validation NLL, nats per digit
    (negative: better), when the two were compared.
    """

    alias: str
    promoted: bool
    reason: str
    margin: float | None = None
    compared_with: str = ""


def _nll(s: Standing) -> str:
    text = f"{s.val_nll_nats:.2f} nats/digit"
    return text + (f", {s.val_bpp:.4f} bits/pixel" if finite(s.val_bpp) else "")


def decide(
    candidate: Standing,
    champion: Standing | None,
    champion_alias: str = "champion",
    challenger_alias: str = "challenger",
) -> Decision:
    """Whether ``candidate`` becomes ``champion_alias`` or ``challenger_alias``, with the reason in words.

    ``champion`` is the version holding ``champion_alias`` now, or None when
    no version does. Pure: reads only its arguments.
    """

    def challenger(reason: str, margin: float | None = None, compared: str = "") -> Decision:
        return Decision(challenger_alias, False, reason + _shown(candidate), margin, compared)

    if candidate.fit_status in BLOCKING_FIT_STATUS:
        return challenger(f"its chosen fit is {candidate.fit_status}")
    if candidate.copying in BLOCKING_COPYING:
        return challenger("the copying test finds it copying its training digits")
    if not finite(candidate.val_nll_nats):
        return challenger("it has no validation NLL to compare")
    if champion is None:
        return Decision(champion_alias, True, f"no @{champion_alias} yet: the first model" + _shown(candidate))
    at = f"@{champion_alias} v{champion.version}"
    if not candidate.val_digest:
        return challenger(
            f"not comparable with {at}: this version records no validation digits", compared=champion.version
        )
    if not champion.val_digest:
        return challenger(f"not comparable with {at}, which records no validation digits", compared=champion.version)
    if champion.val_digest != candidate.val_digest:
        return challenger(
            f"not comparable with {at}: different validation digits ({candidate.val_digest} vs {champion.val_digest})",
            compared=champion.version,
        )
    if not finite(champion.val_nll_nats):
        return challenger(f"not comparable with {at}, which records no validation NLL", compared=champion.version)
    margin = float(candidate.val_nll_nats) - float(champion.val_nll_nats)
    numbers = f"validation NLL {_nll(candidate)} vs {_nll(champion)}"
    if margin < 0:
        return Decision(
            champion_alias,
            True,
            f"beats {at} by {-margin:.4g} nats/digit on the same validation digits ({numbers})" + _shown(candidate),
            margin,
            champion.version,
        )
    if margin == 0:
        return challenger(f"no better than {at} on the same validation digits ({numbers})", margin, champion.version)
    return challenger(
        f"worse than {at} by {margin:.4g} nats/digit on the same validation digits ({numbers})",
        margin,
        champion.version,
    )


def _shown(candidate: Standing) -> str:
    """The copying verdict when it is not a clean "not copying" (unknown blocks nothing but is said)."""
    return "" if candidate.copying == NOT_COPYING else f"; copying test: {candidate.copying}"


# --------------------------------------------------------------------------- the registry (MLflow)


def record_version(client: Any, name: str, standing: Standing) -> None:
    """Give version ``standing.version`` of model ``name`` its description and tags."""
    client.update_model_version(name, standing.version, description=describe_version(standing))
    for key, value in version_tags(standing).items():
        client.set_model_version_tag(name, standing.version, key, value)


def standing_of_version(client: Any, name: str, version: str) -> Standing:
    """A version's :class:`Standing`: from its tags, else (an older version) from its source run.

    For a version registered before the tags existed: the run's ``val_nll_nats``
    and ``val_bpp`` metrics, ``selected_status`` and ``copying_status`` tags and
    its validation dataset input, whichever exist.
    """
    from gmmgen.tracking.datasets import run_digests

    mv = client.get_model_version(name, str(version))
    standing = standing_from_tags(str(mv.version), dict(mv.tags or {}))
    if standing.val_digest and finite(standing.val_nll_nats):
        return standing
    try:
        run = client.get_run(mv.run_id) if mv.run_id else None
    except Exception:  # a deleted run: what the tags say is all there is
        run = None
    if run is None:
        return standing
    metrics, tags = run.data.metrics, run.data.tags
    return replace(
        standing,
        val_nll_nats=standing.val_nll_nats
        if finite(standing.val_nll_nats)
        else to_float(str(metrics.get("val_nll_nats"))),
        val_bpp=standing.val_bpp if finite(standing.val_bpp) else to_float(str(metrics.get("val_bpp"))),
        val_digest=standing.val_digest or run_digests(run).get("validation", ""),
        fit_status=standing.fit_status or tags.get("selected_status", ""),
        copying=standing.copying if standing.copying != UNKNOWN else tags.get(TAG_COPYING, UNKNOWN),
    )


def holder(client: Any, name: str, alias: str) -> str | None:
    """The version ``alias`` points to, or None when no version holds it (or the model does not exist)."""
    from mlflow.exceptions import MlflowException

    try:
        return str(client.get_model_version_by_alias(name, alias).version)
    except MlflowException:
        return None


def settle(client: Any, name: str, version: str, champion_alias: str, challenger_alias: str) -> Decision:
    """Decide (:func:`decide`) where the new ``version`` of ``name`` goes, move that alias, tag the version.

    Call it after the version's run ended FINISHED. Logs the decision (one line).
    """
    candidate = standing_of_version(client, name, version)
    current = holder(client, name, champion_alias)
    champion = standing_of_version(client, name, current) if current and current != str(version) else None
    decision = decide(candidate, champion, champion_alias, challenger_alias)
    client.set_registered_model_alias(name, decision.alias, str(version))
    client.set_model_version_tag(name, str(version), TAG_DECISION, decision.alias)
    client.set_model_version_tag(name, str(version), TAG_REASON, decision.reason[:5000])
    if decision.compared_with:
        client.set_model_version_tag(name, str(version), TAG_COMPARED, decision.compared_with)
    log.info("model version %s is @%s: %s", version, decision.alias, decision.reason)
    return decision


def who() -> str:
    """The person promoting by hand: git's user.name <user.email>, else the login name."""
    import getpass
    import subprocess

    def git(key: str) -> str:
        try:
            return subprocess.run(
                ["git", "config", key], capture_output=True, text=True, timeout=10, check=False
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    name, email = git("user.name"), git("user.email")
    if name:
        return f"{name} <{email}>" if email else name
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return UNKNOWN


def promote_by_hand(client: Any, name: str, version: str, alias: str, reason: str, by: str) -> str | None:
    """Move ``alias`` of ``name`` to ``version``, recording who and why on the version; return the previous holder.

    Raises ValueError naming the problem for a version that is not a number or
    that the registry does not hold, or an empty reason.
    """
    from mlflow.exceptions import MlflowException

    if not str(version).strip().isdigit():
        raise ValueError(f'VERSION={version!r}: give a model version number, e.g. make promote VERSION=3 REASON="..."')
    version = str(version).strip()
    if not reason.strip():
        raise ValueError('REASON is empty: say why, e.g. make promote VERSION=3 REASON="better digits by eye"')
    try:
        client.get_model_version(name, str(version))
    except MlflowException:
        known = sorted((int(v.version) for v in client.search_model_versions(f"name = '{name}'")), reverse=True)
        raise ValueError(
            f"VERSION={version}: model {name!r} has no such version (it has {known[:10] or 'none'})"
        ) from None
    previous = holder(client, name, alias)
    client.set_registered_model_alias(name, alias, str(version))
    by_hand = {
        TAG_DECISION: alias,
        TAG_REASON: f"by hand: {reason.strip()}"[:5000],
        TAG_BY: by,
        TAG_COMPARED: previous or "",
    }
    for key, value in by_hand.items():
        if value:
            client.set_model_version_tag(name, str(version), key, value)
    return previous
