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
from pathlib import Path

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


def run_classifier(cfg: Config | DictConfig) -> Path:
    """Train (or reuse from the cache) the judge CNN; write it with its test accuracy and curve."""
    cfg = settle(cfg)  # typed (a no-op when given the typed config)
    ds = load_dataset(cfg)
    if not cfg.evaluate.enabled and not len(ds.get("x_clf", ())):
        reason = "evaluate.enabled=false and no judge digits (the splits use the whole pool): no judge CNN"
        return skipped.write_skipped(stage_dir(cfg, F.CLASSIFIER.name), F.CLASSIFIER, reason)
    key = _cache_key(ds, cfg)
    cached = Path(cfg.paths.cache) / "classifier" / key
    start = time.perf_counter()
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
    scored = "test" if len(ds["x_test"]) else "val"  # without test digits, validation (the judge chooses nothing)
    probs, _ = classifier.predict(model, ds[f"x_{scored}"])
    accuracy = float(np.mean(probs.argmax(1) == ds[f"y_{scored}"]))
    clf_keys = {img.tobytes() for img in ds["x_clf"]}
    shared = {s: sum(img.tobytes() in clf_keys for img in ds[f"x_{s}"]) for s in ("train", "val", "test")}
    out = stage_dir(cfg, F.CLASSIFIER.name)
    with atomic_dir(out) as tmp:
        shutil.copy(require(cached / F.CLASSIFIER.model, F.CLASSIFIER.name), tmp / F.CLASSIFIER.model)
        write_json(
            tmp / F.CLASSIFIER.metrics,
            {
                "test_accuracy": accuracy,
                "accuracy_measured_on": scored,
                "train_accuracy": history["accuracy"][-1],
                "n_train": int(len(ds["x_clf"])),
                "n_test": int(len(ds[f"x_{scored}"])),
                "trained_on": "the clf split: disjoint from the mixture's train and validation digits and from test",
                # Identical images the judge trained on that also appear elsewhere (distinct digits can coincide).
                "identical_images_in": shared,
                "epochs": int(cfg.classifier.epochs),
            },
        )
        write_json(tmp / F.CLASSIFIER.runtime, {"seconds": time.perf_counter() - start})
        data = DATA_NAMES.get(str(cfg.data.name), str(cfg.data.name))
        context = (
            f"{data}, N={len(ds['x_clf']):,} training digits, batch {cfg.classifier.batch_size}; "
            f"{scored} accuracy {accuracy:.1%} on {len(ds[f'x_{scored}']):,} digits"
        )
        plots.training_curve(history, F.CLASSIFIER.figure(tmp, "training_curve"), title=context)
    log.info("classifier: %.2f%% accuracy on %d %s digits", 100 * accuracy, len(ds[f"x_{scored}"]), scored)
    if accuracy < 0.97 and ds["x_train"].shape[1] == 28:
        log.warning(
            "classifier: test accuracy %.3f is below 0.97: its sample-quality scores are less reliable", accuracy
        )
    return out
