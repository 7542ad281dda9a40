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


def test_ticking_shows_time_spent_on_a_terminal_and_nothing_in_a_log():
    """encode --refine's display: one long step that cannot be counted, redrawn with the time it has taken."""
    import time

    from muse_cli.progress import ticking

    term = io.StringIO()
    with ticking("refining 8 windows, 50 steps", stream=term, tty=True, every=0.05):
        time.sleep(1.2)
    shown = term.getvalue().replace("\x1b[?25l", "").replace("\x1b[?25h", "")  # click hides the cursor meanwhile
    frames = [f for f in shown.split("\r") if f.startswith("refining 8 windows, 50 steps  [")]
    assert len(frames) >= 2 and frames[0].endswith("00:00:00"), frames
    assert frames[-1].split("]")[1].strip() == "00:00:01", frames
    log = io.StringIO()
    with ticking("refining", stream=log, tty=False, every=0.05):
        time.sleep(0.2)
    assert log.getvalue() == ""


def test_no_rate_or_eta_until_a_second_update_moved_and_start_up_is_not_counted(monkeypatch):
    """Issue 20: a 10k batch's first line said 'ETA 09:33:14' from one job after the cluster's start-up."""
    import muse_cli.progress as progress

    clock = [100.0]
    monkeypatch.setattr(progress.time, "monotonic", lambda: clock[0])
    log = io.StringIO()
    bar = Progress(10_000, "muse batch", "jobs", stream=log, tty=False, every=0)
    clock[0] = 103.6  # 3.6 s of start-up before the first job is back
    bar.update(1)
    clock[0] = 104.6
    bar.update(11)  # 10 jobs in the second since the first: 10 jobs/s, 9989 left
    assert log.getvalue().splitlines() == [
        "muse batch: 1/10000 jobs",
        "muse batch: 11/10000 jobs  10.0 jobs/s  ETA 00:16:38",
    ]
    loaded = Progress(3_000_000, "", "B", stream=io.StringIO(), tty=False)
    loaded.update(1_000_000)
    assert loaded.text() == "1.0 MB / 3.0 MB"
