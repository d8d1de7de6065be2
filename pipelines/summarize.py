"""Stage `summary`: the headline numbers of the run into results/metrics.json (tracked by git).

Thin Hydra entry point; the work is gmmgen.stages.summary.run_summary.
  python pipelines/summarize.py --config-dir . --config-name params   (as DVC runs it)
"""

import hydra

from gmmgen import cli, config
from gmmgen.stages.summary import run_summary

config.register_configs()


@hydra.main(config_path="../conf", config_name="config", version_base="1.3")
def main(cfg) -> None:
    cli.run(cfg, run_summary)


if __name__ == "__main__":
    main()
