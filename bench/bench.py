"""Benchmarks: where the time goes, and whether the sweep uses every core.

Prints a markdown table per section and writes them, with a figure and the raw
numbers, to outputs/bench/ (and logs them to MLflow, experiment
``gmmgen-bench``). Not a test: nothing here asserts a time.

  make bench                         # everything (about 10 minutes on 2 cores)
  make bench ARGS="--quick"          # one repeat, smaller scaling grid
  make bench ARGS="--only sweep,scaling"

Sections:
  sweep    the default config's component sweep: a plain sequential loop over
           GaussianMixture(...).fit (what a notebook does) against the select
           stage's parallel sweep; same fits, so the same BIC to the last digit.
  e2e      `make run` on a fresh copy of the project (cold stage caches), then a
           second `make run` with nothing changed (DVC no-op); peak memory.
  stages   each stage process alone: wall time, start-up + import time, peak
           memory, and whether it imported TensorFlow.
  scaling  seconds per fit against N (1k-10k real digits, synthetic 60k), K and
           PCA dimensions, for full and diag covariance; and the peak memory of
           a 60k-digit sweep against the size of one N x K array.
  fullsize the peak memory of the default sweep (its whole K grid, full
           covariance, 57 dimensions) on 60,000 synthetic digits, as the select
           stage runs it (threads, n_jobs=-1), with 2 EM iterations per fit:
           what a full-size run needs before anyone starts one (the memory of
           a fit is reached in its first iteration; the time is not the point).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import psutil

from gmmgen.pipeline import registry

REPO = Path(__file__).resolve().parents[1]
SHARED_MNIST = Path(os.environ.get("GMMGEN_SHARED_MNIST", REPO.parent / "shared" / "data" / "mnist"))
MAKE_RUN = ["make", "-o", ".venv/.installed", "run"]
STAGES = registry.NAMES  # every stage, as pipelines/stage.py runs it


# --------------------------------------------------------------------------- measuring


class PeakRSS:
    """Sample the summed RSS of a process and all its children every ``interval`` seconds."""

    def __init__(self, pid: int | None = None, interval: float = 0.05) -> None:
        self.proc = psutil.Process(pid or os.getpid())
        self.interval, self.peak, self._stop = interval, 0, threading.Event()

    def _total(self) -> int:
        total = 0
        try:
            procs = [self.proc, *self.proc.children(recursive=True)]
        except psutil.Error:
            return 0
        for p in procs:
            try:
                total += p.memory_info().rss
            except psutil.Error:
                pass
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._total())
            time.sleep(self.interval)

    def __enter__(self) -> PeakRSS:
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self.thread.join()
        self.peak = max(self.peak, self._total())


def run_cmd(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run a command; return wall seconds, peak RSS of its process tree, exit code and output."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    with PeakRSS(proc.pid) as peak:
        out, _ = proc.communicate()
    return {"seconds": time.perf_counter() - start, "peak_rss": peak.peak, "rc": proc.returncode, "output": out}


def gib(n: float) -> str:
    return f"{n / 2**30:.2f} GiB"


def mib(n: float) -> str:
    return f"{n / 2**20:.0f} MiB"


def table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---:" if i else "---" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def compose(root: Path, overrides: list[str]):
    from gmmgen.pipeline.config import compose as compose_conf

    return compose_conf(overrides, root=root)


# --------------------------------------------------------------------------- sections


def bench_sweep(work: Path, repeats: int) -> tuple[str, dict[str, Any]]:
    """Sequential notebook loop vs the select stage's sweep, on the default configuration."""
    from sklearn.mixture import GaussianMixture
    from threadpoolctl import threadpool_limits

    from gmmgen.core import mixture
    from gmmgen.core.io import load_arrays
    from gmmgen.pipeline.stages.common import stage_dir
    from gmmgen.pipeline.stages.data import run_data
    from gmmgen.pipeline.stages.reduce import run_reduce
    from gmmgen.pipeline.stages.select import model_params
    from gmmgen.runtime.validation import validate

    work.mkdir(parents=True, exist_ok=True)
    if SHARED_MNIST.exists() and not (work.parent / "shared").exists():
        (work.parent / "shared").symlink_to(SHARED_MNIST.parents[1])  # as beside the checkout
    cfg = compose(work, ["tracking.enabled=false", "sweep.progress=false"])
    validate(cfg)
    run_data(cfg)
    run_reduce(cfg)
    proj = load_arrays(stage_dir(cfg, "reduce") / "projected.npz")
    x, x_val = proj["z_train"], proj["z_val"]
    ks, covs, params = list(cfg.sweep.n_components), list(cfg.sweep.covariance_types), model_params(cfg)

    def notebook() -> list[float]:
        return [GaussianMixture(n_components=k, covariance_type=c, **params).fit(x).bic(x) for c in covs for k in ks]

    def notebook_one_thread() -> list[float]:
        with threadpool_limits(1):
            return notebook()

    def pipeline(backend: str) -> Callable[[], list[float]]:
        def run() -> list[float]:
            rows, _ = mixture.sweep(
                x, x_val, ks, covs, params, n_jobs=int(cfg.sweep.n_jobs), progress=False, warn=False, backend=backend
            )
            return [r["bic"] for r in rows]

        return run

    variants: list[tuple[str, Callable[[], list[float]]]] = [
        ("sequential loop, default BLAS/OpenMP threads (notebook)", notebook),
        ("sequential loop, 1 BLAS thread", notebook_one_thread),
        (f"select stage sweep, threads (default), n_jobs={cfg.sweep.n_jobs}", pipeline("threads")),
        (f"select stage sweep, processes (loky), n_jobs={cfg.sweep.n_jobs}", pipeline("processes")),
    ]
    times: dict[str, list[float]] = {name: [] for name, _ in variants}
    bics: dict[str, list[float]] = {}
    for _ in range(repeats):
        for name, fn in variants:
            start = time.perf_counter()
            bics[name] = fn()
            times[name].append(time.perf_counter() - start)
    base = statistics.median(times[variants[0][0]])
    one_thread = statistics.median(times[variants[1][0]])

    def same(a: list[float], b: list[float]) -> str:
        if a == b:
            return "identical"
        return f"max rel. diff {max(abs(u - v) / abs(v) for u, v in zip(a, b, strict=True)):.1e}"

    rows = []
    for name, _ in variants:
        med = statistics.median(times[name])
        rows.append(
            [
                name,
                f"{med:.2f}",
                f"{base / med:.2f}x",
                f"{one_thread / med:.2f}x",
                same(bics[name], bics[variants[0][0]]),
                same(bics[name], bics[variants[1][0]]),
            ]
        )
    md = (
        f"Sweep of the default config: {len(ks)} K x {covs} on {x.shape[0]} digits in {x.shape[1]} PCA dims, "
        f"median of {repeats} runs each.\n\n"
        + table(
            [
                "variant",
                "median s",
                "speed-up vs notebook",
                "vs 1-thread loop",
                "BIC vs notebook",
                "BIC vs 1-thread loop",
            ],
            rows,
        )
        + "\n\nThe notebook loop's multi-threaded BLAS sums in another order, so its BICs differ in the last "
        "digits; the sweep's fits are exactly the 1-thread loop's fits."
    )
    raw = {"times": times, "n_fits": len(ks) * len(covs), "n": int(x.shape[0]), "dims": int(x.shape[1])}
    return md, raw


def _project_copy(dest: Path) -> Path:
    """A fresh clone of the committed project, sharing this checkout's .venv."""
    subprocess.run(["git", "clone", "-q", str(REPO), str(dest)], check=True)
    (dest / ".venv").symlink_to(REPO / ".venv")
    shared = dest.parent / "shared"  # the default config's local IDX mirror is ../shared/data/mnist
    if SHARED_MNIST.exists() and not shared.exists():
        shared.symlink_to(SHARED_MNIST.parents[1])
    return dest


def bench_e2e(tmp: Path) -> tuple[str, dict[str, Any]]:
    """`make run` cold on a fresh copy, then again with nothing changed."""
    project = _project_copy(tmp / "e2e")
    # Warm the download cache (the data stage's only network work) so "cold" means cold stage caches.
    warm = run_cmd([str(REPO / ".venv/bin/python"), "pipelines/configure.py"], project)
    assert warm["rc"] == 0, warm["output"]
    # `-o .venv/.installed`: the clone shares this checkout's installed venv; never reinstall into it.
    cold = run_cmd(MAKE_RUN, project)
    assert cold["rc"] == 0, cold["output"][-3000:]
    noop = run_cmd(MAKE_RUN, project)
    assert noop["rc"] == 0 and "up to date" in noop["output"], noop["output"][-3000:]
    rows = [
        [
            "`make run`, cold stage caches (fresh copy, data downloaded or bundled)",
            f"{cold['seconds']:.1f}",
            gib(cold["peak_rss"]),
        ],
        ["`make run`, nothing changed (DVC no-op)", f"{noop['seconds']:.1f}", gib(noop["peak_rss"])],
    ]
    md = "End to end (peak memory: summed RSS of the whole process tree, sampled every 50 ms).\n\n" + table(
        ["command", "seconds", "peak memory"], rows
    )
    return md, {
        "cold": {k: cold[k] for k in ("seconds", "peak_rss")},
        "noop": {k: noop[k] for k in ("seconds", "peak_rss")},
        "project": str(project),
    }


def bench_stages(tmp: Path) -> tuple[str, dict[str, Any]]:
    """Each stage process alone, as DVC runs it, on a project whose stages already ran once."""
    project = tmp / "e2e"
    if not (project / "outputs" / "reduce").exists():
        project = _project_copy(tmp / "stages")
        assert run_cmd(MAKE_RUN, project)["rc"] == 0
    python = str(REPO / ".venv/bin/python")
    rows, raw = [], {}
    for stage in STAGES:
        cmd = [python, "pipelines/stage.py", stage, "--config-dir", ".", "--config-name", "params"]
        full = run_cmd(cmd, project)
        assert full["rc"] == 0, full["output"][-3000:]
        startup = run_cmd(
            [
                python,
                "-X",
                "importtime",
                "pipelines/stage.py",
                stage,
                "--config-dir",
                ".",
                "--config-name",
                "params",
                "--cfg",
                "job",
            ],
            project,
        )
        importtime = run_cmd([python, "-X", "importtime", *cmd[1:]], project)
        # -X importtime lists every module imported: "import time: self | cumulative |   tensorflow"
        uses_tf = any(re.search(r"\|\s*tensorflow\s*$", line) for line in importtime["output"].splitlines())
        raw[stage] = {
            "seconds": full["seconds"],
            "startup_seconds": startup["seconds"],
            "peak_rss": full["peak_rss"],
            "imports_tensorflow": uses_tf,
        }
        rows.append(
            [
                stage,
                f"{full['seconds']:.1f}",
                f"{startup['seconds']:.1f}",
                mib(full["peak_rss"]),
                "yes" if uses_tf else "no",
            ]
        )
    md = (
        "Each stage process alone (`python pipelines/<stage>.py --config-dir . --config-name params`). "
        "Start-up = the same process composing its config and stopping before work (`--cfg job`): "
        "interpreter, imports, Hydra.\n\n"
        + table(["stage", "wall seconds", "start-up + import seconds", "peak memory", "imports TensorFlow"], rows)
    )
    return md, raw


def _digits(n_max: int) -> np.ndarray:
    """Real digits from the shared MNIST test set (IDX), else the bundled ones."""
    from gmmgen.core import data, reduce

    if (SHARED_MNIST / "t10k-images-idx3-ubyte.gz").exists():
        import gzip

        images = data.parse_idx(gzip.decompress((SHARED_MNIST / "t10k-images-idx3-ubyte.gz").read_bytes()))
    else:
        images = data.load_bundled().x_train
    return reduce.to_features(images[:n_max])


def _fit_seconds(x: np.ndarray, k: int, cov: str, max_iter: int) -> tuple[float, int]:
    from sklearn.mixture import GaussianMixture
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        start = time.perf_counter()
        gmm = GaussianMixture(k, covariance_type=cov, max_iter=max_iter, random_state=0).fit(x)
        return time.perf_counter() - start, int(gmm.n_iter_)


def bench_scaling(quick: bool) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """Seconds per fit against N, K and dimensions; peak memory of a 60k sweep."""
    import warnings

    from sklearn.decomposition import PCA
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import GaussianMixture

    from gmmgen.core import mixture

    warnings.simplefilter("ignore", ConvergenceWarning)
    max_iter = 20
    pixels = _digits(10_000)
    pca = PCA(80, whiten=True, svd_solver="full", random_state=0).fit(pixels)
    z80 = pca.transform(pixels)
    dims, k0 = 50, 10
    base = z80[:, :dims] / 1.0
    # Synthetic 60k: drawn from a 20-component mixture fitted to the 10k real digits.
    src = GaussianMixture(20, random_state=0).fit(base)
    synth = src.sample(60_000)[0][np.random.default_rng(0).permutation(60_000)]
    ns = [1000, 2000, 5000, 10000] if not quick else [1000, 5000]
    ks = [5, 10, 20, 40, 80] if not quick else [5, 20]
    ds = [10, 20, 40, 80] if not quick else [10, 40]
    raw: dict[str, Any] = {"N": [], "K": [], "dims": []}
    rows = []
    for cov in ("full", "diag"):
        for n in [*ns, 60_000]:
            x = base[:n] if n <= 10_000 else synth
            s, it = _fit_seconds(x, k0, cov, max_iter)
            raw["N"].append({"cov": cov, "n": n, "seconds": s, "n_iter": it})
            rows.append(
                [cov, f"N={n}{' (synthetic)' if n > 10_000 else ''}", k0, dims, f"{s:.2f}", it, f"{1000 * s / it:.1f}"]
            )
        for k in ks:
            s, it = _fit_seconds(base[:5000], k, cov, max_iter)
            raw["K"].append({"cov": cov, "k": k, "seconds": s, "n_iter": it})
            rows.append([cov, "N=5000", k, dims, f"{s:.2f}", it, f"{1000 * s / it:.1f}"])
        for d in ds:
            s, it = _fit_seconds(z80[:5000, :d], k0, cov, max_iter)
            raw["dims"].append({"cov": cov, "d": d, "seconds": s, "n_iter": it})
            rows.append([cov, "N=5000", k0, d, f"{s:.2f}", it, f"{1000 * s / it:.1f}"])
    md = (
        f"Fit cost (one GaussianMixture fit, 1 BLAS thread, max_iter={max_iter}, kmeans init; real digits from the "
        "MNIST test set in PCA-whitened space, synthetic 60k drawn from a 20-component fit to them).\n\n"
        + table(["covariance", "data", "K", "dims", "fit seconds", "EM iterations", "ms per iteration"], rows)
    )

    # Memory of a 60k sweep: the parent's data plus, per worker, a few N x K arrays.
    sweep_ks = [10, 20, 40] if not quick else [10, 40]
    before = psutil.Process().memory_info().rss
    with PeakRSS() as peak:
        start = time.perf_counter()
        mixture.sweep(
            synth,
            synth[:1000],
            sweep_ks,
            ["full", "diag"],
            {"max_iter": max_iter, "random_state": 0},
            n_jobs=-1,
            progress=False,
            warn=False,
        )
        seconds = time.perf_counter() - start
    nk = 60_000 * max(sweep_ks) * 8
    # What one fit allocates at its peak (tracemalloc sees NumPy's buffers), in units of its own N x K array.
    per_fit = []
    for cov in ("full", "diag"):
        for k in sweep_ks:
            tracemalloc.start()
            mixture.fit_one(synth, synth[:1000], k, cov, {"max_iter": 5, "random_state": 0})
            peak_bytes = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            per_fit.append([cov, k, mib(peak_bytes), f"{peak_bytes / (60_000 * k * 8):.1f}"])
    mem = {
        "per_fit": per_fit,
        "seconds": seconds,
        "peak_rss": peak.peak,
        "rss_before": before,
        "nk_bytes": nk,
        "data_bytes": int(synth.nbytes),
        "ks": sweep_ks,
    }
    md_mem = (
        f"60k-digit sweep (K={sweep_ks} x [full, diag], {dims} dims, n_jobs=-1): {seconds:.1f} s; peak memory of the "
        f"process tree {mib(peak.peak)} (the parent held {mib(before)} before, the data is {mib(synth.nbytes)}); "
        f"one N x K float64 array at K={max(sweep_ks)} is {mib(nk)}, so the sweep added "
        f"{(peak.peak - before) / nk:.1f} such arrays of RSS (two fits at a time, plus allocator slack).\n\n"
        "Peak allocations of one fit on the 60k digits (tracemalloc; fit, BIC and scores):\n\n"
        + table(["covariance", "K", "peak allocated", "in N x K float64 arrays"], per_fit)
    )
    return md + "\n\n" + md_mem, raw, mem


def bench_fullsize() -> tuple[str, dict[str, Any]]:
    """Peak memory of the default K grid on 60k synthetic digits in 57 dims (the select stage's sweep)."""
    import warnings

    from sklearn.decomposition import PCA
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import GaussianMixture

    from gmmgen.core import mixture
    from gmmgen.pipeline import config

    warnings.simplefilter("ignore", ConvergenceWarning)
    grid = list(config.Config().sweep.n_components)
    dims, n, max_iter = 57, 60_000, 2
    pixels = _digits(10_000)
    z = PCA(dims, whiten=True, svd_solver="full", random_state=0).fit_transform(pixels)
    synth = GaussianMixture(20, random_state=0).fit(z).sample(n)[0][np.random.default_rng(0).permutation(n)]
    del pixels
    before = psutil.Process().memory_info().rss
    with PeakRSS() as peak:
        start = time.perf_counter()
        rows, _ = mixture.sweep(
            synth, synth[:1000], grid, ["full"], {"max_iter": max_iter, "random_state": 0}, progress=False, warn=False
        )
        seconds = time.perf_counter() - start
    nk = n * max(grid) * 8
    raw = {
        "n": n,
        "dims": dims,
        "grid": grid,
        "max_iter": max_iter,
        "seconds": seconds,
        "peak_rss": peak.peak,
        "rss_before": before,
        "data_bytes": int(synth.nbytes),
        "nk_bytes": nk,
        "n_jobs": os.cpu_count(),
        "failed": sum(r["status"] == "failed" for r in rows),
    }
    md = table(
        [
            "what",
            "N",
            "dims",
            "K grid",
            "EM iterations per fit",
            "fits at once",
            "peak RSS",
            "before the sweep",
            "largest N x K float64",
            "seconds",
        ],
        [
            [
                "default sweep, full covariance (synthetic digits)",
                n,
                dims,
                f"{grid[0]}..{grid[-1]} ({len(grid)} fits)",
                max_iter,
                os.cpu_count(),
                mib(peak.peak),
                mib(before),
                mib(nk),
                f"{seconds:.0f}",
            ]
        ],
    )
    return md, raw


def scaling_figure(raw: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    for ax, (key, field, label) in zip(
        axes,
        (("N", "n", "training points N"), ("K", "k", "components K"), ("dims", "d", "PCA dimensions")),
        strict=True,
    ):
        for cov in ("full", "diag"):
            pts = [r for r in raw[key] if r["cov"] == cov]
            ax.plot([r[field] for r in pts], [1000 * r["seconds"] / r["n_iter"] for r in pts], "o-", label=cov)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(label)
        ax.set_ylabel("ms per EM iteration")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def log_to_mlflow(out: Path, results: dict[str, Any]) -> None:
    import mlflow

    from gmmgen.tracking import log as tracking

    cfg = compose(REPO, ["tracking.experiment=gmmgen-bench"])
    try:
        tracking.check_reachable(cfg)
    except Exception as exc:  # the benchmark's numbers are on disk either way
        print(f"not logged to MLflow: {exc}")
        return
    tracking.ensure_experiment(cfg)
    with tracking.store_lock(cfg):
        mlflow.set_experiment("gmmgen-bench")
        with mlflow.start_run(run_name=f"bench-{time.strftime('%Y%m%d-%H%M%S')}"):
            mlflow.set_tags({"machine": results["machine"], **tracking.git_state(REPO)})
            flat = {}
            if "sweep" in results:
                for name, values in results["sweep"]["times"].items():
                    flat[f"sweep/{name.split(' (')[0].split(',')[0].replace(' ', '_')}_median_s"] = statistics.median(
                        values
                    )
            for key in ("cold", "noop"):
                if key in results.get("e2e", {}):
                    flat[f"e2e/{key}_seconds"] = results["e2e"][key]["seconds"]
                    flat[f"e2e/{key}_peak_rss_mib"] = results["e2e"][key]["peak_rss"] / 2**20
            for stage, r in results.get("stages", {}).items():
                flat[f"stage/{stage}_seconds"] = r["seconds"]
                flat[f"stage/{stage}_peak_rss_mib"] = r["peak_rss"] / 2**20
            mlflow.log_metrics(flat)
            mlflow.log_artifacts(str(out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one repeat, smaller scaling grid")
    parser.add_argument("--only", default="sweep,e2e,stages,scaling,fullsize", help="comma-separated sections")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=str(REPO / "outputs" / "bench"))
    parser.add_argument("--no-mlflow", action="store_true")
    args = parser.parse_args()
    sections = set(args.only.split(","))
    unknown = sections - {"sweep", "e2e", "stages", "scaling", "fullsize"}
    if unknown:
        parser.error(f"--only: unknown sections {sorted(unknown)}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    machine = (
        f"{platform.node()}: {psutil.cpu_count()} cores, {gib(psutil.virtual_memory().total)} RAM, "
        f"Python {platform.python_version()}, {time.strftime('%Y-%m-%d')}"
    )
    results: dict[str, Any] = {"machine": machine}
    command = "make bench" + (f" ARGS='{' '.join(sys.argv[1:])}'" if sys.argv[1:] else "")
    parts = [f"# gmmgen benchmarks\n\nMachine: {machine}. Command: `{command}`."]
    with tempfile.TemporaryDirectory(prefix="gmmgen-bench-") as tmp_name:
        tmp = Path(tmp_name)
        if "sweep" in sections:
            md, results["sweep"] = bench_sweep(tmp / "sweep", 1 if args.quick else args.repeats)
            parts.append("## Component sweep\n\n" + md)
            print(parts[-1], "\n", flush=True)
        if "e2e" in sections:
            md, results["e2e"] = bench_e2e(tmp)
            parts.append("## End to end\n\n" + md)
            print(parts[-1], "\n", flush=True)
        if "stages" in sections:
            md, results["stages"] = bench_stages(tmp)
            parts.append("## Stages\n\n" + md)
            print(parts[-1], "\n", flush=True)
        if "scaling" in sections:
            md, results["scaling"], results["sweep_60k"] = bench_scaling(args.quick)
            scaling_figure(results["scaling"], out / "scaling.png")
            parts.append("## Fit cost\n\n" + md + "\n\n![fit cost](scaling.png)")
            print(parts[-1], "\n", flush=True)
        if "fullsize" in sections:
            md, results["fullsize"] = bench_fullsize()
            parts.append("## Memory of a full-size sweep\n\n" + md)
            print(parts[-1], "\n", flush=True)
    report = "\n\n".join(parts) + "\n"
    (out / "bench.md").write_text(report)
    (out / "bench.json").write_text(json.dumps(results, indent=2, default=str))
    print(f"written: {out / 'bench.md'}, {out / 'bench.json'}")
    if not args.no_mlflow:
        log_to_mlflow(out, results)
    shutil.rmtree(out / "tmp", ignore_errors=True)


if __name__ == "__main__":
    main()
