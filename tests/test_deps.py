"""dvc.yaml lists, for every stage, exactly its compute path; the layers import downwards only.

The import graph is read from the source (every ``import``, at module level or
inside a function, of a project module) by :mod:`gmmgen.pipeline.dvcgen`, which
also writes the deps. So a refactor that makes a stage run a module its
``deps`` do not list, or leaves one listed that it no longer runs, fails here
instead of leaving stale cached results; and a module of the hallway (console
text, process handling, tracking, reports) that a compute stage imported would
make the layer test fail.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from gmmgen.pipeline import dvcgen, registry
from gmmgen.pipeline.dvcgen import REPO, SRC, code_deps, imported_modules, module_file, module_name

STAGE_SCRIPT = REPO / dvcgen.STAGE_SCRIPT
COMPUTE = [s for s in registry.STAGES if s.compute]


@pytest.mark.parametrize("rel", sorted(dvcgen.FILES))
def test_dvc_yaml_is_what_the_generator_writes(rel):
    """`make dvc-yaml` is a no-op on the committed files: cmd, code deps and params are the registry's."""
    path = REPO / rel
    assert dvcgen.render(path, dvcgen.FILES[rel]()) == path.read_text(), f"{rel} is stale: run `make dvc-yaml`"


def test_the_generator_check_fails_on_a_stale_file(tmp_path, monkeypatch):
    stale = tmp_path / "dvc.yaml"
    stale.write_text((REPO / "dvc.yaml").read_text().replace("      - src/gmmgen/core/mixture.py\n", "", 1))
    monkeypatch.setattr(dvcgen, "FILES", {"dvc.yaml": dvcgen.pipeline_stages})
    assert dvcgen.main(["--check"], root=tmp_path) == 1
    assert dvcgen.main([], root=tmp_path) == 0 and dvcgen.main(["--check"], root=tmp_path) == 0
    assert "      - src/gmmgen/core/mixture.py\n" in stale.read_text()


def test_the_import_graph_sees_lazy_and_package_imports():
    """The analyser itself: function-level imports and parent packages count; the hallway does not."""
    track = code_deps(STAGE_SCRIPT, module_file("gmmgen.tracking.stage"))
    assert "src/gmmgen/tracking/log.py" in track  # imported inside a function
    assert "src/gmmgen/__init__.py" in track
    data = code_deps(STAGE_SCRIPT, module_file("gmmgen.pipeline.stages.data"))
    assert "src/gmmgen/pipeline/stages/__init__.py" in data and "src/gmmgen/core/data.py" in data
    # The stages package imports no stage, so the data stage does not run the evaluation code.
    assert "src/gmmgen/pipeline/stages/evaluate.py" not in data and "src/gmmgen/core/metrics.py" not in data
    # The entry script imports the cli, but process handling is not a dep.
    assert "gmmgen.runtime.cli" in imported_modules(STAGE_SCRIPT)
    assert not [d for d in data if "/runtime/" in d or "/report/" in d]


@pytest.mark.parametrize("stage", [s.name for s in COMPUTE])
def test_a_compute_stage_depends_on_no_hallway_module(stage):
    """Console text, process handling, MLflow, reports and the tutorial never rerun a compute stage."""
    deps = code_deps(STAGE_SCRIPT, module_file(registry.BY_NAME[stage].module))
    hallway = ("src/gmmgen/runtime/", "src/gmmgen/tracking/", "src/gmmgen/report/", "src/gmmgen/redact.py")
    assert [d for d in deps if d.startswith(hallway)] == []
    # The tutorial has its own config root (conf/tutorial.yaml): none of its modules is a compute dep.
    assert [d for d in deps if d.startswith(("src/gmmgen_tutorial/", "pipelines/tutorial/"))] == []


def test_the_registry_drives_the_entry_point_and_the_runner():
    from gmmgen.pipeline import runner

    assert [s.name for s in registry.STAGES] == list(registry.NAMES)
    for stage in registry.STAGES:
        assert callable(stage.load()) and stage.load().__name__ == f"run_{stage.name}"
    assert "registry.BY_NAME[STAGE].load()" in STAGE_SCRIPT.read_text()
    assert "registry.STAGES" in Path(runner.__file__).read_text()


# Layers, bottom to top. A module may import its own package and the layers before it in this list;
# gmmgen.errors and gmmgen.redact are leaves anyone may import.
LAYERS = ["gmmgen.core", "gmmgen.viz", "gmmgen.pipeline", "gmmgen.tracking", "gmmgen.report", "gmmgen.runtime"]
LEAVES = {"gmmgen", "gmmgen.errors", "gmmgen.redact"}
#: What the tutorial may use (it is not a layer of the pipeline: it sits beside it).
TUTORIAL_USES = {"gmmgen.core", "gmmgen.viz", "gmmgen.pipeline", "gmmgen.tracking"}


def _layer(module: str) -> str | None:
    return next((layer for layer in LAYERS if module == layer or module.startswith(layer + ".")), None)


def _imports(module: str) -> set[str]:
    return imported_modules(module_file(module)) - {module}


def test_imports_point_down():
    """Each layer imports only itself and the layers below; stages do not import each other.

    No module of gmmgen imports the tutorial (``gmmgen_tutorial`` is no layer of it): the tutorial adds its
    config root to the pipeline's (:func:`gmmgen.pipeline.config.add_root`), never the other way round.
    """
    problems = []
    for path in sorted([*(SRC / "gmmgen").rglob("*.py"), *(SRC / "gmmgen_tutorial").rglob("*.py")]):
        module = module_name(path)
        for imported in sorted(_imports(module)):
            if imported in LEAVES:
                continue
            if module.startswith("gmmgen_tutorial"):
                ok = imported.startswith("gmmgen_tutorial") or _layer(imported) in TUTORIAL_USES
            elif module in LEAVES:
                ok = False
            else:
                mine, theirs = _layer(module), _layer(imported)
                ok = theirs is not None and LAYERS.index(theirs) <= LAYERS.index(mine)
            if not ok:
                problems.append(f"{module} imports {imported}")
        if module.startswith("gmmgen.pipeline.stages."):
            others = {m for m in _imports(module) if m.startswith("gmmgen.pipeline.stages.")}
            others -= {"gmmgen.pipeline.stages.common"}
            if others:
                problems.append(f"{module} imports other stages {sorted(others)}")
    assert not problems, "\n".join(problems)


def test_no_import_cycle_between_modules():
    """No module imports, directly or through others, a module that imports it (packages' faces aside)."""
    modules = [module_name(p) for p in (SRC / "gmmgen").rglob("*.py") if p.name != "__init__.py"]
    graph = {m: {i for i in _imports(m) if i in modules} for m in modules}
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    cycles: list[str] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join([*path[path.index(nxt) :], nxt]))
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_every_error_kind_has_the_one_base_and_its_exit_status():
    from gmmgen import errors
    from gmmgen.runtime import cli

    kinds = [e for e in vars(errors).values() if isinstance(e, type) and issubclass(e, Exception)]
    assert len(kinds) >= 8 and all(issubclass(k, errors.GmmgenError) for k in kinds)
    assert cli.exit_status(errors.ComputeError("x")) == cli.EXIT_CONFIG
    assert cli.exit_status(errors.DataError("x")) == cli.EXIT_DATA
    assert cli.exit_status(errors.SweepError("x")) == cli.EXIT_MODEL
    assert cli.exit_status(errors.UpstreamError("x")) == cli.EXIT_UPSTREAM
    assert cli.exit_status(errors.TrackingError("x")) == cli.EXIT_TRACKING
    assert cli.exit_status(errors.CheckoutBusy("x")) == cli.EXIT_BUSY
    assert cli.exit_status(ValueError("a bug")) is None


def test_no_code_imports_through_a_package_face():
    """Stage and layer packages re-export nothing: code names the module that defines what it uses."""
    offenders = []
    for path in [*SRC.rglob("*.py"), *(REPO / "pipelines").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("gmmgen"):
                for alias in node.names:
                    target = f"{node.module}.{alias.name}"
                    if module_file(node.module) and module_file(node.module).name == "__init__.py":
                        if not module_file(target) and node.module not in LEAVES:
                            offenders.append(f"{path.relative_to(REPO)}: from {node.module} import {alias.name}")
    assert not offenders, "\n".join(offenders)
