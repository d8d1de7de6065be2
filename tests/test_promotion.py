"""Issue 25: the digits as MLflow datasets, a champion that must earn it, `make promote`, `make gate`.

The registry tests share one real SQLite store, filled in order by real tiny
pipeline runs on the 8x8 digits, each logged as `make run` on a clean tree
logs it (a start record, then the track stage's code):

====  ==========================================  =======================  ============
run   config                                      digits                   ends as
====  ==========================================  =======================  ============
v1    K in [4], evaluate on (results/metrics.json) the tiny config's        @champion (first)
v2    K in [1], evaluate on                       the same                 @challenger (worse)
v3    K in [2,4,8] by held-out likelihood, the    the same                 @challenger (copying)
      evaluate stage's copying verdict "copying"
v4    v3's model, without that verdict            the same                 @champion (beats v1)
v5    K in [4], data.seed=1                        other digits             @challenger (not comparable)
====  ==========================================  =======================  ============
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from mlflow import MlflowClient

from gmmgen.pipeline import registry
from gmmgen.pipeline.runner import run_all
from gmmgen.pipeline.stages.common import stage_dir
from gmmgen.pipeline.stages.summary import run_summary
from gmmgen.runtime.validation import validate
from gmmgen.tracking import datasets, gate, promotion, runinfo
from gmmgen.tracking import log as tracking
from gmmgen.tracking.promotion import Standing, decide

from .conftest import PYTHON, REPO, TINY, compose_cfg

MODEL = "gmmgen-digit-generator"
GIT = ["git", "-c", "user.name=Ada Tester", "-c", "user.email=ada@example.org", "-c", "commit.gpgsign=false"]


# ----------------------------------------------------------------------------- the rule, on plain values

SAME = "0123456789ab-validation"
CHAMP = Standing("1", val_nll_nats=325.0, val_bpp=7.33, val_digest=SAME, fit_status="thin", copying="not copying")


def cand(**kw) -> Standing:
    return replace(CHAMP, version="2", **kw)


@pytest.mark.parametrize(
    ("candidate", "champion", "alias", "reason"),
    [
        (cand(), None, "champion", "no @champion yet: the first model"),
        (cand(val_nll_nats=324.0), CHAMP, "champion", "beats @champion v1 by 1 nats/digit on the same validation"),
        (cand(val_nll_nats=326.5), CHAMP, "challenger", "worse than @champion v1 by 1.5 nats/digit on the same"),
        (cand(), CHAMP, "challenger", "no better than @champion v1 on the same validation digits"),
        (
            cand(val_nll_nats=300.0, val_digest="fedcba987654-validation"),
            CHAMP,
            "challenger",
            "not comparable with "
            "@champion v1: different validation digits (fedcba987654-validation vs 0123456789ab-validation)",
        ),
        (
            cand(val_nll_nats=300.0),
            replace(CHAMP, val_digest=""),
            "challenger",
            "not comparable with @champion v1, which records no validation digits",
        ),
        (
            cand(val_nll_nats=300.0, val_digest=""),
            CHAMP,
            "challenger",
            "not comparable with @champion v1: this version records no validation digits",
        ),
        (
            cand(val_nll_nats=300.0),
            replace(CHAMP, val_nll_nats=None),
            "challenger",
            "not comparable with @champion v1, which records no validation NLL",
        ),
        (cand(val_nll_nats=300.0, fit_status="degenerate"), CHAMP, "challenger", "its chosen fit is degenerate"),
        (cand(val_nll_nats=300.0, fit_status="degenerate"), None, "challenger", "its chosen fit is degenerate"),
        (cand(val_nll_nats=300.0, copying="copying"), CHAMP, "challenger", "the copying test finds it copying"),
        (cand(val_nll_nats=float("nan")), CHAMP, "challenger", "it has no validation NLL to compare"),
    ],
)
def test_the_rule(candidate, champion, alias, reason):
    decision = decide(candidate, champion)
    assert decision.alias == alias and decision.promoted == (alias == "champion")
    assert decision.reason.startswith(reason), decision.reason
    assert "copying test" not in decision.reason or candidate.copying != "not copying"


def test_the_rule_shows_an_unknown_copying_verdict_without_blocking_and_names_its_aliases():
    decision = decide(cand(val_nll_nats=324.0, copying="unknown"), CHAMP, "prod", "candidate")
    assert (decision.alias, decision.promoted) == ("prod", True)
    assert decision.reason.endswith("; copying test: unknown") and "@prod v1" in decision.reason
    assert decision.margin == pytest.approx(-1.0) and decision.compared_with == "1"
    assert decide(cand(val_nll_nats=326.0), CHAMP, "prod", "candidate").alias == "candidate"


def test_version_tags_round_trip_and_description():
    s = Standing(
        "7",
        3807.4,
        7.0063,
        "3f2a9c1b0d4e-validation",
        "3f2a9c1b0d4e" + "0" * 20,
        "mnist",
        "thin",
        "not copying",
        3,
        "full",
        "bic",
        62.4571,
        "a" * 40,
    )
    tags = promotion.version_tags(s)
    assert {k: tags[k] for k in ("K", "criterion", "val_bpp", "frechet_distance", "copying_status")} == {
        "K": "3",
        "criterion": "bic",
        "val_bpp": "7.0063",
        "frechet_distance": "62.4571",
        "copying_status": "not copying",
    }
    assert tags["data.md5"] == s.data_md5 and tags["git.commit"] == "a" * 40
    assert promotion.standing_from_tags("7", tags) == s
    text = promotion.describe_version(s)
    assert text.startswith("PCA + full K=3 chosen by BIC; validation 7.0063 bits/pixel; FD 62.46; fit thin;")
    assert "dataset.npz md5 3f2a9c1b0d4e" in text and text.endswith(f"commit {'a' * 12}.")
    # Unknown values are left out, not written as "None".
    assert promotion.version_tags(Standing("1")) == {"copying_status": "unknown"}


# ----------------------------------------------------------------------------- digests


def test_split_digest_and_md5_known_answers(tmp_path):
    (tmp_path / "empty").write_bytes(b"")
    assert datasets.file_md5(tmp_path / "empty") == "d41d8cd98f00b204e9800998ecf8427e"
    assert datasets.split_digest("d41d8cd98f00b204e9800998ecf8427e", "judge") == "d41d8cd98f00-judge"
    assert max(len(datasets.split_digest("0" * 32, c)) for _, c in datasets.SPLITS) <= 36  # MLflow's column
    with pytest.raises(ValueError, match="not an md5"):
        datasets.split_digest("xyz", "train")
    with pytest.raises(ValueError, match="unknown split 'val'"):
        datasets.split_digest("0" * 32, "val")


def test_the_committed_lock_gives_the_dataset_md5():
    md5 = datasets.lock_md5(REPO / "dvc.lock", "outputs/data/dataset.npz")
    lock = yaml.safe_load((REPO / "dvc.lock").read_text())
    (out,) = [o for o in lock["stages"]["data"]["outs"] if o["path"] == "outputs/data/dataset.npz"]
    assert md5 == out["md5"] and len(md5) == 32
    assert datasets.lock_md5(REPO / "dvc.lock", "outputs/data/nothing.npz") is None
    assert datasets.lock_md5(REPO / "no-such.lock", "outputs/data/dataset.npz") is None


def test_data_digest_believes_the_lock_only_when_the_file_agrees(tmp_path):
    data = tmp_path / "outputs" / "data" / "dataset.npz"
    data.parent.mkdir(parents=True)
    data.write_bytes(b"digits")
    md5 = datasets.file_md5(data)
    assert datasets.data_digest(data, tmp_path) == datasets.DataDigest(md5, "file", "outputs/data/dataset.npz")
    lock = {"schema": "2.0", "stages": {"data": {"outs": [{"path": "outputs/data/dataset.npz", "md5": md5}]}}}
    (tmp_path / "dvc.lock").write_text(yaml.safe_dump(lock))
    assert datasets.data_digest(data, tmp_path).source == "dvc.lock"
    data.write_bytes(b"other digits")  # rewritten outside DVC: the lock is stale
    assert datasets.data_digest(data, tmp_path) == datasets.DataDigest(
        datasets.file_md5(data), "file", "outputs/data/dataset.npz"
    )


# ----------------------------------------------------------------------------- the gate, on plain values

REF = {"select": {"val_bpp": 7.0}, "evaluate": {"frechet_distance": 60.0, "copying_status": "not copying"}}


def ws(val_bpp=7.0, fd=60.0, copying="not copying"):
    return {"select": {"val_bpp": val_bpp}, "evaluate": {"frechet_distance": fd, "copying_status": copying}}


def verdicts(rows):
    return {r.label: (r.verdict, r.failed) for r in rows}


def test_gate_rows():
    cfg = gate.GateConfig()
    rows = gate.compare(ws(), REF, cfg, "a" * 32, "a" * 32)
    assert not any(r.failed for r in rows) and gate.verdict(rows) is None
    rows = gate.compare(ws(val_bpp=7.006, fd=61.9), REF, cfg, "a" * 32, "a" * 32)
    assert verdicts(rows)["validation NLL (bits/pixel)"] == ("REGRESSED", True)
    assert verdicts(rows)["Fréchet distance"] == ("ok", False)  # within 2.0
    assert gate.verdict(rows) == "validation NLL (bits/pixel) rose by 0.006 (allowed +0.005)"
    assert verdicts(gate.compare(ws(val_bpp=6.9, fd=70), REF, cfg))["validation NLL (bits/pixel)"] == ("better", False)
    assert verdicts(gate.compare(ws(fd=62.5), REF, cfg))["Fréchet distance"] == ("REGRESSED", True)
    # Different digits: not comparable, whatever the numbers; unknown digits are shown, not gating.
    rows = gate.compare(ws(), REF, cfg, "a" * 32, "b" * 32)
    assert verdicts(rows)["digits (dataset.npz md5)"] == ("NOT COMPARABLE", True)
    assert verdicts(gate.compare(ws(), REF, replace(cfg, same_data=False), "a" * 32, "b" * 32))[
        "digits (dataset.npz md5)"
    ] == ("other digits", False)
    assert verdicts(gate.compare(ws(), REF, cfg, None, "b" * 32))["digits (dataset.npz md5)"][1] is False
    # Copying: becoming "copying" fails; an unknown verdict (absent field) is shown and passes.
    assert verdicts(gate.compare(ws(copying="copying"), REF, cfg))["copying status"] == ("REGRESSED", True)
    assert verdicts(gate.compare(ws(copying="copying"), REF, replace(cfg, copying=False)))["copying status"][1] is False
    absent = {"select": {"val_bpp": 7.0}, "evaluate": {"frechet_distance": 60.0}}
    assert verdicts(gate.compare(absent, REF, cfg))["copying status"] == ("unknown (not gating)", False)
    # A number the reference has and the workspace lost, or one that is not finite, fails.
    lost = {"select": {"val_bpp": 7.0}, "evaluate": {}}
    assert verdicts(gate.compare(lost, REF, cfg))["Fréchet distance"] == ("MISSING", True)
    assert verdicts(gate.compare(ws(val_bpp=float("nan")), REF, cfg))["validation NLL (bits/pixel)"][1] is True
    text = gate.table(gate.compare(ws(), REF, cfg), "main")
    assert text.splitlines()[0].split()[:3] == ["number", "reference", "(main)"] and len(text.splitlines()) == 6


def test_gate_config_refuses_bad_keys_and_values():
    from gmmgen.errors import ConfigError

    assert gate.load_config() == gate.GateConfig()  # conf/gate.yaml holds the schema's defaults
    assert gate.load_config(["val_bpp=0.01", "reference=champion"]).val_bpp == 0.01
    for bad, match in (("tolerance=1", "Key 'tolerance' not in 'GateConfig'"), ("val_bpp=-1", "val_bpp=-1.0")):
        with pytest.raises(ConfigError, match=match):
            gate.load_config([bad])


# ----------------------------------------------------------------------------- a real registry


# The evaluate stage on (results/metrics.json needs it), as light as it goes: a one-epoch judge, 100 samples.
JUDGED = ["evaluate.enabled=true", "evaluate.n_samples=100", "classifier.epochs=1"]


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def _git_root(root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run([*GIT, "commit", "-q", "--allow-empty", "-m", "start"], cwd=root, check=True)


def _track_as_make_run(cfg) -> str:
    """The track stage of a `make run` that started on a clean tree: start record, track, record removed."""
    runinfo.write_start(Path(cfg.paths.root), Path(cfg.paths.outputs))
    try:
        return tracking.track(cfg, Path(cfg.paths.run_dir))
    finally:
        (Path(cfg.paths.outputs) / runinfo.START_FILE).unlink()


@pytest.fixture(scope="module")
def reg(tmp_path_factory):
    """The store of the table above: run ids and console lines by version, results files, the store's URI."""
    base = tmp_path_factory.mktemp("registry")
    uri = f"sqlite:///{base / 'store' / 'mlflow.db'}"
    lines = Lines()
    logger = logging.getLogger("gmmgen")
    old_level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(lines)
    runs, said, results = {}, {}, {}

    def cfg_of(root, *extra):
        cfg = compose_cfg(root, [*TINY, f"tracking.uri={uri}", *extra])
        validate(cfg)
        return cfg

    def track(version, cfg):
        del lines.lines[:]
        runs[version] = _track_as_make_run(cfg)
        said[version] = [line for line in lines.lines if line.startswith(f"model version {version} is @")]

    try:
        a = base / "a"
        _git_root(a)
        cfg = cfg_of(a, "sweep.n_components=[4]", *JUDGED)
        run_all(cfg)
        results["v1"] = json.loads(run_summary(cfg).read_text())
        track("1", cfg)
        # v2: what DVC would rerun after the sweep changed (the judge and the digits are reused).
        cfg = cfg_of(a, "sweep.n_components=[1]", *JUDGED)
        for name in ("select", "generate", "evaluate"):
            registry.BY_NAME[name].load()(cfg)
        results["v2"] = json.loads(run_summary(cfg).read_text())
        track("2", cfg)
        # v3 and v4: one better run, logged twice: first with the evaluate stage's copying verdict
        # "copying" (selected.copying_status, as the stage writes it), then without it.
        c = base / "c"
        _git_root(c)
        cfg = cfg_of(c, "sweep.n_components=[2,4,8]", "sweep.criterion=heldout")
        run_all(cfg)
        verdict = stage_dir(cfg, "evaluate")
        verdict.mkdir()
        (verdict / "metrics.json").write_text(json.dumps({"selected": {"copying_status": "copying"}}))
        track("3", cfg)
        shutil.rmtree(verdict)
        track("4", cfg)
        e = base / "e"
        _git_root(e)
        cfg = cfg_of(e, "sweep.n_components=[4]", "data.seed=1")
        run_all(cfg)
        track("5", cfg)
    finally:
        logger.removeHandler(lines)
        logger.setLevel(old_level)
    client = MlflowClient(uri, registry_uri=uri)
    return {"uri": uri, "client": client, "runs": runs, "said": said, "results": results, "base": base}


def tags_of(reg, version):
    return reg["client"].get_model_version(MODEL, version).tags


def test_first_model_becomes_champion_and_carries_its_description_and_tags(reg):
    tags = tags_of(reg, "1")
    assert tags["promotion"] == "champion" and tags["promotion.reason"].startswith("no @champion yet: the first model")
    select = reg["results"]["v1"]["select"]
    assert tags["K"] == str(select["n_components"]) == "4" and tags["criterion"] == "bic"
    assert float(tags["val_bpp"]) == pytest.approx(select["val_bpp"], rel=1e-6)
    assert float(tags["frechet_distance"]) == pytest.approx(
        reg["results"]["v1"]["evaluate"]["frechet_distance"], rel=1e-5
    )
    copying = json.loads((reg["base"] / "a" / "outputs" / "evaluate" / "metrics.json").read_text())["selected"]
    assert tags["copying_status"] == copying.get("copying_status", "unknown")
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=reg["base"] / "a", capture_output=True, text=True)
    assert tags["git.commit"] == head.stdout.strip()
    md5 = datasets.file_md5(reg["base"] / "a" / "outputs" / "data" / "dataset.npz")
    assert tags["data.md5"] == md5 and tags["data.val_digest"] == f"{md5[:12]}-validation"
    description = reg["client"].get_model_version(MODEL, "1").description
    assert description.startswith("PCA + full K=4 chosen by BIC; validation ") and md5[:12] in description
    assert reg["said"]["1"] == [f"model version 1 is @champion: {tags['promotion.reason']}"]


def test_a_worse_run_on_the_same_digits_gets_challenger_with_the_reason(reg):
    tags = tags_of(reg, "2")
    assert tags["promotion"] == "challenger" and tags["promotion.compared_with"] == "1"
    margin = float(tags["val_nll_nats"]) - float(tags_of(reg, "1")["val_nll_nats"])
    assert margin > 0
    assert tags["promotion.reason"].startswith(f"worse than @champion v1 by {margin:.4g} nats/digit on the same")
    assert reg["said"]["2"] == [f"model version 2 is @challenger: {tags['promotion.reason']}"]
    assert reg["client"].get_run(reg["runs"]["2"]).data.tags["registered_alias"] == "challenger"


def test_a_copying_model_is_not_promoted_even_when_better(reg):
    tags = tags_of(reg, "3")
    assert float(tags["val_nll_nats"]) < float(tags_of(reg, "1")["val_nll_nats"])
    assert tags["copying_status"] == "copying" and tags["promotion"] == "challenger"
    assert tags["promotion.reason"].startswith("the copying test finds it copying its training digits")


def test_a_better_run_on_the_same_digits_moves_champion(reg):
    tags = tags_of(reg, "4")
    assert tags["promotion"] == "champion" and tags["promotion.reason"].startswith("beats @champion v1 by ")
    assert float(tags["val_nll_nats"]) < float(tags_of(reg, "1")["val_nll_nats"])
    assert tags["data.val_digest"] == tags_of(reg, "1")["data.val_digest"]
    assert reg["said"]["4"] == [f"model version 4 is @champion: {tags['promotion.reason']}"]


def test_a_run_on_other_digits_gets_challenger_as_not_comparable(reg):
    tags = tags_of(reg, "5")
    champion = tags_of(reg, "4")
    assert tags["data.val_digest"] != champion["data.val_digest"]
    assert tags["promotion"] == "challenger"
    assert tags["promotion.reason"].startswith(
        f"not comparable with @champion v4: different validation digits ({tags['data.val_digest']} vs "
        f"{champion['data.val_digest']})"
    )
    client = reg["client"]
    assert promotion.holder(client, MODEL, "champion") == "4"
    assert promotion.holder(client, MODEL, "challenger") == "5"


def test_each_run_logs_its_digits_and_runs_on_the_same_digits_share_them(reg):
    client = reg["client"]
    run = client.get_run(reg["runs"]["1"])
    md5 = datasets.file_md5(reg["base"] / "a" / "outputs" / "data" / "dataset.npz")
    assert datasets.run_digests(run) == {c: f"{md5[:12]}-{c}" for c in ("train", "validation", "test", "judge")}
    names = sorted(i.dataset.name for i in run.inputs.dataset_inputs)
    assert names == ["digits-judge", "digits-test", "digits-train", "digits-validation"]
    (val,) = [i for i in run.inputs.dataset_inputs if i.dataset.name == "digits-validation"]
    assert json.loads(val.dataset.profile) == {"digits": 200, "split": "validation", "md5": md5, "md5_from": "file"}
    assert json.loads(val.dataset.source) == {"uri": "outputs/data/dataset.npz"}
    assert run.data.tags["data.md5"] == md5
    # The documented query: the runs on these validation digits, from any checkout (v1-v4), not v5's.
    exp = run.info.experiment_id
    found = client.search_runs([exp], datasets.same_digits_filter(f"{md5[:12]}-validation"))
    assert {r.info.run_id for r in found} == {reg["runs"][v] for v in "1234"}
    assert len(client.search_runs([exp], "datasets.context = 'judge'")) == 5
    other = datasets.run_digests(client.get_run(reg["runs"]["5"]))
    assert set(other) == {"train", "validation", "test", "judge"} and other["validation"] != f"{md5[:12]}-validation"


def test_make_promote_moves_the_alias_and_records_who_and_why(reg, tmp_path):
    # On a copy of the store, so the other tests see the table above.
    db = Path(reg["uri"][len("sqlite:///") :])
    shutil.copy(db, tmp_path / "mlflow.db")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    reason = 'rounder "3"s, by eye'
    make = ["make", "-s", "-C", str(REPO), "--no-print-directory", "promote", "VERSION=2", f"REASON={reason}"]
    result = subprocess.run([*make, f"ARGS=tracking.uri={uri}"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "gmmgen-digit-generator: @champion -> version 2 (was v4)" in result.stdout
    client = MlflowClient(uri, registry_uri=uri)
    assert promotion.holder(client, MODEL, "champion") == "2"
    tags = client.get_model_version(MODEL, "2").tags
    assert tags["promotion"] == "champion" and tags["promotion.reason"] == f"by hand: {reason}"
    assert tags["promotion.compared_with"] == "4" and tags["promotion.by"] == promotion.who()
    # A version the registry does not hold: one line, the config error's status, nothing moved.
    bad = subprocess.run(
        [*make[:-2], "VERSION=9", "REASON=x", f"ARGS=tracking.uri={uri}"], capture_output=True, text=True
    )
    assert bad.returncode == 2, bad.stderr
    assert (
        "gmmgen: config error: VERSION=9: model 'gmmgen-digit-generator' has no such version (it has [5, 4, 3, 2, 1])"
        in (bad.stderr)
    )
    assert promotion.holder(client, MODEL, "champion") == "2"


def test_a_version_registered_before_the_tags_is_read_from_its_run(reg, tmp_path):
    """An older version without the promotion tags: its run's metrics, tags and dataset inputs stand in."""
    shutil.copy(Path(reg["uri"][len("sqlite:///") :]), tmp_path / "mlflow.db")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri, registry_uri=uri)
    tagged = promotion.standing_of_version(client, MODEL, "1")
    for key in promotion.version_tags(tagged):
        client.delete_model_version_tag(MODEL, "1", key)
    bare = promotion.standing_of_version(client, MODEL, "1")
    assert (bare.val_nll_nats, bare.val_bpp, bare.val_digest, bare.fit_status) == (
        tagged.val_nll_nats,
        tagged.val_bpp,
        tagged.val_digest,
        tagged.fit_status,
    )
    assert bare.val_digest.endswith("-validation") and bare.n_components is None  # what the run cannot say


@pytest.mark.parametrize(
    ("version", "reason", "expected"),
    [
        ("3", " ", 'REASON is empty: say why, e.g. make promote VERSION=3 REASON="better digits by eye"'),
        ("three", "x", "VERSION='three': give a model version number"),
        ("", "x", "VERSION='': give a model version number"),
        ("9", "x", "VERSION=9: model 'gmmgen-digit-generator' has no such version (it has [5, 4, 3, 2, 1])"),
    ],
)
def test_promote_refuses_a_missing_reason_or_version(reg, version, reason, expected):
    with pytest.raises(ValueError) as refused:
        promotion.promote_by_hand(reg["client"], MODEL, version, "champion", reason, "Ada")
    assert str(refused.value).startswith(expected)
    assert promotion.holder(reg["client"], MODEL, "champion") == "4"


# ----------------------------------------------------------------------------- make gate


def _checkout_with(tmp_path: Path, committed: dict, workspace: dict) -> Path:
    """A git checkout whose main commits ``committed`` as results/metrics.json, with ``workspace`` in the tree."""
    root = tmp_path / "checkout"
    (root / "results").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=root, check=True)
    (root / "results" / "metrics.json").write_text(json.dumps(committed, indent=2))
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run([*GIT, "commit", "-qm", "results"], cwd=root, check=True)
    (root / "results" / "metrics.json").write_text(json.dumps(workspace, indent=2))
    return root


def make_gate(root: Path, *args: str, extra: str = "") -> subprocess.CompletedProcess:
    """``make gate`` of this project on the checkout ``root`` (ARGS="--root <root> <extra>")."""
    cmd = ["make", "-s", "-C", str(REPO), "--no-print-directory", "gate", *args, f"ARGS=--root {root} {extra}"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


def test_make_gate_fails_on_a_worse_config_and_passes_on_an_equal_one(reg, tmp_path):
    ref, worse = reg["results"]["v1"], reg["results"]["v2"]
    assert worse["select"]["val_bpp"] - ref["select"]["val_bpp"] > gate.GateConfig().val_bpp  # K=1 is worse
    root = _checkout_with(tmp_path, committed=ref, workspace=worse)
    result = make_gate(root)
    assert result.returncode == 2, result.stdout  # make's own status when a command fails
    table = result.stdout.splitlines()
    assert table[0].split()[:3] == ["number", "reference", "(main)"] and len(table) == 6, result.stdout
    row = next(line for line in table if line.startswith("validation NLL (bits/pixel)"))
    assert row.split()[-1] == "REGRESSED" and f"{ref['select']['val_bpp']:.6g}" in row
    assert result.stderr.startswith("gmmgen: gate failed: validation NLL (bits/pixel) rose by "), result.stderr
    direct = subprocess.run([PYTHON, "-m", "gmmgen.tracking.gate", "--root", str(root)], capture_output=True, text=True)
    assert direct.returncode == 8 and direct.stdout == result.stdout
    # The equal config: the committed numbers themselves.
    (root / "results" / "metrics.json").write_text(json.dumps(ref, indent=2))
    passed = make_gate(root)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "REGRESSED" not in passed.stdout and passed.stdout.rstrip().endswith("gate: passed against main")
    # Looser tolerances let the worse one through; another reference revision that does not exist is a config error.
    (root / "results" / "metrics.json").write_text(json.dumps(worse, indent=2))
    assert make_gate(root, extra="val_bpp=1 frechet_distance=1000").returncode == 0
    missing = make_gate(root, "REF=nope")
    assert missing.returncode == 2 and "gmmgen: config error: reference 'nope'" in missing.stderr


def test_make_gate_against_the_champion(reg, tmp_path):
    """REF=champion: the registry's champion (v4, fitted on the same digits, better) is the reference."""
    root = _checkout_with(tmp_path, committed=reg["results"]["v1"], workspace=reg["results"]["v1"])
    result = make_gate(root, "REF=champion", extra=f"tracking.uri={reg['uri']}")
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout.splitlines()[0].split()[:3] == ["number", "reference", "(@champion"]
    row = next(line for line in result.stdout.splitlines() if line.startswith("validation NLL"))
    champion_bpp = float(tags_of(reg, "4")["val_bpp"])
    assert row.split()[-1] == "REGRESSED" and f"{champion_bpp:.6g}" in row
