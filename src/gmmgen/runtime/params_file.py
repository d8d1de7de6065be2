"""What a configure step shares: DVC's fixed paths, the params file in DVC's own format, written only on change.

``pipelines/configure.py`` (the pipeline's ``params.yaml``) and
``pipelines/tutorial/configure.py`` (the tutorial's
``pipelines/tutorial/params.yaml``) compose, validate and write their own
params file with these: a ``paths.*`` override that would move what DVC's
stages read and write is refused before Hydra writes anything; the file is
rewritten only when its text changes (so DVC sees exactly the parameters that
changed), never while a DVC command runs in the checkout.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from gmmgen.errors import ConfigError
from gmmgen.report.compare import flatten
from gmmgen.runtime import runlock

#: The paths DVC's stages always use, relative to the checkout (their dvc.yaml names files under outputs/).
FIXED = {"root": ".", "outputs": "outputs", "run_dir": "outputs", "cache": "outputs/cache"}


def fixed_paths(root: Path | None = None) -> dict[str, Path]:
    """The absolute paths of :data:`FIXED` for the checkout ``root`` (default: the current folder)."""
    base = (root or Path.cwd()).resolve()
    return {key: (base / rel).resolve() for key, rel in FIXED.items()}


def _refuse(key: str, value: str, make: str, elsewhere: str) -> None:
    hint = f", or {elsewhere} paths.{key}=..." if elsewhere else ""
    raise ConfigError(
        f"paths.{key}={value!r}: {make} and DVC always use {fixed_paths()[key]} (dvc.yaml names the files "
        f"under outputs/); run from another checkout{hint}"
    )


def check_path_overrides(argv: list[str], make: str = "make run", elsewhere: str = "") -> None:
    """Refuse, before Hydra writes anything, a ``paths.*`` override that would move DVC's files.

    ``make`` names the target in the message; ``elsewhere`` (if any) says how to run with other paths.

    Raises
    ------
    ConfigError
        Naming the override and the path DVC uses.
    """
    fixed = fixed_paths()
    for arg in argv:
        key, eq, value = arg.lstrip("+~").partition("=")
        if not eq or not (key == "paths" or key.startswith("paths.")):
            continue
        name = key.removeprefix("paths.")
        if name not in fixed or Path(value).expanduser().resolve() != fixed[name]:
            _refuse(name, value, make, elsewhere)


def check_paths(cfg: Any, make: str = "make run", elsewhere: str = "") -> None:
    """The composed paths (a config file could set them too) must be the checkout's own; else ConfigError."""
    for key, where in fixed_paths().items():
        if Path(cfg.paths[key]).expanduser().resolve() != where:
            _refuse(key, str(cfg.paths[key]), make, elsewhere)


def write(target: Path, text: str, root: Path) -> bool:
    """Write ``text`` to ``target`` when it differs (atomically, DVC idle in ``root``); True when it was written.

    Prints ``<name> updated (<path>)`` or ``<name> unchanged``, ``<name>`` relative to ``root``; an update of
    an existing file names the values it changed (``pca.variance: 0.9 -> 0.85``), so replacing an experiment
    applied with ``dvc exp run -S`` never goes unnoticed.
    """
    from gmmgen.core.io import atomic_write_bytes

    data = text.encode()
    name = target.relative_to(root) if target.is_relative_to(root) else target
    with runlock.dvc_idle(root):
        if target.exists() and target.read_bytes() == data:
            print(f"{name} unchanged")
            return False
        old = target.read_text() if target.exists() else None
        atomic_write_bytes(target, data)
        changes = changed_values(old, text) if old is not None else []
        print(f"{name} updated ({target})" + (": " + "; ".join(changes) if changes else ""))
        return True


def changed_values(old: str, new: str, most: int = 4) -> list[str]:
    """``key: old -> new`` for each value that differs between two params files (at most ``most``, then a count)."""
    import yaml

    try:
        before, after = flatten(yaml.safe_load(old) or {}), flatten(yaml.safe_load(new) or {})
    except yaml.YAMLError:
        return []
    keys = [k for k in dict.fromkeys([*before, *after]) if k != "defaults" and before.get(k) != after.get(k)]
    shown = [f"{k}: {before.get(k)} -> {after.get(k)}" for k in keys[:most]]
    return shown + ([f"and {len(keys) - most} more"] if len(keys) > most else [])


# YAML 1.1 words (PyYAML, and so OmegaConf and Hydra, read them as booleans) that YAML 1.2 writers such as
# DVC's leave unquoted: a string value spelled so is quoted, so Hydra reads back the string DVC reads.
_YAML11_BOOLS = {"y", "yes", "n", "no", "on", "off", "true", "false"}


def _quoted_where_needed(tree: Any) -> Any:
    from ruamel.yaml.scalarstring import SingleQuotedScalarString

    if isinstance(tree, dict):
        return {k: _quoted_where_needed(v) for k, v in tree.items()}
    if isinstance(tree, list):
        return [_quoted_where_needed(v) for v in tree]
    if isinstance(tree, str) and tree.lower() in _YAML11_BOOLS:
        return SingleQuotedScalarString(tree)
    return tree


def params_document(cfg: Any, header: str, schema: str) -> str:
    """The composed config ``cfg`` as a params file: ``header``, then its values in DVC's format (:func:`dvc_yaml`).

    ``paths`` and ``hydra`` are left out (machine-specific; the schema's defaults
    rebuild them); ``defaults`` names the schema (``schema``) and the Hydra
    settings, so a stage composing the file sees the config that wrote it. Per-part
    seeds left null follow the global ``seed`` at run time, so ``dvc exp run -S
    seed=1`` reaches all of them.
    """
    from omegaconf import OmegaConf

    container = OmegaConf.to_container(cfg, resolve=False)
    assert isinstance(container, dict)
    container.pop("paths", None)
    container.pop("hydra", None)
    return header + dvc_yaml({"defaults": [schema, "runtime", "_self_"], **container})


def dvc_yaml(doc: dict[str, Any]) -> str:
    """``doc`` as YAML in the format DVC writes params files (``dvc exp run -S`` rewrites one line of it).

    DVC's dumper: ruamel.yaml's round-trip writer, block style (nulls as empty values, 2-space maps,
    lists at their key's indent, no line wrapping of the short values a config holds).
    """
    from ruamel.yaml import YAML

    yaml = YAML()
    yaml.default_flow_style = False
    buf = io.StringIO()
    yaml.dump(_quoted_where_needed(doc), buf)
    return buf.getvalue()
