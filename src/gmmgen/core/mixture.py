"""Sweep ``GaussianMixture`` over component counts and covariance types; score and select.

Each fit is recorded with BIC, AIC, mean train and validation log-likelihood,
convergence, iterations, time and how well its components are determined:
``sound``, ``thin`` (fewer effective points than free covariance parameters
per component, see :func:`points_per_parameter`) or ``degenerate`` (too few
points for the covariance to be estimable at all, see :func:`min_points`).
Log-likelihoods here live in the coordinates the mixture was fitted in;
:mod:`gmmgen.core.likelihood` turns them into a density on pixels that compares
across PCA settings. On numpy arrays the fits run side by side
with BLAS limited to one thread each, so the cores are shared out without
oversubscription and every fit gives the same numbers as a lone fit with one
BLAS thread.

On arrays of another Array API namespace (torch or cupy on a GPU,
array_api_strict in tests; see :mod:`gmmgen.core.compute`) the fits run one after
another through scikit-learn's own Array API path. That path refuses the
k-means initialisation, so the start is computed on the CPU exactly as the
numpy path computes it and handed over as ``weights_init`` / ``means_init`` /
``precisions_init``: both paths then run the same EM from the same start and
agree to rounding.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture

from gmmgen.core.compute import dispatch_for, like, to_numpy
from gmmgen.core.degeneracy import (
    THIN_POINTS_PER_PARAMETER,
    Determination,
    covariance_parameters,
    determine,
    min_points,
    n_parameters,
    points_per_parameter,
    verdict,
)
from gmmgen.core.selection import choices, select
from gmmgen.errors import SweepError

# Re-exported: the sweep's callers read the degeneracy rules and the selection here too.
__all__ = [
    "FIELDS",
    "THIN_POINTS_PER_PARAMETER",
    "SweepError",
    "SweepRow",
    "choices",
    "covariance_parameters",
    "fit_one",
    "kmeans_start",
    "min_points",
    "n_parameters",
    "points_per_parameter",
    "select",
    "sweep",
]

log = logging.getLogger(__name__)


@dataclass
class SweepRow:
    """One fit of the sweep, as :func:`fit_one` records it (rows travel as ``asdict`` of this).

    Log-likelihoods (``train_ll``, ``val_ll``) are mean nats per point in the
    coordinates the mixture was fitted in; ``val_nll_nats`` (nats per image)
    and ``val_bpp`` (bits per pixel) are pixel space, filled in by the caller
    who knows the PCA; ``fit_seconds`` is wall-clock time. ``status`` is one of
    ``sound``, ``thin``, ``degenerate``, ``not_converged``, ``failed``.
    """

    covariance_type: str
    n_components: int
    status: str = ""
    bic: float = math.nan
    aic: float = math.nan
    train_ll: float = math.nan
    val_ll: float = math.nan
    val_nll_nats: float = math.nan
    val_bpp: float = math.nan
    n_parameters: int = 0
    converged: bool = False
    n_iter: int = 0
    fit_seconds: float = math.nan
    n_degenerate: int = 0
    n_thin: int = 0
    min_effective_points: float = math.nan
    min_points_per_parameter: float = math.nan
    reason: str = ""


#: The columns of a sweep row, in order.
FIELDS = tuple(f.name for f in dataclasses.fields(SweepRow))


def kmeans_start(
    x: np.ndarray, k: int, covariance_type: str, params: dict[str, Any], random_state: np.random.RandomState
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The start the numpy path's ``fit`` computes: (weights (K,), means (K, d), precisions).

    ``x`` is numpy (n, d) on the CPU; ``random_state`` is the RandomState the
    fit would draw from (successive calls continue its stream, as ``n_init``
    does). Precisions have the covariance type's shape: (K, d, d) full,
    (d, d) tied, (K, d) diag, (K,) spherical. Raises what the fit would.
    """
    import sklearn

    gmm = GaussianMixture(
        n_components=k,
        covariance_type=covariance_type,
        reg_covar=params.get("reg_covar", 1e-6),
        init_params=params.get("init_params", "kmeans"),
    )
    with sklearn.config_context(array_api_dispatch=False):
        # The library's own (private) initialisation step: what fit() runs before its first EM step.
        gmm._initialize_parameters(x, random_state)
    chol = gmm.precisions_cholesky_
    if covariance_type == "full":
        precisions = np.matmul(chol, np.transpose(chol, (0, 2, 1)))
    elif covariance_type == "tied":
        precisions = chol @ chol.T
    else:
        precisions = chol**2
    return gmm.weights_, gmm.means_, precisions


def _fit_dispatched(x: Any, x_cpu: np.ndarray, k: int, covariance_type: str, params: dict[str, Any]) -> GaussianMixture:
    """Fit on a non-numpy ``x`` from the numpy path's start; the best of ``n_init`` starts, as sklearn picks it."""
    from sklearn.utils import check_random_state

    random_state = check_random_state(params.get("random_state"))
    best = None
    for _ in range(int(params.get("n_init", 1))):
        weights, means, precisions = kmeans_start(x_cpu, k, covariance_type, params, random_state)
        gmm = GaussianMixture(
            n_components=k,
            covariance_type=covariance_type,
            **{**params, "n_init": 1, "init_params": "random"},  # init_params unused: the start is given
            weights_init=like(weights, x),
            means_init=like(means, x),
            precisions_init=like(precisions, x),
        )
        with dispatch_for(x):
            gmm.fit(x)
        if best is None or gmm.lower_bound_ > best.lower_bound_:
            best = gmm
    assert best is not None
    return best


def _is_fit_failure(exc: BaseException) -> bool:
    # numpy/scipy raise LinAlgError or ValueError; torch its own torch.linalg.LinAlgError.
    return isinstance(exc, ValueError | FloatingPointError | np.linalg.LinAlgError) or (
        type(exc).__name__ == "LinAlgError"
    )


def _fit(x: Any, k: int, covariance_type: str, params: dict[str, Any], x_cpu: np.ndarray | None) -> GaussianMixture:
    """The fitted mixture (numpy: sklearn's own fit; else from the numpy path's start); raises what the fit raises."""
    n = int(x.shape[0])
    gmm = GaussianMixture(n_components=k, covariance_type=covariance_type, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        if k > n:
            raise ValueError(f"n_components={k} is more than the {n} training points")
        if isinstance(x, np.ndarray):
            gmm.fit(x)
            return gmm
        return _fit_dispatched(x, to_numpy(x) if x_cpu is None else x_cpu, k, covariance_type, params)


def _scores(gmm: GaussianMixture, x: Any, x_val: Any, det: Determination) -> dict[str, Any]:
    """The row's scores of a fitted mixture, as plain Python values."""
    with dispatch_for(x):
        return dict(
            bic=float(gmm.bic(x)),
            aic=float(gmm.aic(x)),
            train_ll=float(gmm.score(x)),
            val_ll=float(gmm.score(x_val)) if int(x_val.shape[0]) else math.nan,
            converged=bool(gmm.converged_),
            n_iter=int(gmm.n_iter_),
            n_degenerate=det.n_degenerate,
            n_thin=det.n_thin,
            min_effective_points=float(det.effective.min()),
            min_points_per_parameter=float(det.per_parameter.min()),
        )


def fit_one(
    x: Any,
    x_val: Any,
    k: int,
    covariance_type: str,
    params: dict[str, Any],
    thin: float = THIN_POINTS_PER_PARAMETER,
    x_cpu: np.ndarray | None = None,
) -> tuple[dict[str, Any], GaussianMixture | None]:
    """Fit one mixture on ``x`` (n, d) and score it, with ``x_val`` (m, d) as the validation set.

    Never raises for a failed fit: the row says why. ``val_nll_nats`` and
    ``val_bpp`` (pixel space) are left NaN for the caller, who knows the PCA.
    ``x`` and ``x_val`` are numpy, or both of one other Array API namespace
    (then the fit runs there, from the numpy path's start computed on
    ``x_cpu``, numpy ``x`` on the CPU; computed here when not given). The
    row holds plain Python values; the model's arrays are in ``x``'s namespace.
    """
    n, d = (int(s) for s in x.shape)
    row: dict[str, Any] = dataclasses.asdict(
        SweepRow(covariance_type, int(k), n_parameters=n_parameters(k, d, covariance_type))
    )
    start = time.perf_counter()
    try:
        gmm = _fit(x, k, covariance_type, params, x_cpu)
    except Exception as exc:
        if not _is_fit_failure(exc):
            raise
        row.update(
            status="failed",
            fit_seconds=time.perf_counter() - start,
            reason=str(exc).strip().splitlines()[0][:300],
        )
        return row, None
    row["fit_seconds"] = time.perf_counter() - start
    det = determine(to_numpy(gmm.weights_), n, d, covariance_type, thin)
    row.update(_scores(gmm, x, x_val, det))
    if not math.isfinite(row["train_ll"]):  # e.g. cupy's Cholesky gives NaN where numpy raises
        row.update(status="failed", reason="non-finite log-likelihood (a covariance is not positive definite)")
        return row, None
    row["status"], row["reason"] = verdict(
        det, k, d, covariance_type, thin, gmm.converged_, gmm.n_iter_, params.get("max_iter")
    )
    return row, gmm


def _fit_limited(x, x_val, k, cov, params, thin):
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        return fit_one(x, x_val, k, cov, params, thin)


def sweep(
    x: Any,
    x_val: Any,
    n_components: Sequence[int],
    covariance_types: Sequence[str],
    params: dict[str, Any],
    n_jobs: int = -1,
    progress: bool = True,
    warn: bool = True,
    backend: str = "threads",
    thin: float = THIN_POINTS_PER_PARAMETER,
) -> tuple[list[dict[str, Any]], dict[tuple[str, int], GaussianMixture]]:
    """Fit every (covariance type, K); return the rows in grid order and the fitted models.

    Every fit runs with one BLAS thread: on small matrices a multi-threaded BLAS
    costs more than it gains, and it changes the last digits of the results.
    The fits then run side by side, largest first so the workers finish
    together: in threads (``backend="threads"``: no start-up cost, shared
    memory; NumPy releases the GIL in the heavy operations) or in worker
    processes (``"processes"``, joblib's loky). ``warn`` logs one warning
    naming the fits that failed, did not converge or are degenerate (thin
    fits are only recorded: at small n they are the rule, not the
    exception); each flagged fit's reason goes to the debug log.

    When ``x`` and ``x_val`` are of another Array API namespace (a GPU),
    ``n_jobs`` and ``backend`` are ignored: the fits run one after another on
    the device, in grid order, with the same progress bar and the same rows.

    Parameters
    ----------
    x : array of shape (n, d)
        Training points (whitened PCA coordinates), numpy or another Array API namespace.
    x_val : array of shape (m, d)
        Validation points, same namespace; m may be 0 (``val_ll`` is then NaN).
    n_components, covariance_types : sequences
        The grid: every K with every covariance type.
    params : dict
        Keyword arguments of every ``GaussianMixture`` (see :func:`gmmgen.pipeline.config.model_params`).
    thin : float
        Effective points per free covariance parameter below which a component is thin.

    Returns
    -------
    rows : list of dict
        One :class:`SweepRow` (as a dict) per fit, in grid order; failed fits included.
    models : dict
        ``(covariance_type, K) -> GaussianMixture`` for every fit that did not fail.
    """
    from joblib import Parallel, delayed
    from threadpoolctl import threadpool_limits

    from gmmgen.core.progress import bar_safe_logging
    from gmmgen.core.progress import progress as progress_bar

    if backend not in ("threads", "processes"):
        raise ValueError(f"backend={backend!r}: must be 'threads' or 'processes'")
    grid = [(cov, int(k)) for cov in covariance_types for k in n_components]
    cost = {"full": 4.0, "tied": 3.0, "diag": 1.0, "spherical": 0.8}
    order = sorted(grid, key=lambda g: -cost[g[0]] * g[1])
    rows: dict[tuple[str, int], dict[str, Any]] = {}
    models: dict[tuple[str, int], GaussianMixture] = {}
    on_device = not isinstance(x, np.ndarray)
    x_cpu = to_numpy(x) if on_device else None  # for the k-means starts, moved once
    with threadpool_limits(limits=None if on_device else 1):
        if on_device:
            results = (fit_one(x, x_val, k, cov, params, thin, x_cpu=x_cpu) for cov, k in grid)
        elif backend == "threads":
            parallel = Parallel(n_jobs=n_jobs, prefer="threads", return_as="generator_unordered")
            results = parallel(delayed(fit_one)(x, x_val, k, cov, params, thin) for cov, k in order)
        else:
            parallel = Parallel(n_jobs=n_jobs, return_as="generator_unordered")
            results = parallel(delayed(_fit_limited)(x, x_val, k, cov, params, thin) for cov, k in order)
        bar = progress_bar(results, total=len(order), desc="GMM sweep", unit="fit", disable=not progress)
        with bar_safe_logging():  # warnings print above the bar instead of breaking it
            for row, model in bar:
                key = (row["covariance_type"], row["n_components"])
                rows[key] = row
                if model is not None:
                    models[key] = model
                bar.set_postfix_str(f"{key[0]} K={key[1]} {row['status']}")
                if row["status"] not in ("sound", "thin"):  # the log file gets each one; the console one line
                    log.debug("fit %s K=%d: %s (%s)", key[0], key[1], row["status"], row["reason"])
            bar.close()
    flagged = [g for g in grid if rows[g]["status"] not in ("sound", "thin")]
    if warn and flagged:
        by_status: dict[str, list[str]] = {}
        for cov, k in flagged:
            by_status.setdefault(rows[(cov, k)]["status"], []).append(f"{cov} K={k}")
        # A failed fit is a setting to fix (a warning); degenerate or thin fits at large K are what the default
        # grid is there to show (sweep.allow_degenerate decides whether they may be chosen): information, not a
        # warning on every default run.
        failed = any(rows[g]["status"] == "failed" for g in flagged)
        log.log(
            logging.WARNING if failed else logging.INFO,
            "%d of %d fits flagged: %s (reasons in sweep.csv and the log file)",
            len(flagged),
            len(grid),
            "; ".join(f"{status}: {', '.join(fits)}" for status, fits in by_status.items()),
        )
    return [rows[g] for g in grid], models
