"""params.yaml in DVC's own format, and an experiment applied to it kept by every make target but run and params.

`dvc exp run -S key=value` rewrites params.yaml with DVC's YAML writer: the
file the configure step writes must be byte for byte what that writer gives,
so a one-value experiment is a one-line diff. Only the configure step
(pipelines/configure.py: `make params`, `make run`) writes params.yaml, from
conf/ and ARGS as documented; every other target leaves an applied experiment
in place.
"""

from __future__ import annotations

import re
import subprocess

import pytest

from .conftest import REPO, compose_cfg, copy_project

MAKE = ["make", "--no-print-directory", "-o", ".venv/.installed"]
#: The targets whose documented job is to write params.yaml from conf/ (and ARGS).
WRITERS = {"params", "run"}


def make_targets() -> list[str]:
    """Every target `make help` lists (the lines of the Makefile with a ``## `` description)."""
    text = (REPO / "Makefile").read_text()
    return re.findall(r"^([a-zA-Z_-]+):.*?## ", text, re.M)


def test_params_yaml_is_dvcs_own_format():
    """The committed params.yaml after its header is exactly what DVC's writer makes of it."""
    from dvc.utils.serialize import dumps_yaml, loads_yaml

    from gmmgen.pipeline.config import PARAMS_HEADER

    text = (REPO / "params.yaml").read_text()
    assert text.startswith(PARAMS_HEADER)
    body = text[len(PARAMS_HEADER) :]
    assert dumps_yaml(loads_yaml(body)) == body  # read as DVC reads it (YAML 1.2)


@pytest.mark.parametrize(("override", "line"), [("pca.variance=0.9", "  variance: 0.9"), ("seed=3", "seed: 3")])
def test_a_one_value_experiment_is_a_one_line_diff(tmp_path, override, line):
    """What `dvc exp run -S <override>` does to params.yaml (DVC's apply_overrides) changes one line."""
    from dvc.utils.hydra import apply_overrides

    from gmmgen.pipeline.config import PARAMS_HEADER
    from gmmgen.runtime.params_file import params_document

    written = tmp_path / "params.yaml"
    written.write_text(params_document(compose_cfg(tmp_path), PARAMS_HEADER, "config_schema"))
    before = written.read_text().splitlines()
    apply_overrides(written, [override])
    after = written.read_text().splitlines()
    changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    assert len(changed) == 1 and changed[0][1] == line, changed


@pytest.mark.parametrize("target", sorted(set(make_targets()) - WRITERS))
def test_no_other_make_target_writes_params_yaml(target):
    """The recipe of every other target (make -n, prerequisites included) never runs the configure step."""
    recipe = subprocess.run(
        [*MAKE, "-n", target], cwd=REPO, capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin"}
    )
    assert recipe.returncode == 0, recipe.stderr
    assert "pipelines/configure.py" not in recipe.stdout, f"make {target} writes params.yaml"


def test_the_writers_are_the_configure_step_alone():
    """`make params` and `make run` run pipelines/configure.py, the one module that writes params.yaml."""
    for target in sorted(WRITERS):
        recipe = subprocess.run([*MAKE, "-n", target], cwd=REPO, capture_output=True, text=True, timeout=60)
        assert "pipelines/configure.py" in recipe.stdout, target


def test_an_applied_experiment_survives_make_compare_and_make_plots(tmp_path):
    """Run for real in a copy: with `-S pca.variance=0.9` applied, params.yaml is untouched by the read-only targets."""
    from dvc.utils.hydra import apply_overrides

    project = copy_project(tmp_path / "project")
    apply_overrides(project / "params.yaml", ["pca.variance=0.9"])
    applied = (project / "params.yaml").read_bytes()
    for target in ("compare", "plots", "dag"):
        subprocess.run([*MAKE, target], cwd=project, capture_output=True, text=True, timeout=120)
        assert (project / "params.yaml").read_bytes() == applied, f"make {target} rewrote params.yaml"
