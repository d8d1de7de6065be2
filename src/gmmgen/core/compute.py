"""Where the arrays live: numpy on the CPU (the default) or another Array API namespace.

scikit-learn runs ``PCA`` and ``GaussianMixture`` on any Array API namespace
(PyTorch or CuPy on a GPU, ``array_api_strict`` in tests) inside
``sklearn.config_context(array_api_dispatch=True)``, provided SciPy was
imported with ``SCIPY_ARRAY_API=1`` (``gmmgen/__init__.py`` sets it). A
:class:`Compute` names the namespace, device and dtype; stages move arrays in
with :meth:`Compute.asarray`, fit and score under :meth:`Compute.context`, and
take numpy back with :func:`to_numpy` or :func:`estimator_to_numpy` only where
a file, MLflow or DVC needs it. With the default (numpy, cpu, float64) every
method is the identity or a no-op, so the default pipeline runs exactly the
numpy code it always ran.

scikit-learn's own conversion helpers (``sklearn.utils._array_api``) are
private; this module is the only place that uses them, and the tests cover it.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

import numpy as np

from gmmgen.errors import ComputeError

NAMESPACES = ("numpy", "torch", "cupy", "array_api_strict")
DEVICES = ("cpu", "cuda")
DTYPES = ("float64", "float32")
# Namespace -> (module to import, what installs it).
_MODULES = {
    "numpy": ("numpy", "the base install"),
    "torch": ("torch", "the GPU extra: make install-gpu"),
    "cupy": ("cupy", "the GPU extra: make install-gpu"),
    "array_api_strict": ("array_api_strict", "the dev extra: pip install -e '.[dev]'"),
}
_CPU_ONLY = ("numpy", "array_api_strict")
_GPU_ONLY = ("cupy",)


def rule_problems(namespace: Any, device: Any, dtype: Any) -> list[str]:
    """Problems with the values alone (no imports): ``key=value: must be ...`` lines."""
    problems = []
    if namespace not in NAMESPACES:
        problems.append(f"compute.namespace={namespace!r}: must be one of {list(NAMESPACES)}")
    if device not in DEVICES:
        problems.append(f"compute.device={device!r}: must be one of {list(DEVICES)}")
    if dtype not in DTYPES:
        problems.append(f"compute.dtype={dtype!r}: must be one of {list(DTYPES)}")
    if problems:
        return problems
    if namespace in _CPU_ONLY and device != "cpu":
        problems.append(
            f"compute.device={device!r}: must be 'cpu' when compute.namespace={namespace!r} "
            "(for a GPU use compute.namespace=torch or cupy)"
        )
    if namespace in _GPU_ONLY and device != "cuda":
        problems.append(f"compute.device={device!r}: must be 'cuda' when compute.namespace={namespace!r}")
    return problems


@dataclass(frozen=True)
class Compute:
    """A namespace (numpy, torch, cupy, array_api_strict), a device (cpu, cuda) and a float dtype."""

    namespace: str = "numpy"
    device: str = "cpu"
    dtype: str = "float64"

    @classmethod
    def from_config(cls, cfg: Any) -> Compute:
        """The ``compute`` section of a composed config (numpy/cpu/float64 when it has none)."""
        section = getattr(cfg, "compute", None)
        if section is None:
            return cls()
        return cls(str(section.namespace), str(section.device), str(section.dtype))

    @property
    def dispatch(self) -> bool:
        """True when scikit-learn must dispatch to another namespace than numpy."""
        return self.namespace != "numpy"

    @property
    def is_default(self) -> bool:
        return self == Compute()

    def check(self) -> None:
        """Raise :class:`ComputeError` (one line) unless this machine can compute here.

        Checks the values, that the namespace's package imports, that a CUDA
        device is present when asked for, and that SciPy was imported with
        ``SCIPY_ARRAY_API=1`` when scikit-learn must dispatch.
        """
        problems = rule_problems(self.namespace, self.device, self.dtype)
        if problems:
            raise ComputeError(problems[0])
        module, installer = _MODULES[self.namespace]
        if importlib.util.find_spec(module) is None:
            raise ComputeError(
                f"compute.namespace={self.namespace!r}: {module} is not installed (it comes with {installer})"
            )
        if self.device == "cuda":
            _check_cuda(self.namespace)
        if self.dispatch:
            import scipy._lib._array_api as scipy_array_api

            if os.environ.get("SCIPY_ARRAY_API") != "1" or not scipy_array_api.SCIPY_ARRAY_API:
                raise ComputeError(
                    f"compute.namespace={self.namespace!r}: SciPy was imported without SCIPY_ARRAY_API=1; "
                    "set it in the environment before Python starts"
                )

    def module(self) -> Any:
        """The namespace's own module (numpy, torch, cupy, array_api_strict)."""
        return importlib.import_module(_MODULES[self.namespace][0])

    def context(self) -> AbstractContextManager[Any]:
        """``sklearn.config_context(array_api_dispatch=True)`` when dispatching, else a no-op."""
        if not self.dispatch:
            return nullcontext()
        import sklearn

        return sklearn.config_context(array_api_dispatch=True)

    def _device(self, mod: Any) -> Any:
        if self.namespace == "torch":
            return mod.device(self.device)
        if self.namespace == "cupy":
            return mod.cuda.Device(0)
        if self.namespace == "array_api_strict":
            return mod.Device("CPU_DEVICE")
        return "cpu"

    def asarray(self, x: Any) -> Any:
        """``x`` (numpy or any namespace) as an array of this namespace, device and dtype.

        The identity for a float64 numpy array under the default setting.
        """
        if not self.dispatch:
            x = np.asarray(x)
            return x if x.dtype == np.dtype(self.dtype) else x.astype(self.dtype)
        mod = self.module()
        x = to_numpy(x) if not isinstance(x, np.ndarray) else x
        dtype = getattr(mod, self.dtype)
        if self.namespace == "cupy":
            with mod.cuda.Device(0):
                return mod.asarray(x, dtype=dtype)
        return mod.asarray(np.ascontiguousarray(x), dtype=dtype, device=self._device(mod))

    def estimator(self, est: Any) -> Any:
        """A copy of a fitted estimator with its array attributes in this namespace and device."""
        if not self.dispatch:
            return est
        from sklearn.utils._array_api import get_namespace_and_device, move_estimator_to

        with self.context():
            xp, _, dev = get_namespace_and_device(self.asarray(np.zeros(1)))
            return move_estimator_to(est, xp, dev)


def _check_cuda(namespace: str) -> None:
    if namespace == "torch":
        import torch

        if not torch.cuda.is_available():
            raise ComputeError(
                f"compute.device='cuda': torch {torch.__version__} finds no CUDA device "
                f"(built for CUDA {torch.version.cuda}); use compute.device=cpu"
            )
    elif namespace == "cupy":
        import cupy

        try:
            count = cupy.cuda.runtime.getDeviceCount()
        except Exception as exc:  # CUDARuntimeError when no driver is present
            raise ComputeError(f"compute.device='cuda': cupy finds no CUDA device ({exc})") from None
        if count < 1:
            raise ComputeError("compute.device='cuda': cupy finds no CUDA device")


def namespace_name(x: Any) -> str:
    """Which library an array belongs to: 'numpy', 'torch', 'cupy', 'array_api_strict', ..."""
    if isinstance(x, np.ndarray | np.generic):
        return "numpy"
    return type(x).__module__.split(".")[0]


def xp_of(*arrays: Any) -> Any:
    """The namespace to compute on ``arrays`` with: numpy itself for numpy arrays, else Array API's.

    numpy's own functions keep the default path exactly as it was; for other
    arrays scikit-learn's (vendored) ``array_api_compat`` gives the standard API.
    """
    if all(isinstance(a, np.ndarray | np.generic) for a in arrays):
        return np
    from sklearn.externals.array_api_compat import array_namespace

    return array_namespace(*[a for a in arrays if not isinstance(a, np.ndarray | np.generic)])


def dispatch_for(*arrays: Any) -> AbstractContextManager[Any]:
    """scikit-learn's Array API dispatch on while any of ``arrays`` is not numpy, else a no-op."""
    if all(isinstance(a, np.ndarray | np.generic) for a in arrays if a is not None):
        return nullcontext()
    import sklearn

    return sklearn.config_context(array_api_dispatch=True)


def like(x: np.ndarray, ref: Any) -> Any:
    """numpy ``x`` moved to the namespace and device of ``ref`` (the identity when ``ref`` is numpy)."""
    if isinstance(ref, np.ndarray | np.generic):
        return x
    from sklearn.utils._array_api import get_namespace_and_device, move_to

    with dispatch_for(ref):
        xp, _, dev = get_namespace_and_device(ref)
        return move_to(np.ascontiguousarray(x), xp=xp, device=dev)


def to_numpy(x: Any) -> np.ndarray:
    """Any array (numpy, torch on any device, cupy, array_api_strict) as a numpy array on the CPU."""
    if isinstance(x, np.ndarray | np.generic | int | float):
        return np.asarray(x)
    from sklearn.utils._array_api import move_to

    return np.asarray(move_to(x, xp=np, device="cpu"))


def estimator_to_numpy(est: Any) -> Any:
    """A copy of a fitted estimator with every array attribute as numpy on the CPU (for files)."""
    if all(not hasattr(v, "__dlpack__") or isinstance(v, np.ndarray) for v in vars(est).values()):
        return est
    from sklearn.utils._array_api import move_estimator_to

    out = move_estimator_to(est, np, "cpu")
    for key, value in vars(out).items():  # 0-d arrays (PCA's n_components_, ...) back to numpy scalars
        if isinstance(value, np.ndarray) and value.ndim == 0:
            setattr(out, key, value[()])
    return out


def to_float(x: Any) -> float:
    """A 0-d array or scalar of any namespace as a Python float."""
    return float(to_numpy(x)) if not isinstance(x, int | float) else float(x)
