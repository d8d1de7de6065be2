"""Mutation testing of the library: how much of each module can break without a test noticing.

For each library module, mutmut (3.x) makes small changes to the code inside
its functions (``<`` for ``<=``, ``and`` for ``or``, a number off by one, a
deleted argument ...), one at a time, and runs the module's focused tests
against each mutant, in a copy of the project under /tmp (the working tree is
never touched). A mutant is *killed* when a test fails. Large modules are
sampled: a seeded random subset of their mutants is run, so a rerun of the
same code draws the same mutants.

Some mutants cannot be told apart from the original by any test (an
*equivalent* mutant, e.g. a changed default that every caller overrides):
``mutation/equivalents.toml`` lists them with the reason; they are left out
of the score. ``score = killed / catchable`` with ``catchable = sampled -
equivalent``; a timeout counts as killed, a mutant no focused test reaches
("no tests") as survived.

    python mutation/mutate.py                       # every module (make mutate)
    python mutation/mutate.py --modules core/mixture core/data --sample 40

Writes outputs/mutation/scores.md (the table) and outputs/mutation/results.json
(every sampled mutant's status, survivors with their diff). Slow: run it under
``nice`` on a shared machine (``make mutate`` does).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
import zlib
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MUTMUT = [sys.executable, "-m", "mutmut"]

# Module (its path under src/gmmgen/, without .py) -> its focused tests. Tests that start a subprocess
# (which would import the unmutated package) or train the CNN (minutes per mutant) are left out.
DATA_TESTS = [
    "tests/test_data.py",
    "tests/test_integrity.py",
    "tests/test_data_units.py",
    "tests/test_splits.py",
    "-k",
    "not no_test_digit_reaches and not training_on_all_digits",
]
TARGETS: dict[str, list[str]] = {
    "core/mixture": [
        "tests/test_mixture.py",
        "tests/test_selection.py",
        "tests/test_sampling_units.py",
        "tests/test_compute.py",
        "-k",
        "not stages",
    ],
    "core/degeneracy": [
        "tests/test_degeneracy.py",
        "tests/test_mixture.py",
        "tests/test_selection.py",
        "-k",
        "not stages",
    ],
    "core/selection": ["tests/test_mixture.py", "tests/test_selection.py", "tests/test_compute.py", "-k", "not stages"],
    "core/sampling": [
        "tests/test_mixture.py",
        "tests/test_sampling_units.py",
        "tests/test_compute.py",
        "-k",
        "not stages",
    ],
    "core/metrics": ["tests/test_evaluate.py", "tests/test_evaluate_known.py", "-k", "not stages"],
    "pipeline/config": [
        "tests/test_config_settle.py",
        "tests/test_config.py",
        "tests/test_config_bounds.py",
        "tests/test_config_units.py",
        "tests/test_splits.py",
        "-k",
        "not cli and not round_trips and not no_test_digit_reaches and not training_on_all_digits",
    ],
    "pipeline/rules": [
        "tests/test_config.py",
        "tests/test_config_bounds.py",
        "tests/test_config_units.py",
        "tests/test_splits.py",
        "tests/test_pools.py",
        "-k",
        "not cli and not round_trips and not no_test_digit_reaches and not training_on_all_digits and not make_params",
    ],
    "core/data": DATA_TESTS,
    "core/idx": ["tests/test_idx.py", *DATA_TESTS],
    "core/digits": DATA_TESTS,
    "core/splits": ["tests/test_splits_units.py", *DATA_TESTS],
    "core/reduce": ["tests/test_reduce.py", "tests/test_reduce_units.py", "tests/test_compute.py", "-k", "not stages"],
    "core/likelihood": [
        "tests/test_likelihood.py",
        "tests/test_baselines.py",
        "tests/test_likelihood_edges.py",
        "tests/test_evaluate_known.py",
        "tests/test_compute.py",
        "-k",
        "not stages",
    ],
    "pipeline/files": ["tests/test_files.py", "-k", "not make_clean"],  # make clean runs the module in a subprocess
}
# Folders and files the tests read beside tests/ and src/.
ALSO_COPY = ["conf", "pipelines", "params.yaml", "dvc.yaml", "Makefile"]
RUNNING: set[subprocess.Popen] = set()  # mutmut runs in progress (each in its own process group)


def _copy_project(dest: Path) -> None:
    """The tracked and untracked-but-not-ignored files of the working tree (what a clone would hold)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for rel in filter(None, listed):
        src = REPO / rel.decode()
        if src.is_file():
            (dest / rel.decode()).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel.decode())


def _configure(dest: Path, module: str) -> None:
    tests = TARGETS[module]
    block = [
        "",
        "[tool.mutmut]",
        'source_paths = ["src/"]',
        f'only_mutate = ["src/gmmgen/{module}.py"]',
        f"pytest_add_cli_args_test_selection = {json.dumps(tests)}",
        'pytest_add_cli_args = ["-p", "no:cacheprovider"]',
        # Workers fork from a server that has imported the tests but run nothing: a process
        # that has run OpenMP (scikit-learn's k-means) or TensorFlow cannot fork safely.
        'process_isolation = "forkserver"',
        # mutmut times a mutant out at (test time + constant) x multiplier, counting only the tests' call
        # phase: module fixtures that load data take longer on a busy machine, so be generous.
        "timeout_constant = 30.0",
        "timeout_multiplier = 10.0",
        f"also_copy = {json.dumps(ALSO_COPY)}",
        "",
    ]
    with open(dest / "pyproject.toml", "a") as fh:
        fh.write("\n".join(block))


# ----------------------------------------------------------------------------- steps run inside the copy


def _inside_generate() -> None:
    """Write the mutants (mutmut's own generation step) and print their names as JSON."""
    import mutmut.__main__ as mm
    from mutmut.mutation.data import SourceFileMutationData
    from mutmut.utils.file_utils import copy_also_copy_files, copy_src_dir, setup_source_paths, walk_mutatable_files

    mm.set_mutant_under_test("mutant_generation")
    os.makedirs("mutants", exist_ok=True)
    copy_src_dir()
    copy_also_copy_files()
    setup_source_paths()
    mm.create_mutants(1)
    names = []
    for path in walk_mutatable_files():
        data = SourceFileMutationData(path=path)
        data.load()
        names.extend(data.exit_code_by_key)
    print("NAMES " + json.dumps(sorted(names)))


def _inside_report(names: list[str]) -> None:
    """Print each named mutant's status and, for the ones not killed, its diff, as JSON."""
    from mutmut.mutation.data import SourceFileMutationData
    from mutmut.mutation.diff_apply import get_diff_for_mutant
    from mutmut.stats import status_by_exit_code
    from mutmut.utils.file_utils import walk_mutatable_files

    wanted = set(names)
    out = {}
    for path in walk_mutatable_files():
        data = SourceFileMutationData(path=path)
        data.load()
        for name, code in data.exit_code_by_key.items():
            if name not in wanted:
                continue
            status = status_by_exit_code[code]
            if status == "check was interrupted by user":  # a campaign stopped early (Ctrl-C): not run
                status = "not checked"
            entry = {"status": status}
            if status not in ("killed", "timeout"):
                entry["diff"] = get_diff_for_mutant(name, path=path)
            out[name] = entry
    print("REPORT " + json.dumps(out))


# ----------------------------------------------------------------------------- the campaign


def _tagged(stdout: str, tag: str):
    for line in stdout.splitlines():
        if line.startswith(tag + " "):
            return json.loads(line[len(tag) + 1 :])
    raise RuntimeError(f"mutmut step printed no {tag} line:\n{stdout[-3000:]}")


def _changed_lines(diff: str) -> tuple[list[str], list[str]]:
    lines = [ln for ln in diff.splitlines() if not ln.startswith(("---", "+++", "@@"))]
    removed = [ln[1:].strip() for ln in lines if ln.startswith("-")]
    added = [ln[1:].strip() for ln in lines if ln.startswith("+")]
    return removed, added


def load_equivalents(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    entries = tomllib.loads(path.read_text()).get("equivalent", [])
    for e in entries:
        missing = {"module", "function", "before", "after", "reason"} - set(e)
        if missing:
            raise SystemExit(f"{path}: an equivalent entry lacks {sorted(missing)}: {e}")
    return entries


def _function_of(name: str) -> str:
    """``gmmgen.core.mixture.x_select__mutmut_12`` -> ``select``; methods keep their class prefix."""
    tail = name.split(".")[-1]
    tail = tail.rsplit("__mutmut_", 1)[0]
    return tail[2:] if tail.startswith("x_") else tail.replace("ǁ", ".").strip(".")


def equivalent_reason(module: str, name: str, diff: str, entries: list[dict[str, str]]) -> str | None:
    removed, added = _changed_lines(diff)
    for e in entries:
        if e["module"] == module and e["function"] == _function_of(name):
            if e["before"].strip() in removed and (e["after"].strip() in added or e["after"] == "*"):
                return e["reason"]
    return None


def run_module(module: str, sample: int, seed: int, workdir: Path, children: int, log) -> dict:
    dest = workdir / module.replace("/", "_")
    dest.mkdir(parents=True)
    _copy_project(dest)
    _configure(dest, module)
    # One thread per worker: the cores are shared out by --children, and single-threaded
    # OpenMP/BLAS never leave a thread pool behind a fork.
    threads = {k: "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "TF_NUM_INTRAOP_THREADS")}
    env = {**os.environ, "PYTHONHASHSEED": "0", **threads}
    shared = REPO.parent / "shared" / "data" / "mnist"
    env.setdefault("GMMGEN_SHARED_MNIST", str(shared))
    step = subprocess.run(
        [sys.executable, __file__, "_generate"], cwd=dest, capture_output=True, text=True, env=env, check=False
    )
    if step.returncode:
        raise RuntimeError(f"{module}: mutant generation failed:\n{step.stdout[-2000:]}\n{step.stderr[-3000:]}")
    names = _tagged(step.stdout, "NAMES")
    rng = random.Random(seed + zlib.crc32(module.encode()))
    chosen = sorted(rng.sample(names, min(sample, len(names)))) if sample else names
    log(f"{module}: {len(names)} mutants, running {len(chosen)}")
    start = time.time()
    with open(workdir / f"{module.replace('/', '_')}.log", "w") as fh:
        # Its own process group, so that an interrupted campaign leaves no mutmut workers behind.
        proc = subprocess.Popen(
            [*MUTMUT, "run", "--max-children", str(children), *chosen],
            cwd=dest,
            stdout=fh,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        RUNNING.add(proc)
        try:
            returncode = proc.wait()
        finally:
            RUNNING.discard(proc)
    if returncode:
        tail = (workdir / f"{module.replace('/', '_')}.log").read_text()[-3000:]
        raise RuntimeError(f"{module}: mutmut run exited {returncode}:\n{tail}")
    step = subprocess.run(
        [sys.executable, __file__, "_report", *chosen], cwd=dest, capture_output=True, text=True, env=env, check=False
    )
    if step.returncode:
        raise RuntimeError(f"{module}: report failed:\n{step.stderr[-3000:]}")
    report = _tagged(step.stdout, "REPORT")
    return {"module": module, "total": len(names), "sampled": chosen, "results": report, "seconds": time.time() - start}


def score(run: dict, entries: list[dict[str, str]]) -> dict:
    module = run["module"]
    killed = timeout = 0
    survivors, equivalents, unchecked = [], [], []
    for name in run["sampled"]:
        entry = run["results"].get(name, {"status": "not checked"})
        status = entry["status"]
        if status == "killed":
            killed += 1
        elif status == "timeout":
            timeout += 1
        elif status == "not checked":
            unchecked.append(name)
        else:
            reason = equivalent_reason(module, name, entry.get("diff", ""), entries)
            item = {"name": name, "status": status, "diff": entry.get("diff", "")}
            if reason:
                equivalents.append({**item, "reason": reason})
            else:
                survivors.append(item)
    catchable = len(run["sampled"]) - len(equivalents) - len(unchecked)
    caught = killed + timeout
    return {
        "module": module,
        "total": run["total"],
        "sampled": len(run["sampled"]),
        "killed": caught,
        "timeouts": timeout,
        "catchable": catchable,
        "equivalent": len(equivalents),
        "unchecked": len(unchecked),
        "score": caught / catchable if catchable else 1.0,
        "survivors": survivors,
        "equivalents": equivalents,
        "seconds": round(run["seconds"]),
    }


def table(rows: list[dict], command: str) -> str:
    lines = [
        f"Mutation scores, {date.today().isoformat()}, `{command}`:",
        "",
        "| module | mutants (sampled) | killed / catchable | score | of which timeouts | equivalent | not run |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        sampled = f"{r['total']} ({r['sampled']})" if r["sampled"] < r["total"] else f"{r['total']} (all)"
        lines.append(
            f"| {r['module']}.py | {sampled} | {r['killed']} / {r['catchable']} | {100 * r['score']:.0f}% "
            f"| {r['timeouts']} | {r['equivalent']} | {r['unchecked']} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["_generate"]:
        _inside_generate()
        return 0
    if argv[:1] == ["_report"]:
        _inside_report(argv[1:])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    present = [m for m in TARGETS if (REPO / "src" / "gmmgen" / f"{m}.py").exists()]
    parser.add_argument("--modules", nargs="+", default=present, choices=present)
    parser.add_argument("--sample", type=int, default=80, help="mutants per module (0: all); seeded")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--children", type=int, default=2, help="mutants run side by side")
    parser.add_argument("--jobs", type=int, default=4, help="modules run side by side")
    parser.add_argument("--out", type=Path, default=REPO / "outputs" / "mutation")
    parser.add_argument("--keep", action="store_true", help="keep the /tmp copies (for `mutmut show` there)")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up (finally blocks) on `kill`

    entries = load_equivalents(REPO / "mutation" / "equivalents.toml")
    args.out.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="gmmgen-mutate-"))
    command = "make mutate" + (f" ARGS='{' '.join(argv)}'" if argv else "")

    def log(msg: str) -> None:
        print(msg, flush=True)

    def one(module: str) -> dict:
        row = score(run_module(module, args.sample, args.seed, workdir, args.children, log), entries)
        lines = [
            f"{module}: {row['killed']} / {row['catchable']} killed ({100 * row['score']:.0f}%), "
            f"{row['equivalent']} equivalent, {len(row['survivors'])} survived, {row['seconds']} s"
        ]
        for s in row["survivors"]:
            lines.append(f"  survived ({s['status']}): {s['name']}")
            lines.extend("    " + ln for ln in s["diff"].splitlines())
        log("\n".join(lines))
        return row

    # Modules run side by side (--jobs), each in its own copy; results are listed in module order.
    pool = ThreadPoolExecutor(max_workers=args.jobs)
    try:
        rows = list(pool.map(one, args.modules))
        (args.out / "results.json").write_text(json.dumps(rows, indent=1))
    except BaseException:
        for proc in list(RUNNING):  # interrupted or failed: leave no mutmut workers behind
            os.killpg(proc.pid, signal.SIGKILL)
        raise
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        if args.keep:
            log(f"copies kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    text = table(rows, command)
    (args.out / "scores.md").write_text(text)
    print()
    print(text)
    below = [r["module"] for r in rows if r["score"] < 0.9]
    if below:
        print(f"below 90%: {', '.join(below)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
