"""How well a fit's components are determined by its points: ``sound``, ``thin`` or ``degenerate``.

A component is ``degenerate`` when it has too few effective points for its
covariance to be estimable at all (:func:`min_points`) and ``thin`` when it
has fewer effective points than free covariance parameters
(:func:`points_per_parameter` below :data:`THIN_POINTS_PER_PARAMETER`).
:func:`determine` counts both for one fit and :func:`verdict` turns the
counts and the fit's convergence into its status and reason, as a sweep row
(:mod:`gmmgen.core.mixture`) records them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

#: Default threshold of the ``thin`` status: effective points per free covariance parameter of a component.
THIN_POINTS_PER_PARAMETER = 1.0


def n_parameters(k: int, d: int, covariance_type: str) -> int:
    """Free parameters of a K-component mixture in d dimensions (as BIC counts them)."""
    cov = {
        "full": k * d * (d + 1) // 2,
        "tied": d * (d + 1) // 2,
        "diag": k * d,
        "spherical": k,
    }[covariance_type]
    return cov + k * d + k - 1


def min_points(d: int, covariance_type: str) -> int:
    """Effective points a component needs for its own covariance to be estimable (non-singular).

    A covariance estimated from m points has rank at most m - 1, so a full
    covariance in d dimensions needs d + 1 points (with fewer it is singular
    and only ``reg_covar`` keeps it invertible); a diagonal or spherical
    variance needs two; a tied covariance is shared, so one point per
    component suffices.
    """
    return {"full": d + 1, "tied": 1, "diag": 2, "spherical": 2}[covariance_type]


def covariance_parameters(d: int, covariance_type: str) -> int:
    """Free covariance parameters of one component (tied: of the one shared covariance)."""
    return {"full": d * (d + 1) // 2, "tied": d * (d + 1) // 2, "diag": d, "spherical": 1}[covariance_type]


def points_per_parameter(effective: np.ndarray, d: int, covariance_type: str) -> np.ndarray:
    """Effective points per free covariance parameter, per component (K,).

    ``effective`` are the components' effective point counts (weight x n).
    A tied covariance is estimated from all points together, so every
    component gets ``n / parameters``. Below :data:`THIN_POINTS_PER_PARAMETER`
    (one point per parameter) a component is ``thin``: it is estimable, but
    its covariance has more free numbers than points to determine them.
    """
    params = covariance_parameters(d, covariance_type)
    if covariance_type == "tied":
        return np.full_like(effective, effective.sum() / params)
    return effective / params


@dataclass(frozen=True)
class Determination:
    """How well the components of one fit are determined: the numbers behind its status.

    ``need``: effective points a component needs (:func:`min_points`);
    ``effective`` (K,): each component's effective points (weight x n);
    ``per_parameter`` (K,): effective points per free covariance parameter;
    ``n_degenerate``: components with fewer than ``need``; ``n_thin``: the
    other components below the ``thin`` threshold.
    """

    need: int
    effective: np.ndarray
    per_parameter: np.ndarray
    n_degenerate: int
    n_thin: int


def determine(weights: np.ndarray, n: int, d: int, covariance_type: str, thin: float) -> Determination:
    """Count the degenerate and thin components of a fit with mixing ``weights`` (numpy, K) on ``n`` points."""
    effective = weights * n
    need = min_points(d, covariance_type)
    degenerate = effective < need
    per_param = points_per_parameter(effective, d, covariance_type)
    n_degenerate = int(np.sum(degenerate))
    n_thin = int(np.sum((per_param < thin) & ~degenerate))
    return Determination(need, effective, per_param, n_degenerate, n_thin)


def verdict(
    det: Determination,
    k: int,
    d: int,
    covariance_type: str,
    thin: float,
    converged: bool,
    n_iter: int,
    max_iter: Any,
) -> tuple[str, str]:
    """(status, reason) of a fit: ``not_converged``, ``degenerate``, ``thin`` or ``sound``; every reason, joined."""
    reasons = []
    if not converged:
        reasons.append(f"did not converge in max_iter={max_iter} iterations")
    if det.n_degenerate:
        reasons.append(
            f"{det.n_degenerate}/{k} components have fewer than {det.need} effective points "
            f"(covariance mostly reg_covar)"
            + ("; converged in <=2 iterations on collapsed components" if n_iter <= 2 else "")
        )
    if det.n_thin:
        reasons.append(
            f"{det.n_thin}/{k} components are thin: fewer than {thin:g} effective points per free covariance "
            f"parameter ({covariance_parameters(d, covariance_type)} parameters; min {det.per_parameter.min():.3g})"
        )
    if not converged:
        status = "not_converged"
    else:
        status = "degenerate" if det.n_degenerate else ("thin" if det.n_thin else "sound")
    return status, "; ".join(reasons)
