"""Hostile input, as a user who means harm (or makes every mistake) would give it (issue 11).

Every case runs a real `muse` command, in-process through Click's CliRunner where it can and as a
subprocess where the terminal, stdout or argv bytes matter, and asserts:
- its exit code (errors.py's table: 2 usage, 3 input, 4 output exists, 5 checkpoint, 6 download,
  7 render, 8 output cannot be written);
- exactly one line on stderr, ``muse: error: ...``. Click's own usage errors (a bad option value
  caught by the parser) have Click's form instead: ``Usage: ...``, ``Try 'muse ... -h' for help.``,
  a blank line, then ``Error: ...`` as the last line; they exit 2;
- no traceback;
- no file created or changed anywhere under the test folder (MUSE_HOME included) except the
  outputs of a run that succeeded.

Full disks and read-only folders are small tmpfs mounts (we run as root in CI, where permission
bits would not stop a write); cases skip with the reason where mount is not allowed.
Set MUSE_HOSTILE_LOG=FILE to get one JSON line per case (for the issue's before/after totals).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pty
import shutil
import stat
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest_download import make_tar

from muse_cli.cli import cli

DATA = Path(__file__).parent / "data"
MUSE = str(Path(sys.executable).parent / "muse")
USAGE = "usage"  # expect Click's own usage-error form (exit 2)


# -- the one check every case makes ---------------------------------------------------------------
def _snapshot(root: Path) -> dict[str, str]:
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            p = os.path.join(dirpath, name)
            if not stat.S_ISREG(os.lstat(p).st_mode):  # a link, a fifo: never opened (a fifo would block)
                out[os.path.relpath(p, root)] = f"special {os.lstat(p).st_mode:o}"
                continue
            try:
                out[os.path.relpath(p, root)] = hashlib.sha256(Path(p).read_bytes()).hexdigest()
            except OSError:
                out[os.path.relpath(p, root)] = "unreadable"
    return out


class Outcome:
    def __init__(self, code: int, stdout: bytes, stderr: str, crashed: bool = False):
        self.code, self.stdout, self.stderr, self.crashed = code, stdout, stderr, crashed


def run_inprocess(args, input=None) -> Outcome:
    r = CliRunner().invoke(cli, [str(a) for a in args], input=input, catch_exceptions=True)
    crashed = r.exception is not None and not isinstance(r.exception, SystemExit)
    stderr = r.stderr
    if crashed:
        import traceback

        stderr += "".join(traceback.format_exception(r.exception))
    return Outcome(r.exit_code, r.stdout_bytes, stderr, crashed)


def run_subprocess(args, input=None, env=None, timeout=120, **kw) -> Outcome:
    full_env = {**os.environ, **(env or {})}
    p = subprocess.run(
        [MUSE, *map(str, args)], input=input, capture_output="stdout" not in kw, env=full_env, timeout=timeout, **kw
    )
    err = p.stderr.decode("utf-8", "replace") if isinstance(p.stderr, bytes) else (p.stderr or "")
    return Outcome(p.returncode, p.stdout or b"", err)


PROGRESS = ("loading model...", "checkpoint ", "seed ")  # what a run that got as far as the model prints first


def check(
    case: str, tmp: Path, before: dict, out: Outcome, code: int, words: str = "", after_model: bool = False
) -> None:
    """The assertions every hostile case shares (and the optional JSON log of its outcome).

    ``after_model``: a failure that can only happen once the model has run (a disk that fills up);
    its progress lines may come before the one error line.
    """
    after = _snapshot(tmp)
    new = sorted(set(after) - set(before))
    changed = sorted(k for k in before if k in after and after[k] != before[k])
    lines = out.stderr.strip().splitlines()
    if after_model:
        lines = [ln for ln in lines if not ln.startswith(PROGRESS)]
    traceback = out.crashed or "Traceback" in out.stderr
    if code == 2 and lines and lines[0].startswith("Usage:"):
        shape_ok = lines[-1].startswith("Error: ")
    elif code == 130:
        shape_ok = lines == ["muse: interrupted"]
    else:
        shape_ok = len(lines) == 1 and lines[0].startswith("muse: error: ")
    log = os.environ.get("MUSE_HOSTILE_LOG")
    if log:
        with open(log, "a") as f:
            f.write(
                json.dumps(
                    {
                        "case": case,
                        "want": code,
                        "code": out.code,
                        "lines": len(lines),
                        "traceback": traceback,
                        "new": new,
                        "changed": changed,
                        "clean": out.code == code and shape_ok and not traceback and not new and not changed,
                    }
                )
                + "\n"
            )
    assert not traceback, out.stderr[-2000:]
    assert out.code == code, out.stderr
    assert shape_ok, out.stderr
    if words:
        assert words.lower() in out.stderr.lower(), out.stderr
    assert not new, new
    assert not changed, changed


@pytest.fixture
def work(tmp_path, monkeypatch):
    """A folder with the test MIDI files and one plain file, as the current directory."""
    for name in ("folk_b.mid", "folk_16bar.mid", "not_midi.mid", "empty.mid"):
        shutil.copy(DATA / name, tmp_path / name)
    (tmp_path / "afile").write_text("x\n")
    (tmp_path / "taken.mid").write_bytes((DATA / "folk_b.mid").read_bytes())
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _mount_tmpfs(path: Path, size: str = "200k", read_only: bool = False) -> None:
    path.mkdir(parents=True, exist_ok=True)
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True)
    if p.returncode:
        pytest.skip(f"cannot mount a tmpfs here ({p.stderr.decode().strip() or 'not root'})")
    if read_only:
        subprocess.run(["mount", "-o", "remount,ro", str(path)], check=True)


@pytest.fixture
def mounts(tmp_path):
    made = []

    def mount(name: str, size: str = "200k", read_only: bool = False) -> Path:
        path = tmp_path / name
        _mount_tmpfs(path, size, read_only)
        made.append(path)
        return path

    yield mount
    for path in reversed(made):
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


# -- 1. options the parser must refuse (Click's usage form, exit 2) -------------------------------
GEN = [
    ["sample"],
    ["decode", "lat.ndjson"],
    ["interpolate", "folk_b.mid", "folk_16bar.mid"],
    ["continue", "folk_b.mid", "--form", "AB", "-s", "8"],
]
BAD_GENERATION_OPTIONS = [
    ["--seed", "-1"],
    ["--seed", "x"],
    ["--seed", str(2**64)],
    ["-t", "inf"],
    ["-t", "-inf"],
    ["-t", "nan"],
    ["-t", "1e9"],
    ["-t", "0"],
    ["-t", "-1"],
    ["--qpm", "0"],
    ["--qpm", "inf"],
    ["--qpm", "nan"],
    ["--qpm", "1e6"],
]


@pytest.mark.parametrize("command", GEN, ids=lambda c: c[0])
@pytest.mark.parametrize("option", BAD_GENERATION_OPTIONS, ids=" ".join)
def test_bad_generation_option(work, command, option):
    before = _snapshot(work)
    check(f"{command[0]} {' '.join(option)}", work, before, run_inprocess([*command, *option, "-o", "out/"]), 2)


@pytest.mark.parametrize(
    "args",
    [
        ["sample", "-n", "0"],
        ["sample", "-n", "10001"],
        ["sample", "--seconds", "inf"],
        ["sample", "--seconds", "nan"],
        ["sample", "--seconds", "601"],
        ["sample", "--candidates", "0"],
        ["sample", "--form", ""],
        ["sample", "--form", "A1B"],
        ["sample", "--form", "A" * 200],
        ["sample", "--form", "ÄB"],
        ["continue", "folk_b.mid", "--form", "A B"],
        ["continue", "folk_b.mid", "--keep", "3"],
        ["continue", "folk_b.mid", "--seconds", "0"],
        ["continue", "folk_b.mid", "--seconds", "nan"],
        ["continue", "folk_b.mid", "-n", "0"],
        ["continue"],
        ["interpolate", "folk_b.mid", "folk_16bar.mid", "--steps", "1"],
        ["interpolate", "folk_b.mid", "folk_16bar.mid", "--steps", "65"],
        ["render", "folk_b.mid", "--rate", "0"],
        ["render", "folk_b.mid", "--rate", "-44100"],
        ["render", "folk_b.mid", "--rate", "44.1"],
        ["render", "folk_b.mid", "--rate", "1000000"],
        ["render", "folk_b.mid", "--soundfont", "."],
        ["download", "cat-mel_2bar_big", "--retries", "-1"],
        ["download", "cat-mel_2bar_big", "--timeout", "0"],
        ["download", "cat-mel_2bar_big", "--file", "no-such.tar"],
        ["sample", "--no-such-option"],
        ["no-such-command"],
    ],
    ids=" ".join,
)
def test_bad_option(work, args):
    before = _snapshot(work)
    check(" ".join(args), work, before, run_inprocess(args), 2)


@pytest.mark.parametrize("command", [["sample"], ["continue", "folk_b.mid"]], ids=lambda c: c[0])
@pytest.mark.parametrize("value", ["0", "-1", "600.5"])
def test_seconds_out_of_range_says_zero_is_excluded(work, command, value):
    before = _snapshot(work)
    out = run_inprocess([*command, "--seconds", value])
    words = f"must be more than 0 and at most 600 seconds, got {value}"
    check(f"{command[0]} --seconds {value}", work, before, out, 2, words)
    assert "between 0 and" not in out.stderr


def test_verbose_is_accepted_after_the_command(work, monkeypatch):
    """`muse sample -v` works as `muse -v sample` does (a new user's first try)."""
    monkeypatch.delenv("MUSE_VERBOSE", raising=False)  # -v sets it in this process: undone after the test
    before = _snapshot(work)
    out = run_inprocess(["sample", "-v", "--seed", "-1"])  # reaches the seed check: -v itself parsed
    check("sample -v --seed -1", work, before, out, 2, "--seed")
    assert "no such option" not in out.stderr.lower()


# -- 2. prompts ---------------------------------------------------------------------------------
PROMPTS = {
    "empty": "",
    "spaces": "   ",
    "control": "\x01\x02\x03",
    "tabs-newlines": "\t\n\r",
    "escape-sequence": "\x1b\x1b\x07",
    "not-utf8": b"\xff\xfe tune".decode("utf-8", "surrogateescape"),
}


@pytest.mark.parametrize("command", [["sample"], ["decode"]], ids=lambda c: c[0])
@pytest.mark.parametrize("name", PROMPTS)
def test_unreadable_prompt_is_a_prompt_error_before_any_model_work(work, command, name):
    before = _snapshot(work)
    out = run_inprocess([*command, "--prompt", PROMPTS[name], "-o", "out/"])
    check(f"{command[0]} --prompt {name}", work, before, out, 2, "prompt")
    assert "loading model" not in out.stderr


BAD_TEMPI = {
    "zero": "a reel at 0 bpm",
    "huge": "a reel at 9999 bpm",
    "negative": "-5 qpm",
    "tiny": "at 1e-3 bpm",
    "thousands": "a reel at 120,000 bpm",  # was read as 120 qpm (issue 20)
    "fullwidth": "a reel at ９９９９ bpm",
}


@pytest.mark.parametrize("command", [["sample"], ["decode"]], ids=lambda c: c[0])
@pytest.mark.parametrize("name", BAD_TEMPI)
def test_prompt_tempo_out_of_range_is_refused_before_any_model_work(work, command, name):
    """A tempo in the words outside 20..400 is an error (not clamped), even beside --qpm."""
    for extra in ([], ["--qpm", "100"]):
        before = _snapshot(work)
        out = run_inprocess([*command, "--prompt", BAD_TEMPI[name], *extra, "-o", "out/"])
        check(
            f"{command[0]} --prompt {name} {' '.join(extra)}",
            work,
            before,
            out,
            2,
            "bpm" if "bpm" in BAD_TEMPI[name] else "qpm",
        )
        assert "loading model" not in out.stderr and "20 to 400" in out.stderr


def test_non_utf8_prompt_bytes_from_the_shell(work):
    before = _snapshot(work)
    p = subprocess.run(
        [MUSE.encode(), b"sample", b"--prompt", b"\xff\xfe\xfd", b"-o", b"out/"], capture_output=True, timeout=60
    )
    check(
        "sample --prompt <non-utf8 argv>", work, before, Outcome(p.returncode, p.stdout, p.stderr.decode()), 2, "UTF-8"
    )


# -- 3. outputs that cannot be written, refused before any model work -----------------------------
OUTPUTS = [
    ("sample-under-a-file", ["sample", "-o", "afile/x.mid"], 8, "not a directory"),
    ("sample-dir-under-a-file", ["sample", "-o", "afile/sub/"], 8, "not a directory"),
    ("sample-wav-under-a-file", ["sample", "--wav", "-o", "afile/x.mid"], 8, "not a directory"),
    ("sample-n-under-a-file", ["sample", "-n", "3", "-o", "afile"], 2, "not a directory"),
    ("sample-existing", ["sample", "-o", "taken.mid"], 4, "--force"),
    ("sample-existing-wav", ["sample", "--seed", "1", "--wav", "-o", "t2.mid"], 4, "--force"),
    ("sample-dir-named-mid", ["sample", "-o", "adir.mid"], 4, "directory"),
    ("sample-stdout-many", ["sample", "-n", "2", "-o", "-"], 2, "directory"),
    ("sample-stdout-wav", ["sample", "--wav", "-o", "-"], 2, "render"),
    ("encode-under-a-file", ["encode", "folk_b.mid", "-o", "afile/x.npz"], 8, "not a directory"),
    ("encode-bad-suffix", ["encode", "folk_b.mid", "-o", "x.txt"], 2, ".npz"),
    ("encode-existing", ["encode", "folk_b.mid", "-o", "taken.mid.npz"], 4, "--force"),
    ("decode-under-a-file", ["decode", "lat.ndjson", "-o", "afile/x.mid"], 8, "not a directory"),
    (
        "interpolate-under-a-file",
        ["interpolate", "folk_b.mid", "folk_16bar.mid", "-o", "afile/m/"],
        8,
        "not a directory",
    ),
    ("render-under-a-file", ["render", "folk_b.mid", "-o", "afile/x.wav"], 8, "not a directory"),
    ("render-existing", ["render", "folk_b.mid", "-o", "t2.wav"], 4, "--force"),
    ("render-into-a-dir", ["render", "folk_b.mid", "-o", "adir.wav"], 4, "directory"),
    ("render-stdin-no-output", ["render", "-"], 2, "-o"),
    ("show-under-a-file", ["show", "folk_b.mid", "-o", "afile/x.png"], 8, "not a directory"),
    ("show-existing", ["show", "folk_b.mid", "-o", "t2.png"], 4, "--force"),
    ("show-into-a-dir", ["show", "folk_b.mid", "-o", "adir.png", "--force"], 4, "directory"),
    ("show-not-png", ["show", "folk_b.mid", "-o", "adir.mid"], 2, ".png"),
    ("sample-png-stdout", ["sample", "--png", "-o", "-"], 2, "muse show"),
    ("sample-existing-png", ["sample", "--seed", "1", "--png", "-o", "t2.mid"], 4, "t2.png exists"),
    ("interpolate-existing-png", ["interpolate", "folk_b.mid", "folk_16bar.mid", "--png"], 4, "interp.png exists"),
    ("continue-existing", ["continue", "folk_b.mid", "-o", "taken.mid"], 4, "--force"),
    ("continue-under-a-file", ["continue", "folk_b.mid", "--wav", "-o", "afile/x.mid"], 8, "not a directory"),
    ("continue-stdout-many", ["continue", "folk_b.mid", "-n", "2", "-o", "-"], 2, "directory"),
    ("sample-form-too-short", ["sample", "--seconds", "4", "--form", "AABA", "-o", "f.mid"], 2, "--seconds 16"),
    ("sample-form-no-seconds", ["sample", "--form", "AB", "-o", "f.mid"], 2, "default length"),
    ("continue-form-too-short", ["continue", "folk_b.mid", "-s", "8", "--form", "ABC"], 2, "--seconds 12"),
    ("prompt-form-too-short", ["sample", "--prompt", "a reel", "--form", "AABA", "-s", "9"], 2, "--form AABA"),
    # issue 20: the extension says the format; any other is one line, before any work
    ("sample-wav-name", ["sample", "-o", "tune.wav"], 2, "-o tune.wav: this writes MIDI; give a folder"),
    ("sample-txt-name", ["sample", "--wav", "-o", "tune.txt"], 2, "a .mid or .midi file name"),
    ("decode-mp3-name", ["decode", "lat.ndjson", "-o", "x.mp3"], 2, "-o x.mp3: this writes MIDI"),
    ("interpolate-wav-name", ["interpolate", "folk_b.mid", "folk_16bar.mid", "--concat", "-o", "m.wav"], 2, ".mid"),
    ("vary-png-name", ["vary", "folk_b.mid", "-n", "1", "-o", "v.png"], 2, ".midi file name"),
    ("continue-npz-name", ["continue", "folk_b.mid", "-o", "c.npz"], 2, ".mid"),
    ("render-mp3", ["render", "folk_b.mid", "-o", "x.mp3"], 2, "-o x.mp3: this writes WAV audio; give a .wav"),
    ("render-mid", ["render", "folk_b.mid", "-o", "x.mid"], 2, ".wav file name"),
    ("render-no-extension", ["render", "folk_b.mid", "-o", "x"], 2, ".wav file name"),
    ("show-jpg", ["show", "folk_b.mid", "-o", "x.jpg"], 2, "give a .png file name"),
    ("encode-wav", ["encode", "folk_b.mid", "-o", "x.wav"], 2, ".npz"),
    # --json describes written files: never with stdout as the output
    ("sample-json-stdout", ["sample", "--json", "-o", "-"], 2, "--json describes the files written"),
    ("encode-json-stdout", ["encode", "folk_b.mid", "--json"], 2, "--json describes a written file"),
    ("render-json-stdout", ["render", "folk_b.mid", "--json", "-o", "-"], 2, "--json describes a written file"),
    ("show-json-text-roll", ["show", "folk_b.mid", "--json"], 2, "give -o ROLL.png"),
    # fit-attrs plans its one output before the model loads (the default checkpoint's file exists)
    ("fit-attrs-existing", ["fit-attrs", "--samples", "64"], 4, "attributes.npz exists; use --force"),
]


@pytest.mark.parametrize("case,args,code,words", OUTPUTS, ids=[c[0] for c in OUTPUTS])
def test_output_that_cannot_be_written_is_refused_first(work, case, args, code, words):
    (work / "adir.mid").mkdir()
    (work / "adir.png").mkdir()
    (work / "adir.wav").mkdir()
    (work / "taken.mid.npz").write_bytes(b"x")
    (work / "t2.wav").write_bytes(b"x")
    (work / "t2.png").write_bytes(b"x")
    (work / "interp.png").write_bytes(b"x")
    (work / "lat.ndjson").write_text(json.dumps({"source": "a", "start_bar": 0, "z": [0.0] * 128}) + "\n")
    before = _snapshot(work)
    out = run_inprocess(args)
    check(case, work, before, out, code, words)
    assert "loading model" not in out.stderr


@pytest.mark.parametrize("args", [["sample"], ["render", "folk_b.mid"], ["decode", "lat.ndjson"]], ids=" ".join)
def test_read_only_folder_is_refused_first(work, mounts, args):
    ro = mounts("ro", read_only=True)
    (work / "lat.ndjson").write_text(json.dumps({"z": [0.0] * 128}) + "\n")
    before = _snapshot(work)
    out = run_inprocess([*args, "-o", f"{ro}/x.{'wav' if args[0] == 'render' else 'mid'}"])
    check(f"{args[0]} -o read-only/", work, before, out, 8, "read-only")
    assert "loading model" not in out.stderr


def test_full_disk_render_leaves_nothing(work, mounts):
    full = mounts("full", "200k")
    before = _snapshot(work)
    check(
        "render 16 bars into a 200 kB tmpfs",
        work,
        before,
        run_inprocess(["render", "folk_16bar.mid", "-o", f"{full}/a/b/t.wav"]),
        8,
        "no space",
    )
    assert os.listdir(full) == []


def test_full_disk_sample_wav_leaves_neither_mid_nor_wav(work, mounts):
    """The issue's reproduction: the .mid fits, the .wav does not; neither may stay."""
    full = mounts("full", "200k")
    before = _snapshot(work)
    check(
        "sample --seconds 16 --wav into a 200 kB tmpfs",
        work,
        before,
        run_inprocess(["sample", "--seconds", "16", "--seed", "1", "--wav", "-o", f"{full}/new/t.mid"]),
        8,
        "no space",
        after_model=True,
    )
    assert os.listdir(full) == []  # not even the folder new/ that the run made


def test_ctrl_c_while_writing_leaves_no_output_and_no_temporary_file(work):
    """SIGINT once the model has run, while the .mid/.wav set is being rendered and written: the signal lands
    while temporary files of the set are on disk and nothing is committed, and the run leaves nothing."""
    import signal

    before = _snapshot(work)
    env = {k: v for k, v in os.environ.items() if k != "MUSE_VERBOSE"}
    p = subprocess.Popen(
        [MUSE, "sample", "-n", "6", "--seconds", "300", "--seed", "1", "--wav", "-o", "out/"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    lines = []
    for raw in p.stderr:
        lines.append(raw.decode())
        if raw.startswith(b"seed "):
            break
    deadline = time.monotonic() + 60
    while not list(work.glob("out/.*.part")) and time.monotonic() < deadline and p.poll() is None:
        time.sleep(0.02)  # until the set is being written: the first .mid is down, its 300 s .wav renders
    parts = sorted(f.name for f in work.glob("out/.*.part"))
    visible = sorted(f.name for f in work.glob("out/[!.]*"))
    running = p.poll() is None
    p.send_signal(signal.SIGINT)
    stdout, rest = p.communicate(timeout=120)
    # the interrupt hit a write: the set's temporary files were there, none of its files yet, the run still going
    assert running and parts and all(n.startswith(".sample_s1_001.mid.") for n in parts[:1]), parts
    assert visible == [], visible
    out = Outcome(p.returncode, stdout, "".join(lines) + rest.decode())
    check("sample --wav, Ctrl-C while writing", work, before, out, 130, after_model=True)
    assert stdout == b""  # no path announced: nothing was committed
    assert not (work / "out").exists()  # the folder the run made goes too


def test_stale_temporary_files_of_a_killed_run_are_removed(work):
    """A SIGKILL mid-write leaves .NAME.XXXXXXXX.part; the next run writing NAME removes it."""
    stale = work / ".out.wav.k1ll3d00.part"
    stale.write_bytes(b"\0" * 1000)
    other = work / ".other.wav.k1ll3d00.part"  # not this run's: kept
    other.write_bytes(b"\0")
    out = run_inprocess(["render", "folk_b.mid", "-o", "out.wav"])
    assert out.code == 0, out.stderr
    assert not stale.exists() and other.exists()
    assert (work / "out.wav").read_bytes()[:4] == b"RIFF"


def test_binary_to_a_terminal_is_refused_before_the_model_loads(work):
    before = _snapshot(work)
    master, slave = pty.openpty()
    t0 = time.monotonic()
    try:
        p = subprocess.run([MUSE, "sample", "-o", "-"], stdout=slave, stderr=subprocess.PIPE, timeout=60)
    finally:
        os.close(slave)
        os.close(master)
    out = Outcome(p.returncode, b"", p.stderr.decode())
    check("sample -o - to a terminal", work, before, out, 2, "terminal")
    assert "loading model" not in out.stderr and time.monotonic() - t0 < 8


@pytest.mark.parametrize("args", [["render", "folk_b.mid", "-o", "-"], ["checkpoints"], ["attrs"]], ids=" ".join)
def test_stdout_on_a_full_device(work, args):
    before = _snapshot(work)
    with open("/dev/full", "wb") as full:
        out = run_subprocess(args, stdout=full, stderr=subprocess.PIPE)
    check(f"{' '.join(args)} > /dev/full", work, before, out, 8, "space", after_model=args == ["attrs"])
    assert "muse: error: cannot write" in out.stderr


@pytest.mark.parametrize("args", [["render", "folk_b.mid", "-o", "-"], ["attrs"], ["show", "folk_b.mid"]], ids=" ".join)
def test_stdout_closed(work, args):
    before = _snapshot(work)
    p = subprocess.run([MUSE, *args], stderr=subprocess.PIPE, timeout=60, preexec_fn=lambda: os.close(1))
    out = Outcome(p.returncode, b"", p.stderr.decode())
    check(f"{' '.join(args)} >&-", work, before, out, 8, "closed")
    assert "loading model" not in out.stderr  # refused before any work


# -- 4. MUSE_HOME that cannot hold anything ----------------------------------------------------
def test_muse_home_is_a_file(work, monkeypatch, tarball):
    monkeypatch.setenv("MUSE_HOME", str(work / "afile"))
    before = _snapshot(work)
    check(
        "download with MUSE_HOME a file",
        work,
        before,
        run_inprocess(["download", "cat-mel_2bar_small", "--file", str(tarball)]),
        8,
        "MUSE_HOME",
    )


def test_muse_home_read_only(work, mounts, monkeypatch, tarball):
    monkeypatch.setenv("MUSE_HOME", str(mounts("home", read_only=True)))
    before = _snapshot(work)
    check(
        "download with MUSE_HOME read-only",
        work,
        before,
        run_inprocess(["download", "cat-mel_2bar_small", "--file", str(tarball)]),
        8,
        "read-only",
    )


# -- 5. latent files ---------------------------------------------------------------------------
Z = [0.0] * 128


def _ndjson(*objs) -> bytes:
    return ("\n".join(o if isinstance(o, str) else json.dumps(o) for o in objs) + "\n").encode()


def _npy(arr) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=True)
    return buf.getvalue()


def _npz(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


LATENTS = {
    "bar-string": _ndjson({"start_bar": "2", "z": Z}),
    "bar-null": _ndjson({"start_bar": None, "z": Z}),
    "bar-float": _ndjson({"start_bar": 2.5, "z": Z}),
    "bar-bool": _ndjson({"start_bar": True, "z": Z}),
    "bar-negative": _ndjson({"start_bar": -2, "z": Z}),
    "bar-1e12": _ndjson({"start_bar": 10**12, "z": Z}),
    "bar-list": _ndjson({"start_bar": [0], "z": Z}),
    "span-too-long": _ndjson({"source": "a", "start_bar": 0, "z": Z}, {"source": "a", "start_bar": 400, "z": Z}),
    "z-strings": _ndjson({"z": ["0.5"] * 128}),
    "z-bools": _ndjson({"z": [True] * 128}),
    "z-nested": _ndjson({"z": [Z, Z]}),
    "z-empty": _ndjson({"z": []}),
    "z-number": _ndjson({"z": 5}),
    "z-null": _ndjson({"z": None}),
    "z-object": _ndjson({"z": {"a": 1}}),
    "z-ragged": _ndjson({"z": [[1.0], [1.0, 2.0]]}),
    "line-a-list": _ndjson([1, 2, 3]),
    "line-a-string": _ndjson('"z"'),
    "no-z": _ndjson({"start_bar": 0}),
    "not-json": b"{z: [1, 2\n",
    "source-a-number": _ndjson({"source": 5, "z": Z}),
    "checkpoint-a-list": _ndjson({"checkpoint": ["x"], "z": Z}),
    "empty": b"",
    "blank-lines": b"\n\n   \n",
    "a-midi-file": (DATA / "folk_b.mid").read_bytes(),
    "binary-junk": bytes(range(256)) * 4,
    "too-many-lines": _ndjson(*[{"source": f"s{i}", "z": [0.0]} for i in range(10001)]),
    "npy-complex": _npy(np.zeros((2, 128), np.complex64)),
    "npy-bool": _npy(np.zeros((2, 128), bool)),
    "npy-strings": _npy(np.array([["a"] * 128])),
    "npy-object": _npy(np.array([[0.0] * 128], dtype=object)),
    "npy-3d": _npy(np.zeros((2, 2, 128), np.float32)),
    "npy-0d": _npy(np.float32(1.0)),
    "npy-0-rows": _npy(np.zeros((0, 128), np.float32)),
    "npy-0-cols": _npy(np.zeros((3, 0), np.float32)),
    "npy-million-rows": _npy(np.zeros((1_000_000, 1), np.float32)),
    "npy-truncated": _npy(np.zeros((4, 128), np.float32))[:300],
    "npz-no-z": _npz(y=np.zeros((1, 128))),
    "npz-bar-0d": _npz(z=np.zeros((1, 128), np.float32), start_bar=np.array(3)),
    "npz-bar-strings": _npz(z=np.zeros((1, 128), np.float32), start_bar=np.array(["x"])),
    "npz-bar-float": _npz(z=np.zeros((1, 128), np.float32), start_bar=np.array([1.5])),
    "npz-bar-1e12": _npz(z=np.zeros((1, 128), np.float32), start_bar=np.array([10**12])),
    "npz-bar-short": _npz(z=np.zeros((2, 128), np.float32), start_bar=np.array([0])),
    "npz-source-short": _npz(z=np.zeros((2, 128), np.float32), source=np.array(["a"])),
    "npz-source-numbers": _npz(z=np.zeros((1, 128), np.float32), source=np.array([7])),
    "npz-checkpoint-list": _npz(z=np.zeros((1, 128), np.float32), checkpoint=np.array(["a", "b"])),
    "npz-complex": _npz(z=np.zeros((1, 128), np.complex128)),
    "npz-truncated": _npz(z=np.zeros((4, 128), np.float32))[:200],
}


@pytest.mark.parametrize("name", LATENTS)
def test_bad_latent_file(work, name):
    (work / "lat").write_bytes(LATENTS[name])
    before = _snapshot(work)
    out = run_inprocess(["decode", "lat", "-o", "out/"])
    check(f"decode latents {name}", work, before, out, 3, "--midi" if name == "a-midi-file" else "")
    assert "loading model" not in out.stderr


def test_bad_latents_on_stdin(work):
    before = _snapshot(work)
    check(
        "decode - <complex npy>",
        work,
        before,
        run_inprocess(["decode", "-", "-o", "out/"], input=LATENTS["npy-complex"]),
        3,
        "real numbers",
    )


# -- 6. MIDI inputs ----------------------------------------------------------------------------
MIDI = {
    "empty": b"",
    "not-midi": b"hello, this is text\n",
    "header-only": (DATA / "folk_b.mid").read_bytes()[:14],
    "truncated": (DATA / "folk_b.mid").read_bytes()[:40],
    "truncated-late": (DATA / "folk_16bar.mid").read_bytes()[:-20],
    "mthd-junk": b"MThd" + bytes(range(200)),
}


@pytest.mark.parametrize(
    "command",
    [
        ["render", "{}", "-o", "x.wav"],
        ["encode", "{}", "-o", "x.npz"],
        ["interpolate", "{}", "folk_b.mid", "-o", "m/"],
        ["decode", "--midi", "{}", "-o", "d.mid"],
        ["show", "{}", "-o", "x.png"],
        ["show", "{}"],
        ["continue", "{}", "-s", "8", "-o", "c.mid"],
    ],
    ids=lambda c: c[0],
)
@pytest.mark.parametrize("name", MIDI)
def test_bad_midi(work, command, name):
    (work / "bad.mid").write_bytes(MIDI[name])
    before = _snapshot(work)
    out = run_inprocess([a.replace("{}", "bad.mid") for a in command])
    check(f"{command[0]} MIDI {name}", work, before, out, 3)
    assert "()" not in out.stderr  # a reason is always given


def test_show_of_a_melody_too_long_to_draw(work):
    """A note an hour in: one line, before matplotlib draws 900 rows of bars."""
    from muse_cli.midi import to_midi_bytes

    (work / "long.mid").write_bytes(to_midi_bytes([(60, 0, 4), (62, 16 * 1800, 16 * 1801)], 120.0, None))
    for args in (["show", "long.mid"], ["show", "long.mid", "-o", "long.png"]):
        before = _snapshot(work)
        check(" ".join(args), work, before, run_inprocess(args), 3, "at most 1000 bars")


def test_png_to_a_terminal_is_refused_before_reading(work):
    before = _snapshot(work)
    master, slave = pty.openpty()
    try:
        p = subprocess.run([MUSE, "show", "nope.mid", "-o", "-"], stdout=slave, stderr=subprocess.PIPE, timeout=60)
    finally:
        os.close(slave)
        os.close(master)
    check("show -o - to a terminal", work, before, Outcome(p.returncode, b"", p.stderr.decode()), 2, "terminal")


def test_missing_and_directory_inputs(work):
    (work / "d").mkdir()
    for args, words in (
        (["render", "nope.mid", "-o", "x.wav"], "no such file"),
        (["render", "d", "-o", "x.wav"], "directory"),
        (["encode", "nope.mid"], "no such file"),
    ):
        before = _snapshot(work)
        check(" ".join(args), work, before, run_inprocess(args), 3, words)


# -- 7. SoundFonts -----------------------------------------------------------------------------
SOUNDFONTS = {
    "random-bytes": os.urandom(4096),
    "a-midi-file": (DATA / "folk_b.mid").read_bytes(),
    "empty": b"",
    "riff-but-wav": b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\0" * 40,
    "truncated-sf2": b"RIFF\xff\xff\x00\x00sfbkLIST" + b"\0" * 64,
}


@pytest.mark.parametrize("name", SOUNDFONTS)
def test_unreadable_soundfont_is_a_render_error(work, name):
    (work / "bad.sf2").write_bytes(SOUNDFONTS[name])
    before = _snapshot(work)
    check(
        f"render --soundfont {name}",
        work,
        before,
        run_inprocess(["render", "folk_b.mid", "-o", "x.wav", "--soundfont", "bad.sf2"]),
        7,
        "SoundFont",
    )


def test_missing_soundfont_for_sample_wav_is_refused_before_the_model(work):
    (work / "bad.sf2").write_bytes(SOUNDFONTS["random-bytes"])
    for sf in ("nope.sf2", "bad.sf2"):
        before = _snapshot(work)
        out = run_inprocess(["sample", "--wav", "--soundfont", sf, "-o", "out/"])
        check(f"sample --wav --soundfont {sf}", work, before, out, 7, "SoundFont")
        assert "loading model" not in out.stderr


# -- 8. checkpoints ----------------------------------------------------------------------------
MANIFESTS = {
    "a-list": "[]",
    "a-string": '"x"',
    "null": "null",
    "hparams-a-string": '{"config": "cat-mel_2bar_small", "hparams": "x"}',
    "config-a-number": '{"config": 5}',
    "config-a-list": '{"config": ["a"]}',
    "name-a-dict": '{"config": "cat-mel_2bar_small", "name": {}}',
    "not-json": "{config:",
    "binary": "\udcff\udcfe",
    "no-config": "{}",
}


@pytest.mark.parametrize("name", MANIFESTS)
def test_checkpoint_manifest_of_the_wrong_types(work, name):
    ck = work / "ck"
    ck.mkdir()
    (ck / "model.ckpt.index").write_bytes(b"x")
    (ck / "model.ckpt.data-00000-of-00001").write_bytes(b"x")
    (ck / "muse.json").write_bytes(MANIFESTS[name].encode("utf-8", "surrogateescape"))
    before = _snapshot(work)
    check(
        f"checkpoint muse.json {name}",
        work,
        before,
        run_inprocess(["sample", "-c", "ck", "-o", "out/"]),
        5,
        "muse.json",
    )


@pytest.mark.parametrize(
    "args,words",
    [
        (["-c", "/etc/passwd"], "not a checkpoint"),
        (["-c", "no-such-name"], "unknown checkpoint"),
        (["-c", "cat-mel_2bar_big"], "muse download"),
        (["-c", "hierdec-mel_16bar"], "muse download"),
        (["-c", "afile"], "not a checkpoint"),
    ],
    ids=lambda a: " ".join(a) if isinstance(a, list) else None,
)
def test_bad_checkpoint_option(work, args, words):
    before = _snapshot(work)
    out = run_inprocess(["sample", *args, "-o", "out/"])
    check(f"sample {' '.join(args)}", work, before, out, 5, words)
    assert "/etc/muse.json" not in out.stderr


def test_unknown_config_name_in_muse_json(work, tiny_checkpoint):
    ck = work / "ck"
    shutil.copytree(tiny_checkpoint, ck)
    (ck / "muse.json").write_text('{"config": "no-such-config"}')
    before = _snapshot(work)
    check(
        "checkpoint config unknown",
        work,
        before,
        run_inprocess(["sample", "-c", "ck", "-o", "out/"]),
        5,
        "no-such-config",
    )


# -- 9. registry and downloads ----------------------------------------------------------------
@pytest.fixture
def tarball(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("tar") / "junk.tar"
    path.write_bytes(make_tar([(tarfile.TarInfo("x/readme.txt"), b"hi")]))
    return path


PINS = {
    "not-json": b"{oops",
    "a-list": b"[]",
    "entry-a-number": b'{"cat-mel_2bar_small": 5}',
    "sha-a-number": b'{"cat-mel_2bar_small": {"sha256": 5}}',
    "binary": b"\xff\xfe\x00",
    "empty": b"",
}


@pytest.mark.parametrize("name", PINS)
def test_corrupt_pin_file_stops_the_install(work, muse_home, tarball, name):
    muse_home.mkdir(parents=True)
    (muse_home / "known_hashes.json").write_bytes(PINS[name])
    before = _snapshot(work)
    check(
        f"known_hashes.json {name}",
        work,
        before,
        run_inprocess(["download", "-q", "cat-mel_2bar_small", "--file", str(tarball)]),
        6,
        "rm ",
    )


@pytest.mark.parametrize("content", [b"not a tarball at all\n", b"\x1f\x8b\x08junk", b""], ids=["text", "gz", "empty"])
def test_non_tar_file_is_one_line(work, tmp_path_factory, content):
    bad = tmp_path_factory.mktemp("bad") / "x.tar"
    bad.write_bytes(content)
    before = _snapshot(work)
    check(
        "download --file non-tar",
        work,
        before,
        run_inprocess(["download", "-q", "cat-mel_2bar_small", "--file", str(bad)]),
        6,
        "tar",
    )


@pytest.mark.parametrize(
    "args,env,code",
    [
        (["download", "no-such"], {}, 5),
        (["download", "cat-mel_2bar_big", "--url", "file:///etc/passwd"], {}, 6),
        (["download", "cat-mel_2bar_big", "--url", "ftp://x/y.tar"], {}, 6),
        (["download", "-q", "cat-mel_2bar_big", "--url", "http://127.0.0.1:9/x.tar", "--retries", "0"], {}, 6),
        (["download", "../evil"], {}, 5),
        (["checkpoints"], {"MUSE_REGISTRY": "no-such.toml"}, 5),
        (["checkpoints"], {"MUSE_REGISTRY": "afile"}, 5),
        (["download", "muse-mel_2bar", "--file", "afile"], {}, 5),
    ],
    ids=lambda a: " ".join(a) if isinstance(a, list) else None,
)
def test_bad_registry_or_download(work, monkeypatch, args, env, code):
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    before = _snapshot(work)
    check(" ".join(args), work, before, run_inprocess(args), code)


def test_registry_that_is_not_toml(work, monkeypatch):
    (work / "reg.toml").write_text("[checkpoints.x\nconfig=")
    monkeypatch.setenv("MUSE_REGISTRY", str(work / "reg.toml"))
    before = _snapshot(work)
    check("MUSE_REGISTRY not TOML", work, before, run_inprocess(["checkpoints"]), 5, "TOML")


# -- 10. new users' first tries ----------------------------------------------------------------
def test_decode_of_a_midi_file_points_to_midi_option(work):
    before = _snapshot(work)
    check(
        "decode tune.mid",
        work,
        before,
        run_inprocess(["decode", "folk_b.mid", "-o", "x.mid"]),
        3,
        "muse decode --midi folk_b.mid",
    )


def test_render_help_does_not_speak_of_wav_option():
    out = run_inprocess(["render", "--help"])
    assert out.code == 0 and "--wav" not in out.stdout.decode()


def test_library_render_is_a_function_even_after_the_submodule_loads():
    import muse_cli

    midi = (DATA / "folk_b.mid").read_bytes()
    first = muse_cli.render(midi, rate=8000)
    import muse_cli.render  # noqa: F401  (what the CLI and batch do)

    assert muse_cli.render(midi, rate=8000) == first and first[:4] == b"RIFF"


# -- 11. smaller items of the class 10 -------------------------------------------------
def test_failed_download_through_a_mirror_names_the_mirror(work, monkeypatch):
    monkeypatch.setenv("MUSE_MIRROR", "http://127.0.0.1:9/magenta")
    before = _snapshot(work)
    out = run_inprocess(["download", "-q", "cat-mel_2bar_big", "--retries", "0"])
    check("download through a dead mirror", work, before, out, 6, "MUSE_MIRROR=http://127.0.0.1:9/magenta")
    assert "use a mirror" not in out.stderr


def test_archive_without_data_file_names_the_archive_not_a_deleted_folder(work, tmp_path_factory):
    bad = tmp_path_factory.mktemp("bad") / "x.tar"
    bad.write_bytes(make_tar([(tarfile.TarInfo("tiny/model.ckpt.index"), b"junk")]))
    before = _snapshot(work)
    out = run_inprocess(["download", "-q", "cat-mel_2bar_small", "--file", str(bad)])
    check("download --file without .data", work, before, out, 5, "cat-mel_2bar_small is incomplete")
    assert ".tmp" not in out.stderr


def test_decode_and_interpolate_print_their_seed(work, tiny_checkpoint):
    for args in (
        ["decode", "--midi", "folk_b.mid", "-o", "d.mid"],
        ["interpolate", "folk_b.mid", "folk_16bar.mid", "--steps", "2", "--concat", "-o", "m.mid"],
    ):
        out = run_inprocess([*args, "-c", tiny_checkpoint])
        assert out.code == 0, out.stderr
        seeds = [ln.split()[1] for ln in out.stderr.splitlines() if ln.startswith("seed ")]
        assert len(seeds) == 1 and seeds[0].isdigit()
        again = run_inprocess([*args, "-c", tiny_checkpoint, "--seed", seeds[0], "--force"])
        assert again.code == 0 and f"seed {seeds[0]}" in again.stderr


def test_corrupt_checkpoint_data_says_what_is_wrong(work, tiny_checkpoint):
    ck = work / "ck"
    shutil.copytree(tiny_checkpoint, ck)
    data = next(ck.glob("*.data-*"))
    data.write_bytes(bytes(b ^ 0xFF for b in data.read_bytes()))
    before = _snapshot(work)
    out = run_inprocess(["sample", "-c", "ck", "-o", "x.mid"])
    check("corrupt checkpoint data", work, before, out, 5, "is corrupt: TensorBundle", after_model=True)
    assert "Graph execution error" not in out.stderr


def test_installed_checkpoint_folder_is_readable_by_others(env, tarballs, tmp_path):
    from conftest_download import Tarballs

    (tmp_path / "flat.tar").write_bytes(tarballs.flat)
    env.register("tiny", sha256=Tarballs.sha(tarballs.flat))
    out = run_inprocess(["download", "-q", "tiny", "--file", str(tmp_path / "flat.tar")])
    assert out.code == 0, out.stderr
    mask = os.umask(0)
    os.umask(mask)
    assert (env.checkpoints / "tiny").stat().st_mode & 0o777 == 0o777 & ~mask


@pytest.mark.parametrize(
    "args",
    [["eval", "-t", "inf"], ["eval", "-t", "nan"], ["eval", "--seed", "-1"], ["fit-prompt", "--seed", "-1"]],
    ids=" ".join,
)
def test_eval_and_fit_prompt_options(work, args):
    before = _snapshot(work)
    check(" ".join(args), work, before, run_inprocess(args), 2)


def test_unpacking_folders_of_a_killed_install_are_removed(work, muse_home, tarball):
    stale = muse_home / "checkpoints" / ".cat-mel_2bar_small.k1ll3d00.tmp"
    (stale / "tiny").mkdir(parents=True)
    (stale / "tiny" / "model.ckpt.index").write_bytes(b"x" * 1000)
    other = muse_home / "checkpoints" / ".cat-mel_2bar_big.k1ll3d00.tmp"  # another name's: kept
    other.mkdir()
    before = _snapshot(work)
    check(
        "download --file after a killed install",
        work,
        before,
        run_inprocess(["download", "-q", "cat-mel_2bar_small", "--file", str(tarball)]),
        5,
        "no TensorFlow checkpoint",
    )
    assert not stale.exists() and other.exists()


def test_sigkill_while_writing_leaves_only_hidden_parts_that_the_next_run_removes(work):
    import signal

    env = {k: v for k, v in os.environ.items() if k != "MUSE_VERBOSE"}
    p = subprocess.Popen(
        [MUSE, "sample", "-n", "6", "--seconds", "300", "--seed", "1", "--wav", "-o", "out/"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    deadline = time.monotonic() + 120
    while not list(work.glob("out/.*.part")) and time.monotonic() < deadline and p.poll() is None:
        time.sleep(0.02)
    p.send_signal(signal.SIGKILL)
    p.communicate(timeout=60)
    left = sorted(f.name for f in (work / "out").iterdir())
    assert left and all(n.startswith(".sample_s1_") and n.endswith(".part") for n in left), left
    rerun = run_subprocess(["sample", "-n", "6", "--seconds", "4", "--seed", "1", "--wav", "-o", "out/"], env=env)
    assert rerun.code == 0, rerun.stderr  # no --force needed: nothing visible was left
    names = sorted(f.name for f in (work / "out").iterdir())
    assert names == sorted(f"sample_s1_{i:03d}.{ext}" for i in range(1, 7) for ext in ("mid", "wav"))


def test_devices_pipes_and_links_are_neither_read_forever_nor_replaced(work):
    """Never point these at /dev/stdout itself: a regression would replace the system's link."""
    os.mkfifo(work / "fifo.wav")
    os.symlink("/proc/self/fd/1", work / "stdout.wav")  # what /dev/stdout is
    os.symlink("/proc/self/fd/1", work / "stdout.png")
    os.symlink("/dev/null", work / "null.wav")
    os.symlink("folk_b.mid", work / "link.mid")
    for case, args, code, words in (
        ("render /dev/zero", ["render", "/dev/zero", "-o", "z.wav"], 3, "larger than"),
        ("show /dev/zero", ["show", "/dev/zero"], 3, "larger than"),
        ("show -o a link like /dev/stdout --force", ["show", "folk_b.mid", "-o", "stdout.png", "--force"], 8, "link"),
        (
            "render -o a link like /dev/stdout --force",
            ["render", "folk_b.mid", "-o", "stdout.wav", "--force"],
            8,
            "symbolic link",
        ),
        (
            "render -o a link to /dev/null --force",
            ["render", "folk_b.mid", "-o", "null.wav", "--force"],
            8,
            "symbolic link",
        ),
        ("sample -o a link to a file --force", ["sample", "-o", "link.mid", "--force"], 8, "symbolic link"),
        ("render -o a fifo --force", ["render", "folk_b.mid", "-o", "fifo.wav", "--force"], 8, "device"),
        ("sample -o /dev/null", ["sample", "-o", "/dev/null"], 2, "not a directory"),
    ):
        before = _snapshot(work)
        check(case, work, before, run_inprocess(args), code, words)
    assert (work / "fifo.wav").is_fifo() and os.readlink(work / "stdout.wav") == "/proc/self/fd/1"
    assert os.readlink(work / "null.wav") == "/dev/null" and os.readlink(work / "link.mid") == "folk_b.mid"


# -- 12. attribute sliders (--attr, muse attrs, muse fit-attrs) ----------------------------------
ATTR_COMMANDS = [["sample"], ["decode", "--midi", "folk_b.mid"], ["vary", "folk_b.mid", "-n", "1"]]
BAD_ATTRS = [
    (["--attr", "bogus=1"], "unknown attribute bogus for checkpoint muse-mel_2bar; it knows: density, register"),
    (["--attr", "density=1", "leap=2"], "unknown attribute leap"),
    (["--attr", "density"], "is not NAME=VALUE"),
    (["--attr", "=1"], "is not NAME=VALUE"),
    (["--attr", "density=x"], "'x' is not a number"),
    (["--attr", "density=nan"], "must be a finite number"),
    (["--attr", "density=-inf"], "must be a finite number"),
    (["--attr", "density=3.01"], "outside [-3, 3]"),
    (["--attr", "density=1", "--attr", "density=2"], "given twice"),
]


@pytest.mark.parametrize("command", ATTR_COMMANDS, ids=lambda c: c[0])
@pytest.mark.parametrize("args, words", BAD_ATTRS, ids=lambda a: " ".join(a) if isinstance(a, list) else None)
def test_bad_attr_is_one_line_before_any_model_work(work, command, args, words):
    before = _snapshot(work)
    out = run_inprocess([*command, *args, "-o", "out/"])
    check(f"{command[0]} {' '.join(args)}", work, before, out, 2, words)
    assert "loading model" not in out.stderr


def test_attr_with_a_prompt(work):
    before = _snapshot(work)
    out = run_inprocess(["sample", "--prompt", "a busy reel", "--attr", "density=1", "-o", "out/"])
    check("sample --prompt --attr", work, before, out, 2, "--attr does not combine with --prompt")


@pytest.mark.parametrize("content", ["none", "garbage", "another-z"])
def test_attr_with_a_checkpoint_without_a_usable_file(work, tiny_checkpoint, content):
    from muse_cli.attributes import FILE, path_for
    from muse_cli.model import load_model

    ck = work / "ck"
    shutil.copytree(tiny_checkpoint, ck)
    if content == "garbage":
        (ck / FILE).write_bytes(b"not an npz")
    elif content == "another-z":  # the default model's file: z 128 against tiny's 8
        shutil.copy(path_for(load_model().checkpoint), ck / FILE)
        load_model(str(ck))  # the NumPy engine exports the copy's weights.npz once, before the snapshot
    before = _snapshot(work)
    out = run_inprocess(["sample", "-c", "ck", "--attr", "density=1", "-o", "out/"])
    words = {"none": f"make them with: muse fit-attrs -c {ck}", "garbage": "not a readable attribute file"}
    check(f"sample --attr, checkpoint file {content}", work, before, out, 5, words.get(content, ""), after_model=True)
    if content == "another-z":
        assert "does not fit checkpoint tiny (z 8)" in out.stderr


@pytest.mark.parametrize(
    "args, code, words",
    [
        (["fit-attrs", "--samples", "1"], 2, ""),
        (["fit-attrs", "-o", "a.txt", "--samples", "64"], 2, "No such option '-o'"),
        (["fit-attrs", "-o", "/dev/full", "--force"], 2, "No such option '-o'"),
        (["fit-prompt", "-o", "head/"], 2, "No such option '-o'"),
        (["attrs", "-c", "no-such-name"], 5, "unknown checkpoint"),
    ],
    ids=lambda a: " ".join(a) if isinstance(a, list) else None,
)
def test_attrs_and_fit_attrs_options(work, args, code, words):
    before = _snapshot(work)
    check(" ".join(args), work, before, run_inprocess(args), code, words, after_model=True)


# -- 13. inputs accepted that should not be (issue 20) --------------------------------------------
def _jobs(work: Path, *lines: dict) -> Path:
    path = work / "jobs.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def test_batch_job_temperature_has_the_limit_of_temperature_option(work):
    """`"temperature": 1e300` on sample and vary jobs ran; --temperature refuses anything over 100."""
    _jobs(
        work,
        {"op": "sample", "seed": 1, "out": "a.mid", "temperature": 1e300},
        {"op": "vary", "midi": "folk_b.mid", "seed": 1, "out": "b.mid", "temperature": 100.5},
        {"op": "sample", "seed": 2, "out": "c.mid", "temperature": 100},
    )
    before = _snapshot(work)
    out = run_inprocess(["batch", "jobs.jsonl"])
    assert not out.crashed and "Traceback" not in out.stderr
    assert out.code == 2 and out.stderr.strip().splitlines() == [
        "muse: error: jobs.jsonl: 2 bad lines, nothing was run:",
        "  line 1: 'temperature' must be a number > 0 and at most 100, got 1e+300",
        "  line 2: 'temperature' must be a number > 0 and at most 100, got 100.5",
    ]
    assert _snapshot(work) == before
    check("batch --sample -t 1e300", work, before, run_inprocess(["batch", "--sample", "2", "-t", "1e300"]), 2)


@pytest.mark.parametrize("args", [["batch", "jobs.jsonl"], ["batch", "--sample", "2", "-o", "out"]], ids=" ".join)
def test_batch_refuses_a_bad_engine_before_any_worker(work, monkeypatch, args):
    monkeypatch.setenv("MUSE_ENGINE", "junk")
    _jobs(work, {"op": "sample", "seed": 1, "out": "a.mid"})
    before = _snapshot(work)
    out = run_inprocess(args)
    check(f"MUSE_ENGINE=junk muse {' '.join(args)}", work, before, out, 2, "MUSE_ENGINE='junk' is not an engine")
    assert "job(s) in" not in out.stderr  # refused before the plan, let alone a cluster


IGNORED_OPTIONS = [
    (["sample", "--candidates", "4", "-o", "out/"], "--candidates goes with --prompt"),
    (["decode", "lat.ndjson", "--candidates", "4", "-o", "out/"], "--candidates goes with --prompt"),
    (["encode", "folk_b.mid", "--seed", "3", "-o", "x.npz"], "--seed goes with --sample-z"),
    (["eval", "--prompts", "--limit", "10"], "--limit measure reconstruction"),
    (["eval", "--prompts", "--samples", "8", "--refine", "5"], "--samples, --refine measure"),
    (["eval", "--per-pole", "4"], "--per-pole go with --prompts"),
    (["eval", "--candidates", "1", "--guidance", "2"], "--candidates, --guidance go with --prompts"),
    (["eval", "-t", "0.5"], "--temperature go with --prompts"),
]


@pytest.mark.parametrize("args, words", IGNORED_OPTIONS, ids=[" ".join(a) for a, _ in IGNORED_OPTIONS])
def test_an_option_that_would_be_ignored_is_refused(work, args, words):
    (work / "lat.ndjson").write_text(json.dumps({"z": Z}) + "\n")
    before = _snapshot(work)
    out = run_inprocess(args)
    check(" ".join(args), work, before, out, 2, words)
    assert "loading model" not in out.stderr


def _missing_kernel() -> tuple[str, list[str]]:
    """An OPENBLAS_CORETYPE this machine's CPU cannot run (e.g. AMD's FMA4 Bulldozer on an Intel CPU)."""
    from muse_cli.cpu import KERNEL_NEEDS, cpu_flags

    flags = cpu_flags()
    for name, needs in KERNEL_NEEDS.items():
        if flags and not needs <= flags:
            return name.capitalize(), sorted(needs - flags)
    pytest.skip("this CPU runs every OpenBLAS kernel muse knows (or has no /proc/cpuinfo flags)")


def test_openblas_kernels_this_cpu_cannot_run_are_one_line_not_illegal_instruction(work):
    """`OPENBLAS_CORETYPE=SkylakeX muse sample` on a CPU without AVX-512 died with SIGILL and no word."""
    kernel, missing = _missing_kernel()
    before = _snapshot(work)
    out = run_subprocess(["sample", "-o", "x.mid"], env={"OPENBLAS_CORETYPE": kernel})
    check(f"OPENBLAS_CORETYPE={kernel} muse sample", work, before, out, 2, f"OPENBLAS_CORETYPE={kernel} needs")
    assert ", ".join(missing) in out.stderr and "unset OPENBLAS_CORETYPE" in out.stderr


def test_openblas_kernel_is_judged_by_the_cpu_flags(tmp_path):
    from muse_cli.cpu import cpu_flags, unrunnable

    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu sse2 pni ssse3 sse4_1 sse4_2 avx avx2 fma\n")
    haswell = cpu_flags(str(info))
    line = unrunnable("SkylakeX", haswell)
    assert line.startswith("OPENBLAS_CORETYPE=SkylakeX needs avx512bw, avx512dq, avx512f, avx512vl, which")
    assert "muse then picks Haswell" in line and "\n" not in line
    assert unrunnable("haswell", haswell) is None and unrunnable("Prescott", haswell) is None
    assert unrunnable("NEOVERSEN1", haswell) is None  # a name muse does not know: not judged
    assert unrunnable("SkylakeX", set()) is None  # no flags to judge by (not Linux)


def test_batch_scheduler_that_is_not_dask_is_one_line_naming_the_address(work):
    """An HTTP server at --scheduler made a 40-line traceback ("Unable to allocate 3.07 EiB") or a hang."""
    import http.server
    import threading

    class Quiet(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    address = f"tcp://127.0.0.1:{server.server_address[1]}"
    try:
        before = _snapshot(work)
        out = run_inprocess(["batch", "--sample", "2", "-o", "out", "--scheduler", address])
    finally:
        server.shutdown()
        server.server_close()
    check("batch --scheduler an HTTP server", work, before, out, 8, f"{address} is not a Dask scheduler")


def _embedded_index() -> bytes:
    from muse_cli import registry

    return (registry.resolve(None).path / "model.ckpt.index").read_bytes()


CHECKPOINT_LIES = {
    "muse.json names another config": (
        lambda ck: (ck / "muse.json").write_text('{"config": "cat-mel_2bar_big"}'),
        "does not match config cat-mel_2bar_big",
    ),
    "index bytes flipped": (
        lambda ck: (ck / "model.ckpt.index").write_bytes(
            bytes(b ^ 0xFF for b in (ck / "model.ckpt.index").read_bytes())
        ),
        "checkpoint",
    ),
    "index cut short": (
        lambda ck: (ck / "model.ckpt.index").write_bytes((ck / "model.ckpt.index").read_bytes()[:40]),
        "checkpoint",
    ),
    "another model's index": (
        lambda ck: (ck / "model.ckpt.index").write_bytes(_embedded_index()),
        "does not match config cat-mel_2bar_small",
    ),
}


@pytest.mark.parametrize("name", CHECKPOINT_LIES)
def test_numpy_engine_refuses_a_checkpoint_magenta_refuses(work, tiny_checkpoint, monkeypatch, name):
    """Issue 20: the NumPy engine sampled happily from these while the magenta engine refused them. Its export
    is tied to the .index and to the config it was checked against, as `muse download` checks (engines.check)."""
    from muse_cli.engines import weights

    monkeypatch.delenv("MUSE_ENGINE", raising=False)
    ck = work / "ck"
    shutil.copytree(tiny_checkpoint, ck)
    weights.load(ck)  # a valid export beside it first (not load_model: it keeps models per process)
    lie, words = CHECKPOINT_LIES[name]
    lie(ck)
    for engine in ("numpy", "magenta"):  # the magenta engine's words are TensorFlow's restore failure
        before = _snapshot(work)
        out = run_inprocess(["sample", "-c", "ck", "--engine", engine, "-o", "out/"])
        check(f"checkpoint {name} ({engine})", work, before, out, 5, "checkpoint", after_model=True)
        if engine == "numpy":
            assert words in out.stderr, out.stderr
