"""Stage ``classifier``: train the CNN that judges generated digits; report its test accuracy.

The judge trains on the data stage's ``clf`` split only: training-pool digits
that are neither the mixture's training or validation digits nor test digits,
so it has never seen the digits a memorising mixture would copy.

It depends only on the data, so DVC reuses it across GMM sweeps; multirun jobs
share it through a cache keyed by the training digits and settings.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig

from gmmgen.core import classifier
from gmmgen.core.io import atomic_dir, write_json
from gmmgen.pipeline import files as F
from gmmgen.pipeline import skipped
from gmmgen.pipeline.config import Config, settle
from gmmgen.pipeline.stages.common import DATA_NAMES, load_dataset, require, stage_dir
from gmmgen.viz import plots

log = logging.getLogger(__name__)

WARN_BELOW = 0.9
"""Judge accuracy (28x28 digits) below which the run warns: a judge that misreads one digit in ten or more
gives Inception Scores and feature-space distances (FD, precision, recall) that say more about the judge
than about the samples; raise ``classifier.epochs`` or ``data.n_classifier``. The default judge (5,000
digits, 8 epochs) reaches about 0.97 on the test digits; that is reported (the stage's line and
``test_accuracy``), not warned about."""


def _cache_key(ds: dict[str, np.ndarray], cfg: Config) -> str:
    digest = hashlib.sha256()
    for name in ("x_clf", "y_clf"):
        digest.update(np.ascontiguousarray(ds[name]).tobytes())
    settings = {
        "format": 2,  # 2: model.keras saved byte-stable (gmmgen.core.classifier.save)
        "epochs": int(cfg.classifier.epochs),
        "batch": int(cfg.classifier.batch_size),
        "seed": cfg.classifier.seed,
    }
    digest.update(json.dumps(settings, sort_keys=True).encode())
    return digest.hexdigest()[:20]


def _trained(cfg: Config, ds: dict[str, np.ndarray], cached: Path) -> tuple[Any, dict[str, Any]]:
    """The judge and its training history: from the cache entry ``cached``, else trained and put there."""
    model = history = None
    if (cached / "model.keras").exists():
        try:
            model = classifier.load(cached / "model.keras")
            history = json.loads((cached / "history.json").read_text())
            log.info("classifier: reusing %s", cached)
        except Exception as exc:  # a bad cache entry is deleted, never reused
            log.warning("classifier: cached %s cannot be loaded (%s): deleted, training again", cached, exc)
            shutil.rmtree(cached, ignore_errors=True)
            model = history = None
    if model is None:
        model, history = classifier.train(
            ds["x_clf"],
            ds["y_clf"],
            cfg.classifier.seed,
            int(cfg.classifier.epochs),
            int(cfg.classifier.batch_size),
            progress=bool(cfg.sweep.progress),
        )
        try:
            with atomic_dir(cached) as tmp:
                classifier.save(model, tmp / "model.keras")
                write_json(tmp / "history.json", history)
        except OSError:  # a parallel multirun job published the same classifier first: keep theirs
            if not (cached / "model.keras").exists():
                raise
    return model, history


@dataclass
class Judge:
    """What the classifier stage computed, before anything is written.

    ``cached``: the cache entry holding ``model.keras``; ``history``: its
    training curve; ``accuracy`` on the ``scored`` split (``test``, or
    ``val`` without test digits) of ``n_scored`` digits; ``shared``:
    identical images of its ``n_train`` training digits in each other split;
    ``start``: when the stage began (``time.perf_counter``).
    """

    cached: Path
    history: dict[str, Any]
    accuracy: float
    scored: str
    n_scored: int
    n_train: int
    shared: dict[str, int]
    start: float


def compute_classifier(
    cfg: Config | DictConfig, ds: dict[str, np.ndarray] | None = None
) -> tuple[Judge, dict[str, np.ndarray]]:
    """Train (or reuse from the cache) the judge CNN and measure it; return it and the dataset (read if not given)."""
    cfg = settle(cfg)  # typed (a no-op when given the typed config)
    ds = load_dataset(cfg) if ds is None else ds
    key = _cache_key(ds, cfg)
    cached = Path(cfg.paths.cache) / "classifier" / key
    start = time.perf_counter()
    model, history = _trained(cfg, ds, cached)
    scored = "test" if len(ds["x_test"]) else "val"  # without test digits, validation (the judge chooses nothing)
    probs, _ = classifier.predict(model, ds[f"x_{scored}"])
    accuracy = float(np.mean(probs.argmax(1) == ds[f"y_{scored}"]))
    clf_keys = {img.tobytes() for img in ds["x_clf"]}
    shared = {s: sum(img.tobytes() in clf_keys for img in ds[f"x_{s}"]) for s in ("train", "val", "test")}
    judge = Judge(cached, history, accuracy, scored, int(len(ds[f"x_{scored}"])), int(len(ds["x_clf"])), shared, start)
    return judge, ds


def write_classifier(cfg: Config, judge: Judge) -> Path:
    """Write the judge, its metrics, run time and training curve at once."""
    out = stage_dir(cfg, F.CLASSIFIER.name)
    scored, accuracy = judge.scored, judge.accuracy
    with atomic_dir(out) as tmp:
        shutil.copy(require(judge.cached / F.CLASSIFIER.model, F.CLASSIFIER.name), tmp / F.CLASSIFIER.model)
        write_json(
            tmp / F.CLASSIFIER.metrics,
            {
                "test_accuracy": accuracy,
                "accuracy_measured_on": scored,
                "train_accuracy": judge.history["accuracy"][-1],
                "n_train": judge.n_train,
                "n_test": judge.n_scored,
                "trained_on": "the clf split: disjoint from the mixture's train and validation digits and from test",
                # Identical images the judge trained on that also appear elsewhere (distinct digits can coincide).
                "identical_images_in": judge.shared,
                "epochs": int(cfg.classifier.epochs),
            },
        )
        write_json(tmp / F.CLASSIFIER.runtime, {"seconds": time.perf_counter() - judge.start})
        data = DATA_NAMES.get(str(cfg.data.name), str(cfg.data.name))
        context = (
            f"{data}, N={judge.n_train:,} training digits, batch {cfg.classifier.batch_size}; "
            f"{scored} accuracy {accuracy:.1%} on {judge.n_scored:,} digits"
        )
        plots.training_curve(judge.history, F.CLASSIFIER.figure(tmp, "training_curve"), title=context)
    return out


def run_classifier(cfg: Config | DictConfig) -> Path:
    """Train (or reuse from the cache) the judge CNN; write it with its test accuracy and curve."""
    cfg = settle(cfg)  # typed (a no-op when given the typed config)
    ds = load_dataset(cfg)
    if not cfg.evaluate.enabled and not len(ds.get("x_clf", ())):
        reason = "evaluate.enabled=false and no judge digits (the splits use the whole pool): no judge CNN"
        return skipped.write_skipped(stage_dir(cfg, F.CLASSIFIER.name), F.CLASSIFIER, reason)
    judge, ds = compute_classifier(cfg, ds)
    out = write_classifier(cfg, judge)
    accuracy = judge.accuracy
    log.info("classifier: %.2f%% accuracy on %d %s digits", 100 * accuracy, judge.n_scored, judge.scored)
    if accuracy < WARN_BELOW and ds["x_train"].shape[1] == 28:
        log.warning(
            "classifier: %s accuracy %.3f is below %.2f: its sample-quality scores are unreliable; "
            "raise classifier.epochs or data.n_classifier",
            judge.scored, accuracy, WARN_BELOW,
        )  # fmt: skip
    return out
