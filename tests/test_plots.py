"""Figures: each panel marks its own choice, bars carry their values, grids are readable, SVG beside PNG."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import yaml
from PIL import Image

from gmmgen.core import mixture
from gmmgen.viz import plots, style


def _row(cov, k, bic, aic, val_ll, val_bpp, status="sound"):
    return {
        "covariance_type": cov,
        "n_components": k,
        "bic": bic,
        "aic": aic,
        "val_ll": val_ll,
        "val_bpp": val_bpp,
        "train_ll": 0.0,
        "status": status,
        "converged": status != "not_converged",
        "reason": "" if status == "sound" else "collapsed components",
        "n_degenerate": 0 if status == "sound" else k,
    }


ROWS = [
    _row("full", 2, 100.0, 90.0, -70.0, 1.50),
    _row("full", 4, 110.0, 80.0, -65.0, 1.30),
    _row("full", 8, 130.0, 75.0, -68.0, 1.40),
    _row("full", 16, 400.0, -5000.0, -3.6e6, 5000.0, status="degenerate"),
]


def test_sweep_figure_marks_each_criterion_own_choice(tmp_path):
    choices = mixture.choices(ROWS)
    assert {c: r["n_components"] for c, r in choices.items()} == {"bic": 2, "aic": 8, "heldout": 4}
    path = plots.sweep_criteria(ROWS, choices, "bic", tmp_path / "sweep.png", title="MNIST, N=2,000")
    svg = (tmp_path / "sweep.svg").read_text()
    assert "BIC chooses full K=2 (used)" in svg
    assert "AIC chooses full K=8" in svg and "AIC chooses full K=8 (used)" not in svg
    assert "held-out likelihood chooses full K=4" in svg
    assert "MNIST, N=2,000" in svg  # the title names the data
    assert "1 off scale (triangles), up to 5,000" in svg  # drawn on the edge, not squashing the panel
    assert path.exists() and Image.open(path).size[0] >= 15 * style.DPI


def test_sweep_figure_says_none_when_a_criterion_has_no_choice(tmp_path):
    choices = {"bic": mixture.choices(ROWS)["bic"]}
    plots.sweep_criteria(ROWS, choices, "bic", tmp_path / "sweep.png")
    svg = (tmp_path / "sweep.svg").read_text()
    assert "AIC chooses none" in svg and "held-out likelihood chooses none" in svg


def test_zero_values_are_drawn_and_labelled(tmp_path):
    rows = [
        {"criterion": c, "covariance_type": "full", "n_components": k, "frechet_distance": fd,
         "inception_score": 4.0, "precision": 0.0, "recall": 0.31, "ndb_share": 0.25, "copying_c_t": ct,
         "copying_status": status, "nn_distance_ratio": 1.1, "test_bpp": 1.3}
        for c, k, fd, ct, status in (
            ("bic", 3, 88.8, 2.5, "not copying"), ("aic", 12, 67.8, -4.6, "copying"),
            ("heldout", 6, 74.7, float("nan"), "untested"),
        )
    ]  # fmt: skip
    reference = {
        "frechet_floor": 3.8, "frechet_n": 500, "precision_floor": 0.74, "recall_floor": 0.8,
        "ndb_share_floor": 0.05, "ndb_bins": 20, "copying_c_t_floor": 0.21, "copying_threshold": -3.0,
    }  # fmt: skip
    plots.criteria_comparison(rows, reference, tmp_path / "criteria.png")
    svg = (tmp_path / "criteria.svg").read_text()
    assert svg.count(">0%<") >= 3  # every zero bar carries its label (and the axis its 0% tick)
    assert "88.8" in svg and "(dashed: real vs real, 500 digits, 3.80)" in svg
    assert ">-4.60<" in svg and ">n/a<" in svg  # an untested C_T is not drawn as 0
    assert "copying below -3" in svg and "(dashed: unseen real digits, 0.21)" in svg and "K=20" in svg
    report = {
        "flagged_clean_test": 0.026,
        "corruptions": {"noise": {"flagged": 1.0, "roc_auc": 1.0}, "blank": {"flagged": 0.0, "roc_auc": 0.0}},
        "pca_space_only": {"corruptions": {"noise": {"roc_auc": 0.69}, "blank": {"roc_auc": 0.0}}},
    }
    plots.anomaly_bars(report, tmp_path / "anomaly.png")
    svg = (tmp_path / "anomaly.svg").read_text()
    assert svg.count(">0.00<") == 2 and ">0.69<" in svg and ">2.6%<" in svg


def test_small_grids_are_large_enough_to_read(tmp_path):
    digits = np.random.default_rng(0).integers(0, 255, (3, 28, 28), dtype=np.uint8)
    plots.image_grid(digits, tmp_path / "means.png", cols=10, title="component means, heaviest first (3 of 3)")
    width, height = Image.open(tmp_path / "means.png").size
    assert width >= plots.MIN_WIDTH * style.DPI and height >= 0.5 * style.DPI
    plots.labelled_grid(digits, ["k0: 1", "k1: 7", "k2: 0"], tmp_path / "clusters.png", title="t")
    assert Image.open(tmp_path / "clusters.png").size[0] >= plots.MIN_WIDTH * style.DPI


REPO_ROOT = Path(__file__).resolve().parents[1]


def test_the_sweep_plots_draw_the_sound_and_thin_fits_only():
    """Collapsed fits (bits/pixel in the thousands, BIC at -1e6) would flatten the curve: the template drops them."""
    entries = yaml.safe_load((REPO_ROOT / "dvc.yaml").read_text())["plots"]
    plots = dict(next(iter(p.items())) if isinstance(p, dict) else (p, None) for p in entries)
    sweep = {name: spec for name, spec in plots.items() if isinstance(spec, dict) and "sweep.csv" in str(spec["y"])}
    assert len(sweep) == 2 and all(spec["template"] == "sound_fits" for spec in sweep.values())
    template = json.loads((REPO_ROOT / ".dvc" / "plots" / "sound_fits.json").read_text())
    assert template["transform"][0] == {"filter": "datum.status === 'sound' || datum.status === 'thin'"}
    assert all("'" not in name and '"' not in name for name in plots), "a title is the page's element id"


def test_criteria_figure_marks_the_used_criterion_the_is_spread_and_zooms_bits_per_pixel(tmp_path):
    """criteria.png: bits/pixel 7.022, 7.011, 7.004 on an axis around them, IS ± std, the criterion in use named."""
    rows = [
        {"criterion": c, "covariance_type": "full", "n_components": k, "frechet_distance": 60.0,
         "inception_score": 4.5, "inception_score_std": 0.3, "precision": 0.9, "recall": 0.2, "ndb_share": 0.8,
         "copying_c_t": 3.0, "copying_status": "not copying", "nn_distance_ratio": 1.1, "test_bpp": bpp}
        for c, k, bpp in (("aic", 12, 7.022), ("bic", 3, 7.011), ("heldout", 6, 7.004))
    ]  # fmt: skip
    plots.criteria_comparison(rows, {"frechet_floor": 3.0}, tmp_path / "criteria.png", used="bic")
    svg = (tmp_path / "criteria.svg").read_text()
    assert ">BIC (used)<" in svg and ">AIC (used)<" not in svg
    assert "Inception Score ± std over splits" in svg and "not from 0" in svg
    assert ">7.022<" in svg and ">7.004<" in svg
    ticks = [
        float(t)
        for t in re.findall(r">(\d\.\d+)<", svg)
        if 6.5 < float(t) < 7.5 and t not in ("7.022", "7.011", "7.004")
    ]
    assert ticks and min(ticks) > 6.95, "the bits/pixel axis does not sit around the values"
    plots.anomaly_bars(
        {"percentile": 1.0, "flagged_clean_test": 0.01, "corruptions": {"noise": {"flagged": 1.0, "roc_auc": 1.0}}},
        tmp_path / "anomaly.png",
    )
    assert "of validation digits" in (tmp_path / "anomaly.svg").read_text()


def test_titles_wrap_between_phrases():
    text = "MNIST, N=2,000 training digits, PCA 85% of variance → 56 dims, whitened, full covariance"
    lines = plots._wrap_phrases(text, 60).splitlines()
    assert lines == ["MNIST, N=2,000 training digits,", "PCA 85% of variance → 56 dims, whitened, full covariance"]
