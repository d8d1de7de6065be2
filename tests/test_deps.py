"""dvc.yaml lists, for every stage, exactly the project code its command runs.

The import graph is read from the source (every ``import``, at module level or
inside a function, of a ``gmmgen`` module), so a refactor that makes a stage
run a module its ``deps`` do not list, or that leaves a module listed that it
no longer runs, fails here instead of leaving stale cached results.
"""

from __future__ import annotations

import ast
import shlex
from pathlib import Path

import pytest
import yaml

from .conftest import REPO

SRC = REPO / "src"
PACKAGE = "gmmgen"


def module_file(name: str) -> Path | None:
    """The source file of module ``name`` of the package (its ``__init__.py`` for a package), or None."""
    base = SRC / Path(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def module_name(path: Path) -> str:
    rel = path.relative_to(SRC).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def imported_modules(path: Path) -> set[str]:
    """The ``gmmgen`` modules ``path`` imports anywhere in its body, with their parent packages."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    here = module_name(path).split(".") if path.is_relative_to(SRC) else []
    is_pkg = path.name == "__init__.py"
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
            names = [mod]
            # ``from pkg import sub`` imports the submodule when there is one.
            names += [f"{mod}.{a.name}" for a in node.names if module_file(f"{mod}.{a.name}")]
        for name in names:
            if name == PACKAGE or name.startswith(PACKAGE + "."):
                parts = name.split(".")
                found.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    return {m for m in found if module_file(m)}


def closure(entry: Path) -> set[Path]:
    """Every ``gmmgen`` source file that running ``entry`` can import (transitively)."""
    seen: set[str] = set()
    todo = list(imported_modules(entry))
    while todo:
        mod = todo.pop()
        if mod in seen:
            continue
        seen.add(mod)
        todo.extend(imported_modules(module_file(mod)) - seen)
    return {module_file(m) for m in seen}


STAGE_SCRIPT = REPO / "pipelines" / "stage.py"
SECTION_SCRIPT = REPO / "pipelines" / "tutorial" / "section.py"


def stage_code(stage: dict) -> tuple[list[Path], set[str]]:
    """The files a stage's command runs first (its script, and for ``stage.py <name>`` the stage
    module it imports by name) and the ``.py`` files its ``deps`` list."""
    args = shlex.split(stage["cmd"])
    i, script = next(
        (i, a)
        for i, a in enumerate(args)
        if a.startswith("pipelines/") and a.endswith(".py") and a != "pipelines/python"
    )
    entries = [REPO / script]
    if REPO / script == STAGE_SCRIPT:
        entries.append(module_file(f"{PACKAGE}.stages.{args[i + 1]}"))
    elif REPO / script == SECTION_SCRIPT:  # the tutorial's: a section's run_<name>, or the tracking
        entries.append(module_file(f"{PACKAGE}.tutorial.{'track' if args[i + 1] == 'track' else 'stages'}"))
    listed = {d for d in stage["deps"] if isinstance(d, str) and d.endswith(".py")}
    return entries, listed


def expected_deps(*entries: Path) -> set[str]:
    found = {str(e.relative_to(REPO)) for e in entries}
    for entry in entries:
        found |= {str(p.relative_to(REPO)) for p in closure(entry)}
    return found


@pytest.mark.parametrize("dvc_yaml", ["dvc.yaml", "pipelines/tutorial/dvc.yaml"])
def test_every_stage_lists_exactly_the_code_it_imports(dvc_yaml):
    stages = yaml.safe_load((REPO / dvc_yaml).read_text())["stages"]
    problems = []
    for name, stage in stages.items():
        entries, listed = stage_code(stage)
        expected = expected_deps(*entries)
        if missing := sorted(expected - listed):
            problems.append(f"stage '{name}' runs but does not list: {missing}")
        if extra := sorted(listed - expected):
            problems.append(f"stage '{name}' lists code it does not run: {extra}")
    assert not problems, "dvc.yaml deps are not the code the stages run:\n" + "\n".join(problems)


def test_the_import_graph_sees_lazy_and_package_imports(tmp_path):
    """The analyser itself: function-level imports and parent packages count; other packages do not."""
    track = expected_deps(STAGE_SCRIPT, SRC / "gmmgen" / "stages" / "track.py")
    assert "src/gmmgen/tracking.py" in track  # imported inside a function
    assert "src/gmmgen/__init__.py" in track
    data = expected_deps(STAGE_SCRIPT, SRC / "gmmgen" / "stages" / "data.py")
    assert "src/gmmgen/stages/__init__.py" in data and "src/gmmgen/data.py" in data
    # The stages package imports no stage eagerly, so the data stage does not run the evaluation code.
    assert "src/gmmgen/stages/evaluate.py" not in data and "src/gmmgen/evaluate.py" not in data


def test_no_code_imports_a_stage_name_through_the_package():
    """``from gmmgen.stages import run_x`` would hide which stage module runs from the graph above."""
    offenders = []
    for path in [*SRC.rglob("*.py"), *(REPO / "pipelines").glob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module == f"{PACKAGE}.stages":
                lazy = [a.name for a in node.names if not module_file(f"{PACKAGE}.stages.{a.name}")]
                if lazy:
                    offenders.append(f"{path.relative_to(REPO)}: {lazy}")
    assert not offenders, "import these from their stage module instead: " + "; ".join(offenders)


# Layers, top to bottom: entry points (pipelines/) > cli, hydra_callbacks, runlock > stages > tracking,
# generator, summary, findings > the library (everything else). A module imports only its layer or below.
ENTRY_LAYER = {"gmmgen.cli", "gmmgen.hydra_callbacks", "gmmgen.runlock"}


def _imports(module: str) -> set[str]:
    return imported_modules(module_file(module)) - {module}


def test_imports_point_down():
    """The library and tracking never import a stage or the entry layer; stages do not import each other."""
    problems = []
    for path in sorted((SRC / PACKAGE).rglob("*.py")):
        module = module_name(path)
        imported = _imports(module)
        if module.startswith(f"{PACKAGE}.stages"):
            others = {
                m
                for m in imported
                if m.startswith(f"{PACKAGE}.stages.") and m != f"{PACKAGE}.stages.common" and m != module
            }
            if module != f"{PACKAGE}.stages.pipeline" and others:  # pipeline runs the stages in order
                problems.append(f"{module} imports other stages {sorted(others)}")
            if imported & ENTRY_LAYER:
                problems.append(f"{module} imports the entry layer {sorted(imported & ENTRY_LAYER)}")
        elif module not in ENTRY_LAYER and module != f"{PACKAGE}.tutorial.track":
            upward = {m for m in imported if m.startswith(f"{PACKAGE}.stages")} | (imported & ENTRY_LAYER)
            if upward:
                problems.append(f"{module} imports upwards: {sorted(upward)}")
    assert not problems, "\n".join(problems)


def test_every_error_kind_has_the_one_base_and_its_exit_status():
    from gmmgen import cli, errors

    kinds = [e for e in vars(errors).values() if isinstance(e, type) and issubclass(e, Exception)]
    assert len(kinds) >= 8 and all(issubclass(k, errors.GmmgenError) for k in kinds)
    assert cli.exit_status(errors.ComputeError("x")) == cli.EXIT_CONFIG
    assert cli.exit_status(errors.DataError("x")) == cli.EXIT_DATA
    assert cli.exit_status(errors.SweepError("x")) == cli.EXIT_MODEL
    assert cli.exit_status(errors.UpstreamError("x")) == cli.EXIT_UPSTREAM
    assert cli.exit_status(errors.TrackingError("x")) == cli.EXIT_TRACKING
    assert cli.exit_status(errors.CheckoutBusy("x")) == cli.EXIT_BUSY
    assert cli.exit_status(ValueError("a bug")) is None
