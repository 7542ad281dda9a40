"""Work on a worker process: verify what exists, decode what is left, write files, render WAVs.

Each worker process loads a checkpoint once (:func:`muse_cli.model.load_model`
caches per process) and decodes compatible sample jobs in shared model batches;
WAV rendering runs as separate small tasks (:func:`render_wav`) so that it
spreads over every core.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from muse_cli.batch.family_jobs import family_generate, family_sample, is_family
from muse_cli.batch.jobs import Job, Options
from muse_cli.batch.verify import existing_outputs, output_record
from muse_cli.errors import MuseError
from muse_cli.files import remove_stale_parts

_MODEL_LOCK = threading.Lock()
WRITER_THREADS = 4


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
        return {
            "id": self.id,
            "line": self.line,
            "op": self.op,
            "status": self.status,
            "outputs": outs,
            "seconds": round(self.seconds, 4),
            "error": self.error,
        }


def failed(job: Job, error: str, spent: float = 0.0) -> Result:
    return Result(job.line, job.id, job.op, "failed", [], spent, error)


def error_text(exc: BaseException) -> str:
    """A failure as the manifest and the summary show it: muse's own message, else the type and its text."""
    if isinstance(exc, MuseError):
        return str(exc)
    return f"{type(exc).__name__}: {str(exc)[:300]}"


def model_for(checkpoint: str | None, opts: Options):
    """The worker's model for ``checkpoint``: loaded on first use, then reused by every task."""
    import sys

    if opts.tf_threads and "tensorflow" not in sys.modules:
        os.environ.setdefault("TF_NUM_INTRAOP_THREADS", str(opts.tf_threads))
        os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
        os.environ.setdefault("OMP_NUM_THREADS", str(opts.tf_threads))
    from muse_cli.engines import for_batch
    from muse_cli.model import load_model

    with _MODEL_LOCK:
        return load_model(checkpoint, batch_size=opts.batch_size, engine=for_batch(checkpoint))


# -- writing files -------------------------------------------------------------------
def _write(path: str, data: bytes) -> dict:
    from muse_cli.files import atomic_write

    atomic_write(Path(path), data, force=True)
    return output_record(path, data)


# Per worker process: threads that wait on atomic_write's fsync while the next files are made;
# several fsyncs in flight share the file system's journal commits (measured: 3x the files/s of one).
_WRITERS = None
_WRITERS_LOCK = threading.Lock()


def _write_later(path: str, data: bytes):
    global _WRITERS
    from concurrent.futures import ThreadPoolExecutor

    from muse_cli.files import atomic_write

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
            res.status, res.error, res.outputs, res.wav_todo = "failed", error_text(exc), [], None
    return res


def _finish_model_job(job: Job, midis: list[bytes], good: dict[str, bytes], spent: float) -> Result:
    """Write a model job's MIDI files (``midis``: one per .mid output); leave its WAVs to render tasks."""
    t0 = time.perf_counter()
    mids = [o for o in job.outputs if not o.endswith(".wav")]
    outs, wav_todo, writes = [], [], []
    for path, made in zip(mids, midis):
        data = good.get(path) or made
        outs.append(output_record(path, data))
        if path not in good:
            writes.append(_write_later(path, data))
        if job.params["wav"]:
            wav = str(Path(path).with_suffix(".wav"))
            if wav in good:
                outs.append(output_record(wav, good[wav]))
            else:
                wav_todo.append((data, wav))
    return Result(
        job.line,
        job.id,
        job.op,
        "ok",
        outs,
        spent + time.perf_counter() - t0,
        wav_todo=tuple(wav_todo) or None,
        writes=writes,
    )


def _from_files(job: Job, good: dict[str, bytes]) -> Result:
    """A job whose MIDI files all verify: no model needed, perhaps WAVs still to render."""
    mids = [o for o in job.outputs if not o.endswith(".wav")]
    res = _finish_model_job(job, [good[m] for m in mids], good, 0.0)
    if res.wav_todo is None and all(o in good for o in job.outputs):
        res.status = "skipped"
    return res


# -- a task --------------------------------------------------------------------------
def _triage(job: Job, opts: Options) -> tuple[Result | None, dict]:
    """A job's result if no model is needed for it (skipped, failed, rendered), else (None, good outputs)."""
    try:
        good, why = existing_outputs(job, opts.force)
    except Exception as exc:
        return failed(job, error_text(exc)), {}
    if why:
        return failed(job, why), good
    if job.op in ("render", "show"):
        out = job.outputs[0]
        if out in good:
            return Result(job.line, job.id, job.op, "skipped", [output_record(out, good[out])]), good
        return (render_job if job.op == "render" else show_job)(job, opts), good
    if all(o in good for o in job.outputs if not o.endswith(".wav")):
        return _from_files(job, good), good
    return None, good


def run_task(jobs: list[Job], opts: Options) -> list[Result]:
    """Run one planned task on a worker: verify, skip, decode what is left, write MIDI (and render WAV)."""
    results: dict[int, Result] = {}
    todo: list[tuple[Job, dict]] = []
    remove_stale_parts([o for j in jobs for o in j.outputs])
    for job in jobs:
        res, good = _triage(job, opts)
        if res is None:
            todo.append((job, good))
        else:
            results[job.line] = res
    if todo:
        try:
            model = model_for(todo[0][0].checkpoint, opts)
        except Exception as exc:
            results.update((job.line, failed(job, error_text(exc))) for job, _ in todo)
            todo = []
        if todo and todo[0][0].op == "sample":
            results.update(_run_samples(model, todo))
        else:
            for job, good in todo:
                results[job.line] = _run_one(model, job, good)
    return [_settle(results[j.line]) for j in jobs]


def _run_one(model, job: Job, good: dict[str, bytes]) -> Result:
    """A decode, interpolate, vary or continue job."""
    t0 = time.perf_counter()
    try:
        midis = [item.midi() for item in _generate(model, job)]
        return _finish_model_job(job, midis, good, time.perf_counter() - t0)
    except Exception as exc:
        return failed(job, error_text(exc), time.perf_counter() - t0)


def _run_samples(model, todo: list[tuple[Job, dict]]) -> dict[int, Result]:
    """Sample jobs in shared model batches: each draws what ``muse sample -n 1 --seed SEED`` draws."""
    from muse_cli.model import sample_draws

    t0 = time.perf_counter()
    p = todo[0][0].params  # the jobs of a task share temperature and tempo (plan.plan_tasks)
    try:
        draws = [(j.params["seed"], 0, j.params.get("seconds")) for j, _ in todo]
        # the jobs of a task share temperature, tempo, form, attributes, style and chords (Job.group_key)
        if is_family(model):
            items = [family_sample(model, draw, p) for draw in draws]
        else:
            items = sample_draws(
                model, draws, p["temperature"], p["qpm"], form=p.get("form"), attrs=p.get("attrs"), style=p.get("style")
            )
        midis = [item.midi() for item in items]
    except Exception as exc:
        return {j.line: failed(j, error_text(exc)) for j, _ in todo}
    share = (time.perf_counter() - t0) / len(todo)
    out = {}
    for (job, good), midi in zip(todo, midis):
        try:
            out[job.line] = _finish_model_job(job, [midi], good, share)
        except Exception as exc:
            out[job.line] = failed(job, error_text(exc), share)
    return out


def _read_input(p: dict, key: str) -> bytes:
    """An input file's bytes; errors name the path as the job file wrote it."""
    from muse_cli.errors import InputError
    from muse_cli.files import read_bytes

    try:
        return read_bytes(p[key])
    except InputError as exc:
        raise InputError(str(exc).replace(p[key], p[key + "_shown"])) from None


def _from_melody(model, job: Job) -> list:
    """The melody of a vary or continue job: what ``muse vary|continue -n 1`` with its settings makes."""
    from muse_cli import model as m
    from muse_cli.midi import read_melody

    p = job.params
    melody = read_melody(_read_input(p, "midi"), p["midi_shown"])
    settings = {"temperature": p["temperature"], "seed": p["seed"], "qpm": p["qpm"], "attrs": p.get("attrs")}
    if job.op == "vary":
        return m.vary(model, melody, n=1, **settings, **({"amount": p["amount"]} if "amount" in p else {}))
    from muse_cli.model import continue_melody

    more = {"form": p.get("form"), "keep": p["keep"], "style": p.get("style")}
    return continue_melody(model, melody, p.get("seconds"), n=1, **more, **settings)


def _generate(model, job: Job) -> list:
    """The melodies of one decode, interpolate, vary or continue job, as the matching muse command makes them."""
    from muse_cli import model as m
    from muse_cli.latents import read_latents

    p = job.params
    if is_family(model):
        return family_generate(model, job, _read_input)
    if job.op in ("vary", "continue"):
        return _from_melody(model, job)
    if job.op == "interpolate":
        from muse_cli.midi import read_melody

        a = read_melody(_read_input(p, "a"), p["a_shown"])
        b = read_melody(_read_input(p, "b"), p["b_shown"])
        return m.interpolate(
            model,
            a,
            b,
            steps=p["steps"],
            temperature=p["temperature"],
            seed=p["seed"],
            qpm=p["qpm"],
            concat=p["concat"],
        )
    if "prompt" in p:
        try:
            from muse_cli.prompt.api import sample_with_prompt
        except ImportError as exc:
            raise MuseError(
                f"prompts are not available in this muse ({exc}); use 'latents' or install a muse with prompt support"
            ) from None
        qpm = None if p.get("qpm_from_prompt") else p["qpm"]  # None: the prompt's tempo words, as the CLI reads them
        return sample_with_prompt(model, p["prompt"], 1, p.get("seconds"), p["temperature"], p["seed"], qpm)[:1]
    windows = read_latents(_read_input(p, "latents"), p["latents_shown"])
    sources = list(dict.fromkeys(w.source for w in windows))
    if "source" in p:
        windows = [w for w in windows if w.source == p["source"]]
        if not windows:
            raise MuseError(f"{p['latents_shown']} has no source {p['source']!r} (it has {', '.join(sources)})")
    elif len(sources) > 1:
        raise MuseError(
            f'{p["latents_shown"]} holds {len(sources)} sources ({", ".join(sources[:5])}); add "source" to pick one'
        )
    return m.decode(model, windows, temperature=p["temperature"], seed=p["seed"], qpm=p["qpm"], attrs=p.get("attrs"))


# -- rendering -----------------------------------------------------------------------
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
        return failed(job, error_text(exc), time.perf_counter() - t0)
    return Result(job.line, job.id, job.op, "ok", [out], time.perf_counter() - t0)


def show_job(job: Job, opts: Options) -> Result:
    """A show job: MIDI file -> piano-roll PNG, the bytes `muse show MIDI -o OUT` writes."""
    from muse_cli.show import draw_png, read_views

    t0 = time.perf_counter()
    p = job.params
    try:
        views = read_views(_read_input(p, "midi"), p["midi_shown"])
        out = _write(job.outputs[0], draw_png(views))
    except Exception as exc:
        return failed(job, error_text(exc), time.perf_counter() - t0)
    return Result(job.line, job.id, job.op, "ok", [out], time.perf_counter() - t0)


def render_wav(midi: bytes, path: str, soundfont: str | None) -> tuple[dict | None, float, str | None]:
    """Render one model job's MIDI to the WAV beside it: (output, seconds, error)."""
    from muse_cli.render import render

    t0 = time.perf_counter()
    try:
        out = _write(path, render(midi, soundfont=Path(soundfont) if soundfont else None, source=path))
    except Exception as exc:
        return None, time.perf_counter() - t0, error_text(exc)
    return out, time.perf_counter() - t0, None
