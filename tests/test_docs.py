"""The documentation: a short README whose links resolve, a site MkDocs builds in strict mode, a generated reference.

The site is built by the real ``mkdocs build --strict`` (Material theme) from
the committed ``docs/`` and ``mkdocs.yml``; the configuration reference is
compared with what ``python -m gmmgen.report.config_reference`` writes from
the schema and checked against every key of the composed ``conf/``.
"""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from markdown.extensions.toc import slugify
from omegaconf import DictConfig, OmegaConf

from gmmgen.pipeline import config
from gmmgen.report import config_reference as ref
from gmmgen.report import findings

from .conftest import PYTHON, REPO

README = REPO / "README.md"
REFERENCE = REPO / "docs" / "configuration.md"
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
#: Material prints a banner about MkDocs 2 on every build unless this is set; it is no warning of ours.
QUIET = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}


def _mkdocs(project: Path, site: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=project,
        env=QUIET,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _anchors(markdown_file: Path) -> set[str]:
    """The heading anchors of a Markdown file, as MkDocs' toc (and GitHub, for plain headings) writes them."""
    text = re.sub(r"```.*?```", "", markdown_file.read_text(), flags=re.S)
    return {slugify(m.group(1).replace("`", ""), "-") for m in re.finditer(r"^#+ (.+)$", text, flags=re.M)}


def test_the_readme_is_at_most_200_lines():
    lines = README.read_text().splitlines()
    assert len(lines) <= 200, f"README.md has {len(lines)} lines: move the detail into docs/"


def test_every_readme_link_resolves_to_a_file_and_anchor():
    links = [link for link in LINK.findall(README.read_text()) if not link.startswith(("http://", "https://"))]
    assert len(links) >= 10 and any(link.startswith("docs/") for link in links)
    for link in links:
        path, _, anchor = link.partition("#")
        target = REPO / path
        assert target.is_file(), f"README.md links to {link}: {path} does not exist"
        if anchor:
            assert anchor in _anchors(target), f"README.md links to {link}: {path} has no heading #{anchor}"


def test_every_docs_page_is_in_the_nav_and_every_nav_entry_exists():
    """mkdocs.yml's nav and docs/ hold the same pages (strict mode fails on either side; this names the page)."""
    import yaml

    def entries(node):
        if isinstance(node, str):
            yield node
        elif isinstance(node, list):
            for item in node:
                yield from entries(item)
        elif isinstance(node, dict):
            for value in node.values():
                yield from entries(value)

    nav = set(entries(yaml.safe_load((REPO / "mkdocs.yml").read_text())["nav"]))
    pages = {str(p.relative_to(REPO / "docs")) for p in (REPO / "docs").rglob("*.md")}
    assert nav == pages


def test_the_site_builds_in_strict_mode(tmp_path):
    result = _mkdocs(REPO, tmp_path / "site")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "WARNING" not in result.stderr, result.stderr[-3000:]
    reference = (tmp_path / "site" / "configuration.html").read_text()
    assert "sweep.n_components" in reference and "Configuration reference" in reference
    assert (tmp_path / "site" / "operations" / "gpu.html").is_file()
    assert "fonts.googleapis" not in (tmp_path / "site" / "index.html").read_text(), "the site must load no web font"


def test_a_broken_link_anchor_or_page_outside_the_nav_fails_the_build(tmp_path):
    """The project's mkdocs.yml (its validation settings) on two small pages: each mistake is a strict-mode failure."""
    import yaml

    settings = yaml.safe_load((REPO / "mkdocs.yml").read_text())
    settings["nav"] = ["index.md", "other.md"]
    project = tmp_path / "project"
    (project / "docs").mkdir(parents=True)
    (project / "mkdocs.yml").write_text(yaml.safe_dump(settings))
    (project / "docs" / "other.md").write_text("# Other\n\n## A heading\n")
    (project / "docs" / "index.md").write_text("# Home\n\n[fine](other.md#a-heading)\n")
    good = _mkdocs(project, tmp_path / "good")
    assert good.returncode == 0, good.stderr[-2000:]
    (project / "docs" / "orphan.md").write_text("# Orphan\n")
    (project / "docs" / "index.md").write_text("# Home\n\n[gone](nowhere.md), [no anchor](other.md#no-such-heading)\n")
    result = _mkdocs(project, tmp_path / "site")
    assert result.returncode != 0
    assert "'nowhere.md'" in result.stderr and "'#no-such-heading'" in result.stderr
    assert 'not included in the "nav"' in result.stderr and "orphan.md" in result.stderr


# --------------------------------------------------------------------------- the configuration reference


def _leaf_keys(node: DictConfig, prefix: str = "") -> list[str]:
    """Every key of the composed config whose schema type is not a section (lists and mappings are leaves)."""
    keys = []
    for name in node:
        if dataclasses.is_dataclass(OmegaConf.get_type(node, name)):
            keys.extend(_leaf_keys(node[name], f"{prefix}{name}."))
        else:
            keys.append(f"{prefix}{name}")
    return keys


def test_the_committed_reference_is_what_the_command_writes(tmp_path):
    page = tmp_path / "configuration.md"
    assert ref.main([str(page)]) == 0
    assert page.read_text() == REFERENCE.read_text(), "docs/configuration.md is stale: run `make docs`"


def test_check_mode_fails_on_a_stale_page(tmp_path, capsys):
    stale = tmp_path / "configuration.md"
    stale.write_text(REFERENCE.read_text().replace("The K grid", "The grid of K"))
    assert ref.main(["--check", str(stale)]) == 1
    assert "differs from the config schema: run `make docs`" in capsys.readouterr().err
    assert "The grid of K" in stale.read_text(), "--check must not write"


def test_every_key_of_the_composed_config_has_a_row():
    keys = _leaf_keys(config.compose())
    assert len(keys) > 60 and "sweep.n_components" in keys and "data.idx_sha256" in keys
    rows = {
        line.split("|")[1].strip().strip("`") for line in REFERENCE.read_text().splitlines() if line.startswith("| `")
    }
    assert [k for k in keys if k not in rows] == []
    assert [r for r in rows if r not in keys] == []


def test_each_rule_gives_its_key_the_allowed_values():
    text = REFERENCE.read_text()
    for key, _ok, allowed in config.RULES:
        row = next(line for line in text.splitlines() if line.startswith(f"| `{key}` |"))
        assert f"| {ref.plain_text(allowed)} |" in row, key
    row = next(line for line in text.splitlines() if line.startswith("| `sweep.n_components` |"))
    assert "`[1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 80, 110, 140]`" in row and "The K grid" in row


def test_a_default_set_by_a_config_group_is_shown_with_the_schema_default():
    text = REFERENCE.read_text()
    row = next(line for line in text.splitlines() if line.startswith("| `data.origins` |"))
    assert "see below (schema: `[]`)" in row
    assert "- ../shared/data/mnist" in text.split("Default of `data.origins`:")[1]


@dataclass
class _Undocumented:
    """A section with a key nobody explained."""

    explained: int = 1
    """A key with its meaning."""
    bare: str = "x"


@dataclass
class _Documented:
    """A section whose module's rules name a key it does not have."""

    explained: int = 1
    """A key with its meaning."""


#: The rules of this module's sections, as the generator reads them from a schema's module.
RULES = [("explained", lambda v: v > 0, "a positive integer"), ("gone", lambda v: True, "anything")]


def test_a_field_without_a_docstring_stops_the_generator():
    with pytest.raises(ValueError, match=r"_Undocumented\.bare \(bare\) has no docstring"):
        ref.sections({"explained": 1, "bare": "x"}, root=_Undocumented)


def test_a_rule_for_a_missing_key_or_a_schema_without_rules_stops_the_generator():
    with pytest.raises(ValueError, match=r"rules for keys the schema does not have: gone"):
        ref.sections({"explained": 1}, root=_Documented)
    elsewhere = dataclasses.make_dataclass("Elsewhere", [("a", int, 1)])
    elsewhere.__module__ = "json"  # a module without RULES
    with pytest.raises(ValueError, match=r"json defines the config section Elsewhere but no RULES"):
        ref.sections({"a": 1}, root=elsewhere)


def test_field_docs_reads_the_string_after_each_field_only():
    assert ref.field_docs(_Undocumented) == {"explained": "A key with its meaning."}
    docs = ref.field_docs(config.SweepConfig)
    assert docs["n_components"].startswith("The K grid") and set(docs) == {
        f.name for f in dataclasses.fields(config.SweepConfig)
    }


def test_type_words():
    assert ref.type_words(int | None) == "integer or null"
    assert ref.type_words(list[str]) == "list of strings"
    assert ref.type_words(dict[str, str | None]) == "mapping of string to string or null"
    assert ref.yaml_value([1, None, True, "a"]) == "[1, null, true, a]"


# --------------------------------------------------------------------------- the findings page


def test_make_findings_writes_the_results_page():
    """`make findings` rewrites the block between the markers of docs/results.md; the page holds them once each."""
    page = REPO / findings.PAGE
    assert findings.PAGE == "docs/results.md"
    text = page.read_text()
    assert text.count(findings.BEGIN) == 1 and text.count(findings.END) == 1
    block = text.split(findings.BEGIN + "\n")[1].split(findings.END)[0]
    assert "| covariance | K | status |" in block
    assert findings.replace_block(text, block) == text
    assert "findings.PAGE" in (REPO / "pipelines" / "findings.py").read_text()


def test_make_findings_refuses_a_run_that_skipped_its_evaluation_in_one_line(tmp_path):
    """A run without evaluation (experiment=pdsh) has no sample-quality numbers: one line, exit 1, page untouched."""
    import json
    import subprocess
    import sys

    from gmmgen.pipeline import files as F

    for stage, body in (
        (F.DATA, {"image_shape": [8, 8]}),
        (F.REDUCE, {}),
        (F.SELECT, {"yardstick": {"n_pixels": 64}}),
        (F.CLASSIFIER, {"skipped": "no judge digits"}),
        (F.EVALUATE, {"skipped": "no test digits"}),
    ):
        folder = stage.folder(tmp_path / "outputs")
        folder.mkdir(parents=True)
        name = stage.provenance if stage is F.DATA else stage.metrics
        (folder / name).write_text(json.dumps(body))
    (F.SELECT.folder(tmp_path / "outputs") / F.SELECT.sweep).write_text("covariance_type,n_components\n")
    page = tmp_path / "results.md"
    page.write_text("keep\n")
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "pipelines" / "findings.py"),
            "--run-dir",
            str(tmp_path / "outputs"),
            "--page",
            str(page),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "skipped its evaluation (no test digits)" in result.stderr, result.stderr
    assert page.read_text() == "keep\n"


# --------------------------------------------------------------------------- the tutorial's configuration reference

TUTORIAL_REFERENCE = REPO / "docs" / "tutorial-configuration.md"


def _tutorial_reference():
    import importlib.util

    path = REPO / "pipelines" / "tutorial" / "reference.py"
    spec = importlib.util.spec_from_file_location("tutorial_reference", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_tutorial_reference_is_what_its_command_writes_and_has_every_key(tmp_path, capsys):
    from gmmgen_tutorial import config as tutorial_config

    reference = _tutorial_reference()
    page = tmp_path / "tutorial-configuration.md"
    assert reference.main([str(page)]) == 0
    assert page.read_text() == TUTORIAL_REFERENCE.read_text(), "docs/tutorial-configuration.md is stale: make docs"
    page.write_text(page.read_text().replace("EM steps", "Steps of EM"))
    assert reference.main(["--check", str(page)]) == 1 and "run `make docs`" in capsys.readouterr().err
    keys = _leaf_keys(tutorial_config.compose())
    assert len(keys) > 40 and "em.n_steps" in keys and "segmentation.mnist_test" in keys
    text = TUTORIAL_REFERENCE.read_text()
    rows = {line.split("|")[1].strip().strip("`") for line in text.splitlines() if line.startswith("| `")}
    assert sorted(set(keys) ^ rows) == []
    for key, _ok, allowed in tutorial_config.RULES:
        row = next(line for line in text.splitlines() if line.startswith(f"| `{key}` |"))
        assert f"| {ref.plain_text(allowed)} |" in row, key
