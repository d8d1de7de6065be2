"""The digits of a run as MLflow dataset inputs, named by DVC's digest of the dataset file.

The data stage writes every split into one file, ``outputs/data/dataset.npz``,
whose md5 DVC records in ``dvc.lock``. Each pipeline run logs four dataset
inputs, one per split, with the split as the input's context (``train``,
``validation``, ``test``, ``judge``) and the digest ``<md5[:12]>-<context>``:
the first 12 hex digits of that md5, then the split. Two runs on the same
digits share each digest; a run on other digits (another seed, size or
source) shares none. The UI's Datasets column shows them, and a search finds
every run fitted or judged on the same digits::

    datasets.digest = '3f2a9c1b0d4e-validation'

(``python -m gmmgen.tracking.datasets`` prints the four digests of the
checkout's ``dvc.lock`` and these filters.) Where ``dvc.lock`` does not list
the file (a multirun job, a test, a lock older than the file), the md5 is
computed from the file itself: the same number DVC would record.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

#: (provenance.json's ``n_<key>``, the context logged to MLflow): every split the data stage writes.
SPLITS: tuple[tuple[str, str], ...] = (
    ("train", "train"),
    ("val", "validation"),
    ("test", "test"),
    ("classifier", "judge"),
)
DIGEST_HEX = 12
"""Hex digits of the md5 kept in a digest (48 bits; with the split, 36 characters at most, MLflow's limit)."""
CONTEXT_TAG = "mlflow.data.context"
"""The input tag MLflow's ``log_input(context=...)`` writes and its search's ``datasets.context`` reads."""


@dataclass(frozen=True)
class DataDigest:
    """The md5 of a run's dataset file and where it came from (``dvc.lock`` or ``file``)."""

    md5: str
    source: str
    path: str  # the dataset file, relative to the project root where it lies under it

    def of(self, context: str) -> str:
        """The digest of one split: ``<md5[:12]>-<context>`` (e.g. ``3f2a9c1b0d4e-validation``)."""
        return split_digest(self.md5, context)


def split_digest(md5: str, context: str) -> str:
    """``<md5[:12]>-<context>``: the digest logged for ``context``'s digits of the file whose md5 is ``md5``.

    Raises ValueError for an md5 that is not 32 hex digits or an unknown context.
    """
    if len(md5) != 32 or any(c not in "0123456789abcdef" for c in md5):
        raise ValueError(f"not an md5 digest: {md5!r}")
    if context not in {c for _, c in SPLITS}:
        raise ValueError(f"unknown split {context!r}; expected one of {[c for _, c in SPLITS]}")
    return f"{md5[:DIGEST_HEX]}-{context}"


def file_md5(path: Path) -> str:
    """The md5 of a file's bytes (what DVC 3 records for a file out), read in 1 MiB blocks."""
    h = hashlib.md5()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def lock_md5(lock_file: Path, rel_path: str) -> str | None:
    """The md5 ``dvc.lock`` records for the out ``rel_path`` (any stage), or None (no lock, no such out)."""
    try:
        return lock_text_md5(lock_file.read_text(), rel_path)
    except OSError:
        return None


def lock_text_md5(text: str, rel_path: str) -> str | None:
    """:func:`lock_md5` on the text of a ``dvc.lock`` (e.g. from ``git show <rev>:dvc.lock``)."""
    import yaml

    try:
        lock = yaml.safe_load(text) or {}
    except yaml.YAMLError:
        return None
    if not isinstance(lock, dict):
        return None
    for stage in (lock.get("stages") or {}).values():
        for out in stage.get("outs") or []:
            if out.get("path") == rel_path and isinstance(out.get("md5"), str):
                return out["md5"]
    return None


def data_digest(dataset: Path, root: Path) -> DataDigest:
    """The md5 of ``dataset``: from ``<root>/dvc.lock`` when it lists the file and agrees with it, else the file's own.

    A lock that names another md5 than the file has (the file was rewritten
    outside DVC) is not believed: the file's md5 is used and a line is logged.
    Raises OSError when the file cannot be read.
    """
    dataset, root = Path(dataset).resolve(), Path(root).resolve()
    try:
        rel = dataset.relative_to(root).as_posix()
    except ValueError:
        rel = str(dataset)
    actual = file_md5(dataset)
    recorded = lock_md5(root / "dvc.lock", rel)
    if recorded == actual:
        return DataDigest(actual, "dvc.lock", rel)
    if recorded is not None:
        log.info("dvc.lock records md5 %s for %s, the file has %s: using the file's", recorded, rel, actual)
    return DataDigest(actual, "file", rel)


def dataset_entities(digest: DataDigest, data_name: str, counts: dict[str, int]) -> list[tuple[Any, str]]:
    """``(mlflow.entities.Dataset, context)`` for each split with digits; ``counts`` maps a split key to its size.

    The dataset's source is the file (MLflow source type ``local``, path
    relative to the project); its profile holds the split's size and the full md5.
    """
    from mlflow.entities import Dataset

    out = []
    for key, context in SPLITS:
        n = int(counts.get(key, 0) or 0)
        if n <= 0:
            continue
        profile = {"digits": n, "split": context, "md5": digest.md5, "md5_from": digest.source}
        entity = Dataset(
            name=f"{data_name}-{context}",
            digest=digest.of(context),
            source_type="local",
            source=json.dumps({"uri": digest.path}),
            profile=json.dumps(profile),
        )
        out.append((entity, context))
    return out


def log_datasets(client: Any, run_id: str, digest: DataDigest, data_name: str, counts: dict[str, int]) -> list[str]:
    """Log each split as a dataset input of run ``run_id`` (context = the split); return the digests logged.

    The same call ``mlflow.log_input(dataset, context=...)`` makes, through the
    client, so no fluent run has to be active (that one would end the run when
    its block closes).
    """
    from mlflow.entities import DatasetInput, InputTag

    inputs = [
        DatasetInput(entity, tags=[InputTag(CONTEXT_TAG, context), InputTag("dvc.md5", digest.md5)])
        for entity, context in dataset_entities(digest, data_name, counts)
    ]
    if inputs:
        client.log_inputs(run_id, datasets=inputs)
    return [i.dataset.digest for i in inputs]


def split_counts(provenance: dict[str, Any]) -> dict[str, int]:
    """The size of each split from the data stage's provenance.json (``n_train``, ``n_val``, ...)."""
    return {key: int(provenance.get(f"n_{key}", 0) or 0) for key, _ in SPLITS}


def run_digests(run: Any) -> dict[str, str]:
    """``{context: digest}`` of a fetched MLflow run's dataset inputs (empty for a run that logged none)."""
    out = {}
    for item in run.inputs.dataset_inputs if run.inputs else []:
        context = next((t.value for t in item.tags if t.key == CONTEXT_TAG), None)
        if context:
            out[context] = item.dataset.digest
    return out


def same_digits_filter(digest: str) -> str:
    """The MLflow search filter for runs that logged the digits ``digest`` (UI search box or ``search_runs``)."""
    return f"datasets.digest = '{digest}'"


def main(argv: list[str] | None = None) -> int:
    """Print the digests of the checkout's dataset file (from ``dvc.lock``) and the filter for each."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(
        prog="python -m gmmgen.tracking.datasets", description=main.__doc__.splitlines()[0]
    )
    parser.add_argument("--root", type=Path, default=Path("."), help="the project folder (holds dvc.lock)")
    parser.add_argument("--file", default="outputs/data/dataset.npz", help="the dataset file, relative to --root")
    args = parser.parse_args(argv)
    md5 = lock_md5(args.root / "dvc.lock", args.file)
    if md5 is None:
        print(f"gmmgen: error: {args.root / 'dvc.lock'} lists no md5 for {args.file} (run `make run`)", file=sys.stderr)
        return 1
    print(f"{args.file}: md5 {md5} (dvc.lock)")
    for _, context in SPLITS:
        print(f"  {context:<10} {same_digits_filter(split_digest(md5, context))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
