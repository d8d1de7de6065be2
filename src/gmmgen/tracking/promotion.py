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
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from gmmgen.core.choices import COPYING, NOT_COPYING
from gmmgen.core.verdict import DEGENERATE

log = logging.getLogger(__name__)

BLOCKING_FIT_STATUS = frozenset({DEGENERATE})
"""A chosen fit with one of these statuses (``gmmgen.core.mixture``) never becomes champion by itself."""
BLOCKING_COPYING = frozenset({COPYING})
"""Copying-test verdicts that keep a version from becoming champion (absent: ``unknown``, not blocking).

The same two exclusions as the evaluate stage's verdict (:func:`gmmgen.core.verdict.exclusion`)."""
UNKNOWN = "unknown"
CRITERION_NAMES = {"bic": "BIC", "aic": "AIC", "heldout": "held-out likelihood"}

# Version tag keys (issue 22's "K, criterion, validation bits/pixel, FD, copying status, data digest, commit").
TAG_K = "K"
TAG_COVARIANCE = "covariance_type"
TAG_CRITERION = "criterion"
TAG_VAL_NLL = "val_nll_nats"
TAG_VAL_BPP = "val_bpp"
TAG_FD = "frechet_distance"
TAG_FIT_STATUS = "fit_status"
TAG_COPYING = "copying_status"
TAG_DATA = "data.name"
TAG_MD5 = "data.md5"
TAG_VAL_DIGEST = "data.val_digest"
TAG_COMMIT = "git.commit"
TAG_DECISION = "promotion"
TAG_REASON = "promotion.reason"
TAG_COMPARED = "promotion.compared_with"
TAG_BY = "promotion.by"


@dataclass(frozen=True)
class Standing:
    """What the promotion rule and a version's tags know of one model version, as plain values.

    ``val_nll_nats``: the chosen model's validation negative log-likelihood in
    pixel space, nats per digit (lower is better); ``val_bpp``: the same in
    bits per pixel. ``val_digest``: the digest of the validation digits
    (``<md5[:12]>-validation``), ``""`` when unknown. ``copying``: the copying
    test's verdict (``copying``, ``not copying``, ``untested`` or ``unknown``).
    """

    version: str
    val_nll_nats: float | None = None
    val_bpp: float | None = None
    val_digest: str = ""
    data_md5: str = ""
    data_name: str = ""
    fit_status: str = ""
    copying: str = UNKNOWN
    n_components: int | None = None
    covariance_type: str = ""
    criterion: str = ""
    frechet_distance: float | None = None
    git_commit: str = ""


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


def _finite(x: float | None) -> bool:
    return x is not None and isinstance(x, int | float) and math.isfinite(x)


def _nll(s: Standing) -> str:
    text = f"{s.val_nll_nats:.2f} nats/digit"
    return text + (f", {s.val_bpp:.4f} bits/pixel" if _finite(s.val_bpp) else "")


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
    if not _finite(candidate.val_nll_nats):
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
    if not _finite(champion.val_nll_nats):
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


# --------------------------------------------------------------------------- tags and description


def _num(value: float | None) -> str:
    return repr(float(value)) if _finite(value) else ""


def version_tags(s: Standing) -> dict[str, str]:
    """The tags a registered version carries (empty values left out)."""
    tags = {
        TAG_K: "" if s.n_components is None else str(int(s.n_components)),
        TAG_COVARIANCE: s.covariance_type,
        TAG_CRITERION: s.criterion,
        TAG_VAL_NLL: _num(s.val_nll_nats),
        TAG_VAL_BPP: _num(s.val_bpp),
        TAG_FD: _num(s.frechet_distance),
        TAG_FIT_STATUS: s.fit_status,
        TAG_COPYING: s.copying or UNKNOWN,
        TAG_DATA: s.data_name,
        TAG_MD5: s.data_md5,
        TAG_VAL_DIGEST: s.val_digest,
        TAG_COMMIT: s.git_commit,
    }
    return {k: v for k, v in tags.items() if v}


def describe_version(s: Standing) -> str:
    """One paragraph for the version's description: what model, how good, on what digits, from which commit."""
    model = f"{s.covariance_type} K={s.n_components}" if s.n_components is not None else "a Gaussian mixture"
    criterion = CRITERION_NAMES.get(s.criterion, s.criterion or "?")
    parts = [f"PCA + {model} chosen by {criterion}"]
    if _finite(s.val_bpp):
        parts.append(f"validation {s.val_bpp:.4f} bits/pixel")
    if _finite(s.frechet_distance):
        parts.append(f"FD {s.frechet_distance:.2f}")
    parts += [f"fit {s.fit_status or '?'}", f"copying test: {s.copying or UNKNOWN}"]
    line = "; ".join(parts) + f". Data: {s.data_name or '?'}, dataset.npz md5 {s.data_md5[:12] or '?'}"
    return line + (f"; commit {s.git_commit[:12]}." if s.git_commit else ".")


def _float(text: str | None) -> float | None:
    try:
        value = float(text) if text not in (None, "") else None
    except ValueError:
        return None
    return value if _finite(value) else None


def standing_from_tags(version: str, tags: dict[str, str]) -> Standing:
    """A :class:`Standing` read back from a version's tags (:func:`version_tags`); missing ones are empty."""
    k = tags.get(TAG_K, "")
    return Standing(
        version=str(version),
        val_nll_nats=_float(tags.get(TAG_VAL_NLL)),
        val_bpp=_float(tags.get(TAG_VAL_BPP)),
        val_digest=tags.get(TAG_VAL_DIGEST, ""),
        data_md5=tags.get(TAG_MD5, ""),
        data_name=tags.get(TAG_DATA, ""),
        fit_status=tags.get(TAG_FIT_STATUS, ""),
        copying=tags.get(TAG_COPYING, UNKNOWN) or UNKNOWN,
        n_components=int(k) if k.isdigit() else None,
        covariance_type=tags.get(TAG_COVARIANCE, ""),
        criterion=tags.get(TAG_CRITERION, ""),
        frechet_distance=_float(tags.get(TAG_FD)),
        git_commit=tags.get(TAG_COMMIT, ""),
    )


# --------------------------------------------------------------------------- from a run's files


def standing_from_files(
    version: str,
    select: dict[str, Any],
    evaluation: dict[str, Any],
    criterion: str,
    data_name: str,
    data_md5: str,
    git_commit: str,
) -> Standing:
    """A :class:`Standing` from a run's select and evaluate metrics (the stages' JSON, as dicts).

    The copying verdict is the evaluate stage's ``selected.copying_status``;
    absent (the evaluate stage did not run, or predates the copying test), it
    reads ``unknown``.
    """
    from gmmgen.tracking.datasets import split_digest

    chosen = select.get("chosen") or {}
    selected = evaluation.get("selected") or {}
    fd = selected.get("frechet_distance")
    return Standing(
        version=str(version),
        val_nll_nats=_float(str(chosen.get("val_nll_nats", ""))),
        val_bpp=_float(str(chosen.get("val_bpp", ""))),
        val_digest=split_digest(data_md5, "validation") if data_md5 else "",
        data_md5=data_md5,
        data_name=data_name,
        fit_status=str(chosen.get("status", "")),
        copying=str(selected.get("copying_status") or UNKNOWN),
        n_components=int(chosen["n_components"]) if "n_components" in chosen else None,
        covariance_type=str(chosen.get("covariance_type", "")),
        criterion=criterion,
        frechet_distance=_float(str(fd)) if fd is not None else None,
        git_commit=git_commit,
    )


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
    if standing.val_digest and _finite(standing.val_nll_nats):
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
        if _finite(standing.val_nll_nats)
        else _float(str(metrics.get("val_nll_nats"))),
        val_bpp=standing.val_bpp if _finite(standing.val_bpp) else _float(str(metrics.get("val_bpp"))),
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


def run_dir_standing(cfg: Any, run_dir: Path, version: str, git_commit: str, data_md5: str) -> Standing:
    """The :class:`Standing` of the model logged from the stage folders under ``run_dir`` (its files only)."""
    from gmmgen.pipeline import files as F
    from gmmgen.pipeline.upstream import load_json

    def read(path: Path) -> dict[str, Any]:
        return load_json(path, path.parent.name) if path.exists() else {}

    return standing_from_files(
        version,
        read(F.SELECT.folder(run_dir) / F.SELECT.metrics),
        read(F.EVALUATE.folder(run_dir) / F.EVALUATE.metrics),
        str(cfg.sweep.criterion),
        str(cfg.data.name),
        data_md5,
        git_commit,
    )
