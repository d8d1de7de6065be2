"""Tutorial section 1: EM for a one-dimensional Gaussian mixture, written out by hand.

The tutorial's example: 100 points from each of three Gaussians, a random
start (means drawn from the data, random variances, equal weights), then a
fixed number of EM steps. Here the steps are vectorised over points and
components, and the log-likelihood is recorded at every step: EM never lets it
decrease, and :func:`sklearn_em` runs scikit-learn's ``GaussianMixture`` from
the same start so the two can be compared parameter by parameter.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LOG_2PI = float(np.log(2.0 * np.pi))


@dataclass
class EMHistory:
    """Parameters and log-likelihood at every EM step.

    Attributes
    ----------
    means, variances, weights : ndarray of shape (n_steps + 1, n_components)
        Row 0 is the start; row t the parameters after t steps.
    log_likelihood : ndarray of shape (n_steps + 1,)
        Total log-likelihood of the data (natural log) under row t's parameters.
    """

    means: np.ndarray
    variances: np.ndarray
    weights: np.ndarray
    log_likelihood: np.ndarray

    @property
    def n_steps(self) -> int:
        return len(self.log_likelihood) - 1


def make_data(means, variances, n_per_component: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``n_per_component`` points from each Gaussian, as the tutorial does.

    Parameters
    ----------
    means, variances : sequence of float, length K
        Component means and *variances* (the tutorial passes ``scale=np.sqrt(var)``).
    n_per_component : int
    rng : numpy Generator

    Returns
    -------
    x : ndarray of shape (K * n_per_component,)
        The points, component by component.
    component : ndarray of shape (K * n_per_component,)
        Which Gaussian drew each point.
    """
    means, variances = np.asarray(means, float), np.asarray(variances, float)
    if means.shape != variances.shape or means.ndim != 1 or np.any(variances <= 0):
        raise ValueError("means and variances must be 1-D of the same length, variances > 0")
    x = np.concatenate([rng.normal(m, np.sqrt(v), n_per_component) for m, v in zip(means, variances, strict=True)])
    return x, np.repeat(np.arange(len(means)), n_per_component)


def random_start(x: np.ndarray, n_components: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """The tutorial's start: means drawn from the data, variances uniform in [0, 1), equal weights.

    Means are drawn *without* replacement (the tutorial draws with replacement,
    so two components can start identical and then stay identical forever).

    Returns
    -------
    means, variances, weights : ndarray of shape (n_components,)
    """
    means = rng.choice(x, n_components, replace=False).astype(float)
    # Variances in (0, 1]: 1 - U[0, 1) is never zero.
    variances = 1.0 - rng.random(n_components)
    weights = np.full(n_components, 1.0 / n_components)
    return means, variances, weights


def log_densities(x: np.ndarray, means: np.ndarray, variances: np.ndarray) -> np.ndarray:
    """log N(x_i | mean_k, variance_k) for every point and component: shape (n, K)."""
    x = np.asarray(x, float)[:, None]
    return -0.5 * (LOG_2PI + np.log(variances) + (x - means) ** 2 / variances)


def densities(x: np.ndarray, means: np.ndarray, variances: np.ndarray) -> np.ndarray:
    """N(x_i | mean_k, variance_k): shape (n, K). The tutorial's E step ("likelihood")."""
    return np.exp(log_densities(x, means, variances))


def log_likelihood(x: np.ndarray, means: np.ndarray, variances: np.ndarray, weights: np.ndarray) -> float:
    """Total log-likelihood sum_i log sum_k w_k N(x_i | mean_k, variance_k)."""
    return float(np.logaddexp.reduce(log_densities(x, means, variances) + np.log(weights), axis=1).sum())


def e_step(x: np.ndarray, means: np.ndarray, variances: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Responsibilities r_ik = w_k N_k(x_i) / sum_j w_j N_j(x_i): shape (n, K), rows sum to 1.

    Computed in log space, so points far from every component (densities that
    underflow to 0) still get well-defined responsibilities.
    """
    log_joint = log_densities(x, means, variances) + np.log(weights)
    return np.exp(log_joint - np.logaddexp.reduce(log_joint, axis=1, keepdims=True))


def m_step(x: np.ndarray, resp: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Maximum-likelihood means, variances and weights given responsibilities.

    Parameters
    ----------
    x : ndarray of shape (n,)
    resp : ndarray of shape (n, K)

    Returns
    -------
    means, variances, weights : ndarray of shape (K,)
        Each variance uses the *new* mean of its component.
    """
    x = np.asarray(x, float)
    nk = resp.sum(axis=0)
    means = resp.T @ x / nk
    variances = (resp * (x[:, None] - means) ** 2).sum(axis=0) / nk
    return means, variances, nk / len(x)


def run_em(x: np.ndarray, means, variances, weights, n_steps: int) -> EMHistory:
    """Iterate E and M steps ``n_steps`` times from the given start; record everything.

    Raises
    ------
    ValueError
        When a component collapses (its variance reaches 0), which a start on
        duplicated points can cause.
    """
    params = [np.asarray(p, float).copy() for p in (means, variances, weights)]
    rows = [[p.copy() for p in params]]
    lls = [log_likelihood(x, *params)]
    for step in range(n_steps):
        params = list(m_step(x, e_step(x, *params)))
        if np.any(params[1] <= 0) or not np.all(np.isfinite(params[1])):
            raise ValueError(f"EM step {step + 1}: a component collapsed (variances {params[1]})")
        rows.append([p.copy() for p in params])
        lls.append(log_likelihood(x, *params))
    m, v, w = (np.array([r[i] for r in rows]) for i in range(3))
    return EMHistory(means=m, variances=v, weights=w, log_likelihood=np.array(lls))


def sklearn_em(x: np.ndarray, means, variances, weights, n_steps: int):
    """scikit-learn's ``GaussianMixture`` run for exactly ``n_steps`` EM steps from the same start.

    ``tol=0`` (never stop early) and ``reg_covar=0`` (nothing added to the
    variances) make it the same algorithm as :func:`run_em`. It warns that it
    did not converge; that warning is expected and silenced.

    Returns
    -------
    sklearn.mixture.GaussianMixture
        Fitted; ``means_[:, 0]``, ``covariances_`` and ``weights_`` are comparable with
        :attr:`EMHistory` row ``n_steps``.
    """
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import GaussianMixture

    means = np.asarray(means, float)
    gm = GaussianMixture(
        n_components=len(means),
        covariance_type="spherical",
        tol=0.0,
        reg_covar=0.0,
        max_iter=n_steps,
        weights_init=np.asarray(weights, float),
        means_init=means[:, None],
        precisions_init=1.0 / np.asarray(variances, float),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gm.fit(np.asarray(x, float)[:, None])
    return gm


def mixture_pdf(grid: np.ndarray, means: np.ndarray, variances: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted component densities on ``grid``: shape (len(grid), K); their row sum is the mixture density."""
    return densities(grid, means, variances) * weights
