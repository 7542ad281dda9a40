"""The house's size limits on muse_cli/: no module over 400 lines, no function over 60 lines.

    python scripts/check_layout.py            list the offenders; exit 1 if there are any (`make lint`)
    python scripts/check_layout.py --report   list them and exit 0

A function's length is from its ``def`` line to its last line, less its docstring and decorators:
those are documentation and tables (a click command's options and --help text), not steps to
follow. A nested function counts within its parent and on its own. A function that is mostly one data table (a
dict, list, tuple or set display at least 80% of its lines) is left out. ALLOWED lists the
offenders that are accepted, each with its reason: keep it empty.
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "muse_cli"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
TABLE_SHARE = 0.8
ALLOWED: dict[str, str] = {}  # "muse_cli/x.py:function" or "muse_cli/x.py" -> why it may stay long


def _docstring_lines(func: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    first = func.body[0]
    return first.end_lineno - first.lineno + 1 if ast.get_docstring(func, clean=False) is not None else 0


def _is_table(func: ast.FunctionDef | ast.AsyncFunctionDef, length: int) -> bool:
    """Most of the function is one literal display (a dict, list, tuple or set)."""
    displays = (ast.Dict, ast.List, ast.Tuple, ast.Set)
    biggest = max(
        (n.end_lineno - n.lineno + 1 for n in ast.walk(func) if isinstance(n, displays)),
        default=0,
    )
    return biggest >= TABLE_SHARE * length


def offenders(package: Path = PACKAGE) -> list[str]:
    """``path: what`` for every module and function over its limit, ALLOWED ones left out."""
    found = []
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(package.parent).as_posix()
        text = path.read_text(encoding="utf-8")
        lines = len(text.splitlines())
        if lines > MAX_MODULE_LINES and rel not in ALLOWED:
            found.append(f"{rel}: module of {lines} lines (limit {MAX_MODULE_LINES})")
        for node in ast.walk(ast.parse(text, filename=rel)):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            first, last = node.lineno, node.end_lineno
            length = last - first + 1 - _docstring_lines(node)
            key = f"{rel}:{node.name}"
            if length > MAX_FUNCTION_LINES and key not in ALLOWED and not _is_table(node, length):
                found.append(f"{rel}:{first}: function {node.name} of {length} lines (limit {MAX_FUNCTION_LINES})")
    return found


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--report", action="store_true", help="list the offenders but exit 0")
    args = ap.parse_args(argv)
    found = offenders()
    for line in found:
        print(line)
    print(f"check_layout: {len(found)} over the limits" if found else "check_layout: every module and function fits")
    return 0 if args.report or not found else 1


if __name__ == "__main__":
    sys.exit(main())
