"""Stage ``data``: obtain the digits, draw the train/validation/test/judge sets, record provenance."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig

from gmmgen.core import data as data_mod
from gmmgen.core.io import atomic_dir, save_arrays, sha256_file, write_json
from gmmgen.pipeline import files as F
from gmmgen.pipeline.config import Config, settle
from gmmgen.pipeline.stages.common import DATA_NAMES, stage_dir
from gmmgen.viz import plots

log = logging.getLogger(__name__)


@dataclass
class DrawnData:
    """What the data stage computed, before anything is written.

    ``arrays``: ``x_<split>``, ``y_<split>`` of the four sets; ``sizes``: their
    lengths by split; ``provenance``: ``provenance.json`` without the
    dataset's sha256 (known once the file is written); ``runtime``: what this
    attempt met on the way (failed origins, a fallback's reason: not hashed).
    """

    digits: data_mod.Digits
    arrays: dict[str, np.ndarray]
    sizes: dict[str, int]
    provenance: dict[str, Any]
    runtime: dict[str, Any]


def _check_sizes(cfg: Config, sizes: dict[str, int], pool: int) -> None:
    """An evaluation needs judge digits and test digits: one clear error when the draw left none."""
    if cfg.evaluate.enabled and sizes["clf"] == 0:
        raise data_mod.DataError(
            f"no training-pool digits are left for the judge CNN ({sizes['train']} train + {sizes['val']} "
            f"validation use the whole pool of {pool}); lower data.n_train or set evaluate.enabled=false"
        )
    if cfg.evaluate.enabled and sizes["test"] == 0:
        raise data_mod.DataError("no test digits to report on; give data.n_test > 0 or set evaluate.enabled=false")


def _provenance(record: dict[str, Any], digits: Any, arrays: dict[str, np.ndarray], sizes: dict[str, int], seed: int):
    """Complete ``record`` (from :func:`gmmgen.core.data.obtain`) with the source, the splits and their counts."""
    record.update(
        source=digits.source,
        origin=digits.origin,
        test_origin=(digits.test_origin or digits.origin) if sizes["test"] else "",
        fallback=bool(record.get("fallback", False)),
        files_sha256=digits.files,
        pool_sizes={
            "train": int(len(digits.x_train)),
            "test": int(len(digits.x_test)) if digits.x_test is not None else 0,
        },
        image_shape=list(arrays["x_train"].shape[1:]),
        n_train=sizes["train"],
        n_val=sizes["val"],
        n_test=sizes["test"],
        n_classifier=sizes["clf"],
        splits={
            "train": "training pool, after validation (fits PCA and the mixtures)",
            "val": "training pool, drawn first (every choice of model)",
            "test": ("the source's test pool" if digits.x_test is not None else "carved from the pool")
            + " (reporting only)",
            "clf": "training pool, what train and validation left (the judge CNN)",
            "disjoint": "by construction: one seeded permutation, no digit drawn twice",
        },
        duplicate_images_across_splits=data_mod.overlaps(arrays),
        class_counts={s: data_mod.class_counts(arrays[f"y_{s}"]) for s in ("train", "val", "test")},
        seed=seed,
    )
    return record


def compute_data(cfg: Config | DictConfig) -> DrawnData:
    """Obtain the configured digits and draw the four sets (nothing is written but the download cache)."""
    cfg = settle(cfg)  # typed (a no-op when given the typed config)
    cache = Path(cfg.paths.cache)
    cache.mkdir(parents=True, exist_ok=True)
    digits, record = data_mod.obtain(cfg.data, cache, Path(cfg.paths.root))
    seed = cfg.data.seed
    arrays = data_mod.split(digits, cfg.data.n_train, int(cfg.data.n_val), cfg.data.n_test, seed, cfg.data.n_classifier)
    sizes = {s: int(len(arrays[f"x_{s}"])) for s in data_mod.SPLITS}
    _check_sizes(cfg, sizes, len(digits.x_train))
    provenance = _provenance(record, digits, arrays, sizes, seed)
    # Errors met on the way name machine paths and network states: not hashed by DVC.
    runtime = provenance.pop("runtime", {})
    return DrawnData(digits, arrays, sizes, provenance, runtime)


def _train_digits_figure(cfg: Config, drawn: DrawnData, path: Path) -> None:
    """The first training digits of each class, one row a class."""
    arrays = drawn.arrays
    name = DATA_NAMES.get(str(cfg.data.name), str(cfg.data.name))
    classes = [int(c) for c in np.unique(arrays["y_train"])]
    per_class = [np.flatnonzero(arrays["y_train"] == c)[:10] for c in classes]  # the split may be ordered by class
    shown = np.concatenate([arrays["x_train"][idx] for idx in per_class])
    plots.image_grid(
        shown,
        path,
        cols=10,
        title=f"{name} training digits: the first of each class (N={len(arrays['x_train']):,} in all)",
        subtitle=f"source: {drawn.digits.source}",
        row_labels=[str(c) for c in classes] if all(len(i) == 10 for i in per_class) else None,
    )


def write_data(cfg: Config, drawn: DrawnData) -> Path:
    """Write dataset.npz, provenance.json (with the dataset's sha256), metrics, run facts and the figure at once."""
    sizes, arrays = drawn.sizes, drawn.arrays
    out = stage_dir(cfg, F.DATA.name)
    with atomic_dir(out) as tmp:
        save_arrays(tmp / F.DATA.dataset, **arrays)
        record = {**drawn.provenance, "dataset_sha256": sha256_file(tmp / F.DATA.dataset)}
        write_json(tmp / F.DATA.runtime, drawn.runtime)
        write_json(tmp / F.DATA.provenance, record)
        write_json(
            tmp / F.DATA.metrics,
            {
                "n_train": sizes["train"],
                "n_val": sizes["val"],
                "n_test": sizes["test"],
                "n_classifier": sizes["clf"],
                "mean_pixel_train": float(arrays["x_train"].mean()),
            },
        )
        _train_digits_figure(cfg, drawn, F.DATA.figure(tmp, "train_digits"))
    return out


def run_data(cfg: Config | DictConfig) -> Path:
    """Obtain the digits, draw the train/validation/test/judge sets, write dataset.npz + provenance.json."""
    cfg = settle(cfg)  # typed (a no-op when given the typed config)
    drawn = compute_data(cfg)
    out = write_data(cfg, drawn)
    sizes = drawn.sizes
    log.info(
        "data: %d train / %d validation / %d test / %d judge digits %s from %s (%s)",
        sizes["train"],
        sizes["val"],
        sizes["test"],
        sizes["clf"],
        tuple(drawn.arrays["x_train"].shape[1:]),
        drawn.digits.source,
        drawn.digits.origin,
    )
    return out
