"""muse show and --png: piano rolls as text and PNG (library and command), drawn where the notes are."""

from __future__ import annotations

import io
import os
import pty
import subprocess

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import DATA, MUSE, run_muse
from matplotlib.colors import to_rgb
from PIL import Image

from muse_cli import show
from muse_cli.cli import cli
from muse_cli.midi import read_melody, to_midi_bytes

# Three bars: C4 E4 G4 (a bar), C5 (a bar), C4 (a bar); 2-bar windows start at steps 0 and 32.
NOTES = [(60, 0, 4), (64, 4, 8), (67, 8, 16), (72, 16, 32), (60, 32, 48)]
THREE_BARS = to_midi_bytes(NOTES, 120.0, None)


def _pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def _rgb(color: str) -> tuple:
    return tuple(round(255 * v) for v in to_rgb(color))


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) index of each run of True."""
    idx = np.flatnonzero(mask)
    out: list[list[int]] = []
    for i in idx:
        if out and i == out[-1][1] + 1:
            out[-1][1] = i
        else:
            out.append([i, i])
    return [(a, b) for a, b in out]


def _invoke(*args, input=None):
    return CliRunner().invoke(cli, [str(a) for a in args], input=input, catch_exceptions=False)


# -- the text roll ------------------------------------------------------------------------------
def test_text_roll_has_a_row_per_pitch_a_column_per_step_and_bar_lines():
    text = show.text_roll(show.read_roll(THREE_BARS, "three.mid"))
    lines = text.splitlines()
    assert lines[0] == "three.mid"
    assert lines[1].split() == ["1", "2", "3"]  # bar numbers over the bar lines
    rows = {line[:3].strip(): line[4:] for line in lines[2:]}
    assert list(rows) == [show.pitch_name(p) for p in range(72, 59, -1)]  # C5 down to C4, every semitone
    assert rows["C4"] == "|#===.   .   .   |.   .   .   .   |#===============|"
    assert rows["E4"] == "|.   #===.   .   |.   .   .   .   |.   .   .   .   |"
    assert rows["G4"] == "|.   .   #=======|.   .   .   .   |.   .   .   .   |"
    assert rows["C5"] == "|.   .   .   .   |#===============|.   .   .   .   |"
    assert all(row.count("|") == 3 + 1 for row in rows.values())


def test_text_roll_wraps_by_whole_windows_to_the_width():
    tune = read_melody((DATA / "folk_16bar.mid").read_bytes(), "folk_16bar.mid")
    names = {show.pitch_name(p) for p, _, _ in tune.notes}
    for width, per_line in ((80, 4), (200, 10), (30, 1)):
        lines = show.text_roll(tune, width=width).splitlines()
        heads = [line for line in lines[1:] if not line[:3].strip()]  # bar-number lines
        assert len(heads) == -(-16 // per_line)
        assert heads[0].split() == [str(b) for b in range(1, per_line + 1)]
        rows = [line for line in lines[1:] if line[:3].strip()]
        assert {line[:3].strip() for line in rows} >= names
        assert sum(line.count("|") - 1 for line in rows) == 16 * len({line[:3] for line in rows})  # a bar, a |
        assert max(map(len, lines[1:])) <= max(width, 4 + 17 + 1)


def test_labels_come_from_the_caller_or_the_provenance():
    eight = to_midi_bytes([(60 + k % 5, 4 * k, 4 * k + 4) for k in range(32)], 120.0, {"form": "AABA"})
    assert show.read_roll(eight, "f.mid").labels == ["A", "A", "B", "A"]  # one letter per 2-bar window
    grouped = to_midi_bytes([(60, 0, 128)], 120.0, {"form": "AB"})
    assert show.read_roll(grouped, "g.mid").labels == ["A", "", "B", ""]  # a letter per equal run of windows
    assert show.roll(eight, labels=["x", "y"]).labels == ["x", "y", "", ""]
    text = show.text_roll(eight, labels="ABCD")
    assert text.splitlines()[2] == "     A                                 B"  # the label row of the first line
    hostile = to_midi_bytes([(60, 0, 64)], 120.0, {"form": [1, None, "x" * 100, "\x1b[31m"], "seconds": 1e300})
    r = show.read_roll(hostile, "h.mid")
    assert r.labels == ["1", "None"] and r.steps == 64  # 2 windows; absurd seconds ignored
    concat = to_midi_bytes([(60, 0, 96)], 120.0, {"mode": "interpolate", "steps": 3})
    assert show.read_roll(concat, "i.mid").labels == ["step 1", "step 2", "step 3"]


def test_broken_provenance_is_no_reason_not_to_draw():
    data = to_midi_bytes(NOTES, 120.0, {"a": 1}).replace(b'muse {"a":1}', b"muse {bad:1}")
    r = show.read_roll(data, "b.mid")
    assert r.notes == NOTES and r.title == "b.mid"


# -- the PNG ------------------------------------------------------------------------------------
def test_png_draws_notes_bar_lines_and_windows_where_they_belong():
    r = show.read_roll(THREE_BARS, "three.mid")
    png = show.piano_roll_png(r)
    im = _pixels(png)
    height, rows = show.layout(r)
    assert im.shape == (height, show.WIDTH_PX, 3) and png[:8] == b"\x89PNG\r\n\x1a\n"
    (first, n, left, top, width), *more = rows
    assert (first, n, more) == (0, 3, [])
    step_px = width / (n * 16)

    def x(step):
        return left + step * step_px

    def y(pitch):
        return top + int((72 - pitch + 0.5) * show.PITCH_PX)

    note = _rgb(show.NOTE_COLOR)
    for pitch in (60, 64, 67, 72):
        runs = _runs((im[y(pitch)] == note).all(-1))
        want = [(x(s), x(e)) for p, s, e in NOTES if p == pitch]
        assert len(runs) == len(want), (pitch, runs)
        for (a, b), (wa, wb) in zip(runs, want):
            assert abs(a - wa) <= 2 and abs(b - wb) <= 2, (pitch, runs, want)
    empty = im[y(61)]  # C#4: no note, so only the grid crosses it
    bars = [a for a, _ in _runs((empty == _rgb(show.BAR_COLOR)).all(-1))]
    windows = [a for a, _ in _runs((empty == _rgb(show.SEGMENT_COLOR)).all(-1))]
    beats = [a for a, _ in _runs((empty == _rgb(show.BEAT_COLOR)).all(-1))]
    assert all(any(abs(b - x(s)) <= 2 for b in bars) for s in (16, 48))
    assert [round(w - x(s)) in (-1, 0, 1, 2) for w, s in zip(windows, (0, 32))] == [True, True]
    assert len(beats) == 3 * 3  # three beats inside each bar
    assert not (im[y(61)] == note).all(-1).any()


def test_png_draws_repeated_notes_apart_as_the_text_roll_does():
    """Issue 20: C then C (the second starting where the first ends) was one long box in the PNG."""
    repeated = [(60, 0, 4), (60, 4, 8), (60, 8, 16), (64, 16, 32)]
    r = show.roll(to_midi_bytes(repeated, 120.0, None))
    assert show.text_roll(r).splitlines()[-1] == " C4 |#===#===#=======|.   .   .   .   |"
    im = _pixels(show.piano_roll_png(r))
    (first, n, left, top, width), *_ = show.layout(r)[1]
    step_px = width / (n * 16)
    runs = _runs((im[top + int((64 - 60 + 0.5) * show.PITCH_PX)] == _rgb(show.NOTE_COLOR)).all(-1))
    assert len(runs) == 3, runs  # three boxes, with background between them
    for (a, b), (_, s, e) in zip(runs, repeated):
        assert abs(a - (left + s * step_px)) <= 2 and left + e * step_px - 4 <= b < left + e * step_px, (runs, s, e)
    gaps = [b2 - b1 for (_, b1), (b2, _) in zip(runs, runs[1:])]
    assert all(g >= 2 for g in gaps), gaps


def test_png_is_the_same_bytes_every_time_and_in_every_process(tmp_path):
    (tmp_path / "t.mid").write_bytes(THREE_BARS)
    first = show.piano_roll_png(THREE_BARS, name="t.mid")
    assert show.piano_roll_png(THREE_BARS, name="t.mid") == first
    for name in ("a.png", "b.png"):
        p = run_muse("show", "t.mid", "-o", name, cwd=tmp_path)
        assert p.returncode == 0 and p.stdout == f"{name}\n".encode(), p.stderr.decode()
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes() == first
    assert b"Software" not in first and b"matplotlib" not in first.lower()


def test_long_melodies_wrap_into_rows_of_eight_bars():
    long = to_midi_bytes([(60 + k % 12, 8 * k, 8 * k + 8) for k in range(40)], 120.0, None)  # 20 bars
    r = show.read_roll(long, "l.mid")
    height, rows = show.layout(r)
    assert [(f, n) for f, n, *_ in rows] == [(0, 8), (8, 8), (16, 4)]
    assert _pixels(show.piano_roll_png(r)).shape[:2] == (height, show.WIDTH_PX)


def test_library_table_exposes_the_rolls():
    import muse_cli

    assert muse_cli.piano_roll_png(THREE_BARS) == show.piano_roll_png(THREE_BARS)
    assert "C4 |#===" in muse_cli.text_roll(THREE_BARS)
    with pytest.raises(TypeError, match="cannot show a int"):
        show.roll(3)


def test_the_cli_does_not_import_matplotlib():
    code = "import sys, muse_cli.cli, muse_cli.show; assert 'matplotlib' not in sys.modules"
    subprocess.run([os.path.join(os.path.dirname(MUSE), "python"), "-c", code], check=True)


# -- muse show ----------------------------------------------------------------------------------
def test_show_prints_the_text_roll_reads_stdin_and_writes_png(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "t.mid").write_bytes(THREE_BARS)
    r = _invoke("show", "t.mid")
    assert r.exit_code == 0 and r.stdout == show.text_roll(THREE_BARS, name="t.mid")
    r = _invoke("show", "-", input=THREE_BARS)
    assert r.exit_code == 0 and r.stdout.splitlines()[0] == "stdin" and "C5 |" in r.stdout
    r = _invoke("show", "t.mid", "-o", "-")
    assert r.exit_code == 0 and r.stdout_bytes == show.piano_roll_png(THREE_BARS, name="t.mid")
    assert _invoke("show", "t.mid", "-o", "r.PNG").exit_code == 0 and (tmp_path / "r.PNG").is_file()


@pytest.mark.parametrize(
    "args, code, words",
    [
        (["show", "bad.mid"], 3, "not a readable MIDI file"),
        (["show", "afile.mid"], 3, "not a MIDI file"),
        (["show", "short.mid", "-o", "s.png"], 3, "too short"),
        (["show", "nope.mid"], 3, "no such file"),
        (["show", "t.mid", "-o", "taken.png"], 4, "--force"),
        (["show", "t.mid", "-o", "folder.png"], 4, "directory"),
        (["show", "t.mid", "-o", "roll.jpg"], 2, ".png"),
        (["show", "t.mid", "-o", "folder.png/x.png"], 0, ""),
        (["sample", "--png", "-o", "-"], 2, "--png cannot go to stdout"),
        (["sample", "--png", "-o", "new.mid"], 4, "new.png exists"),
    ],
)
def test_show_and_png_refuse_before_any_work(tmp_path, monkeypatch, args, code, words):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "t.mid").write_bytes(THREE_BARS)
    (tmp_path / "bad.mid").write_bytes(b"MThd junk")
    (tmp_path / "afile.mid").write_text("hello\n")
    (tmp_path / "short.mid").write_bytes(to_midi_bytes([(60, 0, 4)], 120.0, None))
    (tmp_path / "taken.png").write_bytes(b"x")
    (tmp_path / "new.png").write_bytes(b"x")
    (tmp_path / "folder.png").mkdir()
    before = sorted(p.name for p in tmp_path.rglob("*"))
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == code, r.output
    if code:
        assert r.stderr.startswith("muse: error: ") and r.stderr.count("\n") == 1 and words in r.stderr, r.stderr
        assert sorted(p.name for p in tmp_path.rglob("*")) == before
        assert (tmp_path / "taken.png").read_bytes() == (tmp_path / "new.png").read_bytes() == b"x"
    else:
        assert (tmp_path / "folder.png" / "x.png").read_bytes()[:4] == b"\x89PNG"


def test_force_overwrites_an_existing_png(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "t.mid").write_bytes(THREE_BARS)
    (tmp_path / "t.png").write_bytes(b"x")
    assert _invoke("show", "t.mid", "-o", "t.png", "--force").exit_code == 0
    assert (tmp_path / "t.png").read_bytes() == show.piano_roll_png(THREE_BARS, name="t.mid")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_png_to_a_terminal_is_refused(tmp_path):
    (tmp_path / "t.mid").write_bytes(THREE_BARS)
    master, slave = pty.openpty()
    try:
        p = subprocess.run([MUSE, "show", "t.mid", "-o", "-"], stdout=slave, stderr=subprocess.PIPE, cwd=tmp_path)
    finally:
        os.close(slave)
        os.close(master)
    assert p.returncode == 2 and p.stderr == b"muse: error: refusing to write a PNG image to a terminal; " + (
        b"use -o FILE or pipe the output\n"
    )


# -- --png on the generating commands -------------------------------------------------------------
def test_png_beside_each_mid_is_what_muse_show_draws(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = _invoke("sample", "--seconds", 30, "--qpm", 100, "--seed", 5, "-n", 2, "--png", "-o", "out/")
    assert r.exit_code == 0, r.output
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == [f"sample_s5_00{i}.{ext}" for i in (1, 2) for ext in ("mid", "png")]
    for i in (1, 2):
        mid = tmp_path / "out" / f"sample_s5_00{i}.mid"
        assert mid.with_suffix(".png").read_bytes() == show.piano_roll_png(mid.read_bytes(), name=mid.name)
        assert f"{mid.relative_to(tmp_path)}\n{mid.with_suffix('.png').relative_to(tmp_path)}\n" in r.stdout
    r = _invoke("vary", "out/sample_s5_001.mid", "-n", 1, "--seed", 1, "--png", "-o", "v/")
    assert r.exit_code == 0 and sorted(p.suffix for p in (tmp_path / "v").iterdir()) == [".mid", ".png"]
    r = _invoke("decode", "--midi", "out/sample_s5_001.mid", "--seed", 1, "--png", "-o", "d.mid")
    assert r.exit_code == 0 and (tmp_path / "d.png").read_bytes() == show.piano_roll_png(
        (tmp_path / "d.mid").read_bytes(), name="d.mid"
    )


def test_interpolate_png_is_one_roll_of_the_steps(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    a, b = DATA / "folk_b.mid", DATA / "folk_16bar.mid"
    r = _invoke("interpolate", a, b, "--steps", 5, "--seed", 1, "--png", "-o", "m/")
    assert r.exit_code == 0, r.output
    made = sorted(p.name for p in (tmp_path / "m").iterdir())
    assert made == ["interp.png"] + [f"interp_{k:03d}.mid" for k in range(1, 6)]
    assert r.stdout.splitlines()[-1] == "m/interp.png"
    steps = [(tmp_path / "m" / f"interp_{k:03d}.mid").read_bytes() for k in range(1, 6)]
    together = show.roll(steps)
    assert together.starts == [0, 32, 64, 96, 128]  # each step a segment of its own, end to end
    assert together.labels == [f"step {k}" for k in range(1, 6)]
    sheet = show.piano_roll_png(steps, name="interp_001.mid ... interp_005.mid")
    assert (tmp_path / "m" / "interp.png").read_bytes() == sheet
    im = _pixels((tmp_path / "m" / "interp.png").read_bytes())
    height, rows = show.layout(show.roll(steps))
    assert im.shape[:2] == (height, show.WIDTH_PX) and [(f, n) for f, n, *_ in rows] == [(0, 8), (8, 2)]
    r = _invoke("interpolate", a, b, "--steps", 3, "--seed", 1, "--concat", "--png", "-o", "c.mid")
    assert r.exit_code == 0 and (tmp_path / "c.png").is_file() and not (tmp_path / "interp.png").exists()
    assert show.read_roll((tmp_path / "c.mid").read_bytes(), "c.mid").labels == ["step 1", "step 2", "step 3"]


def test_batch_show_jobs_draw_what_muse_show_draws_and_verify_on_rerun(tmp_path):
    """A `show` op in muse batch: the PNG bytes of `muse show MIDI -o OUT`; a rerun skips it; a cut-off PNG fails."""
    import json

    (tmp_path / "tune.mid").write_bytes((DATA / "folk_b.mid").read_bytes())
    jobs = [{"op": "show", "midi": "tune.mid", "out": "rolls/tune.png"}, {"op": "show", "midi": "tune.mid"}]
    (tmp_path / "jobs.jsonl").write_text("\n".join(json.dumps(j) for j in jobs) + "\n")
    r = run_muse("batch", "jobs.jsonl", "--workers", 1, cwd=tmp_path)
    assert r.returncode == 0, r.stderr.decode()
    want = run_muse("show", "tune.mid", "-o", "-", cwd=tmp_path)
    assert want.returncode == 0, want.stderr.decode()
    assert (tmp_path / "rolls" / "tune.png").read_bytes() == want.stdout == (tmp_path / "tune.png").read_bytes()
    again = run_muse("batch", "jobs.jsonl", "--workers", 1, cwd=tmp_path)
    assert again.returncode == 0 and "2 skipped" in again.stderr.decode(), again.stderr.decode()
    (tmp_path / "tune.png").write_bytes(want.stdout[:500])
    cut = run_muse("batch", "jobs.jsonl", "--workers", 1, cwd=tmp_path)
    assert cut.returncode == 1 and "is not a whole PNG image" in cut.stderr.decode(), cut.stderr.decode()
    (tmp_path / "jobs.jsonl").write_text(json.dumps({"op": "show", "midi": "tune.mid", "out": "x.jpg"}) + "\n")
    bad = run_muse("batch", "jobs.jsonl", cwd=tmp_path)
    assert bad.returncode == 2 and "'out' of a show job must end in .png" in bad.stderr.decode(), bad.stderr.decode()
