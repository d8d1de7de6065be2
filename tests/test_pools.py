"""Issue 23, item 4: every pool size known before any download is checked before params.yaml is written.

MNIST's files hold 60,000 training and 10,000 test digits; the bundled subset
5,000, the 8x8 digits 1,797. A config asking for more is one line and exit 2
from `make params` (pipelines/configure.py), and params.yaml stays as it was.
"""

from __future__ import annotations

import pytest

from gmmgen.pipeline.config import MNIST_POOLS, rule_problems

from .conftest import REPO, compose_cfg, run_py


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        (
            ["data.n_train=1000000000"],
            "data.n_train=1000000000 + data.n_val=500: needs 1000000500 training digits, "
            "MNIST's training pool has 60000 (data.source=auto)",
        ),
        (
            ["data.source=download", "data.origins=[x]", "data.n_train=59501"],
            "data.n_train=59501 + data.n_val=500: needs 60001 training digits, "
            "MNIST's training pool has 60000 (data.source=download)",
        ),
        (["data.n_test=10001"], "data.n_test=10001: MNIST's test pool has 10000 digits (data.source=auto)"),
        (["data.n_val=60000", "data.n_train=null"], "data.n_train=None + data.n_val=60000: needs 60001"),
        (["data.source=bundled", "data.n_train=100000"], "data.n_train=100000 + data.n_val=500 + data.n_test=1000"),
        (["data=digits", "data.n_train=2000"], "data.n_train=2000 + data.n_val=200 + data.n_test=400: needs 2600"),
    ],
)
def test_a_split_larger_than_the_known_pool_is_refused(tmp_path, overrides, problem):
    problems = list(rule_problems(compose_cfg(tmp_path, overrides)))
    assert any(p.startswith(problem) for p in problems), problems


@pytest.mark.parametrize(
    "overrides",
    [
        [],
        ["data.n_train=59500"],  # + 500 validation digits: the whole training pool
        ["data.n_test=10000", "data.n_train=null"],
        ["data.source=download", "data.origins=[x]", "data.n_val=100", "data.n_train=59900"],
    ],
)
def test_splits_within_mnist_pools_pass(tmp_path, overrides):
    assert not [p for p in rule_problems(compose_cfg(tmp_path, overrides)) if "pool" in p]
    assert MNIST_POOLS == {"train": 60000, "test": 10000}


def test_make_params_refuses_too_many_digits_and_leaves_params_yaml(tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text("# the last good config\n")
    result = run_py(
        [str(REPO / "pipelines" / "configure.py"), f"paths.root={tmp_path}", "data.n_train=1000000000"], cwd=tmp_path
    )
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("gmmgen: config error: data.n_train=1000000000 + data.n_val=500")
    assert "MNIST's training pool has 60000" in lines[0]
    assert params.read_text() == "# the last good config\n"
    assert not (tmp_path / "outputs" / "data").exists()
