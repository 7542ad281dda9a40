"""muse_cli.progress: the one progress display, on a terminal and in a log."""

from __future__ import annotations

import io

from muse_cli.progress import Progress, size_text


def test_a_log_gets_a_line_at_once_and_at_the_end_and_a_terminal_gets_a_bar():
    log = io.StringIO()
    with Progress(3, "muse batch", "jobs", stream=log, tty=False) as bar:
        for _ in range(3):
            bar.advance(1, note=", 1 failed")
    lines = log.getvalue().splitlines()
    assert [line.split("  ")[0] for line in lines] == [f"muse batch: {n}/3 jobs, 1 failed" for n in (1, 3)]
    term = io.StringIO()
    with Progress(2_000_000, "", "B", stream=term, tty=True) as bar:
        bar.update(2_000_000)
    assert term.getvalue().startswith("\r") and "[########################]  100%  2.0 MB / 2.0 MB" in term.getvalue()
    quiet = io.StringIO()
    with Progress(5, "x", "steps", stream=quiet, tty=True, quiet=True) as bar:
        bar.advance(5)
    assert quiet.getvalue() == ""
    assert [size_text(n) for n in (512, 1200, 3_400_000, 1.1e9)] == ["512 B", "1.2 kB", "3.4 MB", "1.1 GB"]
