"""The digit generator of a run: logged inside the run, registered only once the run ended FINISHED.

:func:`log_generator` logs PCA + the chosen mixture as a self-contained pyfunc
model (the package's code ships with it); :func:`register_and_settle`
registers it as a version (description, tags, standing) and lets it compete
for ``tracking.alias`` (:mod:`gmmgen.tracking.promotion`) when the run may.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import logging
import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from omegaconf import DictConfig

from gmmgen.pipeline import files as F
from gmmgen.pipeline.config import Config
from gmmgen.tracking import promotion
from gmmgen.tracking.run_values import _read_json
from gmmgen.tracking.runs import DVC_EXP_ENV
from gmmgen.tracking.store import _client, signals_deferred, store_lock

log = logging.getLogger(__name__)

MODEL_NAME = "digit_generator"


@dataclasses.dataclass(frozen=True)
class Logged:
    """A model logged to run ``run_id`` (``model_uri``), to register once that run has ended FINISHED."""

    run_id: str
    model_uri: str
    run_dir: Path
    data_md5: str


def _log_model(
    cfg: Config | DictConfig, client: Any, run_id: str, run_dir: Path, register: bool, data_md5: str
) -> Logged | None:
    """Log the digit generator to the run; with ``register``, return what :func:`register_logged` registers."""
    import mlflow

    # Logging the model writes to the store: a signal waits (seconds) until it is done.
    with signals_deferred():
        with mlflow.start_run(run_id=run_id):
            model_uri = log_generator(cfg, run_dir)
    return Logged(run_id, model_uri, run_dir, data_md5) if register else None


def register_logged(cfg: Config | DictConfig, logged: Logged) -> str | None:
    """Register ``logged`` as a new version (description, tags) if its run ended FINISHED; return the version.

    Called after the run's block has ended: a run that ended KILLED or FAILED
    (or is still open) registers nothing and returns None.
    """
    import mlflow

    from gmmgen.tracking import ui as mlflow_ui

    name = cfg.tracking.registered_model
    with store_lock(cfg), signals_deferred():
        client = _client(cfg)
        run = client.get_run(logged.run_id)
        if run.info.status != "FINISHED":
            log.info("run %s ended %s: no model version registered", logged.run_id, run.info.status)
            return None
        chatter = io.StringIO()  # MLflow prints "Registered model ... already exists" etc. to stderr
        with contextlib.redirect_stderr(chatter):
            version = str(mlflow.register_model(logged.model_uri, name).version)
        client.set_tag(logged.run_id, "registered_model", f"{name}/{version}")
        mlflow_ui.describe_model(client, name)
        commit = run.data.tags.get("mlflow.source.git.commit", "")
        standing = promotion.run_dir_standing(cfg, logged.run_dir, version, commit, logged.data_md5)
        promotion.record_version(client, name, standing)
    return version


def log_generator(cfg: Config | DictConfig, run_dir: Path) -> str:
    """Log PCA + chosen GMM as a pyfunc model in the active run (never registered here); return its model URI.

    The model is self-contained: the ``gmmgen`` package's code ships with it
    (``code_paths``), so it loads where the project is not installed.
    """
    import importlib.metadata as md
    import shutil
    import tempfile
    import warnings

    import mlflow
    import pandas as pd
    from mlflow.models import ModelSignature, infer_signature
    from mlflow.types.schema import AnyType, ColSpec, Schema

    import gmmgen
    from gmmgen.tracking.generator import DigitGenerator

    provenance = _read_json(F.DATA.folder(run_dir) / F.DATA.provenance)
    with tempfile.TemporaryDirectory() as tmp:
        meta = Path(tmp) / "meta.json"
        meta.write_text(
            json.dumps(
                {
                    "image_shape": provenance.get("image_shape", [28, 28]),
                    "max_digits": int(cfg.tracking.max_digits_per_request),
                }
            )
        )
        code = Path(tmp) / "code" / "gmmgen"
        shutil.copytree(Path(gmmgen.__file__).parent, code, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        artifacts = {
            "pca": str(F.REDUCE.folder(run_dir) / F.REDUCE.pca),
            "gmm": str(F.SELECT.folder(run_dir) / F.SELECT.model),
            "meta": str(meta),
        }
        example = pd.DataFrame({"n": [4], "seed": [0]})
        model = DigitGenerator()
        model.load_context(SimpleNamespace(artifacts=artifacts))  # to draw the signature's output example
        with warnings.catch_warnings():  # "integer columns cannot hold missing values": n and seed never are
            warnings.simplefilter("ignore", UserWarning)
            inferred = infer_signature(example, model.predict(None, example))
        # Inputs typed "any": MLflow would cast a JSON 2.5 to the integer 2 for a long column before the
        # model sees it; the model checks n and seed itself and answers a bad value with one message.
        signature = ModelSignature(
            inputs=Schema([ColSpec(AnyType(), "n"), ColSpec(AnyType(), "seed")]), outputs=inferred.outputs
        )
        reqs = [f"{p}=={md.version(p)}" for p in ("scikit-learn", "numpy", "pandas", "joblib", "mlflow")]
        chatter = io.StringIO()  # MLflow prints "Registered model ... already exists" etc. to stderr
        with contextlib.redirect_stderr(chatter):
            info = mlflow.pyfunc.log_model(
                name=MODEL_NAME,
                python_model=model,
                artifacts=artifacts,
                signature=signature,
                input_example=example,
                pip_requirements=reqs,
                code_paths=[str(code)],
            )
    log.debug("MLflow: %s", chatter.getvalue().strip())
    return str(info.model_uri)


def register_and_settle(cfg: Config | DictConfig, logged: Logged | None, why_not: str | None) -> str | None:
    """Register ``logged`` (:func:`register_logged`) and settle its alias (:func:`settle_version`); one signal block."""
    if logged is None:
        return None
    with signals_deferred():
        version = register_logged(cfg, logged)
        if version is not None:
            settle_version(cfg, logged.run_id, version, why_not)
    return version


def why_not_compete(start: dict[str, Any] | None) -> str | None:
    """Why a ``make run`` version may not compete for the champion alias (None: it may), from the start record."""
    if start is None or start.get("kind") == "dvc":
        return "not made by `make run` (dvc repro or dvc exp run on their own)"
    if start.get("kind") == "exp" or os.environ.get(DVC_EXP_ENV):
        return "a DVC experiment (make exp or dvc exp run)"
    if start.get("dirty") is None:
        return "the git state was unknown when make run started"
    if start["dirty"]:
        return "the working tree was not clean when make run started"
    return None


def settle_version(cfg: Config | DictConfig, run_id: str, version: str, why_not: str | None) -> None:
    """After run ``run_id`` ended FINISHED: its new ``version`` competes for an alias, or is tagged with ``why_not``."""
    name = cfg.tracking.registered_model
    with store_lock(cfg), signals_deferred():
        client = _client(cfg)
        if why_not is None:
            decision = promotion.settle(
                client, name, version, str(cfg.tracking.alias), str(cfg.tracking.challenger_alias)
            )
            client.set_tag(run_id, "registered_alias", decision.alias)
            return
        reason = f"{why_not}: @{cfg.tracking.alias} stays where it is"
        client.set_model_version_tag(name, version, promotion.TAG_DECISION, "none")
        client.set_model_version_tag(name, version, promotion.TAG_REASON, reason)
    log.info("model version %s registered, no alias: %s", version, reason)
