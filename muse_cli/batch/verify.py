"""Outputs that already exist (runs on workers): keep those a job would write, refuse foreign ones.

A MIDI output verifies when it parses and carries the job's settings in its
provenance; a WAV output when it has the right rate and length. A rerun skips
every job whose outputs verify, so an interrupted run continues where it stopped.
"""

from __future__ import annotations

import hashlib
import io
import wave
from pathlib import Path

from muse_cli.batch.jobs import Job
from muse_cli.batch.schema import RENDER_RATE
from muse_cli.render import wav_frames


def output_record(path: str, data: bytes) -> dict:
    """An output as the manifest records it."""
    return {"path": path, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}


def _midi_end(data: bytes) -> float:
    import pretty_midi

    return pretty_midi.PrettyMIDI(io.BytesIO(data)).get_end_time()


def _expected_provenance(job: Job, step: int | None, written_qpm=None) -> dict:
    """What the MIDI of ``job`` records; a job that keeps its input's tempo (no "qpm") takes the written one."""
    p = job.params
    qpm = p["qpm"] if p["qpm"] is not None else written_qpm
    exp = {"seed": p["seed"], "temperature": p["temperature"], "qpm": qpm}
    if job.op == "sample":
        from muse_cli.model import sample_seconds

        exp.update(mode="sample", index=0, seconds=sample_seconds(p.get("seconds"), qpm))
    elif job.op == "interpolate":
        exp.update(mode="interpolate", steps=p["steps"])
        if step is not None:
            exp["step"] = step
    elif job.op in ("vary", "continue"):
        exp.update(mode=job.op, **({"amount": p["amount"]} if "amount" in p else {}))
    elif "latents" in p:
        exp["mode"] = "decode"
    if job.op == "continue":
        from muse_cli.model import sample_seconds

        exp.update(index=0, seconds=sample_seconds(p.get("seconds"), qpm), keep=p["keep"] or None)
    if job.op in ("sample", "continue"):  # absent from the provenance when not asked for
        exp["form"] = p.get("form")
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
    if not isinstance(prov.get("qpm"), (int, float)) or not prov["qpm"] > 0:
        return f"{path} exists but records no tempo"
    for key, want in _expected_provenance(job, step, prov["qpm"]).items():
        if key == "seconds" and prov.get("conductor"):  # a conducted piece lasts whole bars
            from muse_cli.longform import piece_seconds

            want = piece_seconds(job.params.get("seconds"), prov["qpm"])
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


def _check_png(path: str, data: bytes) -> str | None:
    """A whole PNG file: its signature first and its IEND chunk last (a cut-off write fails this)."""
    if not (data.startswith(b"\x89PNG\r\n\x1a\n") and data.endswith(b"IEND\xaeB`\x82")):
        return f"{path} exists but is not a whole PNG image"
    return None


def _read(path: str) -> bytes | None:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        return None


def existing_outputs(job: Job, force: bool) -> tuple[dict[str, bytes], str | None]:
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
                frames, rate = wav_frames(_midi_end(src), job.params["rate"]), job.params["rate"]
            else:
                mid = good.get(midi_of[path])
                if mid is None:
                    continue  # its MIDI will be made again, then this WAV from it
                frames, rate = wav_frames(_midi_end(mid), RENDER_RATE), RENDER_RATE
            why = _check_wav(shown, data, frames, rate)
        elif path.endswith(".png"):
            why = _check_png(shown, data)
        else:
            step = mids.index(path) + 1 if job.op == "interpolate" and not job.params["concat"] else None
            why = _check_midi(shown, data, job, step)
        if why:
            return good, why + "; delete it or run with --force"
        good[path] = data
    return good, None
