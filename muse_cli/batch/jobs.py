"""The job file: the path rules, and validation of every line in one pass (one line's fields: :mod:`.schema`).

A job file holds one JSON object per line (blank lines are skipped); see the
package docstring for examples. :func:`parse_jobs` checks the whole file before
anything runs and reports every bad line with its number. Relative paths are
relative to the *root*; inputs may be anywhere; outputs must stay inside the
root (see :func:`_output_path`).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from muse_cli.batch.claims import Claims
from muse_cli.batch.schema import FILE_OPS, MODEL_OPS, RENDER_RATE, read_line
from muse_cli.errors import UsageError
from muse_cli.prompt.words import read_tempo

MAX_ERRORS_SHOWN = 50  # validation problems listed before "... and N more"


class JobFileError(UsageError):
    """A job file with bad lines; the message lists each one with its line number."""

    def __init__(self, source: str, problems: list[tuple[int, str]]):
        self.problems = problems
        shown = [f"  line {n}: {msg}" for n, msg in problems[:MAX_ERRORS_SHOWN]]
        if len(problems) > MAX_ERRORS_SHOWN:
            shown.append(f"  ... and {len(problems) - MAX_ERRORS_SHOWN} more")
        noun = "line" if len(problems) == 1 else "lines"
        super().__init__(f"{source}: {len(problems)} bad {noun}, nothing was run:\n" + "\n".join(shown))


@dataclass(frozen=True)
class Job:
    """One validated line of a job file. Paths are absolute; ``shown`` keeps them as written."""

    line: int
    id: str
    op: str
    checkpoint: str | None
    params: dict  # normalised settings: seed, seconds, temperature, qpm, wav, steps, rate, inputs ...
    outputs: tuple[str, ...]  # absolute paths, in the order they are written
    shown: dict = field(default_factory=dict)  # absolute path -> path as the manifest shows it

    @property
    def segments(self) -> int:
        from muse_cli.model import segments_for

        return segments_for(self.params.get("seconds"), self.params.get("qpm") or 120.0)

    def group_key(self) -> tuple:
        """Jobs with equal keys can share model batches."""
        p = self.params
        return (
            self.op,
            self.checkpoint,
            p.get("temperature"),
            self.segments if self.op == "sample" else 0,
            p.get("qpm"),
            "prompt" in p,
            p.get("form"),
            tuple(sorted(p.get("attrs", {}).items())),
            p.get("style"),
            p.get("chords"),
        )


@dataclass(frozen=True)
class Options:
    """Run-wide settings that travel with every task."""

    batch_size: int = 64  # graph batch size: windows decoded per session call (the CLI passes model.MAX_BATCH)
    force: bool = False  # redo jobs whose outputs exist, overwriting them
    soundfont: str | None = None
    tf_threads: int | None = None  # TensorFlow intra-op threads per worker process (embedded cluster)


# -- paths ------------------------------------------------------------------------
def _normal(path) -> Path:
    return Path(os.path.normpath(Path(path).absolute()))


def _output_path(raw: str, root: Path) -> Path:
    """An output path inside ``root``, or ValueError saying why not.

    The rule: a relative path is taken relative to the root and may not contain a
    ``..`` component; an absolute path must lie inside the root. The file it reaches
    once every symbolic link is followed must lie inside the root too (:class:`Claims`).
    """
    p = Path(raw)
    if ".." in p.parts:
        raise ValueError(f"{raw!r} contains '..'; outputs must stay inside {root}")
    full = Path(os.path.normpath(p if p.is_absolute() else root / p))
    if full != root and root not in full.parents:
        raise ValueError(f"{raw!r} is outside {root}; outputs must stay inside the job file's directory (or --root)")
    if full == root:
        raise ValueError(f"{raw!r} is the root directory itself; give a file name")
    return full


def _input_path(raw: str, root: Path) -> Path:
    p = Path(raw).expanduser()
    return p if p.is_absolute() else Path(os.path.normpath(root / p))


def checkpoint_ref(raw: str | None, base: Path) -> str | None:
    """A registry name stays a name; a path (it has a '/' or starts with '.' or '~') becomes absolute
    against ``base``, so that workers with another working directory find it too."""
    if raw is None or not ("/" in raw or os.sep in raw or raw.startswith((".", "~"))):
        return raw
    return str(_input_path(raw, base))


def _job_outputs(obj: dict, op: str, root: Path) -> tuple[list[Path], list[str]]:
    """(absolute output paths, problems) for a line whose fields are valid."""
    if op in FILE_OPS:
        suffix = FILE_OPS[op]
        raw = obj.get("out") or str(Path(obj["midi"]).with_suffix(suffix))
        out = _output_path(raw, root)
        if out.suffix.lower() != suffix:
            return [], [f"'out' of a {op} job must end in {suffix}, got {raw!r}"]
        return [out], []
    raw = obj["out"]
    out = _output_path(raw, root)
    wav = bool(obj.get("wav", False))
    if op == "interpolate" and out.suffix.lower() not in (".mid", ".midi"):
        # A directory: one file per step, named as `muse interpolate -o DIR` names them.
        mids = [out / f"interp_{k + 1:03d}.mid" for k in range(obj.get("steps", 5))]
    elif out.suffix.lower() not in (".mid", ".midi"):
        return [], [f"'out' must end in .mid, got {raw!r}"]
    else:
        mids = [out]
    paths = []
    for mid in mids:
        paths.append(mid)
        if wav:
            paths.append(mid.with_suffix(".wav"))
    return paths, []


def _normalise(obj: dict, op: str, root: Path) -> dict:
    p: dict = {}
    for key in ("seed", "steps", "rate"):
        if key in obj:
            p[key] = int(obj[key])
    if op in MODEL_OPS:
        if op == "interpolate":
            p.setdefault("steps", 5)
        p["temperature"] = float(obj.get("temperature", 1.0))
        # vary, continue and interpolate keep their input's tempo, as the commands do, unless the line says "qpm"
        keeps = op in ("vary", "continue", "interpolate")
        p["qpm"] = float(obj["qpm"]) if "qpm" in obj else (None if keeps else 120.0)
        p["wav"] = bool(obj.get("wav", False))
        if obj.get("seconds") is not None:
            p["seconds"] = float(obj["seconds"])
        if "amount" in obj:
            p["amount"] = float(obj["amount"])
        p["keep"] = bool(obj.get("keep", False))
        if "form" in obj:
            p["form"] = obj["form"].upper()
        if "style" in obj:
            p["style"] = obj["style"]
    if op == "render":
        p["rate"] = int(obj.get("rate", RENDER_RATE))
    for key in ("latents", "a", "b", "midi", "soundfont"):
        if key in obj:
            p[key] = str(_input_path(obj[key], root))
            p[key + "_shown"] = obj[key]
    for key in ("prompt", "source", "chords"):
        if key in obj:
            p[key] = obj[key]
    tempo = read_tempo(obj["prompt"]) if "prompt" in obj and "qpm" not in obj else None
    if tempo:  # the prompt's tempo words set qpm, as in `muse sample --prompt`
        p["qpm"], p["qpm_from_prompt"] = tempo.qpm, True
    if obj.get("attrs"):
        p["attrs"] = {str(k): float(v) for k, v in obj["attrs"].items()}
    if op == "interpolate":
        p["concat"] = Path(obj["out"]).suffix.lower() in (".mid", ".midi")
    return p


# -- the whole file ------------------------------------------------------------------
def _job(
    lineno: int, obj: dict, op: str, root: Path, checkpoint: str | None, claims: Claims
) -> tuple[Job | None, list[str]]:
    """The Job of a line whose fields are valid, or the problems with its outputs and id."""
    try:
        outputs, out_problems = _job_outputs(obj, op, root)
    except ValueError as exc:
        outputs, out_problems = [], [f"output {exc}"]
    problems = claims.outputs(lineno, outputs)
    if out_problems:
        return None, problems + out_problems
    job_id = str(obj.get("id", lineno))
    problems += claims.id(lineno, job_id)
    if problems:
        return None, problems
    shown = {str(o): str(o.relative_to(root)) for o in outputs}
    ckpt = None
    if op in MODEL_OPS:
        ckpt = checkpoint_ref(obj["checkpoint"], root) if "checkpoint" in obj else checkpoint
    return Job(lineno, job_id, op, ckpt, _normalise(obj, op, root), tuple(map(str, outputs)), shown), []


def parse_jobs(
    text: str, source: str, root: Path, checkpoint: str | None = None, reserved: dict[Path, str] | None = None
) -> list[Job]:
    """Validate every line of a job file in one pass; raise JobFileError listing all bad lines.

    ``checkpoint`` is the default for lines without one (pass it through
    :func:`checkpoint_ref` first); a line's own "checkpoint" path is relative to
    the root. ``reserved`` maps paths no job may write (the job file, the
    manifest) to what they are.
    """
    root = _normal(root)
    claims = Claims(root, {_normal(p): what for p, what in (reserved or {}).items()})
    problems: list[tuple[int, str]] = []
    jobs: list[Job] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        obj, op, line_problems = read_line(line)
        if not line_problems:
            job, line_problems = _job(lineno, obj, op, root, checkpoint, claims)
        if line_problems:
            problems.extend((lineno, msg) for msg in line_problems)
        else:
            jobs.append(job)
    if problems:
        raise JobFileError(source, sorted(problems, key=lambda x: x[0]))
    if not jobs:
        raise JobFileError(source, [(0, "no jobs (the file is empty)")])
    return jobs


def sample_jobs(
    count: int,
    out_dir: Path,
    seed_start: int = 0,
    seconds: float | None = None,
    temperature: float = 1.0,
    qpm: float = 120.0,
    wav: bool = False,
    checkpoint: str | None = None,
) -> list[Job]:
    """The generator shorthand: job i samples seed ``seed_start + i`` into OUT/sample_s{seed}_001.mid,
    the name `muse sample --seed SEED` gives the same melody (:func:`muse_cli.model.sample_name`)."""
    from muse_cli.model import sample_name

    lines = []
    for i in range(count):
        seed = seed_start + i
        obj = {
            "op": "sample",
            "seed": seed,
            "temperature": temperature,
            "qpm": qpm,
            "out": f"{sample_name(seed, 0)}.mid",
            "wav": wav,
        }
        if seconds is not None:
            obj["seconds"] = seconds
        lines.append(json.dumps(obj))
    return parse_jobs("\n".join(lines), "--sample", out_dir, checkpoint)


def check_checkpoints(jobs: list[Job], source: str) -> None:
    """Resolve every checkpoint the jobs name (no TensorFlow); JobFileError for those that fail."""
    from muse_cli import registry
    from muse_cli.attributes import check_file
    from muse_cli.errors import CheckpointError, MuseError

    bad: dict[str | None, str] = {}
    for ckpt in {j.checkpoint for j in jobs if j.op in MODEL_OPS}:
        try:
            registry.resolve(ckpt)
        except CheckpointError as exc:
            bad[ckpt] = str(exc)
    problems = [(j.line, f"checkpoint: {bad[j.checkpoint]}") for j in jobs if j.op in MODEL_OPS and j.checkpoint in bad]
    for j in jobs:
        if "attrs" in j.params and j.checkpoint not in bad:
            try:
                check_file(registry.resolve(j.checkpoint), list(j.params["attrs"]))
            except MuseError as exc:
                problems.append((j.line, f"attrs: {exc}"))
    if problems:
        raise JobFileError(source, sorted(problems))
