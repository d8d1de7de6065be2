"""`make stability`: the selection sweep under N seeds; per criterion how often it chooses which K.

  python pipelines/stability.py [--seeds N] [overrides]        (N: 10 by default; overrides as for make run)

Seeds ``seed`` .. ``seed + N - 1`` each draw their own split and EM starts
(:mod:`gmmgen.pipeline.stability`). Prints per criterion the distribution of
the chosen K (mode, range, share choosing the mode) and a bootstrap interval
of the validation NLL gap between its two top models; writes
``<paths.run_dir>/stability/stability.json`` and logs one MLflow run (tag
``gmmgen.kind=stability``) with those numbers and the file.
"""

# isort: off
import gmmgen.runtime.startup  # noqa: F401  first: a Ctrl-C while the libraries import exits 130 with one line

# isort: on
import sys
from pathlib import Path

import hydra

from gmmgen.errors import ConfigError
from gmmgen.pipeline import config
from gmmgen.runtime import cli

config.register_configs()
N_SEEDS = 10


def _seeds_from_argv() -> int:
    """Take ``--seeds N`` off the command line (Hydra parses the rest)."""
    n = N_SEEDS
    if "--seeds" in sys.argv:
        i = sys.argv.index("--seeds")
        value = sys.argv[i + 1] if i + 1 < len(sys.argv) else ""
        if not value.isdigit() or int(value) < 1:
            cli.fail(f"config error: --seeds {value!r}: must be a positive integer (N=10)", cli.EXIT_CONFIG)
        n = int(value)
        del sys.argv[i : i + 2]
    return n


SEEDS = _seeds_from_argv() if __name__ == "__main__" else N_SEEDS


def _log(cfg, summary: dict, results: list, path: Path) -> str:
    from mlflow import MlflowClient

    from gmmgen.tracking import log as tracking

    overrides = " ".join(a for a in sys.argv[1:] if "=" in a) or "(none)"
    tags = {"gmmgen.kind": "stability", "stability.seeds": str(len(results)), "hydra.overrides": overrides}
    with tracking.pipeline_run(cfg, tags, source="pipelines/stability.py") as run_id:
        client = MlflowClient(tracking.tracking_uri(cfg))
        with tracking.store_lock(cfg):
            for crit, s in summary.items():
                values = {"mode_k": s["mode_k"], "share_mode": s["share_mode"], "k_min": s["k_min"]}
                values.update(k_max=s["k_max"], gap=s["gap"]["gap"], gap_low=s["gap"]["low"], gap_high=s["gap"]["high"])
                for key, value in values.items():
                    if value == value:  # not NaN
                        client.log_metric(run_id, f"{crit}.{key}", float(value))
                client.set_tag(run_id, f"{crit}.mode", s["mode"])
            client.log_artifact(run_id, str(path))
    return run_id


def run_stability(cfg) -> None:
    """Repeat the selection sweep under N seeds; print the distribution of each criterion's choice."""
    from gmmgen.core import data as data_mod
    from gmmgen.pipeline import stability

    if cfg.sweep.criterion == "heldout" and int(cfg.data.n_val) == 0:
        raise ConfigError("make stability: sweep.criterion=heldout needs validation digits (data.n_val > 0)")
    digits, _ = data_mod.obtain(cfg.data, Path(cfg.paths.cache), Path(cfg.paths.root))
    print(f"stability: {SEEDS} seeds from seed={cfg.seed}; grid {list(cfg.sweep.n_components)}", flush=True)

    def step(r: dict) -> None:
        chosen = ", ".join(f"{c} {m[0]} K={m[1]}" for c, m in r["chosen"].items())
        print(f"  seed {r['seed']}: {chosen} ({r['seconds']:.0f} s)", flush=True)

    results = stability.run_seeds(cfg, SEEDS, digits, step)
    summary = stability.summarize(results)
    path = stability.write(summary, results, Path(cfg.paths.run_dir) / "stability" / "stability.json")
    lines = stability.report_lines(summary, results)
    if cfg.tracking.enabled:
        cfg.tracking.run_name = cfg.tracking.run_name or f"stability-{SEEDS}"
        lines.append(f"  MLflow run {_log(cfg, summary, results, path)[:12]}; file: {path}")
    print("\n" + "\n".join(lines), flush=True)


@hydra.main(config_path="../conf", config_name="config", version_base="1.3")
def main(cfg) -> None:
    cli.run(cfg, run_stability, banner=False, typed=False)


if __name__ == "__main__":
    cli.main(main)
