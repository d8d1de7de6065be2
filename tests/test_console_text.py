"""What the console shows a person: banners without doc markup, `make help` in 100 columns, no raw credential
in any line (make's own echo included), no warning a default run cannot act on."""

from __future__ import annotations

import ast
import json
import re
import subprocess
from types import SimpleNamespace

import pytest

from gmmgen.pipeline import registry
from gmmgen.runtime.console import describe

from .conftest import REPO, copy_project

MAKE = ["make", "--no-print-directory", "-o", ".venv/.installed"]


def test_stage_banners_carry_no_doc_markup():
    def run_fake():
        """Draw digits (computed in ``cfg.compute``'s namespace) with :func:`gmmgen.core.sampling.sample`."""

    assert describe(run_fake) == "draw digits (computed in cfg.compute's namespace) with gmmgen.core.sampling.sample"
    for stage in registry.STAGES:  # the docstrings read from the source: importing the stages takes seconds
        tree = ast.parse((REPO / "src" / (stage.module.replace(".", "/") + ".py")).read_text())
        fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == stage.function)
        text = describe(SimpleNamespace(__doc__=ast.get_docstring(fn)))
        assert text and "``" not in text and ":func:" not in text, f"{stage.name}: {text}"


def test_make_help_fits_100_columns_with_every_description_in_one_column():
    text = subprocess.run([*MAKE, "-s", "help"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 100, max(lines, key=len)
    targets = [line for line in lines if line.startswith("  make ")]
    assert len(targets) >= 40
    assert {len(re.match(r"  make \S+\s+", line)[0]) for line in targets} == {21}, "uneven spacing"


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return copy_project(tmp_path_factory.mktemp("project"))


@pytest.mark.parametrize(
    ("target", "echo"),
    [
        ("params", "pipelines/configure.py"),
        ("run", "pipelines/configure.py"),
        # The same two echoes (make's, the run lock's) as above: slow-marked to keep the fast suite fast.
        pytest.param("tutorial", "pipelines/tutorial/configure.py", marks=pytest.mark.slow),
        pytest.param("sweep", "pipelines/run_all.py -m hydra/launcher=parallel seed=1,2", marks=pytest.mark.slow),
    ],
)
def test_no_make_target_echoes_a_password(project, target, echo):
    """The config check refuses the URI; neither its line nor make's (or the run lock's) echo shows the password."""
    secret = "s3cr3t-pw"
    made = subprocess.run(
        [*MAKE, target, f"ARGS=tracking.uri=http://alice:{secret}@host:5000", "SWEEP=seed=1,2"],
        cwd=project, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    out = made.stdout + made.stderr
    assert made.returncode != 0 and "credentials do not belong in the config" in out, out
    assert secret not in out, out
    assert f"{echo} tracking.uri=http://alice:***@host:5000\n" in out, out  # the redacted echo


def test_every_recipe_line_taking_args_is_silent():
    """Make would echo a recipe line with ARGS as typed: each such line is @-silent (make params, sweep,
    mutate, bench: a redacted echo of their own, ``$(call echo_args,...)``)."""
    text = (REPO / "Makefile").read_text().replace("\\\n", " ")
    loud = [line for line in text.splitlines() if line.startswith("\t") and "$(ARGS)" in line and line[1] != "@"]
    assert loud == [], loud


def test_the_default_judge_raises_no_warning():
    """The default run's judge (results/metrics.json) is above the accuracy below which the stage warns."""
    from gmmgen.pipeline.stages.classifier import WARN_BELOW

    accuracy = json.loads((REPO / "results" / "metrics.json").read_text())["classifier"]["test_accuracy"]
    assert accuracy >= WARN_BELOW + 0.03, f"default judge {accuracy} is near the warning floor {WARN_BELOW}"


@pytest.mark.parametrize("target", ["tutorial"])
def test_make_tutorial_ends_by_listing_its_figures(target):
    recipe = subprocess.run([*MAKE, "-n", target], cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert "find . -name '*.png'" in recipe.split("dvc repro", 1)[1]
