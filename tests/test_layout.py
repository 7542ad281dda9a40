"""scripts/check_layout.py: what counts as a long module or function."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "check_layout.py"


def _checker():
    spec = importlib.util.spec_from_file_location("check_layout", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_long_functions_and_modules_are_listed_tables_and_docstrings_are_not(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    steps = "".join(f"    x{i} = {i}\n" for i in range(61))
    table = "    return {\n" + "".join(f"        {i}: {i},\n" for i in range(70)) + "    }\n"
    doc = '    """' + "\n" * 40 + '    """\n' + "".join(f"    x{i} = {i}\n" for i in range(30))
    (pkg / "a.py").write_text(f"def long():\n{steps}\n\ndef table():\n{table}\n\ndef documented():\n{doc}")
    (pkg / "b.py").write_text("x = 1\n" * 401)
    found = _checker().offenders(pkg)
    assert found == ["pkg/a.py:1: function long of 62 lines (limit 60)", "pkg/b.py: module of 401 lines (limit 400)"]
