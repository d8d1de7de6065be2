"""A stage that has nothing to do still writes its folder: a record that it was skipped, and why.

``dvc repro`` runs every stage of ``dvc.yaml`` and expects each stage's outs.
With ``evaluate.enabled=false`` and no digits left for them (``experiment=pdsh``:
every digit trains, none is left to test, validate or train the judge; with
digits left ``make run`` still evaluates) the classifier and evaluate stages
write, instead of their results, ``metrics.json`` = ``{"skipped": reason}``,
each figure as a picture of that sentence, and each other named file as the
sentence in plain text. The summary, the track stage and the end summary read
``skipped`` and show the stage's numbers as not computed.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from gmmgen.core.io import atomic_dir
from gmmgen.pipeline.files import FIGURE_FORMATS, StageFiles

log = logging.getLogger(__name__)

#: The key of a skipped stage's metrics.json.
KEY = "skipped"


def write_skipped(folder: Path, files: StageFiles, reason: str) -> Path:
    """Write ``folder`` (atomically) as the record of a skipped stage: every out of ``files``, saying ``reason``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    text = f"{files.name} skipped: {reason}"
    with atomic_dir(folder) as tmp:
        (tmp / files.metrics).write_text(json.dumps({KEY: reason}, indent=2) + "\n")
        for name in files.files():
            if name != files.metrics:
                (tmp / name).write_text(text + "\n")
        for stem in files.figures:
            fig = plt.figure(figsize=(6, 1.2))
            fig.text(0.5, 0.5, text, ha="center", va="center", wrap=True, fontsize=9)
            for fmt in FIGURE_FORMATS:
                fig.savefig(tmp / f"{stem}.{fmt}", format=fmt, metadata={"Date": None} if fmt == "svg" else None)
            plt.close(fig)
    log.info("%s", text)
    return folder


def is_skipped(metrics: dict) -> bool:
    """Whether a stage's metrics are a skipped stage's record."""
    return isinstance(metrics, dict) and KEY in metrics
