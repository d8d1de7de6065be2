"""Stage ``data``: obtain the digits, draw the train/test sets, record provenance."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from gmmgen import data as data_mod
from gmmgen import plots
from gmmgen.config import seed_for
from gmmgen.io import atomic_dir, save_arrays, sha256_file, write_json
from gmmgen.stages.common import stage_dir

log = logging.getLogger(__name__)


def run_data(cfg: Any) -> Path:
    """Obtain the digits, draw the train/test sets, write dataset.npz + provenance.json."""
    cache = Path(cfg.paths.cache)
    cache.mkdir(parents=True, exist_ok=True)
    digits, record = data_mod.obtain(cfg.data, cache, Path(cfg.paths.root))
    x_tr, y_tr, x_te, y_te, x_clf, y_clf = data_mod.split(
        digits, cfg.data.n_train, cfg.data.n_test, seed_for(cfg, "data.seed"), cfg.data.n_classifier
    )
    out = stage_dir(cfg, "data")
    with atomic_dir(out) as tmp:
        save_arrays(tmp / "dataset.npz", x_train=x_tr, y_train=y_tr, x_test=x_te, y_test=y_te, x_clf=x_clf, y_clf=y_clf)
        record.update(
            source=digits.source,
            origin=digits.origin,
            test_origin=digits.test_origin or digits.origin,
            fallback="fallback_reason" in record,
            files_sha256=digits.files,
            pool_sizes={
                "train": int(len(digits.x_train)),
                "test": int(len(digits.x_test)) if digits.x_test is not None else 0,
            },
            image_shape=list(x_tr.shape[1:]),
            n_train=int(len(x_tr)),
            n_test=int(len(x_te)),
            n_classifier=int(len(x_clf)),
            class_counts={"train": data_mod.class_counts(y_tr), "test": data_mod.class_counts(y_te)},
            seed=seed_for(cfg, "data.seed"),
            dataset_sha256=sha256_file(tmp / "dataset.npz"),
        )
        write_json(tmp / "provenance.json", record)
        write_json(
            tmp / "metrics.json",
            {"n_train": len(x_tr), "n_test": len(x_te), "mean_pixel_train": float(x_tr.mean())},
        )
        plots.image_grid(x_tr[:100], tmp / "train_digits.png", cols=10, title=f"training digits ({digits.source})")
    log.info(
        "data: %d train / %d test digits %s from %s (%s)",
        len(x_tr),
        len(x_te),
        tuple(x_tr.shape[1:]),
        digits.source,
        digits.origin,
    )
    return out
