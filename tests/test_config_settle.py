"""Known answers for pipeline/config's settle, seeds and multirun job folder (focused tests of its mutation target)."""

from __future__ import annotations

import pytest
from hydra.conf import HydraConf
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import OmegaConf

from gmmgen.pipeline import config


@pytest.fixture
def hydra_mode():
    """Set Hydra's run mode and job folder as a running Hydra app would; undone after the test."""

    def set_mode(mode: RunMode, output_dir: str | None) -> None:
        hc = OmegaConf.structured(HydraConf)
        hc.mode = mode
        if output_dir is not None:  # left MISSING, as while a multirun starts
            hc.runtime.output_dir = output_dir
        HydraConfig.instance().set_config(OmegaConf.create({"hydra": hc}))

    yield set_mode
    HydraConfig.instance().cfg = None


def test_a_multirun_job_writes_into_its_own_folder_and_a_single_run_into_the_default(hydra_mode):
    assert config._run_dir("outputs") == "outputs"  # no Hydra app at all
    hydra_mode(RunMode.MULTIRUN, "/sweeps/2026/3")
    assert config._run_dir("outputs") == "/sweeps/2026/3"
    hydra_mode(RunMode.MULTIRUN, None)  # the multirun starting, before any job
    assert config._run_dir("outputs") == "outputs"
    hydra_mode(RunMode.RUN, "/runs/today")
    assert config._run_dir("outputs") == "outputs"


def test_settle_resolves_a_hand_made_config_whose_seeds_are_set_but_paths_are_not(tmp_path):
    cfg = config.Config()
    for section, key in config.PART_SEEDS:
        setattr(getattr(cfg, section), key, 5)
    cfg.paths.root = str(tmp_path)
    assert not config._settled(cfg)  # the seeds are set, the paths still interpolations
    settled = config.settle(cfg)
    assert settled.paths.outputs == f"{tmp_path}/outputs" and settled.paths.cache == f"{tmp_path}/outputs/cache"
    assert config._settled(settled) and config.settle(settled) is settled


def test_settle_fills_a_hand_made_config_s_null_seeds_from_the_global_seed(tmp_path):
    cfg = config.Config(seed=9)
    cfg.paths.root = str(tmp_path)
    cfg.model.random_state = 2  # a part pinned on its own keeps its seed
    settled = config.settle(cfg)
    assert (settled.data.seed, settled.model.random_state, settled.sample.seed) == (9, 2, 9)
    assert not any("${" in str(v) for v in vars(settled.paths).values())


def test_seed_for_reads_a_part_s_seed_or_falls_back_to_the_global_one():
    assert config.seed_for(OmegaConf.create({"seed": 3}), "model.random_state") == 3  # the part is not there at all
    assert config.seed_for(OmegaConf.create({"seed": 3, "model": {"random_state": None}}), "model.random_state") == 3
    assert config.seed_for(OmegaConf.create({"seed": 3, "model": {"random_state": 4}}), "model.random_state") == 4
    assert config.seed_for({"seed": 3, "data": {"seed": 8}}, "data.seed") == 8
