"""hydra/launcher=slurm: the real launcher and submitit write the real sbatch script.

No SLURM cluster is here, so ``srun`` and ``sbatch`` are stand-ins that refuse
every job; the Hydra submitit plugin and submitit run for real up to that
refusal, and the array job script they wrote is checked line by line.
(``hydra/launcher=submitit_local`` runs real jobs: tests/test_server.py.)
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from .conftest import REPO, run_py

REFUSE = '#!/bin/sh\necho "{0}: no SLURM cluster here" >&2\nexit 1\n'


def test_slurm_config_composes_into_the_expected_sbatch_script(tmp_path):
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    for tool in ("srun", "sbatch"):
        (fake_bin / tool).write_text(REFUSE.format(tool))
        (fake_bin / tool).chmod(0o755)
    result = run_py(
        [
            str(REPO / "pipelines" / "run_all.py"),
            "-m",
            "hydra/launcher=slurm",
            "hydra.launcher.partition=gpu",
            f"paths.root={tmp_path}",
            "tracking.enabled=false",
            "seed=0,1,2",
        ],
        cwd=tmp_path,
        env={"PATH": f"{fake_bin}{os.pathsep}{os.environ['PATH']}"},
    )
    assert result.returncode != 0 and "sbatch: no SLURM cluster here" in result.stderr
    (folder,) = (tmp_path / "outputs" / "multirun").glob("*/.submitit")
    (script,) = folder.glob(".submission_file_*.sh")
    flags = dict(re.findall(r"^#SBATCH --([\w-]+)=(.*)$", script.read_text(), re.M))
    # conf/hydra/launcher/slurm.yaml, as submitit passes it to SLURM.
    assert flags["partition"] == "gpu"
    assert flags["cpus-per-task"] == "8"
    assert flags["mem"] == "16GB"
    assert flags["time"] == "60"
    assert flags["nodes"] == "1" and flags["ntasks-per-node"] == "1"
    assert flags["array"] == "0-2%3"  # three jobs, at most array_parallelism (32) at once
    assert flags["job-name"] == "run_all"
    assert Path(flags["output"]).parent.parent == folder
    assert re.search(r"^srun .* -m submitit\.core\._submit ", script.read_text(), re.M)
    assert len(list(folder.glob("*.pkl"))) == 3  # one pickled job per sweep point
