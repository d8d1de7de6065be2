"""``make compare``: the headline metrics and the changed params of the workspace, HEAD and every DVC experiment.

One column per revision (workspace, HEAD, then each experiment of HEAD), one
row per changed param and per headline number of ``results/metrics.json``.
  python -m gmmgen.report.compare        (runs ``dvc exp show --json`` in the current folder)

``make exps`` is DVC's own table cut to fit 120 columns (:func:`exp_show_args`):
the experiment, the headline columns (:data:`HEADLINE`) and the params that
differ; every other column dropped.
  python -m gmmgen.report.compare --exp-show [extra dvc exp show arguments]
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

METRICS_FILE = "results/metrics.json"
PARAMS_FILE = "params.yaml"


def flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    """A nested mapping as one level of dotted keys (``{"a": {"b": 1}}`` -> ``{"a.b": 1}``); lists are values."""
    if isinstance(tree, dict):
        out: dict[str, Any] = {}
        for k, v in tree.items():
            out.update(flatten(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: tree}


def _file_data(data: dict[str, Any], kind: str, name: str) -> dict[str, Any]:
    return flatten(((data.get(kind) or {}).get(name) or {}).get("data") or {})


def revisions(exp_show: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(label, flat params, flat headline metrics) of every revision in ``dvc exp show --json`` output."""
    for entry in exp_show:
        label = entry["rev"] if entry["rev"] == "workspace" else (entry.get("name") or entry["rev"][:7])
        if entry.get("data"):
            yield (
                label,
                _file_data(entry["data"], "params", PARAMS_FILE),
                _file_data(entry["data"], "metrics", METRICS_FILE),
            )
        for exp in entry.get("experiments") or []:
            for rev in exp.get("revs") or []:
                if rev.get("data"):
                    name = exp.get("name") or rev.get("name") or rev["rev"][:7]
                    data = rev["data"]
                    yield name, _file_data(data, "params", PARAMS_FILE), _file_data(data, "metrics", METRICS_FILE)


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def table(revs: list[tuple[str, dict[str, Any], dict[str, Any]]]) -> str:
    """A plain-text table: a column per revision; the params that differ between them, then the metrics."""
    if not revs:
        return "no revisions to compare"
    changed = changed_params(revs)
    metric_keys = list(dict.fromkeys(k for _, _, m in revs for k in m))
    rows = [["", *[label for label, _, _ in revs]]]
    rows += [[k, *[_fmt(p.get(k)) for _, p, _ in revs]] for k in changed]
    if changed:
        rows.append(["", *["" for _ in revs]])
    rows += [[k, *[_fmt(m.get(k)) for _, _, m in revs]] for k in metric_keys]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
        for r in rows
    ]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(line.rstrip() for line in lines)


#: The metrics ``make exps`` keeps (DVC's column names: the path in results/metrics.json).
HEADLINE = ("select.n_components", "select.val_bpp", "evaluate.frechet_distance")


def exp_show_args(changed: list[str]) -> list[str]:
    """``dvc exp show`` arguments for a table that fits 120 columns: the experiment, :data:`HEADLINE`, ``changed``.

    Every other column is dropped: the metrics, Created, and the dependencies' hashes DVC lists once a
    run's outputs are there. DVC prefixes a param's column with ``params.yaml:`` when a metric has the same
    name.
    """
    import re

    params = "|".join(re.escape(k) for k in changed)
    keep = (
        "^(Experiment|"
        + "|".join(re.escape(k) for k in HEADLINE)
        + (f"|(params\\.yaml:)?({params})" if params else "")
        + ")$"
    )
    return ["--no-pager", "--precision", "4", "--drop", ".*", "--keep", keep]


def changed_params(revs: list[tuple[str, dict[str, Any], dict[str, Any]]]) -> list[str]:
    """The params whose values differ between the revisions (as :func:`table` lists them)."""
    keys = sorted({k for _, p, _ in revs for k in p})
    return [k for k in keys if len({json.dumps(p.get(k), sort_keys=True) for _, p, _ in revs}) > 1]


def exp_show(extra: list[str]) -> int:
    """Print ``dvc exp show`` cut by :func:`exp_show_args` (headline columns and changed params); its exit status."""
    dvc = Path(sys.executable).with_name("dvc")
    found = subprocess.run([str(dvc), "exp", "show", "--json", *extra], capture_output=True, text=True)
    if found.returncode != 0:
        print(f"gmmgen: error: dvc exp show failed: {found.stderr.strip()[-2000:]}", file=sys.stderr)
        return 1
    changed = changed_params(list(revisions(json.loads(found.stdout))))
    return subprocess.run([str(dvc), "exp", "show", *exp_show_args(changed), *extra]).returncode


def main() -> int:
    if sys.argv[1:2] == ["--exp-show"]:
        return exp_show(sys.argv[2:])
    dvc = Path(sys.executable).with_name("dvc")
    result = subprocess.run([str(dvc), "exp", "show", "--json"], capture_output=True, text=True)
    if result.returncode != 0:
        print(f"gmmgen: error: dvc exp show failed: {result.stderr.strip()[-2000:]}", file=sys.stderr)
        return 1
    print(table(list(revisions(json.loads(result.stdout)))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
