"""Move a registry alias (@champion) to a model version by hand, recording who and why (`make promote`).

  python pipelines/promote.py --version 3 --reason "sharper digits by eye" [--alias champion] [overrides]

The overrides are the config's (tracking.uri=..., tracking.registered_model=...), as for `make run`.
The version gets the tags promotion=<alias>, promotion.reason="by hand: <reason>", promotion.by=<who>
and promotion.compared_with=<the version that held the alias>.
"""

# isort: off
import gmmgen.runtime.startup  # noqa: F401  first: a Ctrl-C while the libraries import exits 130 with one line

# isort: on
import argparse
import sys
from pathlib import Path

from gmmgen.errors import ConfigError
from gmmgen.runtime.exits import exit_status, fail


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version", default="", help="the model version to promote (a number)")
    parser.add_argument("--reason", default="", help="why, in words (recorded on the version)")
    parser.add_argument("--alias", default="", help="the alias to move (default: tracking.alias, champion)")
    parser.add_argument("overrides", nargs="*", help="config overrides (tracking.uri=... etc.)")
    args = parser.parse_args(argv)
    try:
        from gmmgen.pipeline.config import compose
        from gmmgen.runtime.cli import install_signal_handlers
        from gmmgen.runtime.validation import validate
        from gmmgen.tracking import log as tracking
        from gmmgen.tracking import promotion

        install_signal_handlers()  # from here Ctrl-C and SIGTERM are reported as such; store writes finish first
        cfg = compose(args.overrides, root=Path.cwd())
        validate(cfg)
        tracking.check_reachable(cfg)
        name, alias = str(cfg.tracking.registered_model), args.alias or str(cfg.tracking.alias)
        with tracking.store_lock(cfg), tracking.signals_deferred():
            client = tracking._client(cfg)
            try:
                previous = promotion.promote_by_hand(client, name, args.version, alias, args.reason, promotion.who())
            except ValueError as exc:
                raise ConfigError(str(exc)) from None
    except BaseException as exc:  # a known kind: one line and its status (a Hydra override error is a config error)
        status = exit_status(exc)
        if status is None:
            raise
        kind = getattr(exc, "kind", "config error")
        if isinstance(exc, KeyboardInterrupt):
            fail("interrupted (Ctrl-C)" if status == 130 else "terminated (SIGTERM)", status)
        fail(f"{kind}: {' '.join(str(exc).split())}", status)
    version = args.version.strip()
    was = f" (was v{previous})" if previous and previous != version else ""
    print(f"{name}: @{alias} -> version {version}{was}; who and why are recorded on the version")
    return 0


if __name__ == "__main__":
    sys.exit(main())
