"""Small rooms: no module of the code over 400 lines, no function body over 60.

The code is ``src/`` (the library and the tutorial) and ``pipelines/`` (the
entry scripts). A function's body is counted from its first statement after
the docstring to its last line (nested functions count inside their parent
and on their own). What is still over a limit is listed below with its size
today: the lists only shrink. An entry that grew fails, and so does one that
is back within the limit (take it off the list); a new offender fails.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ROOTS = ("src", "pipelines")
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60

#: Modules still over MAX_MODULE_LINES: path -> lines today (may only go down).
MODULES_OVER: dict[str, int] = {}
#: Function bodies still over MAX_FUNCTION_LINES: "path:qualified name" -> body lines today (may only go down).
FUNCTIONS_OVER: dict[str, int] = {}


def body_lines(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Lines from the first statement after the docstring to the end of the last one."""
    body = node.body
    first = body[0]
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
        body = body[1:]
    return body[-1].end_lineno - body[0].lineno + 1 if body else 0


def functions(tree: ast.AST, prefix: str = ""):
    """(qualified name, node) of every function in ``tree``, methods and nested functions included."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield prefix + node.name, node
            yield from functions(node, f"{prefix}{node.name}.")
        elif isinstance(node, ast.ClassDef):
            yield from functions(node, f"{prefix}{node.name}.")
        else:
            yield from functions(node, prefix)


def sizes(root: Path = REPO) -> tuple[dict[str, int], dict[str, int]]:
    """Lines of every module and body lines of every function under ``ROOTS`` of ``root``, by name."""
    modules, bodies = {}, {}
    for top in ROOTS:
        for path in sorted((root / top).rglob("*.py")):
            rel = path.relative_to(root).as_posix()
            text = path.read_text()
            modules[rel] = len(text.splitlines())
            for name, node in functions(ast.parse(text)):
                bodies[f"{rel}:{name}"] = body_lines(node)
    return modules, bodies


def problems(measured: dict[str, int], allowed: dict[str, int], limit: int, what: str) -> list[str]:
    """Every breach of ``limit`` not on the list, every listed one that grew, every listed one now within it."""
    found = []
    for name, n in sorted(measured.items()):
        if n > limit and name not in allowed:
            found.append(f"{name}: {n} {what}, over {limit}: split it")
        elif name in allowed and n > allowed[name]:
            found.append(f"{name}: {n} {what}, grown from {allowed[name]} (listed as too big: it may only shrink)")
    for name, n in sorted(allowed.items()):
        if name not in measured or measured[name] <= limit:
            found.append(f"{name}: within {limit} {what} now (or gone): take it off the list in test_structure.py")
        elif measured[name] < n:
            found.append(f"{name}: {measured[name]} {what} now, listed as {n}: lower the list's number")
    return found


@pytest.fixture(scope="module")
def measured() -> tuple[dict[str, int], dict[str, int]]:
    return sizes()


def test_no_module_over_400_lines(measured):
    assert problems(measured[0], MODULES_OVER, MAX_MODULE_LINES, "lines") == []


def test_no_function_body_over_60_lines(measured):
    assert problems(measured[1], FUNCTIONS_OVER, MAX_FUNCTION_LINES, "body lines") == []


def test_the_measure_and_the_lists_catch_what_they_should(tmp_path):
    """Known answers: a docstring does not count, a nested function counts on its own; growth, a new
    offender and a stale entry each fail."""
    code = '''
def f():
    """doc
    string"""
    x = 1

    def g():
        return [
            x,
        ]
    return g


class C:
    async def m(self):
        pass
'''
    (tmp_path / "src").mkdir()
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "src" / "m.py").write_text(code)
    modules, bodies = sizes(tmp_path)
    assert modules == {"src/m.py": len(code.splitlines())}
    assert bodies == {"src/m.py:f": 7, "src/m.py:f.g": 3, "src/m.py:C.m": 1}
    assert problems(bodies, {}, 6, "body lines") == ["src/m.py:f: 7 body lines, over 6: split it"]
    assert problems(bodies, {"src/m.py:f": 7}, 6, "body lines") == []
    assert "grown from 6" in problems(bodies, {"src/m.py:f": 6}, 6, "body lines")[0]
    assert "lower the list's number" in problems(bodies, {"src/m.py:f": 8}, 6, "body lines")[0]
    assert "take it off the list" in problems(bodies, {"src/m.py:f": 7, "src/m.py:f.g": 4}, 6, "body lines")[0]
