"""What a registered model version is, as plain values: its :class:`Standing`, tags and description.

A :class:`Standing` is read from a run's files (:func:`standing_from_files`,
:func:`run_dir_standing`) or back from a version's tags
(:func:`standing_from_tags`); :func:`version_tags` and
:func:`describe_version` write it. The promotion rule
(:mod:`gmmgen.tracking.promotion`) compares two of them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


def finite(x: float | None) -> bool:
    return x is not None and isinstance(x, int | float) and math.isfinite(x)


def _num(value: float | None) -> str:
    return repr(float(value)) if finite(value) else ""


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
    if finite(s.val_bpp):
        parts.append(f"validation {s.val_bpp:.4f} bits/pixel")
    if finite(s.frechet_distance):
        parts.append(f"FD {s.frechet_distance:.2f}")
    parts += [f"fit {s.fit_status or '?'}", f"copying test: {s.copying or UNKNOWN}"]
    line = "; ".join(parts) + f". Data: {s.data_name or '?'}, dataset.npz md5 {s.data_md5[:12] or '?'}"
    return line + (f"; commit {s.git_commit[:12]}." if s.git_commit else ".")


def to_float(text: str | None) -> float | None:
    try:
        value = float(text) if text not in (None, "") else None
    except ValueError:
        return None
    return value if finite(value) else None


def standing_from_tags(version: str, tags: dict[str, str]) -> Standing:
    """A :class:`Standing` read back from a version's tags (:func:`version_tags`); missing ones are empty."""
    k = tags.get(TAG_K, "")
    return Standing(
        version=str(version),
        val_nll_nats=to_float(tags.get(TAG_VAL_NLL)),
        val_bpp=to_float(tags.get(TAG_VAL_BPP)),
        val_digest=tags.get(TAG_VAL_DIGEST, ""),
        data_md5=tags.get(TAG_MD5, ""),
        data_name=tags.get(TAG_DATA, ""),
        fit_status=tags.get(TAG_FIT_STATUS, ""),
        copying=tags.get(TAG_COPYING, UNKNOWN) or UNKNOWN,
        n_components=int(k) if k.isdigit() else None,
        covariance_type=tags.get(TAG_COVARIANCE, ""),
        criterion=tags.get(TAG_CRITERION, ""),
        frechet_distance=to_float(tags.get(TAG_FD)),
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
        val_nll_nats=to_float(str(chosen.get("val_nll_nats", ""))),
        val_bpp=to_float(str(chosen.get("val_bpp", ""))),
        val_digest=split_digest(data_md5, "validation") if data_md5 else "",
        data_md5=data_md5,
        data_name=data_name,
        fit_status=str(chosen.get("status", "")),
        copying=str(selected.get("copying_status") or UNKNOWN),
        n_components=int(chosen["n_components"]) if "n_components" in chosen else None,
        covariance_type=str(chosen.get("covariance_type", "")),
        criterion=criterion,
        frechet_distance=to_float(str(fd)) if fd is not None else None,
        git_commit=git_commit,
    )


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
