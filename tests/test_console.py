"""What a person sees: a small pipeline's console has banners, one bar per long step, a summary, and no noise.

The noise lines are the ones a cold `make run` used to print (see NOISE); the
DVC end-to-end test and the multirun test check their consoles with the same
list (TensorFlow, DVC and the sweep's parallel jobs run there).
"""

from __future__ import annotations

import re

from .conftest import REPO, TINY, run_py

RUN_ALL = str(REPO / "pipelines" / "run_all.py")

NOISE = (
    "absl::InitializeLog",  # absl's preamble, printed when TensorFlow loads
    "oneDNN custom operations",  # TensorFlow's load-time notice
    "cpu_feature_guard",
    "use_unbounded_threadpool",  # "NodeDef mentions attribute" when the judge CNN is loaded
    "retracing",  # tf.function retraced on a new batch shape
    "LinAlgWarning",  # the Fréchet distance's matrix square root (now an eigenvalue-based trace)
    "Matrix is singular",
    "type hint",  # MLflow on PythonModel.predict
    "cloudpickle",  # MLflow on how it pickled the model
    "Downloading artifacts",  # MLflow reading the logged model back
    "Downloading data from",  # Keras's download lines and bars
    "git add dvc.lock",  # DVC's hint after a repro
    "To enable auto staging",
    "send your updates to remote storage",  # DVC's `dvc push` hint after a repro (dropped by the Makefile)
)


def noise_in(text: str) -> list[str]:
    """The console lines that contain one of the NOISE markers."""
    lines = re.split(r"[\r\n]+", text)
    return [line for line in lines if any(marker in line for marker in NOISE)]


def test_a_small_run_prints_banners_and_a_summary_and_no_noise(tmp_path):
    result = run_py(
        [
            RUN_ALL,
            f"paths.root={tmp_path}",
            *TINY,
            "sweep.progress=true",
            "sweep.n_components=[2,4,8,5000]",
            "tracking.enabled=false",  # MLflow's console is checked in the DVC end-to-end test
        ],
        cwd=tmp_path,
        # One BLAS thread: on a busy machine OpenBLAS's waiting threads made the 600x64 PCA take seconds, not
        # milliseconds; the console does not depend on it.
        env={"OPENBLAS_NUM_THREADS": "1"},
    )
    console = result.stdout + result.stderr
    assert result.returncode == 0, console[-4000:]
    assert noise_in(console) == []
    banners = re.findall(r"^== (\w+):", result.stdout, flags=re.M)
    assert banners == ["data", "reduce", "select", "generate"]
    # One bar for the sweep; the warning about the failed fit is printed on its own line, not inside the bar.
    assert result.stderr.count("GMM sweep: 100%") >= 1
    warning = [line for line in re.split(r"[\r\n]+", console) if "fits flagged" in line]
    assert len(warning) == 1 and warning[0].startswith("warning: 1 of 4 fits flagged: failed: full K=5000")
    # The summary: what was chosen, by which criterion, the numbers, where the figures are.
    summary = result.stdout[result.stdout.index("gmmgen summary") :]
    assert re.search(r"chosen: full K=\d+ by BIC \(sweep.criterion=bic", summary)
    assert re.search(r"^  BIC \(used\)\s+full K=\d+\s+\w+\s+[\d,]+\s+-?[\d,.]+\s+-?\d\.\d{4}", summary, flags=re.M)
    assert "held-out likelihood" in summary and "outputs/select/sweep.png" in summary
    # Details stay in the log file.
    log = (tmp_path / "outputs" / "logs" / "run_all" / "run_all.log").read_text()
    assert "fit full K=5000: failed" in log
