"""``make gate``: fail CI when a headline number of ``results/metrics.json`` regresses past its tolerance.

The workspace's ``results/metrics.json`` (what the branch commits) is set
against a reference: the one committed on another git revision (default
``main``, read with ``git show``), or the numbers of the registry's
``@champion`` (its version tags, :mod:`gmmgen.tracking.promotion`). One table
is printed, a row per check in :data:`CHECKS`, and the exit status is 0 when
every check holds, 8 (:class:`gmmgen.errors.GateFailed`) when one does not:

- the digits: the md5 of ``outputs/data/dataset.npz`` in each side's
  ``dvc.lock`` (the champion's ``data.md5`` tag) must be the same, or the
  numbers below are not comparable (``same_data``; unknown on either side:
  shown, not gating);
- validation NLL (bits per pixel) and Fréchet distance may rise by at most
  their tolerance (a number the reference has and the workspace lacks fails);
- the copying test's verdict may not become ``copying`` (absent: ``unknown``,
  shown, not gating).

Tolerances: ``conf/gate.yaml`` (:class:`GateConfig`), overridden on the
command line::

    python -m gmmgen.tracking.gate [--root DIR] [--reference REV|champion] [val_bpp=0.01 ...]
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from gmmgen.errors import ConfigError, GateFailed, GmmgenError, TrackingError, UpstreamError

RESULTS = "results/metrics.json"
DATASET = "outputs/data/dataset.npz"
CONFIG_FILE = Path(__file__).resolve().parents[3] / "conf" / "gate.yaml"
CHAMPION = "champion"
UNKNOWN = "unknown"


@dataclass
class GateConfig:
    """What ``make gate`` compares with, and how far each number may move the wrong way."""

    # A git revision whose committed results/metrics.json and dvc.lock are the reference, or "champion".
    reference: str = "main"
    # Allowed rise of the validation NLL, bits per pixel (lower is better).
    val_bpp: float = 0.005
    # Allowed rise of the Fréchet distance to real digits (lower is better).
    frechet_distance: float = 2.0
    # Fail when the copying test says "copying" and the reference's did not.
    copying: bool = True
    # Fail when the digits differ from the reference's (dataset.npz's md5): the numbers are not comparable.
    same_data: bool = True


@dataclass(frozen=True)
class Check:
    """One gated headline number: its label, dotted key in results/metrics.json, tolerance field and kind."""

    label: str
    key: str
    tolerance: str
    kind: str  # "rise": a number, lower is better | "copying": the copying test's verdict


CHECKS: tuple[Check, ...] = (
    Check("validation NLL (bits/pixel)", "select.val_bpp", "val_bpp", "rise"),
    Check("Fréchet distance", "evaluate.frechet_distance", "frechet_distance", "rise"),
    Check("copying status", "evaluate.copying_status", "copying", "copying"),
)
"""The gated numbers, in table order (the digits' row comes first)."""


@dataclass(frozen=True)
class Row:
    """One line of the table; ``failed`` rows make the gate fail."""

    label: str
    reference: str
    workspace: str
    change: str
    allowed: str
    verdict: str
    failed: bool = False


# --------------------------------------------------------------------------- config


def load_config(overrides: list[str] | None = None, path: Path = CONFIG_FILE) -> GateConfig:
    """``conf/gate.yaml`` with ``key=value`` overrides, typed and checked; ConfigError names a bad key or value."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    try:
        merged = OmegaConf.merge(
            OmegaConf.structured(GateConfig),
            OmegaConf.load(path) if path.exists() else {},
            OmegaConf.from_dotlist(list(overrides or [])),
        )
        cfg: GateConfig = OmegaConf.to_object(merged)  # type: ignore[assignment]
    except OmegaConfBaseException as exc:
        allowed = ", ".join(f.name for f in fields(GateConfig))
        first = str(exc).splitlines()[0]
        raise ConfigError(f"gate config: {first} (keys: {allowed})") from None
    for name in ("val_bpp", "frechet_distance"):
        value = getattr(cfg, name)
        if not math.isfinite(value) or value < 0:
            raise ConfigError(f"gate.{name}={value!r}: must be a number >= 0")
    if not cfg.reference.strip():
        raise ConfigError("gate.reference='': must be a git revision or 'champion'")
    return cfg


# --------------------------------------------------------------------------- the comparison (pure)


def _dig(tree: dict[str, Any], dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(tree, dict) or part not in tree:
            return None
        tree = tree[part]
    return tree


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _fmt(x: float) -> str:
    return f"{x:.6g}"


def _rise(check: Check, ref: Any, ws: Any, tolerance: float) -> Row:
    r, w = _number(ref), _number(ws)
    allowed = f"+{_fmt(tolerance)}"
    shown_r, shown_w = ("-" if r is None else _fmt(r)), ("-" if w is None else _fmt(w))
    if r is None and w is None:
        return Row(check.label, "-", "-", "-", allowed, "not measured")
    if w is None:
        return Row(check.label, shown_r, "-", "-", allowed, "MISSING", True)
    if not math.isfinite(w):
        return Row(check.label, shown_r, shown_w, "-", allowed, "NOT FINITE", True)
    if r is None or not math.isfinite(r):
        return Row(check.label, shown_r, shown_w, "-", allowed, "new")
    change = w - r
    text = f"{change:+.6g}"
    if change > tolerance:
        return Row(check.label, shown_r, shown_w, text, allowed, "REGRESSED", True)
    return Row(check.label, shown_r, shown_w, text, allowed, "better" if change < 0 else "ok")


def _copying(check: Check, ref: Any, ws: Any, gating: bool) -> Row:
    r, w = str(ref or UNKNOWN), str(ws or UNKNOWN)
    allowed = "not copying" if gating else "any"
    if gating and w == "copying" and r != "copying":
        return Row(check.label, r, w, "now copying", allowed, "REGRESSED", True)
    if w in (UNKNOWN, "untested"):
        return Row(check.label, r, w, "-", allowed, f"{w} (not gating)")
    return Row(check.label, r, w, "same" if r == w else "-", allowed, "ok")


def _digits(ref_md5: str | None, ws_md5: str | None, gating: bool) -> Row:
    label = "digits (dataset.npz md5)"
    r, w = (ref_md5 or UNKNOWN)[:12], (ws_md5 or UNKNOWN)[:12]
    allowed = "same" if gating else "any"
    if not ref_md5 or not ws_md5:
        return Row(label, r, w, "-", allowed, "unknown (not gating)")
    if ref_md5 == ws_md5:
        return Row(label, r, w, "same", allowed, "ok")
    return Row(label, r, w, "different", allowed, "NOT COMPARABLE" if gating else "other digits", gating)


def compare(
    workspace: dict[str, Any],
    reference: dict[str, Any],
    cfg: GateConfig,
    workspace_md5: str | None = None,
    reference_md5: str | None = None,
) -> list[Row]:
    """The table's rows: the digits, then each of :data:`CHECKS` (results/metrics.json dicts in, rows out). Pure."""
    rows = [_digits(reference_md5, workspace_md5, cfg.same_data)]
    for check in CHECKS:
        ref, ws = _dig(reference, check.key), _dig(workspace, check.key)
        if check.kind == "rise":
            rows.append(_rise(check, ref, ws, float(getattr(cfg, check.tolerance))))
        else:
            rows.append(_copying(check, ref, ws, bool(getattr(cfg, check.tolerance))))
    return rows


def table(rows: list[Row], reference_label: str) -> str:
    """The rows as one plain-text table, headed by what was compared with what."""
    head = ("number", f"reference ({reference_label})", "workspace", "change", "allowed", "verdict")
    cells = [head] + [(r.label, r.reference, r.workspace, r.change, r.allowed, r.verdict) for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(head))]
    lines = ["  ".join(c[i].ljust(widths[i]) for i in range(len(head))).rstrip() for c in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def verdict(rows: list[Row]) -> str | None:
    """None when every row holds, else one line naming each failed row."""
    failed = [r for r in rows if r.failed]
    if not failed:
        return None
    parts = []
    for r in failed:
        if r.verdict == "REGRESSED" and r.change.startswith("+"):
            parts.append(f"{r.label} rose by {r.change[1:]} (allowed {r.allowed})")
        elif r.verdict == "NOT COMPARABLE":
            parts.append(f"different digits ({r.workspace} vs {r.reference}): the numbers are not comparable")
        else:
            parts.append(f"{r.label}: {r.verdict.lower()} ({r.reference} -> {r.workspace})")
    return "; ".join(parts)


# --------------------------------------------------------------------------- the two sides


def _git_show(root: Path, rev: str, path: str) -> str | None:
    try:
        result = subprocess.run(
            ["git", "show", f"{rev}:{path}"], cwd=root, capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout if result.returncode == 0 else None


def workspace_side(root: Path) -> tuple[dict[str, Any], str | None]:
    """The checkout's results/metrics.json and dataset md5 (from its dvc.lock); UpstreamError without results."""
    from gmmgen.tracking.datasets import lock_md5

    path = root / RESULTS
    try:
        results = json.loads(path.read_text())
    except FileNotFoundError:
        raise UpstreamError(f"{path} is missing: run `make run` first") from None
    except (OSError, ValueError) as exc:
        raise UpstreamError(f"{path} cannot be read: {exc}") from None
    return results, lock_md5(root / "dvc.lock", DATASET)


def git_side(root: Path, rev: str) -> tuple[dict[str, Any], str | None, str]:
    """results/metrics.json and the dataset md5 committed at ``rev`` (or ``origin/<rev>``), and the revision read.

    A CI checkout of a branch often has ``origin/main`` and no local ``main``:
    the remote's is read then. ConfigError when neither holds the results.
    """
    from gmmgen.tracking.datasets import lock_text_md5

    text = _git_show(root, rev, RESULTS)
    if text is None and "/" not in rev and not rev.startswith(("HEAD", "@")):
        text = _git_show(root, f"origin/{rev}", RESULTS)
        rev = rev if text is None else f"origin/{rev}"
    if text is None:
        raise ConfigError(
            f"reference {rev!r}: `git show {rev}:{RESULTS}` found nothing in {root} "
            "(no such revision or no committed results there); pass REF=<revision> or REF=champion"
        )
    try:
        results = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"reference {rev!r}: its {RESULTS} is not JSON ({exc})") from None
    lock = _git_show(root, rev, "dvc.lock")
    return results, lock_text_md5(lock, DATASET) if lock is not None else None, rev


def champion_side(root: Path, tracking_overrides: list[str]) -> tuple[dict[str, Any], str | None, str]:
    """The registry's champion as a reference: its version tags in results/metrics.json's shape, md5, label."""
    from gmmgen.pipeline.config import compose
    from gmmgen.tracking import promotion
    from gmmgen.tracking.log import _client, check_reachable

    cfg = compose(tracking_overrides, root=root)
    check_reachable(cfg)
    name, alias = str(cfg.tracking.registered_model), str(cfg.tracking.alias)
    client = _client(cfg)
    version = promotion.holder(client, name, alias)
    if version is None:
        raise TrackingError(f"model {name!r} has no @{alias} in the registry: nothing to compare with")
    s = promotion.standing_of_version(client, name, version)
    results = {"select": {"val_bpp": s.val_bpp}, "evaluate": {"frechet_distance": s.frechet_distance}}
    results["evaluate"]["copying_status"] = s.copying
    return results, s.data_md5 or None, f"@{alias} v{version}"


def run_gate(root: Path, cfg: GateConfig, tracking_overrides: list[str] | None = None) -> tuple[str, str | None, str]:
    """Compare the checkout at ``root`` with ``cfg.reference``: (the table, None or the failure line, the reference)."""
    workspace, ws_md5 = workspace_side(root)
    if cfg.reference == CHAMPION:
        reference, ref_md5, label = champion_side(root, list(tracking_overrides or []))
    else:
        reference, ref_md5, label = git_side(root, cfg.reference)
    rows = compare(workspace, reference, cfg, ws_md5, ref_md5)
    return table(rows, label), verdict(rows), label


def main(argv: list[str] | None = None) -> int:
    import argparse

    from gmmgen.redact import redact

    parser = argparse.ArgumentParser(prog="python -m gmmgen.tracking.gate", description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("."), help="the checkout (results/, dvc.lock, git)")
    parser.add_argument("--reference", help="a git revision, or 'champion' (default: conf/gate.yaml's, main)")
    parser.add_argument("overrides", nargs="*", help="gate settings (val_bpp=0.01) and tracking.* for the champion")
    args = parser.parse_args(argv)
    tracking = [o for o in args.overrides if o.lstrip("+~").startswith("tracking.")]
    gate = [o for o in args.overrides if o not in tracking]
    try:
        cfg = load_config([*gate, *([f"reference={args.reference}"] if args.reference else [])])
        text, failure, label = run_gate(args.root.resolve(), cfg, tracking)
        print(text, flush=True)
        if failure:
            raise GateFailed(failure)
    except GmmgenError as exc:
        print(f"gmmgen: {exc.kind}: {redact(str(exc))}", file=sys.stderr, flush=True)
        return exc.exit_code
    print(f"gate: passed against {label}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
