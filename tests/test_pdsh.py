"""experiment=pdsh: the Python Data Science Handbook's digits run, exactly (all 1,797 digits train, 41 dims)."""

from __future__ import annotations

import json

import pytest

from gmmgen.errors import ConfigError
from gmmgen.pipeline import config
from gmmgen.pipeline import files as F
from gmmgen.pipeline.stages.classifier import run_classifier
from gmmgen.pipeline.stages.data import run_data
from gmmgen.pipeline.stages.evaluate import run_evaluate
from gmmgen.pipeline.stages.reduce import run_reduce
from gmmgen.pipeline.stages.summary import headline
from gmmgen.runtime.validation import validate

from .conftest import compose_cfg


def test_pdsh_trains_on_all_1797_digits_and_keeps_41_dimensions(tmp_path):
    cfg = compose_cfg(tmp_path, ["experiment=pdsh"])
    validate(cfg)
    config.check_full_pipeline(cfg)  # make run accepts it: no test digits needed without an evaluation
    assert cfg.sweep.criterion == "aic" and list(cfg.sweep.n_components) == list(range(50, 201, 10))
    assert list(cfg.sweep.covariance_types) == ["full"] and cfg.pca.whiten and cfg.pca.variance == 0.99
    data = json.loads((run_data(cfg) / F.DATA.provenance).read_text())
    assert (data["n_train"], data["n_val"], data["n_test"], data["n_classifier"]) == (1797, 0, 0, 0)
    reduced = json.loads((run_reduce(cfg) / F.REDUCE.metrics).read_text())
    assert reduced["n_dims_kept"] == 41
    # the judge and the evaluation are skipped, with a record DVC's outs and the summary can read
    for run, files in ((run_classifier, F.CLASSIFIER), (run_evaluate, F.EVALUATE)):
        out = run(cfg)
        assert sorted(p.name for p in out.iterdir()) == sorted(files.outs())
        assert "evaluate.enabled=false" in json.loads((out / files.metrics).read_text())["skipped"]
    stages = ("data", "reduce", "classifier", "evaluate")
    metrics = {s: json.loads((tmp_path / "outputs" / s / "metrics.json").read_text()) for s in stages}
    table = headline({**metrics, "select": {"skipped": "not run"}})
    assert table["reduce"]["n_dims_kept"] == 41 and table["data"]["n_train"] == 1797
    assert table["evaluate"]["frechet_distance"] is None and table["verdict"] == {}


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        (["data=digits", "data.n_val=0"], "the evaluation"),
        (["data=digits", "data.n_val=0", "evaluate.enabled=false", "sweep.criterion=heldout"], "heldout"),
    ],
)
def test_no_validation_digits_only_when_nothing_needs_them(tmp_path, overrides, words):
    with pytest.raises(ConfigError, match=words):
        validate(compose_cfg(tmp_path, overrides))
