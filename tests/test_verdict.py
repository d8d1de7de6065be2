"""The verdict: which choice or job is named best (never a copying or degenerate one), and where it is shown."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from gmmgen.core import verdict
from gmmgen.pipeline import files as F
from gmmgen.pipeline.stages import evaluate as evaluate_stage
from gmmgen.pipeline.stages import summary as summary_stage
from gmmgen.report import summary
from gmmgen.runtime.hydra_callbacks import name_jobs
from gmmgen.tracking import log as tracking


def cand(name, fit="thin", copying="not copying", nll=100.0, fd=50.0):
    return {"name": name, "fit_status": fit, "copying_status": copying, "val_nll_nats": nll, "frechet_distance": fd}


# ----------------------------------------------------------------------------- name_bests


def test_one_candidate_best_on_both_counts_is_named_once():
    got = verdict.name_bests([cand("a", nll=90, fd=40), cand("b", nll=95, fd=60)])
    assert got["likelihood_best"] == got["sample_best"] == "a" and got["agree"] is True
    assert got["sentence"] == "Best: a, by validation likelihood and by sample quality (Fréchet distance) alike."


def test_when_the_bests_differ_both_are_named_in_one_sentence():
    got = verdict.name_bests([cand("a", nll=90, fd=60), cand("b", nll=95, fd=40)])
    assert (got["likelihood_best"], got["sample_best"], got["agree"]) == ("a", "b", False)
    assert got["sentence"].startswith("The likelihood's best is a and the sample-quality best is b: they differ")
    assert got["sentence"].count(".") == 1  # one sentence


def test_a_copying_or_degenerate_candidate_is_never_named_best():
    """The classic run's shape: the best FD and likelihood belong to a copying, degenerate model."""
    classic = cand("classic", fit="degenerate", copying="copying", nll=10, fd=29)
    got = verdict.name_bests([classic, cand("honest", nll=90, fd=44), cand("spread", copying="copying", fd=1)])
    assert got["likelihood_best"] == got["sample_best"] == "honest"
    assert got["excluded"] == {"classic": "degenerate and copying", "spread": "copying"}
    assert "never named best: classic (degenerate and copying), spread (copying)" in got["sentence"]


def test_nothing_named_when_every_candidate_is_excluded():
    got = verdict.name_bests([cand("x", fit="degenerate"), cand("y", copying="copying")])
    assert got["likelihood_best"] is None and got["sample_best"] is None and got["agree"] is None
    assert got["sentence"].startswith("No best is named: every candidate is copying or degenerate")


def test_untested_copying_and_missing_sample_numbers():
    """Untested is not a verdict against a candidate; without a Fréchet distance only the likelihood names one."""
    got = verdict.name_bests([cand("a", copying="untested", fd=math.nan), cand("b", copying=None, fd=None, nll=120)])
    assert got["likelihood_best"] == "a" and got["sample_best"] is None and got["agree"] is None
    assert got["sentence"] == "Best by validation likelihood: a (no sample-quality numbers to compare)."


# ----------------------------------------------------------------------------- the evaluate stage's verdict


def _row(crit, k, status, copying, nll, fd):
    return {
        "criterion": crit,
        "covariance_type": "full",
        "n_components": k,
        "status": status,
        "val_nll_nats": nll,
        "val_bpp": nll / 543.4,
        "frechet_distance": fd,
        "frechet_floor": 2.9,
        "precision": 0.6,
        "recall": 0.3,
        "ndb": 4,
        "ndb_share": 0.2,
        "copying_c_t": -4.6 if copying == "copying" else 0.5,
        "copying_status": copying,
    }


def test_criteria_that_chose_one_model_are_one_candidate():
    rows = [
        _row("bic", 3, "thin", "not copying", 3807.4, 61.6),
        _row("aic", 16, "thin", "not copying", 3810.7, 43.6),
        _row("heldout", 8, "thin", "not copying", 3802.9, 52.8),
    ]
    got = evaluate_stage.criteria_verdict(rows)
    assert got["likelihood_best_criteria"] == ["heldout"] and got["sample_best_criteria"] == ["aic"]
    assert got["by_criterion"]["heldout"]["named_best"] == "likelihood"
    assert got["by_criterion"]["aic"]["named_best"] == "samples" and got["by_criterion"]["bic"]["named_best"] == ""
    classic = [_row(c, 110, "degenerate", "copying", 1e6, 29.4) for c in ("bic", "aic", "heldout")]
    got = evaluate_stage.criteria_verdict(classic)
    assert got["likelihood_best"] is None and got["sample_best"] is None
    assert "bic/aic/heldout: full K=110 (degenerate and copying)" in got["sentence"]
    assert {r["named_best"] for r in got["by_criterion"].values()} == {""}


# ----------------------------------------------------------------------------- where the verdict is shown


def write_run(run_dir: Path, copying: str = "not copying", fit: str = "thin", fd: float = 44.2) -> None:
    """The select and evaluate files of one run with the choices of the default run (numbers as measured)."""
    rows = [_row("bic", 3, fit, copying, 3807.4, fd), _row("heldout", 8, "thin", "not copying", 3802.9, 53.5)]
    by_criterion = {
        r["criterion"]: {k: r[k] for k in ("covariance_type", "n_components", "status", "val_nll_nats", "val_bpp")}
        | {"test_bpp": 7.01, "bic": 302412.0}
        for r in rows
    }
    select = {"criterion": "bic", "chosen": by_criterion["bic"], "by_criterion": by_criterion, "n_fits": 15}
    reference = {
        "frechet_floor": 2.87,
        "frechet_n": 1000,
        "frechet_reference_n": 1000,
        "inception_score_real": 8.65,
        "precision_floor": 0.74,
        "recall_floor": 0.76,
        "ndb_floor": 1,
        "ndb_share_floor": 0.05,
        "ndb_bins": 20,
        "copying_c_t_floor": 0.21,
        "copying_threshold": -3.0,
    }
    quality = {r["criterion"]: {**r, "inception_score": 4.5} for r in rows}
    quality["bic"]["copying"] = {
        "driving_cells": [{"cell": 3, "z_u": -9.1, "n_generated": 120, "n_heldout": 51}],
        "generated_share_dropped": 0.02,
        "min_generated": 20,
    }
    evaluation = {
        "selected": {**quality["bic"], "inception_score": 4.5, "ari": 0.2},
        "reference": reference,
        "verdict": evaluate_stage.criteria_verdict(rows),
        "by_criterion": {c: {"quality": q} for c, q in quality.items()},
        "conditional": {"agreement": 0.94},
    }
    for stage, name, content in ((F.SELECT, F.SELECT.metrics, select), (F.EVALUATE, F.EVALUATE.metrics, evaluation)):
        stage.folder(run_dir).mkdir(parents=True, exist_ok=True)
        (stage.folder(run_dir) / name).write_text(json.dumps(content))
    with open(F.EVALUATE.folder(run_dir) / F.EVALUATE.criteria, "w") as fh:
        keys = [k for k in evaluate_stage.CRITERIA_FIELDS if k in quality["bic"]]
        fh.write(",".join(keys) + "\n")
        for q in quality.values():
            fh.write(",".join(str(q[k]) for k in keys) + "\n")


def test_the_end_summary_shows_each_choice_with_its_floors_and_the_verdict(tmp_path):
    write_run(tmp_path)
    text = summary.pipeline_summary(tmp_path, root=tmp_path)
    real = next(line for line in text.splitlines() if line.strip().startswith("real digits (floor)"))
    assert real.split()[3:] == ["2.87", "8.65", "74.0%", "76.0%", "1/20", "0.21"]
    bic = next(line for line in text.splitlines() if line.strip().startswith("BIC (used)") and "%" in line)
    assert bic.split()[2:] == ["44.2", "4.50", "60.0%", "30.0%", "4/20", "0.50", "not", "copying"]
    assert "verdict: The likelihood's best is heldout: full K=8 and the sample-quality best is bic: full K=3" in text
    assert "3,807" in text  # the validation NLL in nats per image
    assert (
        "C_T of BIC's full K=3, most negative cells: cell 3 Z_U -9.10 (120 generated, 51 held-out), "
        "2.0% of generated digits in cells dropped (< 20)" in text
    )
    (tmp_path / ".hydra").mkdir()
    (tmp_path / ".hydra" / "overrides.yaml").write_text("- pca.variance=0.8\n")
    line = summary.job_line(tmp_path, 12.0)
    assert line.endswith("[pca.variance=0.8]: full K=3 by bic (thin), validation 7.0066 bits/pixel, FD 44.2, "
                         "C_T 0.50: not copying (most negative: cell 3, Z_U -9.10) (12 s)")  # fmt: skip


def test_the_end_summary_never_names_a_copying_choice_best(tmp_path):
    write_run(tmp_path, copying="copying", fd=29.4)
    text = summary.pipeline_summary(tmp_path, root=tmp_path)
    assert "verdict: Best: heldout: full K=8, by validation likelihood and by sample quality" in text
    assert "never named best: bic: full K=3 (copying)" in text


def test_results_metrics_carry_each_choices_verdict_and_the_copying_status(tmp_path):
    write_run(tmp_path, copying="copying", fd=29.4)
    got = summary_stage.verdict(json.loads((F.EVALUATE.folder(tmp_path) / F.EVALUATE.metrics).read_text()))
    assert got["bic"]["copying_status"] == "copying" and got["bic"]["model"] == "full K=3"
    assert got["likelihood_best"] == got["sample_best"] == "heldout" and got["heldout"]["named_best"] == "both"
    assert summary_stage._round("copying") == "copying" and summary_stage._round(0.123456789) == 0.123457
    with pytest.raises(KeyError, match="has no 'verdict'"):
        summary_stage.verdict({})


def test_mlflow_tags_of_the_verdict(tmp_path):
    write_run(tmp_path, copying="copying", fd=29.4)
    tags = tracking.verdict_tags(json.loads((F.EVALUATE.folder(tmp_path) / F.EVALUATE.metrics).read_text()))
    assert tags["copying_status"] == "copying"  # the used choice's: what issue 25's promotion gate reads
    assert tags["copying_status.heldout"] == "not copying" and tags["likelihood_best"] == "heldout"
    assert "never named best" in tags["verdict"]
    assert tracking.verdict_tags({}) == {}


def sweep_dir(tmp_path: Path) -> Path:
    """Two jobs like `make sweep SWEEP='pca.variance=0.8,0.9'`: 0.9 wins the likelihood, 0.8 the samples."""
    sweep = tmp_path / "multirun"
    for job, variance, fd in (("0", 0.8, 40.0), ("1", 0.9, 70.0)):
        write_run(sweep / job, fd=fd)
        chosen = json.loads((F.SELECT.folder(sweep / job) / F.SELECT.metrics).read_text())
        chosen["chosen"]["val_bpp"] = 7.05 - (variance - 0.8)  # 0.9: lower bits/pixel
        (F.SELECT.folder(sweep / job) / F.SELECT.metrics).write_text(json.dumps(chosen))
        (sweep / job / ".hydra").mkdir()
        (sweep / job / ".hydra" / "overrides.yaml").write_text(f"- pca.variance={variance}\n")
    return sweep


def test_the_sweep_summary_names_its_best_jobs(tmp_path):
    text = summary.sweep_summary(sweep_dir(tmp_path))
    assert (
        "verdict: The likelihood's best is job 1 [pca.variance=0.9] and the sample-quality best is job 0 "
        "[pca.variance=0.8]: they differ" in text
    )
    job0 = next(line for line in text.splitlines() if line.startswith("  0  "))
    assert "40.0 (2.87)" in job0 and "not copying" in job0 and "4/20" in job0


def test_the_sweep_never_names_a_copying_job_best(tmp_path):
    sweep = sweep_dir(tmp_path)
    write_run(sweep / "1", copying="copying", fd=70.0)
    text = summary.sweep_summary(sweep)
    assert "verdict: Best: job 0 [pca.variance=0.8], by validation likelihood and by sample quality" in text
    assert "never named best: job 1 [pca.variance=0.9] (copying)" in text


def test_the_sweep_runs_tags_never_name_a_copying_or_degenerate_job():
    def job(num, fit, copying, bpp, fd, status="FINISHED"):
        return {"job_num": num, "overrides": f"seed={num}", "status": status, "selected_status": fit,
                "copying_status": copying, "val_bpp": bpp, "frechet_distance": fd}  # fmt: skip

    rows = [
        job("0", "degenerate", "copying", 6.5, 29.0),
        job("1", "thin", "copying", 6.9, 30.0),
        job("2", "thin", "not copying", 7.0, 50.0),
        job("3", "sound", "not copying", 7.1, 45.0),
        job("4", "sound", "not copying", 5.0, 10.0, status="FAILED"),
    ]
    got = name_jobs(rows)
    assert got["likelihood_best"] == "2: seed=2" and got["sample_best"] == "3: seed=3"
    assert set(got["excluded"]) == {"0: seed=0", "1: seed=1"}


def test_the_sweep_says_its_likelihood_ranks_the_residual_when_the_pca_differs(tmp_path):
    sweep = sweep_dir(tmp_path)
    assert "PCA dimensions" not in summary.sweep_summary(sweep)  # no reduce metrics: nothing claimed
    for job, dims in (("0", 42), ("1", 81)):
        F.REDUCE.folder(sweep / job).mkdir(parents=True, exist_ok=True)
        (F.REDUCE.folder(sweep / job) / F.REDUCE.metrics).write_text(json.dumps({"n_dims_kept": dims}))
    text = summary.sweep_summary(sweep)
    assert "the jobs kept 42, 81 PCA dimensions: their bits/pixel differ mostly by the residual term" in text
    assert "they differ" in text  # the likelihood's best and the sample-quality best are both still named
