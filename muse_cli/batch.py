"""Many jobs from a JSON-lines file, run on a Dask cluster, recorded in a manifest.

A job file holds one JSON object per line (blank lines are skipped)::

    {"op": "sample", "seed": 1, "seconds": 16, "temperature": 1.0, "out": "out/0001.mid", "wav": true}
    {"op": "decode", "latents": "tune.npz", "seed": 2, "out": "out/tune.mid"}
    {"op": "decode", "prompt": "a slow sad tune", "seed": 3, "seconds": 8, "out": "out/sad.mid"}
    {"op": "interpolate", "a": "a.mid", "b": "b.mid", "steps": 5, "seed": 4, "out": "out/morph.mid"}
    {"op": "render", "midi": "tune.mid", "out": "out/tune.wav"}

The whole file is checked before anything runs (:func:`parse_jobs`); every bad
line is reported with its number. Relative paths are relative to the *root*:
the job file's directory unless the caller names another. Inputs may be
anywhere; outputs must stay inside the root (see :func:`_output_path`).

Work runs on Dask workers. Each worker process loads a checkpoint once
(:func:`muse_cli.model.load_model` caches per process) and decodes compatible
sample jobs (same op, checkpoint, temperature, segment count and tempo) in
shared model batches; WAV rendering runs as separate small tasks so that it
spreads over every core. A sample job draws exactly what ``muse sample -n 1
--seed SEED`` with the same settings draws, so its bytes do not depend on how
jobs were grouped, on the number of workers or on which worker ran it.

Only the client writes the manifest (``JOBS.manifest.jsonl``): one JSON line
per finished job, each appended with a single write(), fsync'd as each task's
results arrive. Re-running a job
file skips every job whose outputs exist and verify (MIDI parses and carries the
job's settings in its provenance; WAV has the right length), so an interrupted
run continues where it stopped. Within a file the last line for a job is its
current state.

Nothing here imports TensorFlow on the client; workers import it when a job
needs a model.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import math
import os
import threading
import time
import uuid
import wave
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from muse_cli import settings
from muse_cli.errors import MuseError, UsageError

OPS = ("sample", "decode", "interpolate", "render")
MODEL_OPS = ("sample", "decode", "interpolate")
MANIFEST_SUFFIX = ".manifest.jsonl"
RENDER_RATE = 44100
MAX_STEPS = 64  # interpolation steps, as `muse interpolate --steps`
MAX_ERRORS_SHOWN = 50  # validation problems listed before "... and N more"

# The fields each op takes (besides op, id and checkpoint); types are checked in _check_fields.
_COMMON = {"op", "id", "checkpoint"}
_REQUIRED = {
    "sample": {"seed", "out"},
    "decode": {"seed", "out"},
    "interpolate": {"a", "b", "seed", "out"},
    "render": {"midi"},
}
_OPTIONAL = {
    "sample": {"seconds", "temperature", "qpm", "wav"},
    "decode": {"latents", "prompt", "source", "seconds", "temperature", "qpm", "wav"},
    "interpolate": {"steps", "temperature", "qpm", "wav"},
    "render": {"out", "rate", "soundfont"},
}


class JobFileError(UsageError):
    """A job file with bad lines; the message lists each one with its line number."""

    def __init__(self, source: str, problems: list[tuple[int, str]]):
        self.problems = problems
        shown = [f"  line {n}: {msg}" for n, msg in problems[:MAX_ERRORS_SHOWN]]
        if len(problems) > MAX_ERRORS_SHOWN:
            shown.append(f"  ... and {len(problems) - MAX_ERRORS_SHOWN} more")
        noun = "line" if len(problems) == 1 else "lines"
        super().__init__(f"{source}: {len(problems)} bad {noun}, nothing was run:\n" + "\n".join(shown))


class ClusterError(MuseError):
    """The Dask scheduler cannot be reached or the cluster cannot start."""

    exit_code = 8


class BatchFailed(MuseError):
    """Some jobs failed; the message lists each with its line number and reason."""

    exit_code = 1


# -- jobs -----------------------------------------------------------------------
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

        return segments_for(self.params.get("seconds"), self.params.get("qpm", 120.0))

    def group_key(self) -> tuple:
        """Jobs with equal keys can share model batches."""
        p = self.params
        return (self.op, self.checkpoint, p.get("temperature"), self.segments if self.op == "sample" else 0,
                p.get("qpm"), "prompt" in p)


@dataclass(frozen=True)
class Options:
    """Run-wide settings that travel with every task."""

    batch_size: int = 64  # graph batch size: windows decoded per session call (the CLI passes model.MAX_BATCH)
    force: bool = False  # redo jobs whose outputs exist, overwriting them
    soundfont: str | None = None
    tf_threads: int | None = None  # TensorFlow intra-op threads per worker process (embedded cluster)


@dataclass
class Result:
    """What one job came to. ``outputs``: [{"path", "sha256", "bytes"}]."""

    line: int
    id: str
    op: str
    status: str  # "ok", "skipped" or "failed"
    outputs: list = field(default_factory=list)
    seconds: float = 0.0  # work time spent on this job (its share of a shared model batch)
    error: str | None = None
    wav_todo: tuple | None = None  # (midi bytes, wav path): rendering still to do, on any worker
    writes: list = field(default_factory=list)  # on the worker only: file writes still in flight

    def record(self, shown: dict) -> dict:
        outs = [{**o, "path": shown.get(o["path"], o["path"])} for o in self.outputs]
        return {"id": self.id, "line": self.line, "op": self.op, "status": self.status, "outputs": outs,
                "seconds": round(self.seconds, 4), "error": self.error}


# -- parsing and validation -------------------------------------------------------
def manifest_path_for(jobs_file: Path) -> Path:
    """JOBS.jsonl -> JOBS.manifest.jsonl beside it."""
    name = jobs_file.name
    stem = name[: -len(jobs_file.suffix)] if jobs_file.suffix else name
    return jobs_file.with_name(stem + MANIFEST_SUFFIX)


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _output_path(raw: str, root: Path) -> Path:
    """An output path inside ``root``, or ValueError saying why not.

    The rule: a relative path is taken relative to the root and may not contain a
    ``..`` component; an absolute path must lie inside the root. The check is on
    the written path (normalised, symlinks not followed), so a symlink inside the
    root is trusted.
    """
    p = Path(raw)
    if ".." in p.parts:
        raise ValueError(f"{raw!r} contains '..'; outputs must stay inside {root}")
    full = Path(os.path.normpath(p if p.is_absolute() else root / p))
    if full != root and root not in full.parents:
        raise ValueError(f"{raw!r} is outside {root}; outputs must stay inside the job file's directory "
                         "(or --root)")
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


def _check_fields(obj: dict, op: str) -> list[str]:
    problems = []
    allowed = _COMMON | _REQUIRED[op] | _OPTIONAL[op]
    unknown = sorted(set(obj) - allowed)
    if unknown:
        problems.append(f"unknown field{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} "
                        f"for op {op!r} (it takes {', '.join(sorted(allowed - {'op'}))})")
    missing = sorted(_REQUIRED[op] - set(obj))
    if missing:
        problems.append(f"missing field{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))} "
                        f"for op {op!r}")
    if op == "decode":
        has = [k for k in ("latents", "prompt") if k in obj]
        if len(has) != 1:
            problems.append("decode needs exactly one of 'latents' (a file from muse encode) or 'prompt' (text)")
        if "seconds" in obj and "latents" in obj:
            problems.append("'seconds' goes with 'prompt'; decoding latents keeps their length")
        if "source" in obj and "prompt" in obj:
            problems.append("'source' goes with 'latents'")

    def want(key, ok, what):
        if key in obj and not ok(obj[key]):
            problems.append(f"{key!r} must be {what}, got {json.dumps(obj[key])}")

    nonempty = lambda v: isinstance(v, str) and v.strip() != ""  # noqa: E731
    want("id", lambda v: nonempty(v) or _is_int(v), "a string or an integer")
    want("checkpoint", nonempty, "a registry name or checkpoint path (a string)")
    want("seed", lambda v: _is_int(v) and 0 <= v < 2**63, "a non-negative integer")
    want("seconds", lambda v: _is_number(v) and 0 < v <= settings.MAX_SECONDS,
         f"a number of seconds in (0, {settings.MAX_SECONDS:g}]")
    want("temperature", lambda v: _is_number(v) and v > 0, "a number > 0")
    want("qpm", lambda v: _is_number(v) and 20 <= v <= 400, "a number from 20 to 400")
    want("wav", lambda v: isinstance(v, bool), "true or false")
    want("steps", lambda v: _is_int(v) and 2 <= v <= MAX_STEPS, f"an integer from 2 to {MAX_STEPS}")
    want("rate", lambda v: _is_int(v) and 8000 <= v <= 192000, "an integer from 8000 to 192000 (Hz)")
    for key in ("out", "latents", "prompt", "source", "a", "b", "midi", "soundfont"):
        want(key, nonempty, "a non-empty string")
    return problems


def _job_outputs(obj: dict, op: str, root: Path) -> tuple[list[Path], list[str]]:
    """(absolute output paths, problems) for a line whose fields are valid."""
    if op == "render":
        raw = obj.get("out") or str(Path(obj["midi"]).with_suffix(".wav"))
        out = _output_path(raw, root)
        if out.suffix.lower() != ".wav":
            return [], [f"'out' of a render job must end in .wav, got {raw!r}"]
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
        p["qpm"] = float(obj.get("qpm", 120.0))
        p["wav"] = bool(obj.get("wav", False))
        if obj.get("seconds") is not None:
            p["seconds"] = float(obj["seconds"])
    if op == "render":
        p["rate"] = int(obj.get("rate", RENDER_RATE))
    for key in ("latents", "a", "b", "midi", "soundfont"):
        if key in obj:
            p[key] = str(_input_path(obj[key], root))
            p[key + "_shown"] = obj[key]
    for key in ("prompt", "source"):
        if key in obj:
            p[key] = obj[key]
    if op == "interpolate":
        p["concat"] = Path(obj["out"]).suffix.lower() in (".mid", ".midi")
    return p


def parse_jobs(text: str, source: str, root: Path, checkpoint: str | None = None,
               reserved: dict[Path, str] | None = None) -> list[Job]:
    """Validate every line of a job file in one pass; raise JobFileError listing all bad lines.

    ``checkpoint`` is the default for lines without one (pass it through
    :func:`checkpoint_ref` first); a line's own "checkpoint" path is relative to
    the root. ``reserved`` maps paths no job may write (the job file, the
    manifest) to what they are.
    """
    root = Path(os.path.normpath(Path(root).absolute()))
    problems: list[tuple[int, str]] = []
    jobs: list[Job] = []
    reserved = {Path(os.path.normpath(Path(p).absolute())): what for p, what in (reserved or {}).items()}
    owners: dict[Path, int] = {p: 0 for p in reserved}
    ids: dict[str, int] = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append((lineno, f"not valid JSON ({exc.msg} at column {exc.colno})"))
            continue
        if not isinstance(obj, dict):
            problems.append((lineno, f"expected a JSON object {{...}}, got {type(obj).__name__}"))
            continue
        op = obj.get("op")
        if op is None:
            problems.append((lineno, f"missing field 'op' (one of {', '.join(OPS)})"))
            continue
        if op not in OPS:
            problems.append((lineno, f"unknown op {json.dumps(op)}; use one of {', '.join(OPS)}"))
            continue
        line_problems = _check_fields(obj, op)
        if line_problems:
            problems.extend((lineno, msg) for msg in line_problems)
            continue
        try:
            outputs, out_problems = _job_outputs(obj, op, root)
        except ValueError as exc:
            outputs, out_problems = [], [f"output {exc}"]
        for out in outputs:
            if out in owners:
                other = owners[out]
                what = reserved.get(out)
                problems.append((lineno, f"output {out} would overwrite the {what}" if what else
                                 f"output {out} is also written by line {other}"))
            else:
                owners[out] = lineno
        if out_problems:
            problems.extend((lineno, msg) for msg in out_problems)
            continue
        job_id = str(obj.get("id", lineno))
        if job_id in ids:
            problems.append((lineno, f"id {job_id!r} is also used by line {ids[job_id]}"))
            continue
        ids[job_id] = lineno
        shown = {str(o): str(o.relative_to(root)) for o in outputs}
        ckpt = (checkpoint_ref(obj["checkpoint"], root) if "checkpoint" in obj else checkpoint) \
            if op in MODEL_OPS else None
        jobs.append(Job(lineno, job_id, op, ckpt, _normalise(obj, op, root), tuple(map(str, outputs)), shown))
    if problems:
        raise JobFileError(source, sorted(problems, key=lambda x: x[0]))
    if not jobs:
        raise JobFileError(source, [(0, "no jobs (the file is empty)")])
    return jobs


def sample_jobs(count: int, out_dir: Path, seed_start: int = 0, seconds: float | None = None,
                temperature: float = 1.0, qpm: float = 120.0, wav: bool = False,
                checkpoint: str | None = None) -> list[Job]:
    """The generator shorthand: job i samples seed ``seed_start + i`` into OUT/sample_{seed}.mid."""
    lines = []
    for i in range(count):
        seed = seed_start + i
        obj = {"op": "sample", "seed": seed, "temperature": temperature, "qpm": qpm, "out": f"sample_{seed}.mid",
               "wav": wav}
        if seconds is not None:
            obj["seconds"] = seconds
        lines.append(json.dumps(obj))
    return parse_jobs("\n".join(lines), "--sample", out_dir, checkpoint)


def check_checkpoints(jobs: list[Job], source: str) -> None:
    """Resolve every checkpoint the jobs name (no TensorFlow); JobFileError for those that fail."""
    from muse_cli import registry
    from muse_cli.errors import CheckpointError

    bad: dict[str | None, str] = {}
    for ckpt in {j.checkpoint for j in jobs if j.op in MODEL_OPS}:
        try:
            registry.resolve(ckpt)
        except CheckpointError as exc:
            bad[ckpt] = str(exc)
    if bad:
        raise JobFileError(source, [(j.line, f"checkpoint: {bad[j.checkpoint]}") for j in jobs
                                           if j.op in MODEL_OPS and j.checkpoint in bad])


def plan(jobs: list[Job], batch_size: int) -> list[list[Job]]:
    """Tasks: compatible sample jobs packed up to ``batch_size`` windows; other jobs alone or in small runs."""
    groups: dict[tuple, list[Job]] = {}
    for job in jobs:
        groups.setdefault(job.group_key(), []).append(job)
    tasks: list[list[Job]] = []
    for key, members in groups.items():
        if key[0] == "sample":
            per = max(1, batch_size // members[0].segments)
        elif key[0] == "render":
            per = 1  # renders are slow and independent: spread them over every worker
        else:
            per = 4
        tasks.extend(members[i:i + per] for i in range(0, len(members), per))
    return tasks


# -- verification (runs on workers) ---------------------------------------------------
def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _out(path: str, data: bytes) -> dict:
    return {"path": path, "sha256": _sha256(data), "bytes": len(data)}


def _midi_end(data: bytes) -> float:
    import pretty_midi

    return pretty_midi.PrettyMIDI(io.BytesIO(data)).get_end_time()


def _expected_provenance(job: Job, step: int | None) -> dict:
    p = job.params
    exp = {"seed": p["seed"], "temperature": p["temperature"], "qpm": p["qpm"]}
    if job.op == "sample":
        from muse_cli.model import _seconds_of

        exp.update(mode="sample", index=0, seconds=_seconds_of(job.segments, p["qpm"], p.get("seconds")))
    elif job.op == "interpolate":
        exp.update(mode="interpolate", steps=p["steps"])
        if step is not None:
            exp["step"] = step
    elif "latents" in p:
        exp["mode"] = "decode"
    return exp


def _check_midi(path: str, data: bytes, job: Job, step: int | None) -> str | None:
    """None if ``data`` is a MIDI file this job would write, else why not."""
    from muse_cli.midi import read_provenance

    try:
        prov = read_provenance(data)
    except Exception as exc:  # pretty_midi/mido raise many types for broken files
        return f"{path} exists but is not a readable MIDI file ({str(exc)[:80]})"
    if prov is None:
        return f"{path} exists but was not written by muse"
    for key, want in _expected_provenance(job, step).items():
        if prov.get(key) != want:
            return f"{path} exists but was made with {key} {prov.get(key)!r}, not {want!r}"
    return None


def _check_wav(path: str, data: bytes, frames: int, rate: int) -> str | None:
    try:
        with wave.open(io.BytesIO(data)) as w:
            got, got_rate = w.getnframes(), w.getframerate()
    except (wave.Error, EOFError) as exc:
        return f"{path} exists but is not a readable WAV file ({exc})"
    if got_rate != rate or got != frames:
        return f"{path} exists but holds {got} frames at {got_rate} Hz, not {frames} at {rate} Hz"
    return None


def _read(path: str) -> bytes | None:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        return None


def _existing(job: Job, force: bool) -> tuple[dict[str, bytes], str | None]:
    """Outputs of ``job`` that exist and verify, and the reason to fail if one exists but does not."""
    if force:
        return {}, None
    good: dict[str, bytes] = {}
    mids = [o for o in job.outputs if not o.endswith(".wav")]
    midi_of = {w: m for m, w in zip(job.outputs, job.outputs[1:]) if w.endswith(".wav")}  # model jobs: .mid, .wav
    for path in job.outputs:
        data = _read(path)
        if data is None:
            continue
        shown = job.shown.get(path, path)
        if path.endswith(".wav"):
            if job.op == "render":
                src = _read(job.params["midi"])
                if src is None:
                    return good, f"{job.params['midi_shown']}: no such file"
                frames, rate = int(round(_midi_end(src) * job.params["rate"])), job.params["rate"]
            else:
                mid = good.get(midi_of[path])
                if mid is None:
                    continue  # its MIDI will be made again, then this WAV from it
                frames, rate = int(round(_midi_end(mid) * RENDER_RATE)), RENDER_RATE
            why = _check_wav(shown, data, frames, rate)
        else:
            step = mids.index(path) + 1 if job.op == "interpolate" and not job.params["concat"] else None
            why = _check_midi(shown, data, job, step)
        if why:
            return good, why + "; delete it or run with --force"
        good[path] = data
    return good, None


def _remove_stale_parts(paths: list[str]) -> None:
    """Temporary files that atomic_write left behind when a worker was killed while writing ``paths``.

    One directory listing per directory: ``.NAME.XXXXXXXX.part`` for each output NAME.
    """
    by_dir: dict[str, set[str]] = {}
    for path in paths:
        by_dir.setdefault(os.path.dirname(path), set()).add(os.path.basename(path))
    for directory, names in by_dir.items():
        try:
            entries = [e.name for e in os.scandir(directory) if e.name.startswith(".") and e.name.endswith(".part")]
        except FileNotFoundError:
            continue
        for entry in entries:
            if entry[1:-len(".part")].rsplit(".", 1)[0] in names:
                try:
                    os.unlink(os.path.join(directory, entry))
                except FileNotFoundError:
                    pass


# -- MIDI bytes, fast (runs on workers) ------------------------------------------------
# midi.to_midi_bytes builds a pretty_midi object and lets mido check and encode every
# message: about 1-2 ms a melody, more than the model takes to decode it. For the
# files muse writes (one tempo, 4/4, one text event, one piano track, an optional
# controller 123 at the end) these functions produce the same bytes directly:
# the same tick rounding, the same comparator and sort as pretty_midi's write()
# (so ties fall the same way), the same running status as mido. Each task checks the
# first melody against to_midi_bytes and uses the slow path for the whole task
# (and the rest of the process) if the bytes ever differ.
_FAST_MIDI = {"ok": True}


def _vlq(n: int) -> bytes:
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    return bytes(reversed(out))


_SECONDARY = {"set_tempo": 1 << 16, "time_signature": 2 << 16, "program_change": 6 << 16,
              "control_change": 8 << 16, "note_on": 10 << 16}


def _event_compare(e1, e2) -> int:
    """pretty_midi's event_compare on (tick, type, a, b) tuples; a, b: note/velocity or control/value."""
    if e1[0] == e2[0] and e1[1] in _SECONDARY and e2[1] in _SECONDARY:
        return _event_key(e1) - _event_key(e2)
    return e1[0] - e2[0]


def _event_key(e) -> int:
    if e[1] in ("note_on", "control_change"):
        return _SECONDARY[e[1]] + e[2] * 256 + e[3]
    return _SECONDARY[e[1]]


def _fast_midi_bytes(notes, qpm: float, provenance: dict | None, seconds: float | None,
                     velocity: int = 90) -> bytes:
    """midi.to_midi_bytes(notes, qpm, provenance, seconds), without pretty_midi and mido."""
    import functools
    import struct

    from muse_cli.midi import PROGRAM, PROVENANCE_PREFIX, STEPS_PER_QUARTER

    resolution = 480
    tick_scale = 60.0 / (qpm * resolution)

    def tick(t: float) -> int:
        return int(round(t / tick_scale)) if t > 0 else 0

    step_s = 60.0 / qpm / STEPS_PER_QUARTER
    timing = [(0, "set_tempo"), (0, "time_signature")]
    text = None
    if provenance:
        text = PROVENANCE_PREFIX + json.dumps(provenance, sort_keys=True, separators=(",", ":"))
        timing.append((0, "text"))
    timing.sort(key=functools.cmp_to_key(lambda a, b: _event_compare(a + (0, 0), b + (0, 0))))
    tempo = int(6e7 / (60.0 / (tick_scale * resolution)))
    body = bytearray()
    last = 0
    for t, kind in timing:
        body += _vlq(t - last)
        last = t
        if kind == "set_tempo":
            body += b"\xff\x51\x03" + tempo.to_bytes(3, "big")
        elif kind == "time_signature":
            body += b"\xff\x58\x04\x04\x02\x18\x08"
        else:
            data = text.encode("latin1")
            body += b"\xff\x01" + _vlq(len(data)) + data
    body += _vlq(1) + b"\xff\x2f\x00"
    track0 = bytes(body)

    events = [(0, "track_name", 0, 0), (0, "program_change", PROGRAM, 0)]
    for pitch, s, e in notes:
        start, end = s * step_s, e * step_s
        if seconds is not None:
            if start >= seconds - 1e-9:
                continue
            end = min(end, seconds)
        events.append((tick(start), "note_on", int(pitch), velocity))
        events.append((tick(end), "note_on", int(pitch), 0))
    if seconds is not None:
        events.append((tick(seconds), "control_change", 123, 0))
    events = sorted(events, key=functools.cmp_to_key(_event_compare))
    for n in range(len(events) - 1):
        e1, e2 = events[n], events[n + 1]
        if e1[0] == e2[0] and e1[1] == e2[1] == "note_on" and e1[2] == e2[2] and e1[3] != 0 and e2[3] == 0:
            events[n], events[n + 1] = e2, e1
    name = b"muse melody"
    body = bytearray()
    last, running = 0, None
    for t, kind, a, b in events:
        body += _vlq(t - last)
        last = t
        if kind == "track_name":
            body += b"\xff\x03" + _vlq(len(name)) + name
            running = None
            continue
        status, data = {"program_change": (0xC0, bytes([a])), "note_on": (0x90, bytes([a, b])),
                        "control_change": (0xB0, bytes([a, b]))}[kind]
        if status != running:
            body.append(status)
            running = status
        body += data
    body += _vlq(1) + b"\xff\x2f\x00"
    track1 = bytes(body)
    return (b"MThd" + struct.pack(">Lhhh", 6, 1, 2, resolution)
            + b"MTrk" + struct.pack(">L", len(track0)) + track0
            + b"MTrk" + struct.pack(">L", len(track1)) + track1)


def _midi_of(items: list) -> list[bytes]:
    """MIDI bytes of Generated items: the fast writer, checked against to_midi_bytes on the first."""
    if not items:
        return []
    first = items[0].midi()
    if _FAST_MIDI["ok"]:
        g = items[0]
        if _fast_midi_bytes(g.notes, g.qpm, g.provenance, g.seconds) == first:
            return [first] + [_fast_midi_bytes(g.notes, g.qpm, g.provenance, g.seconds) for g in items[1:]]
        _FAST_MIDI["ok"] = False
        logging.getLogger("muse.batch").warning("fast MIDI writer differs from midi.to_midi_bytes; using the latter")
    return [first] + [g.midi() for g in items[1:]]


# -- work (runs on workers) ---------------------------------------------------------
_MODEL_LOCK = threading.Lock()


def _model(checkpoint: str | None, opts: Options):
    """The worker's model for ``checkpoint``: loaded on first use, then reused by every task."""
    import sys

    if opts.tf_threads and "tensorflow" not in sys.modules:
        os.environ.setdefault("TF_NUM_INTRAOP_THREADS", str(opts.tf_threads))
        os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
        os.environ.setdefault("OMP_NUM_THREADS", str(opts.tf_threads))
    from muse_cli.model import load_model

    with _MODEL_LOCK:
        return load_model(checkpoint, batch_size=opts.batch_size)


def _write(path: str, data: bytes) -> dict:
    from muse_cli.io import atomic_write

    atomic_write(Path(path), data, force=True)
    return _out(path, data)


# Per worker process: threads that wait on atomic_write's fsync while the next files are made;
# several fsyncs in flight share the file system's journal commits (measured: 3x the files/s of one).
_WRITERS = None
_WRITERS_LOCK = threading.Lock()
WRITER_THREADS = 4


def _write_later(path: str, data: bytes):
    global _WRITERS
    from concurrent.futures import ThreadPoolExecutor

    from muse_cli.io import atomic_write

    with _WRITERS_LOCK:
        if _WRITERS is None:
            _WRITERS = ThreadPoolExecutor(WRITER_THREADS, thread_name_prefix="muse-batch-write")
    return _WRITERS.submit(atomic_write, Path(path), data, True)


def _settle(res: Result) -> Result:
    """Wait for a result's file writes; a write that failed fails the job."""
    writes, res.writes = res.writes, []
    for fut in writes:
        try:
            fut.result()
        except Exception as exc:
            res.status, res.error, res.outputs, res.wav_todo = "failed", _error_text(exc), [], None
    return res


def _finish_model_job(job: Job, midis: list[bytes], good: dict[str, bytes], spent: float) -> Result:
    """Write a model job's MIDI files (``midis``: one per .mid output); leave its WAVs to render tasks."""
    t0 = time.perf_counter()
    mids = [o for o in job.outputs if not o.endswith(".wav")]
    outs, wav_todo, writes = [], [], []
    for path, made in zip(mids, midis):
        data = good.get(path) or made
        outs.append(_out(path, data))
        if path not in good:
            writes.append(_write_later(path, data))
        if job.params["wav"]:
            wav = str(Path(path).with_suffix(".wav"))
            if wav in good:
                outs.append(_out(wav, good[wav]))
            else:
                wav_todo.append((data, wav))
    return Result(job.line, job.id, job.op, "ok", outs, spent + time.perf_counter() - t0,
                  wav_todo=tuple(wav_todo) or None, writes=writes)


def _from_files(job: Job, good: dict[str, bytes]) -> Result:
    """A job whose MIDI files all verify: no model needed, perhaps WAVs still to render."""
    mids = [o for o in job.outputs if not o.endswith(".wav")]
    res = _finish_model_job(job, [good[m] for m in mids], good, 0.0)
    if res.wav_todo is None and all(o in good for o in job.outputs):
        res.status = "skipped"
    return res


def _failed(job: Job, error: str, spent: float = 0.0) -> Result:
    return Result(job.line, job.id, job.op, "failed", [], spent, error)


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, MuseError):
        return str(exc)
    return f"{type(exc).__name__}: {str(exc)[:300]}"


def run_task(jobs: list[Job], opts: Options) -> list[Result]:
    """Run one planned task on a worker: verify, skip, decode what is left, write MIDI (and render WAV)."""
    results: dict[int, Result] = {}
    todo: list[tuple[Job, dict]] = []
    _remove_stale_parts([o for j in jobs for o in j.outputs])
    for job in jobs:
        try:
            good, why = _existing(job, opts.force)
        except Exception as exc:
            results[job.line] = _failed(job, _error_text(exc))
            continue
        if why:
            results[job.line] = _failed(job, why)
        elif job.op == "render":
            if job.outputs[0] in good:
                results[job.line] = Result(job.line, job.id, job.op, "skipped",
                                           [_out(job.outputs[0], good[job.outputs[0]])])
            else:
                results[job.line] = render_job(job, opts)
        elif all(o in good for o in job.outputs if not o.endswith(".wav")):
            results[job.line] = _from_files(job, good)
        else:
            todo.append((job, good))
    if todo:
        try:
            model = _model(todo[0][0].checkpoint, opts)
        except Exception as exc:
            for job, _ in todo:
                results[job.line] = _failed(job, _error_text(exc))
            todo = []
        if todo and todo[0][0].op == "sample":
            results.update(_run_samples(model, todo))
        else:
            for job, good in todo:
                t0 = time.perf_counter()
                try:
                    midis = [item.midi() for item in _generate(model, job)]
                    results[job.line] = _finish_model_job(job, midis, good, time.perf_counter() - t0)
                except Exception as exc:
                    results[job.line] = _failed(job, _error_text(exc), time.perf_counter() - t0)
    return [_settle(results[j.line]) for j in jobs]


def _run_samples(model, todo: list[tuple[Job, dict]]) -> dict[int, Result]:
    """Sample jobs in shared model batches: each draws what ``muse sample -n 1 --seed SEED`` draws."""
    from muse_cli import model as m
    from muse_cli.midi import events_to_notes

    t0 = time.perf_counter()
    first = todo[0][0]
    temperature = first.params["temperature"]
    paths = [m.latent_path(j.params["seed"], 0, j.segments, model.z_size) for j, _ in todo]
    try:
        events = m.decode_paths(model, paths, [(j.params["seed"], 0) for j, _ in todo], temperature)
    except Exception as exc:
        return {j.line: _failed(j, _error_text(exc)) for j, _ in todo}
    items = []
    for (job, _), ev in zip(todo, events):
        p = job.params
        secs = m._seconds_of(job.segments, p["qpm"], p.get("seconds"))
        prov = {"checkpoint": model.name, "seed": p["seed"], "index": 0, "temperature": temperature,
                "qpm": p["qpm"], "seconds": secs, "mode": "sample"}
        items.append(m.Generated(f"sample_s{p['seed']}_001", events_to_notes(ev), p["qpm"], secs, prov))
    midis = _midi_of(items)
    share = (time.perf_counter() - t0) / len(todo)
    out = {}
    for (job, good), midi in zip(todo, midis):
        try:
            out[job.line] = _finish_model_job(job, [midi], good, share)
        except Exception as exc:
            out[job.line] = _failed(job, _error_text(exc), share)
    return out


def _read_input(p: dict, key: str) -> bytes:
    """An input file's bytes; errors name the path as the job file wrote it."""
    from muse_cli.errors import InputError
    from muse_cli.io import read_bytes

    try:
        return read_bytes(p[key])
    except InputError as exc:
        raise InputError(str(exc).replace(p[key], p[key + "_shown"])) from None


def _generate(model, job: Job) -> list:
    """The melodies of one decode or interpolate job, as the matching muse command makes them."""
    from muse_cli import model as m
    from muse_cli.io import read_latents

    p = job.params
    if job.op == "interpolate":
        from muse_cli.midi import read_melody

        a = read_melody(_read_input(p, "a"), p["a_shown"])
        b = read_melody(_read_input(p, "b"), p["b_shown"])
        return m.interpolate(model, a, b, steps=p["steps"], temperature=p["temperature"], seed=p["seed"],
                             qpm=p["qpm"], concat=p["concat"])
    if "prompt" in p:
        try:
            from muse_cli.prompt.api import sample_with_prompt
        except ImportError as exc:
            raise MuseError(f"prompts are not available in this muse ({exc}); "
                            "use 'latents' or install a muse with prompt support") from None
        return list(sample_with_prompt(model, p["prompt"], 1, p.get("seconds"), p["temperature"], p["seed"],
                                       p["qpm"]))[:1]
    windows = read_latents(_read_input(p, "latents"), p["latents_shown"])
    sources = list(dict.fromkeys(w.source for w in windows))
    if "source" in p:
        windows = [w for w in windows if w.source == p["source"]]
        if not windows:
            raise MuseError(f"{p['latents_shown']} has no source {p['source']!r} (it has {', '.join(sources)})")
    elif len(sources) > 1:
        raise MuseError(f"{p['latents_shown']} holds {len(sources)} sources ({', '.join(sources[:5])}); "
                        "add \"source\" to pick one")
    return m.decode(model, windows, temperature=p["temperature"], seed=p["seed"], qpm=p["qpm"])


def render_job(job: Job, opts: Options) -> Result:
    """A render job: MIDI file -> WAV file."""
    from muse_cli.render import render

    t0 = time.perf_counter()
    p = job.params
    try:
        midi = _read_input(p, "midi")
        sf = p.get("soundfont") or opts.soundfont
        wav = render(midi, rate=p["rate"], soundfont=Path(sf) if sf else None, source=p["midi_shown"])
        out = _write(job.outputs[0], wav)
    except Exception as exc:
        return _failed(job, _error_text(exc), time.perf_counter() - t0)
    return Result(job.line, job.id, job.op, "ok", [out], time.perf_counter() - t0)


def render_wav(midi: bytes, path: str, soundfont: str | None) -> tuple[dict | None, float, str | None]:
    """Render one model job's MIDI to the WAV beside it: (output, seconds, error)."""
    from muse_cli.render import render

    t0 = time.perf_counter()
    try:
        out = _write(path, render(midi, soundfont=Path(soundfont) if soundfont else None, source=path))
    except Exception as exc:
        return None, time.perf_counter() - t0, _error_text(exc)
    return out, time.perf_counter() - t0, None


# -- the manifest (client only) ------------------------------------------------------
class Manifest:
    """JOBS.manifest.jsonl: appended one whole line at a time, each flushed to disk."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.last: dict[str, dict] = {}
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            text = ""
        for line in text.splitlines():
            try:
                rec = json.loads(line)
                self.last[str(rec["id"])] = rec
            except (json.JSONDecodeError, KeyError, TypeError):
                continue  # a line torn by a crash: ignored, the job is checked again
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        self._dirty = False
        if text and not text.endswith("\n"):
            os.write(self._fd, b"\n")

    def already(self, rec: dict) -> bool:
        """True if the manifest's last line for this job already says the same (a skipped, done job)."""
        prev = self.last.get(rec["id"])
        return (rec["status"] == "skipped" and prev is not None and prev.get("status") in ("ok", "skipped")
                and [o.get("sha256") for o in prev.get("outputs", [])] == [o["sha256"] for o in rec["outputs"]])

    def append(self, rec: dict, sync: bool = True) -> None:
        """One line, one write(); with ``sync``, flushed to disk before returning."""
        os.write(self._fd, (json.dumps(rec, separators=(",", ":")) + "\n").encode())
        self.last[rec["id"]] = rec
        self._dirty = True
        if sync:
            self.sync()

    def sync(self) -> None:
        if self._dirty:
            os.fsync(self._fd)
            self._dirty = False

    def close(self) -> None:
        self.sync()
        os.close(self._fd)


# -- the client ---------------------------------------------------------------------
@dataclass
class Summary:
    total: int
    ok: int = 0
    skipped: int = 0
    failed: list = field(default_factory=list)  # [(line, id, error)]
    interrupted: bool = False
    stopped: bool = False  # --fail-fast stopped the run
    elapsed: float = 0.0

    @property
    def done(self) -> int:
        return self.ok + self.skipped + len(self.failed)


DRAIN_SECONDS = 15.0  # after Ctrl-C, how long to let tasks that are already running finish their writes


def dask_setup(worker) -> None:
    """Dask preload hook for the embedded cluster's workers: Ctrl-C is the client's to handle.

    The terminal sends SIGINT to every process of the command; the client then
    cancels what is queued, lets running tasks finish their writes and closes the
    cluster, so workers must not die on their own in the middle of a write.
    """
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _executing(dask_worker) -> int:
    return dask_worker.state.executing_count


def _drain(client, timeout: float = DRAIN_SECONDS) -> None:
    """Wait until no worker is running a task (tasks cannot be stopped halfway: they end in whole files)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            if not any(client.run(_executing).values()):
                return
        except Exception:
            return
        time.sleep(0.2)


def machine_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


@contextmanager
def cluster(scheduler: str | None = None, workers: int | None = None) -> Iterator:
    """A Dask client: for ``scheduler`` (tcp://HOST:PORT) or an embedded LocalCluster, closed on exit."""
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout="15s")
        except (OSError, TimeoutError) as exc:
            raise ClusterError(f"cannot reach the Dask scheduler at {scheduler} ({exc}); start one with "
                               "`dask scheduler` and `dask worker ADDRESS`, or leave out --scheduler") from None
        try:
            if not client.scheduler_info().get("workers"):
                client.wait_for_workers(1, timeout=60)
        except TimeoutError:
            client.close()
            raise ClusterError(f"the Dask scheduler at {scheduler} has no workers; start one with "
                               f"`dask worker {scheduler}`") from None
        try:
            yield client
        finally:
            client.close()
        return
    import dask

    n = workers or machine_cores()
    with dask.config.set({"distributed.worker.daemon": False, "distributed.admin.system-monitor.gil.enabled": False,
                          "logging.distributed": "error"}):
        try:
            lc = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                              silence_logs=logging.ERROR, host="127.0.0.1", preload=["muse_cli.batch"])
        except Exception as exc:
            raise ClusterError(f"cannot start a local Dask cluster of {n} workers: {exc}") from None
        client = Client(lc)
        try:
            yield client
        finally:
            client.close()
            lc.close()


def run(client, jobs: list[Job], opts: Options, manifest: Manifest, fail_fast: bool = False,
        on_result: Callable[[Result, Summary], None] | None = None) -> Summary:
    """Run ``jobs`` on ``client``; append each finished job to ``manifest``; return the summary.

    KeyboardInterrupt cancels what is queued and returns with ``interrupted`` set;
    each file is written whole or not at all, so the next run continues.
    """
    from distributed import as_completed

    t0 = time.perf_counter()
    summary = Summary(total=len(jobs))
    by_line = {j.line: j for j in jobs}
    tasks = plan(jobs, opts.batch_size)
    token = uuid.uuid4().hex[:8]  # keys unique per run, also on a shared long-lived cluster
    futures = {}
    for i, task in enumerate(tasks):
        fut = client.submit(run_task, task, opts, pure=False, key=f"muse-batch-{token}-{i}-line{task[0].line}")
        futures[fut] = ("task", task)
    pending_wavs: dict[int, tuple[Result, int]] = {}  # line -> (result so far, WAVs left)
    ac = as_completed(list(futures))

    def finish(res: Result) -> None:
        job = by_line[res.line]
        rec = res.record(job.shown)
        if not manifest.already(rec):
            manifest.append(rec, sync=False)  # fsync once per finished task, below
        if res.status == "ok":
            summary.ok += 1
        elif res.status == "skipped":
            summary.skipped += 1
        else:
            summary.failed.append((res.line, res.id, res.error))
        summary.elapsed = time.perf_counter() - t0
        if on_result:
            on_result(res, summary)

    def wav_done(line: int, out: dict | None, secs: float, err: str | None) -> None:
        prev, left = pending_wavs[line]
        prev.seconds += secs
        if err:
            prev.status, prev.error = "failed", err
        else:
            prev.outputs.append(out)
        if left > 1:
            pending_wavs[line] = (prev, left - 1)
        else:
            del pending_wavs[line]
            finish(prev)

    try:
        for fut in ac:
            kind, what = futures.pop(fut)
            try:
                out = fut.result()
            except Exception as exc:  # KilledWorker: the task took down workers again and again
                reason = f"its task failed on the cluster: {_error_text(exc)}"
                out = [_failed(j, reason) for j in what] if kind == "task" else (None, 0.0, reason)
            fut.release()
            if kind == "wav":
                wav_done(what, *out)
            for res in out if kind == "task" else ():
                if res.wav_todo:
                    pending_wavs[res.line] = (res, len(res.wav_todo))
                    for midi, path in res.wav_todo:
                        wf = client.submit(render_wav, midi, path, opts.soundfont, pure=False, priority=10,
                                           key=f"muse-batch-{token}-wav-{Path(path).name}-line{res.line}")
                        futures[wf] = ("wav", res.line)
                        ac.add(wf)
                    res.wav_todo = None
                else:
                    finish(res)
            manifest.sync()
            if fail_fast and summary.failed:
                summary.stopped = True
                break
    except KeyboardInterrupt:
        summary.interrupted = True
    finally:
        if futures:
            client.cancel(list(futures), force=True)
        if summary.interrupted or summary.stopped:
            _drain(client)
        summary.elapsed = time.perf_counter() - t0
    return summary

