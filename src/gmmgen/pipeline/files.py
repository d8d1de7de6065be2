"""The map of the pipeline's files: each stage's folder and the files it writes there.

One place names them: the stages write through it, the track stage logs
through it, the tests find outputs through it, ``make clean`` removes what it
lists, and ``tests/test_files.py`` checks ``dvc.yaml``'s outs against it.

A stage writes ``<run_dir>/<name>/``: its named files (DVC outs), each figure
as ``<stem>.png`` and ``<stem>.svg`` (DVC outs), and its ``untracked`` files
(timings: written, logged to MLflow, never hashed by DVC). ``run_dir`` is
``outputs/`` for ``make run`` and a job's own folder in a multirun.

Run as ``python -m gmmgen.pipeline.files clean`` it prints the paths ``make clean``
removes, one per line, relative to the repository root.
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass, field
from pathlib import Path

FIGURE_FORMATS = ("png", "svg")


def untracked(name: str) -> str:
    """Declare a named file DVC does not hash (a dataclass field with that default)."""
    return field(default=name, metadata={"untracked": True})


@dataclass(frozen=True)
class StageFiles:
    """A stage's folder name, its metrics file, figures (stems) and untracked files.

    Subclasses add one ``str`` field per named file (:func:`untracked` for a
    file DVC must not hash); :meth:`outs` lists the hashed ones.
    """

    name: str
    metrics: str = "metrics.json"
    figures: tuple[str, ...] = ()

    def folder(self, run_dir: str | Path) -> Path:
        """The stage's folder under ``run_dir``."""
        return Path(run_dir) / self.name

    def _named(self, hashed: bool) -> tuple[str, ...]:
        return tuple(
            getattr(self, f.name)
            for f in dataclasses.fields(self)
            if f.type in ("str", str) and f.name != "name" and bool(f.metadata.get("untracked")) != hashed
        )

    def files(self) -> tuple[str, ...]:
        """The named files (and folders) DVC hashes, in declaration order, figures excluded."""
        return self._named(hashed=True)

    def untracked(self) -> tuple[str, ...]:
        """The named files written beside the outs but not hashed (timings)."""
        return self._named(hashed=False)

    def figure(self, folder: str | Path, stem: str) -> Path:
        """The PNG path of figure ``stem`` in ``folder`` (plots write the SVG beside it).

        Raises KeyError when ``stem`` is not one of this stage's figures.
        """
        if stem not in self.figures:
            raise KeyError(f"{stem!r} is not a figure of the {self.name} stage: one of {list(self.figures)}")
        return Path(folder) / f"{stem}.{FIGURE_FORMATS[0]}"

    def figure_files(self) -> tuple[str, ...]:
        """Every figure file name: each stem in each of :data:`FIGURE_FORMATS`."""
        return tuple(f"{stem}.{fmt}" for stem in self.figures for fmt in FIGURE_FORMATS)

    def outs(self) -> tuple[str, ...]:
        """What DVC caches of this stage: named files and figure files (not the untracked ones)."""
        return (*self.files(), *self.figure_files())


@dataclass(frozen=True)
class DataFiles(StageFiles):
    name: str = "data"
    dataset: str = "dataset.npz"
    provenance: str = "provenance.json"
    figures: tuple[str, ...] = ("train_digits",)
    runtime: str = untracked("runtime.json")


@dataclass(frozen=True)
class ReduceFiles(StageFiles):
    name: str = "reduce"
    pca: str = "pca.joblib"
    projected: str = "projected.npz"
    variance: str = "explained_variance.csv"
    figures: tuple[str, ...] = ("explained_variance", "reconstructions")


@dataclass(frozen=True)
class SelectFiles(StageFiles):
    name: str = "select"
    model: str = "model.joblib"
    by_criterion: str = "by_criterion"  # a folder: <criterion>.joblib per criterion
    sweep: str = "sweep.csv"
    figures: tuple[str, ...] = ("sweep",)
    runtime: str = untracked("runtime.json")

    def model_for(self, criterion: str) -> str:
        """The file of the model ``criterion`` chose, relative to the stage folder."""
        return f"{self.by_criterion}/{criterion}.joblib"


@dataclass(frozen=True)
class GenerateFiles(StageFiles):
    name: str = "generate"
    samples: str = "samples.npy"
    components: str = "sample_components.npy"
    figures: tuple[str, ...] = ("generated", "component_means", "generated_vs_real")


@dataclass(frozen=True)
class ClassifierFiles(StageFiles):
    name: str = "classifier"
    model: str = "model.keras"
    figures: tuple[str, ...] = ("training_curve",)
    runtime: str = untracked("runtime.json")


@dataclass(frozen=True)
class EvaluateFiles(StageFiles):
    name: str = "evaluate"
    criteria: str = "criteria.csv"
    figures: tuple[str, ...] = (
        "criteria",
        "nearest_neighbours",
        "cluster_means",
        "least_likely",
        "conditional",
        "anomaly",
    )


@dataclass(frozen=True)
class TrackFiles(StageFiles):
    name: str = "track"
    logged: str = "logged.json"
    run: str = untracked("run.json")  # the MLflow run's id and address: machine-specific

    def files(self) -> tuple[str, ...]:
        return (self.logged,)  # no metrics file: only what was logged, and where


DATA = DataFiles()
REDUCE = ReduceFiles()
SELECT = SelectFiles()
GENERATE = GenerateFiles()
CLASSIFIER = ClassifierFiles()
EVALUATE = EvaluateFiles()
TRACK = TrackFiles()

#: The compute stages in pipeline order.
STAGES: tuple[StageFiles, ...] = (DATA, REDUCE, SELECT, GENERATE, CLASSIFIER, EVALUATE)
BY_NAME: dict[str, StageFiles] = {s.name: s for s in (*STAGES, TRACK)}

#: The headline metrics git tracks: the summary stage writes ``<paths.results>/RESULTS_FILE``.
RESULTS_FILE = "metrics.json"
RESULTS_METRICS = f"results/{RESULTS_FILE}"
#: Folder of the stage outputs of ``make run`` (multirun jobs write their own).
OUTPUTS = "outputs"
#: Other folders under ``outputs/`` that ``make clean`` removes (logs, sweeps, the tutorial, DVC's plots,
#: benchmark and mutation reports); the MLflow store and the caches stay.
SCRATCH = ("logs", "tutorial", "multirun", "dvc_plots", "bench", "mutation")


def clean_paths() -> list[str]:
    """What ``make clean`` removes, relative to the repository root."""
    return [f"{OUTPUTS}/{s.name}" for s in BY_NAME.values()] + [f"{OUTPUTS}/{name}" for name in SCRATCH]


if __name__ == "__main__":  # pragma: no cover - exercised through `make clean` in tests/test_files.py
    if sys.argv[1:] != ["clean"]:
        sys.exit("usage: python -m gmmgen.pipeline.files clean")
    print("\n".join(clean_paths()))
