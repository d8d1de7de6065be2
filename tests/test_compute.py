"""The compute setting: scikit-learn's Array API path (array_api_strict here) agrees with numpy.

array_api_strict is the reference namespace of the standard: it runs on the
CPU, refuses anything outside the standard, and cannot be mixed with numpy
silently. A stage that converted to numpy early would hand numpy arrays to
scikit-learn; the spies below record the namespace of every array that
reaches PCA and GaussianMixture, and call through to the real methods.
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.mixture import GaussianMixture
from threadpoolctl import threadpool_limits

from gmmgen.core import likelihood, mixture, reduce, sampling
from gmmgen.core.compute import Compute, ComputeError, estimator_to_numpy, namespace_name, to_numpy
from gmmgen.core.io import load_arrays
from gmmgen.core.sampling import generate_images
from gmmgen.pipeline.runner import run_all
from gmmgen.pipeline.stages.data import run_data
from gmmgen.pipeline.stages.evaluate import run_evaluate
from gmmgen.pipeline.stages.generate import run_generate
from gmmgen.pipeline.stages.reduce import run_reduce
from gmmgen.pipeline.stages.select import read_sweep_csv, run_select
from gmmgen.runtime import cli
from tests.conftest import TINY, compose_cfg

pytest.importorskip("array_api_strict")

STRICT = Compute("array_api_strict")
PARAMS = {"n_init": 2, "reg_covar": 1e-6, "max_iter": 100, "tol": 1e-3, "init_params": "kmeans", "random_state": 0}
RTOL = 1e-9


def _rel(a: float, b: float) -> float:
    return abs(a - b) / max(abs(a), abs(b), 1e-300)


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    x = load_digits().data / 16.0
    return x[:500], x[500:800]


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Record the namespace of the first array argument of PCA and GaussianMixture methods."""
    seen: dict[str, list[str]] = defaultdict(list)
    for cls, name in [
        (PCA, "fit"),
        (PCA, "transform"),
        (PCA, "inverse_transform"),
        (GaussianMixture, "fit"),
        (GaussianMixture, "score_samples"),
    ]:
        original = getattr(cls, name)

        def wrapper(self, x, *args, _original=original, _key=f"{cls.__name__}.{name}", **kwargs):
            seen[_key].append(namespace_name(x))
            return _original(self, x, *args, **kwargs)

        monkeypatch.setattr(cls, name, wrapper)
    for name in ("log_density", "project"):  # the pixel-space likelihood: (density, x)
        original = getattr(likelihood, name)

        def lwrapper(density, x, *args, _original=original, _key=f"likelihood.{name}", **kwargs):
            seen[_key].append(namespace_name(x))
            seen[f"{_key}.density"].append(namespace_name(density.means))
            return _original(density, x, *args, **kwargs)

        monkeypatch.setattr(likelihood, name, lwrapper)
    return seen


def test_sweep_on_array_api_strict_equals_numpy(digits, spy) -> None:
    """Same start (k-means on the CPU, n_init=2), same EM: BIC, AIC, likelihoods, choices agree to 1e-9."""
    x, x_test = digits
    with threadpool_limits(1):
        pca = reduce.fit_pca(x, 0.8, None, True)
        pca_s = reduce.fit_pca(STRICT.asarray(x), 0.8, None, True)
        z, z_test = pca.transform(x), pca.transform(x_test)
        with STRICT.context():
            z_s, z_test_s = pca_s.transform(STRICT.asarray(x)), pca_s.transform(STRICT.asarray(x_test))
        assert namespace_name(z_s) == "array_api_strict"
        np.testing.assert_allclose(to_numpy(z_s), z, rtol=0, atol=1e-9)
        grid, covs = [1, 3, 6], ["full", "diag"]
        rows, _ = mixture.sweep(z, z_test, grid, covs, PARAMS, n_jobs=1, progress=False)
        spy.clear()
        rows_s, models_s = mixture.sweep(z_s, z_test_s, grid, covs, PARAMS, n_jobs=1, progress=False)
    assert spy["GaussianMixture.fit"] == ["array_api_strict"] * len(grid) * len(covs) * PARAMS["n_init"]
    for a, b in zip(rows, rows_s, strict=True):
        assert (a["covariance_type"], a["n_components"], a["status"]) == (
            b["covariance_type"],
            b["n_components"],
            b["status"],
        )
        assert a["n_iter"] == b["n_iter"]
        for key in ("bic", "aic", "train_ll", "val_ll"):
            assert _rel(a[key], b[key]) < RTOL, (a["n_components"], key, a[key], b[key])
    for crit in ("bic", "aic", "heldout"):
        assert mixture.select(rows, crit)[0]["n_components"] == mixture.select(rows_s, crit)[0]["n_components"]
    model = models_s[("full", 3)]
    assert namespace_name(model.means_) == "array_api_strict"
    assert isinstance(estimator_to_numpy(model).means_, np.ndarray)


def test_scoring_and_sampling_stay_in_the_namespace(digits, spy) -> None:
    """Log-likelihoods of the mixture and sampling run on strict arrays and match numpy."""
    x, x_test = digits
    with threadpool_limits(1):
        pca = reduce.fit_pca(x, 0.8, None, True)
        gmm = GaussianMixture(3, random_state=0).fit(pca.transform(x))
        pca_s, gmm_s = STRICT.estimator(pca), STRICT.estimator(gmm)
        assert namespace_name(gmm_s.means_) == "array_api_strict"
        ll = gmm.score_samples(pca.transform(x_test))
        spy.clear()
        with STRICT.context():
            ll_s = gmm_s.score_samples(pca_s.transform(STRICT.asarray(x_test)))
        assert namespace_name(ll_s) == "array_api_strict"
        assert set(spy["GaussianMixture.score_samples"]) == {"array_api_strict"}
        np.testing.assert_allclose(to_numpy(ll_s), ll, rtol=RTOL)
        points, labels = sampling.draw(gmm, 40, seed=5)
        points_s, labels_s = sampling.draw(gmm_s, 40, seed=5)
    assert namespace_name(points_s) == "array_api_strict"
    np.testing.assert_array_equal(labels_s, labels)
    np.testing.assert_allclose(to_numpy(points_s), points, rtol=0, atol=1e-9)


@pytest.mark.parametrize("cov", ["full", "tied", "diag", "spherical"])
def test_pixel_likelihood_in_the_namespace_equals_numpy(digits, spy, cov) -> None:
    """The exact pixel-space density, 8-bit NLL and the evaluate stage's scorers run on strict arrays, = numpy."""
    from gmmgen.pipeline.stages.evaluate import pixel_scorer

    x, x_test = digits
    images = np.round(x_test.reshape(-1, 8, 8) * 255).astype(np.uint8)
    with threadpool_limits(1):
        pca = reduce.fit_pca(x, 0.8, None, True)
        gmm = GaussianMixture(4, covariance_type=cov, random_state=0).fit(pca.transform(x))
        density = likelihood.from_sklearn(pca, gmm)
        density_s = likelihood.from_sklearn(STRICT.estimator(pca), STRICT.estimator(gmm))
        assert namespace_name(density_s.precisions_cholesky) == "array_api_strict"
        assert density_s.sigma2 == pytest.approx(density.sigma2, rel=RTOL)
        ll, ll_s = likelihood.log_density(density, x_test), likelihood.log_density(density_s, STRICT.asarray(x_test))
        assert namespace_name(ll_s) == "array_api_strict"
        np.testing.assert_allclose(to_numpy(ll_s), ll, rtol=RTOL)
        nll, nll_s = likelihood.nll_8bit(density, images, seed=3), likelihood.nll_8bit(density_s, images, seed=3)
        assert set(spy["likelihood.log_density"]) == {"numpy", "array_api_strict"}
        for key in nll:
            assert _rel(nll[key], nll_s[key]) < RTOL
        for residual in (True, False):
            spy.clear()
            got = pixel_scorer(STRICT, pca, gmm, residual)(images)
            assert isinstance(got, np.ndarray) and got.shape == (len(images),)
            if residual:
                assert spy["likelihood.log_density"] == ["array_api_strict"]
                assert spy["likelihood.log_density.density"] == ["array_api_strict"]
            else:
                assert spy["GaussianMixture.score_samples"] == ["array_api_strict"]
            np.testing.assert_allclose(got, pixel_scorer(Compute(), pca, gmm, residual)(images), rtol=RTOL)


def test_kmeans_start_is_the_numpy_fits_start(digits) -> None:
    """The start handed to the Array API fit is what GaussianMixture.fit computes before its first EM step."""
    from sklearn.utils import check_random_state

    z = PCA(10).fit_transform(digits[0])
    for cov in ("full", "tied", "diag", "spherical"):
        with threadpool_limits(1):
            ref = GaussianMixture(4, covariance_type=cov, max_iter=0, random_state=3).fit(z)
            weights, means, precisions = mixture.kmeans_start(z, 4, cov, PARAMS, check_random_state(3))
        np.testing.assert_array_equal(weights, ref.weights_)
        np.testing.assert_array_equal(means, ref.means_)
        np.testing.assert_allclose(precisions, ref.precisions_, rtol=1e-12)


def _run_stages(cfg, spy) -> dict[str, dict[str, set[str]]]:
    """Run data, reduce, select, generate; what namespaces reached scikit-learn in each."""
    seen = {}
    with threadpool_limits(1):
        for name, fn in [
            ("data", run_data),
            ("reduce", run_reduce),
            ("select", run_select),
            ("generate", run_generate),
        ]:
            spy.clear()
            fn(cfg)
            seen[name] = {k: set(v) for k, v in spy.items()}
    return seen


SMALL = [*TINY, "data.n_train=300", "sweep.n_components=[2,4]"]


def test_stages_compute_in_the_namespace_and_write_numpy(tmp_path: Path, spy) -> None:
    """reduce, select and generate hand strict arrays to scikit-learn; the files hold numpy that numpy agrees with."""
    import joblib

    cfg = compose_cfg(tmp_path, [*SMALL, "compute.namespace=array_api_strict"])
    seen = _run_stages(cfg, spy)
    assert seen["reduce"]["PCA.fit"] == {"array_api_strict"} and seen["reduce"]["PCA.transform"] == {"array_api_strict"}
    assert seen["select"]["GaussianMixture.fit"] == {"array_api_strict"}
    # The pixel-space likelihood (validation offset, test report) too, on the device's models.
    assert seen["select"]["likelihood.project"] == {"array_api_strict"}
    assert seen["select"]["likelihood.log_density"] == {"array_api_strict"}
    assert seen["select"]["likelihood.log_density.density"] == {"array_api_strict"}
    assert seen["generate"]["PCA.inverse_transform"] == {"array_api_strict"}
    run = Path(cfg.paths.run_dir)
    pca, model = joblib.load(run / "reduce" / "pca.joblib"), joblib.load(run / "select" / "model.joblib")
    assert isinstance(pca.components_, np.ndarray) and isinstance(model.means_, np.ndarray)
    assert isinstance(model.precisions_cholesky_, np.ndarray)
    # The numpy path on the select stage's inputs gives the same table, to rounding.
    from gmmgen.core import likelihood
    from gmmgen.pipeline.stages import select

    ds = load_arrays(run / "data" / "dataset.npz")
    x_val = likelihood.dequantize(ds["x_val"], select.dequantization_seed(cfg))
    with threadpool_limits(1):
        rows, _ = mixture.sweep(
            pca.transform(reduce.to_features(ds["x_train"])),
            pca.transform(x_val),
            [2, 4],
            ["full"],
            select.model_params(cfg),
            n_jobs=1,
            progress=False,
            thin=float(cfg.sweep.thin_points_per_parameter),
        )
    rows_s = read_sweep_csv(run / "select" / "sweep.csv")
    for a, b in zip(rows, rows_s, strict=True):
        for key in ("bic", "aic", "train_ll", "val_ll"):
            assert _rel(a[key], b[key]) < RTOL
    # The pixel-space report on test digits, numpy's on the written files, agrees.
    import json

    chosen = json.loads((run / "select" / "metrics.json").read_text())["chosen"]
    test = select.pixel_report(pca, model, ds["x_test"], select.dequantization_seed(cfg))
    assert _rel(chosen["test_nll_nats"], test["nats_per_image"]) < RTOL
    val_row = next(r for r in rows_s if r["n_components"] == chosen["n_components"])
    assert _rel(chosen["val_nll_nats"], val_row["val_nll_nats"]) < RTOL and chosen["val_nll_nats"] > 0
    # The written digits are the ones numpy draws from the written models.
    shape = (8, 8)
    images, _ = generate_images(pca, model, int(cfg.sample.n), int(cfg.seed), shape)
    np.testing.assert_array_equal(np.load(run / "generate" / "samples.npy"), images)


@pytest.mark.slow
def test_stages_match_numpy_files(tmp_path: Path, spy) -> None:
    """The whole numpy and array_api_strict runs side by side: projections, sweep table, choice, digits."""
    import json

    out = {}
    for ns in ("numpy", "array_api_strict"):
        cfg = compose_cfg(tmp_path / ns, [*SMALL, "sweep.covariance_types=[full,diag]", f"compute.namespace={ns}"])
        seen = _run_stages(cfg, spy)
        assert seen["select"]["GaussianMixture.fit"] == {ns}
        out[ns] = Path(cfg.paths.run_dir)
    num, strict = out["numpy"], out["array_api_strict"]
    z, z_s = load_arrays(num / "reduce" / "projected.npz"), load_arrays(strict / "reduce" / "projected.npz")
    np.testing.assert_allclose(z_s["z_train"], z["z_train"], rtol=0, atol=1e-9)
    rows, rows_s = read_sweep_csv(num / "select" / "sweep.csv"), read_sweep_csv(strict / "select" / "sweep.csv")
    for a, b in zip(rows, rows_s, strict=True):
        for key in ("bic", "aic", "train_ll", "val_ll", "val_bpp"):
            assert _rel(a[key], b[key]) < RTOL
    chosen = json.loads((num / "select" / "metrics.json").read_text())["chosen"]
    chosen_s = json.loads((strict / "select" / "metrics.json").read_text())["chosen"]
    assert chosen["n_components"] == chosen_s["n_components"] and not math.isnan(chosen_s["bic"])
    np.testing.assert_array_equal(
        np.load(strict / "generate" / "samples.npy"), np.load(num / "generate" / "samples.npy")
    )


ERRORS = [
    ({"namespace": "cupy", "device": "cuda"}, "compute.namespace='cupy': cupy is not installed"),
    ({"namespace": "numpy", "device": "cuda"}, "compute.device='cuda': must be 'cpu'"),
    ({"namespace": "array_api_strict", "device": "cuda"}, "compute.device='cuda': must be 'cpu'"),
    ({"namespace": "cupy", "device": "cpu"}, "compute.device='cpu': must be 'cuda'"),
    ({"dtype": "float16"}, "compute.dtype='float16': must be one of"),
    ({"namespace": "jax"}, "compute.namespace='jax': must be one of"),
]


def test_compute_setting_errors_stop_before_work(tmp_path: Path, capsys) -> None:
    """One line naming the key and value, exit status 2, and the stage never starts."""
    import importlib.util

    base = compose_cfg(tmp_path, TINY)
    for values, message in ERRORS:
        if "cupy is not installed" in message and importlib.util.find_spec("cupy") is not None:
            continue
        cfg = base.copy()
        for key, value in values.items():
            cfg.compute[key] = value
        called = []
        with pytest.raises(SystemExit) as info:
            cli.run(cfg, called.append)
        assert info.value.code == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("gmmgen: config error: ") and message in err and "\n" not in err, err
        assert called == []


def test_cuda_without_a_gpu_is_refused() -> None:
    """torch on cuda needs a CUDA device; without torch the namespace itself is refused."""
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        with pytest.raises(ComputeError, match="compute.namespace='torch': torch is not installed"):
            Compute("torch", "cuda").check()
        return
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    with pytest.raises(ComputeError, match="compute.device='cuda': torch .* finds no CUDA device"):
        Compute("torch", "cuda").check()


def test_default_compute_is_the_numpy_path() -> None:
    """numpy/cpu/float64 moves nothing: the default pipeline runs the numpy code it always ran."""
    x = np.arange(6.0).reshape(3, 2)
    cmp = Compute()
    assert cmp.is_default and not cmp.dispatch
    assert cmp.asarray(x) is x
    gmm = GaussianMixture(1).fit(np.random.default_rng(0).normal(size=(20, 2)))
    assert cmp.estimator(gmm) is gmm and estimator_to_numpy(gmm) is gmm
    assert Compute(dtype="float32").asarray(x).dtype == np.float32


@pytest.mark.slow
def test_evaluate_stage_scores_in_the_namespace(tmp_path: Path, spy) -> None:
    """The evaluate stage's anomaly scores run on strict arrays and give numpy's thresholds, shares and AUCs."""
    import json

    overrides = [*TINY, "evaluate.enabled=true", "evaluate.n_samples=100"]
    cfg = compose_cfg(tmp_path, overrides)
    with threadpool_limits(1):
        out = run_all(cfg)
    numpy_metrics = json.loads((out["evaluate"] / "metrics.json").read_text())
    cfg_s = compose_cfg(tmp_path, [*overrides, "compute.namespace=array_api_strict"])
    assert Path(cfg_s.paths.run_dir) == Path(cfg.paths.run_dir)  # the same upstream files
    spy.clear()
    with threadpool_limits(1):
        run_evaluate(cfg_s)
    assert spy["likelihood.log_density"] and set(spy["likelihood.log_density"]) == {"array_api_strict"}
    assert set(spy["likelihood.log_density.density"]) == {"array_api_strict"}
    assert "array_api_strict" in spy["GaussianMixture.score_samples"]  # the PCA-space-only scores
    strict_metrics = json.loads((out["evaluate"] / "metrics.json").read_text())
    for report in ("anomaly", "pca_space_only"):
        a = numpy_metrics["anomaly"] if report == "anomaly" else numpy_metrics["anomaly"][report]
        b = strict_metrics["anomaly"] if report == "anomaly" else strict_metrics["anomaly"][report]
        assert _rel(a["threshold"], b["threshold"]) < RTOL
        assert (a["flagged_reference"], a["flagged_clean_test"]) == (b["flagged_reference"], b["flagged_clean_test"])
        assert a["corruptions"] == b["corruptions"] and set(a["corruptions"]) == {
            "noise",
            "inversion",
            "rotation",
            "blank",
        }
