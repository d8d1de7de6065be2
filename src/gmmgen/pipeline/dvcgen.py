"""Write each stage's ``cmd``, code ``deps`` and ``params`` in ``dvc.yaml`` from the registry and the import graph.

A stage's code deps are its compute path: the entry script, the stage's
module, and every module those import (at module level or inside a
function, parent packages included), except the hallway: :mod:`gmmgen.runtime`
(process handling, console text) and :mod:`gmmgen.report` never decide what
a stage writes, so editing them reruns nothing. The layers below
(core, viz, pipeline) never import the hallway, which ``tests/test_deps.py``
checks, so nothing a stage runs to compute is left out.

``python -m gmmgen.pipeline.dvcgen`` rewrites ``dvc.yaml`` and the tutorial's
``pipelines/tutorial/dvc.yaml`` in place (comments, data deps, outs and plots
are kept); ``--check`` exits 1 naming the files that differ (``make dvc-yaml``
writes, the tests check).
"""

from __future__ import annotations

import ast
import io
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from gmmgen.pipeline import registry

REPO = Path(__file__).resolve().parents[3]
SRC = REPO / "src"
PACKAGES = ("gmmgen", "gmmgen_tutorial")
#: Imported by entry points and stages for how a process behaves or what a person reads: never a code dep.
HALLWAY = ("gmmgen.runtime", "gmmgen.report")
STAGE_SCRIPT = "pipelines/stage.py"
SECTION_SCRIPT = "pipelines/tutorial/section.py"
STAGE_CMD = "pipelines/python {script} {name} --config-dir . --config-name params"
#: The tutorial's stages compose its own params file (pipelines/tutorial/params.yaml), never the pipeline's.
SECTION_CMD = "pipelines/python {script} {name} --config-dir pipelines/tutorial --config-name params"


def module_file(name: str) -> Path | None:
    """The source file of module ``name`` (its ``__init__.py`` for a package), or None outside ``src/``."""
    base = SRC / Path(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def module_name(path: Path) -> str:
    """The dotted name of a source file under ``src/``."""
    rel = path.relative_to(SRC).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def _ours(name: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in PACKAGES)


def imported_modules(path: Path) -> set[str]:
    """The project's modules ``path`` imports anywhere in its body, with their parent packages."""
    tree = ast.parse(path.read_text(), filename=str(path))
    here = module_name(path).split(".") if path.is_relative_to(SRC) else []
    is_pkg = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative import
                base = here if is_pkg else here[:-1]
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join([*base, node.module] if node.module else base)
            else:
                mod = node.module or ""
            names = [mod] + [f"{mod}.{a.name}" for a in node.names if module_file(f"{mod}.{a.name}")]
        for name in filter(_ours, names):
            parts = name.split(".")
            found.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    return {m for m in found if module_file(m)}


def in_hallway(module: str) -> bool:
    """Whether ``module`` is process handling or reporting (never a code dep)."""
    return any(module == h or module.startswith(h + ".") for h in HALLWAY)


def closure(entries: Iterable[Path], follow_hallway: bool = False) -> set[Path]:
    """The source files ``entries`` import, transitively; the hallway's modules are not entered."""
    seen: set[str] = set()
    todo = [m for e in entries for m in imported_modules(e)]
    while todo:
        mod = todo.pop()
        if mod in seen or (in_hallway(mod) and not follow_hallway):
            continue
        seen.add(mod)
        todo.extend(imported_modules(module_file(mod)) - seen)
    return {p for p in map(module_file, seen) if p is not None}


def code_deps(*entries: Path) -> list[str]:
    """The entry files first, then their compute closure, as sorted paths relative to the repository."""
    first = [str(e.relative_to(REPO)) for e in entries]
    rest = sorted({str(p.relative_to(REPO)) for p in closure(entries)} - set(first))
    return first + rest


@dataclass(frozen=True)
class StageCode:
    """What dvcgen writes for one stage of a dvc.yaml: its command, entry files and (if set) params."""

    name: str
    cmd: str
    entries: tuple[Path, ...]
    params: tuple[str, ...] | None = None  # None: keep what the file says


def pipeline_stages() -> list[StageCode]:
    """The main pipeline's stages, from :mod:`gmmgen.pipeline.registry`."""
    return [
        StageCode(
            s.name,
            STAGE_CMD.format(script=STAGE_SCRIPT, name=s.name),
            (REPO / STAGE_SCRIPT, module_file(s.module)),
            s.params,
        )
        for s in registry.STAGES
    ]


def tutorial_stages() -> list[StageCode]:
    """The tutorial's stages (``tutorial_<section>``, as its dvc.yaml names them): a section's module, or its tracking.

    The tutorial sits beside the pipeline, not in its registry: its dvc.yaml's stage names are its list.
    """
    import yaml

    names = yaml.safe_load((REPO / "pipelines/tutorial/dvc.yaml").read_text())["stages"]
    out = []
    for name in (n.removeprefix("tutorial_") for n in names):
        module = "gmmgen_tutorial.track" if name == "track" else "gmmgen_tutorial.stages"
        cmd = SECTION_CMD.format(script=SECTION_SCRIPT, name=name)
        out.append(StageCode(f"tutorial_{name}", cmd, (REPO / SECTION_SCRIPT, module_file(module))))
    return out


FILES = {"dvc.yaml": pipeline_stages, "pipelines/tutorial/dvc.yaml": tutorial_stages}


def render(path: Path, stages: list[StageCode]) -> str:
    """``path``'s text with each listed stage's cmd, code deps and params written anew."""
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedSeq

    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    doc = yaml.load(path.read_text())
    listed = doc["stages"]
    wanted = [s.name for s in stages]
    if list(listed) != wanted:
        raise SystemExit(f"{path}: stages {list(listed)} are not the registry's {wanted}")
    for stage in stages:
        node = listed[stage.name]
        node["cmd"] = stage.cmd
        deps = node.get("deps") or CommentedSeq()
        data = [d for d in deps if not (isinstance(d, str) and d.endswith(".py"))]
        new = CommentedSeq(code_deps(*stage.entries) + data)
        node["deps"] = new
        if stage.params is not None:
            if stage.params:
                node["params"] = CommentedSeq(stage.params)
            elif "params" in node:
                del node["params"]
    buf = io.StringIO()
    yaml.dump(doc, buf)
    return buf.getvalue()


def main(argv: list[str], root: Path = REPO) -> int:
    """Rewrite (or with ``--check``, compare) every file of :data:`FILES` under ``root``; 1 when one was stale."""
    check = argv[:1] == ["--check"]
    stale = []
    for rel, stages in FILES.items():
        path = root / rel
        text = render(path, stages())
        if text != path.read_text():
            stale.append(rel)
            if not check:
                path.write_text(text)
    if check and stale:
        print(f"dvcgen: {', '.join(stale)} differ from the registry and the import graph: run `make dvc-yaml`")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
