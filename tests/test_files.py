"""The file map (gmmgen.pipeline.files) lists the pipeline's files: dvc.yaml, the stages and `make clean` agree."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from gmmgen.pipeline import files as F

from .conftest import REPO

DVC = yaml.safe_load((REPO / "dvc.yaml").read_text())


def _paths(entries: list) -> set[str]:
    """dvc.yaml out/metric entries as paths (an entry may be a {path: options} mapping)."""
    return {next(iter(e)) if isinstance(e, dict) else e for e in entries or []}


@pytest.mark.parametrize("stage", [*F.STAGES, F.TRACK], ids=lambda s: s.name)
def test_dvc_yaml_outs_are_the_map_of_each_stage(stage):
    declared = _paths(DVC["stages"][stage.name].get("outs"))
    mapped = {f"{F.OUTPUTS}/{stage.name}/{name}" for name in stage.outs()}
    assert declared == mapped, f"dvc.yaml only: {sorted(declared - mapped)}; map only: {sorted(mapped - declared)}"
    # Untracked files (timings, run ids) are never DVC outs: they change on every run.
    assert not {f"{F.OUTPUTS}/{stage.name}/{name}" for name in stage.untracked()} & declared


def test_summary_metrics_and_every_plot_come_from_the_map():
    assert _paths(DVC["stages"]["summary"].get("metrics")) == {F.RESULTS_METRICS}
    mapped = {f"{F.OUTPUTS}/{s.name}/{name}" for s in F.STAGES for name in s.outs()}
    plotted = set()
    for entry in DVC["plots"]:
        if isinstance(entry, str):
            plotted.add(entry)
        else:
            (spec,) = entry.values()
            plotted |= set(spec["y"]) if isinstance(spec.get("y"), dict) else set()
    assert plotted and plotted <= mapped, sorted(plotted - mapped)


def test_a_figure_outside_the_map_is_refused(tmp_path):
    assert F.SELECT.figure(tmp_path, "sweep") == tmp_path / "sweep.png"
    with pytest.raises(KeyError, match="'spiral' is not a figure of the select stage"):
        F.SELECT.figure(tmp_path, "spiral")


def test_make_clean_removes_the_mapped_folders_and_keeps_store_and_caches(tmp_path):
    shutil.copy(REPO / "Makefile", tmp_path / "Makefile")
    (tmp_path / "src").symlink_to(REPO / "src")
    doomed = [tmp_path / p for p in F.clean_paths()]
    kept = [tmp_path / "outputs" / "mlflow.db", tmp_path / "outputs" / "cache" / "datasets" / "x", tmp_path / "conf"]
    for folder in doomed:
        (folder / "inner").mkdir(parents=True)
    for path in kept:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("keep")
    result = subprocess.run(["make", "clean"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert [p for p in doomed if p.exists()] == []
    assert all(p.exists() for p in kept)
    assert "kept: outputs/mlflow.db" in result.stdout


def test_untracked_files_are_written_beside_the_outs_but_never_hashed(tmp_path):
    """The data stage's runtime record (failed origins, fallback reason) is no DVC out; its name is the field's."""
    assert F.DATA.runtime == "runtime.json" and F.DATA.untracked() == ("runtime.json",)
    assert F.DATA.files() == ("metrics.json", "dataset.npz", "provenance.json")
    assert "runtime.json" not in F.DATA.outs()
    assert F.DATA.folder(tmp_path) == tmp_path / "data" and F.DATA.folder(str(tmp_path)) == tmp_path / "data"


def test_clean_paths_are_every_stage_folder_and_the_scratch_folders():
    paths = F.clean_paths()
    assert [p for p in paths if p in {f"outputs/{s.name}" for s in F.BY_NAME.values()}] == [
        f"outputs/{s.name}" for s in F.BY_NAME.values()
    ]
    assert set(paths) == {f"outputs/{s.name}" for s in F.BY_NAME.values()} | {f"outputs/{n}" for n in F.SCRATCH}
    assert "outputs/cache" not in paths and "outputs/mlflow.db" not in paths
