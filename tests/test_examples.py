"""Every example a user is shown, run as written, in order, in one empty folder (issue 11).

The examples are README.md's ```bash and ```python blocks (in file order), then the "Examples:" section
of `muse --help` and of each command's --help, in the order of README's command table. They run with
`bash -o pipefail -o noclobber -c LINE`, so a pipe that fails anywhere fails, and a `> FILE` that would
overwrite an earlier example's file fails too. Each must exit 0 and leave the files it names (`-o PATH`,
`> PATH`; a PATH ending in / must be a folder with files in it). Inputs come only from earlier
examples: an example that needs a file nothing made, or writes over one, fails here.

The few examples that are not run are listed in SKIPPED, each with its reason; every entry must still
match an example, so a stale one fails. Run the module whole: its examples depend on each other.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import install_families, run_muse

from muse_cli.cli import cli

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
COMMAND_ORDER = (
    "sample",
    "encode",
    "decode",
    "interpolate",
    "vary",
    "continue",
    "render",
    "show",
    "groove",
    "drumify",
    "checkpoints",
    "download",
    "eval",
    "batch",
    "fit-prompt",
    "attrs",
    "fit-attrs",
    "fit-style",
    "styles",
)  # README's command table
SOUNDFONT = "/usr/share/sounds/sf2/default-GM.sf2"  # Debian's General MIDI SoundFont (with libfluidsynth3)

# (what the example contains, why it is not run): keep this short.
SKIPPED = (
    ("make ", "a make target: set-up, the whole test suite, training or benchmarks"),
    (
        "cat-mel_2bar_big",
        "needs a Magenta checkpoint from the network (tests/test_download.py serves one locally)",
    ),
    ("muse eval --prompts", "the first run parses music21's corpus for 6 to 30 minutes"),
    ("muse eval --structure", "as --prompts; tests/test_structure.py runs it on a small corpus file"),
    ("--refine 50", "50 gradient steps on each of 1,788 windows (minutes); tests/test_refine.py runs refinement"),
    ("muse eval\n", "refines 1,788 windows (minutes); bench/bench_refine.py measures it, tests/test_refine.py runs it"),
    ("fit-prompt", "trains a prompt head (minutes to hours)"),
    ("muse batch jobs.jsonl\n", "starts a Dask cluster; tests/test_batch.py runs one"),
    ("muse batch --sample", "starts a Dask cluster for 10,000 jobs; tests/test_batch.py runs --sample small"),
    ("--scheduler tcp://", "needs a running Dask scheduler"),
)


@dataclass(frozen=True)
class Example:
    where: str  # "README.md:12" or "muse sample --help"
    kind: str  # "bash" or "python"
    text: str

    @property
    def skip(self) -> str | None:
        if self.kind == "python":
            return None  # README's library snippet always runs
        for pattern, reason in SKIPPED:
            if pattern in self.text + "\n":
                return reason
        if SOUNDFONT in self.text and not Path(SOUNDFONT).exists():
            return f"{SOUNDFONT} is not installed (Debian: timgm6mb-soundfont or fluid-soundfont-gm)"
        return None


def readme_examples() -> list[Example]:
    """Each line of a ```bash block (a command), each ```python block whole, and each table row's last cell when it
    is a `muse ...` command (the families' table), in file order."""
    out, kind, block, start = [], None, [], 0
    for n, line in enumerate((REPO / "README.md").read_text().splitlines(), 1):
        cell = re.fullmatch(r"\|.*\| `(muse [^`]+)` \|", line.strip()) if kind is None else None
        if cell:
            out.append(Example(f"README.md:{n}", "bash", cell.group(1)))
        elif kind is None:
            if line.strip() in ("```bash", "```python"):
                kind, block, start = line.strip()[3:], [], n + 1
        elif line.strip() == "```":
            if kind == "python":
                out.append(Example(f"README.md:{start}", "python", "\n".join(block)))
            kind = None
        elif kind == "bash" and line.strip():
            out.append(Example(f"README.md:{n}", "bash", line.strip()))
        else:
            block.append(line)
    return out


def help_examples(command: str | None) -> list[Example]:
    """The lines under "Examples:" in ``muse [COMMAND] --help``, each without its comment (2+ spaces, or #)."""
    args = ([command] if command else []) + ["--help"]
    result = CliRunner().invoke(cli, args, terminal_width=200)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == "Examples:") + 1
    except StopIteration:
        return []
    out = []
    for line in lines[start:]:
        if not line.strip():
            break
        text = re.split(r"\s{2,}|\s#\s", line.strip())[0]
        out.append(Example(f"muse {' '.join(args)}", "bash", text))
    return out


def all_examples() -> list[Example]:
    examples = readme_examples() + help_examples(None)
    for name in COMMAND_ORDER:
        examples += help_examples(name)
    return examples


EXAMPLES = all_examples()


def named_outputs(example: Example) -> list[str]:
    """The paths an example names as outputs: after -o/--output (not '-') and after '>'; in Python, open(NAME, "wb")."""
    if example.kind == "python":
        return re.findall(r'open\(f?"([^"{]+)", "wb"\)', example.text)
    command = example.text
    tokens = shlex.split(command.replace("|", " | ").replace(">", " > "), comments=True)
    out = []
    for i, tok in enumerate(tokens[:-1]):
        nxt = tokens[i + 1]
        if tok in ("-o", "--output", ">") and nxt != "-":
            out.append(nxt)
    return out


@pytest.fixture(scope="module")
def folder(tmp_path_factory, family_checkpoints) -> Path:
    """The examples' folder; beside it their MUSE_HOME, with Magenta's other checkpoints installed under their
    registry names as random-weight checkpoints of the same configs (no network here)."""
    path = tmp_path_factory.mktemp("examples")
    install_families(path.with_name(path.name + "_home"), family_checkpoints)
    return path


def test_every_command_has_examples():
    """README says so: every command in the group shows examples in its --help, and the table lists it."""
    missing = [name for name in cli.commands if not help_examples(name)]
    assert not missing, f"no Examples: in --help of {missing}"
    assert set(cli.commands) == set(COMMAND_ORDER)


def test_skip_list_is_live():
    """Every SKIPPED entry still matches an example (a stale entry would hide nothing, or the wrong thing)."""
    for pattern, _ in SKIPPED:
        assert any(pattern in e.text + "\n" for e in EXAMPLES), f"SKIPPED entry {pattern!r} matches no example"


@pytest.mark.parametrize("example", EXAMPLES, ids=[f"{e.where}: {e.text.splitlines()[-1][:60]}" for e in EXAMPLES])
def test_example_runs_as_written(example: Example, folder: Path):
    if example.skip:
        pytest.skip(example.skip)
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    env["MUSE_HOME"] = str(folder.with_name(folder.name + "_home"))  # one user's home for every example (styles)
    if example.kind == "python":
        argv = [str(VENV_BIN / "python"), "-c", example.text]
    else:
        argv = ["bash", "-o", "pipefail", "-o", "noclobber", "-c", example.text]
    p = subprocess.run(argv, cwd=folder, env=env, capture_output=True, timeout=600)
    assert p.returncode == 0, (
        f"{example.where}: `{example.text}` exited {p.returncode}:\n{p.stderr.decode(errors='replace')[-2000:]}"
    )
    for name in named_outputs(example):
        path = folder / name
        if name.endswith("/"):
            assert path.is_dir() and any(path.iterdir()), f"{example.where}: {name} is not a folder with files"
        else:
            assert path.is_file() and path.stat().st_size > 0, f"{example.where}: {name} was not written"
            if "--wav" in example.text and path.suffix == ".mid":
                assert path.with_suffix(".wav").is_file(), f"{example.where}: {path.with_suffix('.wav')} missing"


# -- what a new user trips on (issue 11) ----------------------------------------------------------------
@pytest.mark.parametrize("walk, length", [(True, "30.0"), (False, "31.2")])
def test_long_form_reports_the_notes_of_the_file_it_wrote(tmp_path, walk, length):
    """At 100 qpm, 30 s is 12.5 bars: the walk cuts the notes decoded past 30 s, the conductor rounds to 13 whole
    bars (31.2 s); the count must be the file's either way."""
    import pretty_midi

    out = tmp_path / "t.mid"
    p = run_muse("sample", "--seconds", 30, "--qpm", 100, "--seed", 5, *(["--walk"] if walk else []), "-o", out)
    assert p.returncode == 0, p.stderr.decode()
    pm = pretty_midi.PrettyMIDI(str(out))
    written = len(pm.instruments[0].notes)
    assert f"({length} s, {written} notes)" in p.stderr.decode(), p.stderr.decode()
    assert pm.get_end_time() == pytest.approx(float(length), abs=0.01)


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["-c", "nosuch"], 5, "muse: error: unknown checkpoint 'nosuch'"),
    ],
)
def test_batch_sample_errors_cite_no_job_line(tmp_path, args, code, message):
    """--sample writes its job lines itself: an error about them must not point at "line 5" of a file."""
    r = CliRunner().invoke(cli, ["batch", "--sample", "6", "-o", str(tmp_path / "o"), *args, "--check"])
    assert r.exit_code == code, r.output
    assert r.stderr.startswith(message) and r.stderr.count("\n") == 1, r.stderr
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("value, shown", [("inf", "inf"), ("1e9", "1e+09")])
def test_batch_sample_temperature_is_checked_as_sample_checks_it(tmp_path, value, shown):
    """batch --temperature has muse sample's rule and Click's form (Usage, then Error), before any job line."""
    r = CliRunner().invoke(cli, ["batch", "--sample", "6", "-o", str(tmp_path / "o"), "-t", value, "--check"])
    assert r.exit_code == 2, r.output
    last = r.stderr.strip().splitlines()[-1]
    assert last == f"Error: Invalid value for '--temperature' / '-t': must be > 0 and at most 100, got {shown}"
    assert "line" not in r.stderr and not (tmp_path / "o").exists()


def test_eval_prompts_says_how_long_the_first_corpus_parse_takes(tmp_path):
    """The warning comes before any work (here a bad checkpoint stops the run right after it)."""
    p = run_muse("eval", "--prompts", "-c", "nosuch", cwd=tmp_path)
    err = p.stderr.decode().splitlines()
    assert p.returncode == 5, err
    assert "6 to 30 minutes" in err[0] and err[-1].startswith("muse: error: unknown checkpoint 'nosuch'"), err


def test_wav_lets_the_last_note_ring_out():
    """A note held to the very end keeps sounding for the release tail, which fades to silence."""
    from muse_cli.midi import to_midi_bytes
    from muse_cli.render import FADE_SECONDS, RELEASE_SECONDS, SAMPLE_RATE, synthesize

    audio = synthesize(to_midi_bytes([(60, 0, 32)], 120.0, None, 4.0))  # middle C for the whole 4 s
    assert len(audio) == round((4.0 + RELEASE_SECONDS) * SAMPLE_RATE)

    def rms(a: float, b: float) -> float:
        return float(np.sqrt(np.mean(audio[int(a * SAMPLE_RATE) : int(b * SAMPLE_RATE)] ** 2)))

    held, release = rms(3.8, 4.0), rms(4.0, 4.1)
    assert release > 0.1 * held, (held, release)  # not cut at the MIDI's end
    assert abs(audio[-1]) < 1e-6 and rms(4.0 + RELEASE_SECONDS - 0.01, 4.0 + RELEASE_SECONDS) < 0.05 * held
    assert FADE_SECONDS < RELEASE_SECONDS
