"""The conventions of a well-liked CLI (issue 20): what a written file's announcement looks like on a terminal and in a
pipe, --json on every generating command, --version, shell completion, progress on a terminal, outputs named by
their extension, and help texts that say what the command does. Every case runs the real `muse`."""

from __future__ import annotations

import importlib.util
import json
import os
import pty
import re
import subprocess
import sys
import wave
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import MUSE, run_muse

from muse_cli.cli import cli

DATA = Path(__file__).parent / "data"


def on_terminal(args, cwd, stream: str = "stdout", env: dict | None = None):
    """Run `muse ARGS` with ``stream`` (stdout or stderr) on a pseudo-terminal and the other on a pipe:
    (exit code, what the terminal got, what the pipe got)."""
    master, slave = pty.openpty()
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, stream: slave}
    p = subprocess.Popen([MUSE, *map(str, args)], cwd=cwd, env={**os.environ, **(env or {})}, **pipes)
    os.close(slave)
    got = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        got.append(data)
    other = (p.stderr if stream == "stdout" else p.stdout).read()
    p.wait(timeout=120)
    os.close(master)
    return p.returncode, b"".join(got).decode().replace("\r\n", "\n"), other.decode()


def invoke(*args):
    r = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    assert r.exit_code == 0, r.stderr
    return r


# -- one line per written file ----------------------------------------------------------------------
def test_each_file_is_announced_once_on_a_terminal_and_by_its_path_in_a_pipe(tmp_path):
    args = ["sample", "--seed", "1", "--wav", "--png", "-o"]
    code, terminal, err = on_terminal([*args, "t.mid"], tmp_path)
    assert code == 0, err
    lines = terminal.splitlines()
    assert len(lines) == 3 and re.fullmatch(r"wrote t\.mid \(4\.0 s, \d+ notes\)", lines[0]), lines
    assert lines[1:] == ["wrote t.wav (5.0 s of audio)", "wrote t.png"], lines
    assert "wrote" not in err  # not a second time on stderr

    piped = run_muse(*args, "p.mid", cwd=tmp_path)
    assert piped.returncode == 0 and piped.stdout == b"p.mid\np.wav\np.png\n", piped.stderr
    said = [ln for ln in piped.stderr.decode().splitlines() if ln.startswith("wrote ")]
    assert [ln.split()[1] for ln in said] == ["p.mid", "p.wav", "p.png"]  # one line each for the person watching


# -- --json -------------------------------------------------------------------------------------------
def _records(result) -> list[dict]:
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert records and all(Path(r["path"]).is_file() for r in records), records
    assert "wrote" not in result.stderr  # the JSON says it all
    return records


def test_json_on_every_generating_command(tmp_path, monkeypatch):
    from muse_cli.midi import read_melody

    monkeypatch.chdir(tmp_path)
    sampled = _records(invoke("sample", "-n", "2", "--seed", "4", "--wav", "--json", "-o", "s/"))
    assert [(r["path"], r["format"]) for r in sampled] == [
        ("s/sample_s4_001.mid", "midi"),
        ("s/sample_s4_001.wav", "wav"),
        ("s/sample_s4_002.mid", "midi"),
        ("s/sample_s4_002.wav", "wav"),
    ]
    mid, wav = sampled[0], sampled[1]
    assert {k: mid[k] for k in ("seed", "seconds", "qpm", "checkpoint", "engine", "temperature")} == {
        "seed": 4,
        "seconds": 4.0,
        "qpm": 120.0,
        "checkpoint": "muse-mel_2bar",
        "engine": "numpy",
        "temperature": 1.0,
    }
    assert mid["notes"] == len(read_melody(Path(mid["path"]).read_bytes(), "x").notes) > 0
    with wave.open(wav["path"]) as w:
        assert wav["seconds"] == round(w.getnframes() / w.getframerate(), 3) == 5.0
    assert wav["of"] == mid["path"]

    a, b = "s/sample_s4_001.mid", str(DATA / "folk_16bar.mid")
    [enc] = _records(invoke("encode", b, "-o", "e.npz", "--json"))
    assert (enc["path"], enc["format"], enc["windows"], enc["files"]) == ("e.npz", "npz", 8, 1)
    [dec] = _records(invoke("decode", "e.npz", "--seed", "2", "--json", "-o", "d.mid"))
    assert (dec["path"], dec["seed"], dec["seconds"]) == ("d.mid", 2, 32.0)
    morph = _records(invoke("interpolate", a, b, "--steps", "3", "--png", "--json", "-o", "m/"))
    assert [r["path"] for r in morph] == ["m/interp_001.mid", "m/interp_002.mid", "m/interp_003.mid", "m/interp.png"]
    assert morph[-1]["of"] == [r["path"] for r in morph[:3]]
    assert [r["path"] for r in _records(invoke("vary", b, "-n", "2", "--seed", "3", "--json", "-o", "v/"))] == [
        "v/folk_16bar.var_s3_001.mid",
        "v/folk_16bar.var_s3_002.mid",
    ]
    [more] = _records(invoke("continue", a, "--seconds", "8", "--seed", "5", "--json", "-o", "c.mid"))
    assert (more["path"], more["seed"], more["seconds"]) == ("c.mid", 5, 12.0)
    [audio] = _records(invoke("render", a, "-o", "r.wav", "--rate", "22050", "--json"))
    assert (audio["seconds"], audio["rate"], audio["source"]) == (5.0, 22050, a)
    [roll] = _records(invoke("show", a, "-o", "r.png", "--json"))
    assert roll == {"path": "r.png", "format": "png", "source": a}


# -- outputs named by their extension ------------------------------------------------------------------
def test_output_folders_and_midi_names_that_are_accepted(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "taken.v1").mkdir()
    assert invoke("sample", "--seed", "1", "-o", "new.v2/").stdout == "new.v2/sample_s1_001.mid\n"
    assert invoke("sample", "--seed", "1", "-o", "taken.v1").stdout == "taken.v1/sample_s1_001.mid\n"
    assert invoke("sample", "--seed", "1", "-o", "TUNE.MIDI").stdout == "TUNE.MIDI\n"
    assert (tmp_path / "TUNE.MIDI").read_bytes()[:4] == b"MThd"


# -- --version and shell completion -------------------------------------------------------------------
def test_version_names_engine_checkpoint_sha256_and_tensorflow_without_importing_it():
    from muse_cli import registry
    from muse_cli.cache import checkpoint_identity

    code = (
        "import sys\nfrom click.testing import CliRunner\nfrom muse_cli.cli import cli\n"
        "r = CliRunner().invoke(cli, ['--version'])\nprint(r.exit_code)\nprint(r.output, end='')\n"
        "print('tensorflow' in sys.modules)"
    )
    for engine in ("numpy", "magenta"):
        env = {**os.environ, "MUSE_ENGINE": engine}
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
        lines = out.stdout.splitlines()
        assert lines[0] == "0" and lines[-1] == "False", out.stdout + out.stderr  # TensorFlow never imported
        assert re.fullmatch(r"muse \d+\.\d+\.\d+", lines[1])
        assert lines[2].startswith(f"engine: {engine} ")
        ckpt = registry.resolve(None)
        assert lines[3].startswith(f"default checkpoint: {ckpt.name} (")
        assert lines[4] == f"weights sha256: {checkpoint_identity(ckpt.path)}"
        found = importlib.util.find_spec("tensorflow") is not None
        assert lines[5].startswith("tensorflow: importable" if found else "tensorflow: not installed")


@pytest.mark.parametrize(
    "shell, words",
    [
        ("bash", "complete -o nosort -F _muse_completion muse"),
        ("zsh", "#compdef muse"),
        ("fish", "complete --no-files --command muse"),
    ],
)
def test_shell_completion_script_as_readme_says(shell, words):
    p = run_muse(env={"_MUSE_COMPLETE": f"{shell}_source"})
    assert p.returncode == 0 and words in p.stdout.decode(), p.stdout.decode() + p.stderr.decode()


def test_bash_completion_completes_commands_and_options():
    env = {"_MUSE_COMPLETE": "bash_complete", "COMP_WORDS": "muse sam", "COMP_CWORD": "1"}
    assert run_muse(env=env).stdout.decode().split() == ["plain,sample"]
    env = {**env, "COMP_WORDS": "muse sample --wav", "COMP_CWORD": "2"}
    assert run_muse(env=env).stdout.decode().split() == ["plain,--wav"]


# -- progress of a long single command: on a terminal, never in a pipe ------------------------------------
def test_long_sample_shows_progress_on_a_terminal_only_with_the_same_bytes(tmp_path):
    args = ["sample", "-n", "20", "--seconds", "120", "--seed", "2", "-o"]
    code, terminal, out = on_terminal([*args, "t/"], tmp_path, stream="stderr")
    assert code == 0, terminal
    assert "sampling  [" in terminal and "100%" in terminal and "20/20 melodies" in terminal, terminal
    assert terminal.count("sampling  [") >= 2  # drawn as it went, not once at the end
    piped = run_muse(*args, "p/", cwd=tmp_path)
    assert piped.returncode == 0 and "sampling" not in piped.stderr.decode()
    names = sorted(f.name for f in (tmp_path / "p").iterdir())
    assert len(names) == 20 and names == sorted(f.name for f in (tmp_path / "t").iterdir())
    assert all((tmp_path / "t" / n).read_bytes() == (tmp_path / "p" / n).read_bytes() for n in names)


@pytest.mark.parametrize(
    "args, label",
    [
        (
            ["continue", str(DATA / "folk_b.mid"), "--seconds", "600", "-n", "20", "--seed", "1", "-o", "c/"],
            "20 continuations",
        ),
        (["encode", str(DATA / "folk_16bar.mid"), "--refine", "2", "-o", "r.npz"], "refining 8 windows, 2 steps"),
    ],
    ids=["continue", "encode --refine"],
)
def test_long_steps_that_cannot_be_split_tick_on_a_terminal_only(tmp_path, args, label):
    code, terminal, _ = on_terminal(args, tmp_path, stream="stderr")
    assert code == 0, terminal
    assert f"{label}  [" in terminal and "00:00:0" in terminal, terminal
    if args[0] == "encode":
        return  # loads TensorFlow (seconds): the pipe side of the same display is the continue case's
    (tmp_path / args[-1]).rename(tmp_path / "first")  # the same run again, into a pipe
    piped = run_muse(*args, cwd=tmp_path)
    assert piped.returncode == 0 and label not in piped.stderr.decode(), piped.stderr.decode()


# -- help texts that say what the command does ------------------------------------------------------------
def _help(command: str, option: str) -> str:
    return next(p.help for p in cli.commands[command].params if p.name == option)


def test_help_texts_are_the_commands_own():
    import muse_cli

    for command in ("vary", "interpolate", "continue"):
        assert "prompt" not in _help(command, "qpm"), command
    for command in ("sample", "decode"):
        assert "prompt" in _help(command, "qpm"), command
    assert "interpolate" not in _help("sample", "png") and "every step" in _help("interpolate", "png")
    doc = muse_cli.__doc__
    assert "NumPy" in doc and "TensorFlow and magenta load\ninside :func:`load_model`" not in doc
    makefile = (Path(__file__).resolve().parent.parent / "Makefile").read_text()
    assert "Dask" not in makefile.split("test-all:")[0].rsplit("##", 1)[-1]  # Dask runs in `make test` too
