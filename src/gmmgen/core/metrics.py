"""What a fitted mixture is good for, measured: sample quality, memorisation, clustering, anomalies.

Plain functions on arrays. Images are uint8 (n, h, w); distances are taken
on pixels scaled to [0, 1]; log-likelihoods are the exact pixel-space density
of :mod:`gmmgen.core.likelihood` (:func:`log_likelihood`), or the mixture alone in
PCA coordinates for comparison.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.metrics import (
    adjusted_rand_score,
    normalized_mutual_info_score,
    pairwise_distances_argmin_min,
    roc_auc_score,
)

from gmmgen.core import likelihood
from gmmgen.core.choices import CORRUPTIONS
from gmmgen.core.compute import dispatch_for

# --------------------------------------------------------------------------- sample quality


def _sqrt_psd(c: np.ndarray) -> np.ndarray:
    """Symmetric square root of a positive semi-definite matrix (negative round-off eigenvalues clipped)."""
    w, v = np.linalg.eigh(c)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (n, f) and (m, f) (FID's formula).

    ``||mu_a - mu_b||^2 + Tr(C_a) + Tr(C_b) - 2 Tr((C_a C_b)^(1/2))``; 0 for
    identical sets. The last trace is the sum of square roots of the
    eigenvalues of ``C_a^(1/2) C_b C_a^(1/2)`` (symmetric, positive
    semi-definite, with the same eigenvalues as ``C_a C_b``), so singular
    covariances (fewer rows than features, dead features) need no
    regularisation and raise no warning.
    """
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root_a = _sqrt_psd(cov_a)
    eig = np.linalg.eigvalsh(root_a @ cov_b @ root_a)
    trace_sqrt = float(np.sum(np.sqrt(np.clip(eig, 0.0, None))))
    value = float(np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2.0 * trace_sqrt)
    return max(value, 0.0)


def inception_score(probs: np.ndarray, eps: float = 1e-12) -> float:
    """exp(E_x KL(p(y|x) || p(y))) of class probabilities (n, c): 1 when all agree, c when confident and balanced."""
    marginal = probs.mean(0, keepdims=True)
    kl = np.sum(probs * (np.log(probs + eps) - np.log(marginal + eps)), axis=1)
    return float(np.exp(kl.mean()))


def inception_score_splits(probs: np.ndarray, n_splits: int = 10) -> dict[str, float]:
    """The usual Inception Score protocol: the score on each of ``n_splits`` consecutive parts, mean and std.

    Parameters
    ----------
    probs : (n, c) class probabilities, n >= n_splits.

    Returns
    -------
    ``{"mean": ..., "std": ..., "n_splits": ...}`` (std over the splits, ddof=0 as usual).
    """
    if len(probs) < n_splits:
        raise ValueError(f"inception score: {len(probs)} samples cannot make {n_splits} splits")
    scores = [inception_score(part) for part in np.array_split(probs, n_splits)]
    return {"mean": float(np.mean(scores)), "std": float(np.std(scores)), "n_splits": int(n_splits)}


def label_coverage(probs: np.ndarray) -> dict[str, Any]:
    """Histogram of predicted classes, its entropy (nats, and as a share of log 10) and the mean confidence."""
    n_classes = probs.shape[1]
    counts = np.bincount(probs.argmax(1), minlength=n_classes)
    share = counts / counts.sum()
    nz = share[share > 0]
    entropy = float(-(nz * np.log(nz)).sum())
    return {
        "class_counts": {str(i): int(c) for i, c in enumerate(counts)},
        "label_entropy": entropy,
        "label_entropy_share": entropy / float(np.log(n_classes)),
        "classes_covered": int((counts > 0).sum()),
        "mean_confidence": float(probs.max(1).mean()),
    }


# --------------------------------------------------------------------------- memorisation


def _flat(images: np.ndarray) -> np.ndarray:
    return images.reshape(len(images), -1).astype(np.float32) / 255.0


def nearest(queries: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index and Euclidean distance of each query image's nearest reference image (chunked, no n x m matrix)."""
    idx, dist = pairwise_distances_argmin_min(_flat(queries), _flat(reference))
    return idx, dist


def memorisation(generated: np.ndarray, real: np.ndarray, train: np.ndarray, quantile: float) -> dict[str, Any]:
    """How close generated digits sit to training digits, against real unseen digits.

    A near-copy is a generated digit closer to its nearest training digit than
    the ``quantile`` of real test digits are: an honest generator has about
    ``quantile`` of them, a copying one nearly all.
    """
    gen_idx, gen_d = nearest(generated, train)
    _, real_d = nearest(real, train)
    threshold = float(np.quantile(real_d, quantile))
    return {
        "nn_distance_generated_median": float(np.median(gen_d)),
        "nn_distance_real_median": float(np.median(real_d)),
        "nn_distance_ratio": float(np.median(gen_d) / np.median(real_d)),
        "near_copy_threshold": threshold,
        "near_copy_share": float(np.mean(gen_d < threshold)),
        "near_copy_share_expected": float(quantile),
        "_nearest_index": gen_idx,
        "_nearest_distance": gen_d,
    }


# --------------------------------------------------------------------------- clustering


def purity(labels: np.ndarray, clusters: np.ndarray) -> float:
    """Share of points whose cluster's majority label is their own label."""
    total = 0
    for c in np.unique(clusters):
        total += np.bincount(labels[clusters == c]).max()
    return float(total / len(labels))


def majority_labels(labels: np.ndarray, clusters: np.ndarray, n_clusters: int) -> np.ndarray:
    """Majority label of each cluster (-1 for a cluster with no points)."""
    out = np.full(n_clusters, -1)
    for c in range(n_clusters):
        members = labels[clusters == c]
        if len(members):
            out[c] = np.bincount(members).argmax()
    return out


def clustering_scores(labels: np.ndarray, clusters: np.ndarray) -> dict[str, float]:
    """Adjusted Rand index, normalised mutual information and purity against the true labels."""
    return {
        "ari": float(adjusted_rand_score(labels, clusters)),
        "nmi": float(normalized_mutual_info_score(labels, clusters)),
        "purity": purity(labels, clusters),
        "clusters_used": int(len(np.unique(clusters))),
    }


# --------------------------------------------------------------------------- anomalies


def corrupt(images: np.ndarray, kind: str, rng: np.random.Generator, noise_std: float = 0.5) -> np.ndarray:
    """Corrupted copies of uint8 digits: Gaussian pixel noise, inversion, a 90-degree rotation, or blank images."""
    if kind == "noise":
        noisy = images / 255.0 + rng.normal(0.0, noise_std, images.shape)
        return np.rint(np.clip(noisy, 0, 1) * 255).astype(np.uint8)
    if kind == "inversion":
        return (255 - images).astype(np.uint8)
    if kind == "rotation":
        return np.rot90(images, k=1, axes=(1, 2)).copy()
    if kind == "blank":
        return np.zeros_like(images)
    raise ValueError(f"unknown corruption {kind!r}: one of {CORRUPTIONS}")


def log_likelihood(pca: Any, gmm: Any, x: Any, residual: bool = True) -> Any:
    """Per-row log-likelihood (n,) of pixel rows ``x`` (n, D) on the [0, 1] scale, in nats.

    With ``residual`` (default) the exact density on pixels of
    :func:`gmmgen.core.likelihood.log_density`: mixture on the PCA coordinates,
    whitening Jacobian, and the discarded directions scored as isotropic noise
    with its normaliser (probabilistic PCA). Heavy pixel noise lives mostly in
    the discarded directions, so this is what flags it. Without, the mixture
    alone in PCA coordinates (blind to what PCA discards).

    ``x``, ``pca`` and ``gmm`` may hold arrays of any one Array API namespace
    (:meth:`gmmgen.core.compute.Compute.asarray`, :meth:`~gmmgen.core.compute.Compute.estimator`):
    the arithmetic runs there and the result stays there.
    """
    with dispatch_for(x):
        if residual:
            return likelihood.log_density(likelihood.from_sklearn(pca, gmm), x)
        return gmm.score_samples(pca.transform(x))


def anomaly_report(
    score: Callable[[np.ndarray], np.ndarray],
    reference: np.ndarray,
    clean: np.ndarray,
    corrupted: dict[str, np.ndarray],
    percentile: float,
) -> dict[str, Any]:
    """Flag digits whose log-likelihood falls below ``percentile`` of the reference digits'.

    The threshold is a choice, so the pipeline takes it on validation digits
    (``reference``); ``clean`` are the test digits it is reported on. Reports
    the threshold, the share flagged among the reference, clean and each
    corrupted set, and ROC AUC of "less likely = anomalous" for clean against
    each corruption.
    """
    ref_ll = score(reference)
    threshold = float(np.percentile(ref_ll, percentile))
    clean_ll = score(clean)
    out: dict[str, Any] = {
        "percentile": float(percentile),
        "threshold": threshold,
        "flagged_reference": float(np.mean(ref_ll < threshold)),
        "flagged_clean_test": float(np.mean(clean_ll < threshold)),
        "corruptions": {},
    }
    for kind, images in corrupted.items():
        ll = score(images)
        y = np.r_[np.zeros(len(clean_ll)), np.ones(len(ll))]
        auc = roc_auc_score(y, -np.r_[clean_ll, ll])
        out["corruptions"][kind] = {"flagged": float(np.mean(ll < threshold)), "roc_auc": float(auc)}
    return out
