"""MIDI <-> melodies: reading and checking MIDI files, melody extraction, 2-bar windows,
writing MIDI with provenance, and the features of a melody.

Pure Python on pretty_midi: no TensorFlow, no note_seq.

A melody is a list of notes ``(pitch, start_step, end_step)`` on a grid of 16
steps per 4/4 bar, monophonic and sorted. Event arrays use magenta's melody
classes (see :mod:`muse_cli.model`): 0 = hold/rest, 1 = note off, 2 + pitch - 21
= note on.
"""

from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass
from typing import Iterable

import numpy as np

from muse_cli.errors import InputError, NoMelodyError

STEPS_PER_QUARTER = 4
STEPS_PER_BAR = 16
WINDOW_STEPS = 32
MIN_PITCH, MAX_PITCH = 21, 108
# Meters whose beats fall on the 16-steps-per-bar grid of magenta's melody models.
DUPLE_METERS = {(4, 4), (2, 4), (2, 2), (4, 2), (4, 8), (8, 8)}
PROVENANCE_PREFIX = "muse "
PROGRAM = 0  # Acoustic Grand Piano

Note = tuple  # (pitch, start_step, end_step)


@dataclass(frozen=True)
class Melody:
    """A melody read from a file: its notes on the step grid and how long it is."""

    source: str
    notes: list
    total_steps: int
    qpm: float

    @property
    def bars(self) -> int:
        return max(1, math.ceil(self.total_steps / STEPS_PER_BAR))


# -- events <-> notes -------------------------------------------------------
def events_to_notes(events: Iterable[int], offset: int = 0) -> list[Note]:
    """Notes of an event array (magenta's Melody semantics: a note lasts until the next event)."""
    notes: list[Note] = []
    current = None  # (pitch, start)
    step = -1
    for step, e in enumerate(events):
        e = int(e)
        if e == 0:
            continue
        if current is not None:
            notes.append((current[0], current[1] + offset, step + offset))
            current = None
        if e >= 2:
            current = (e - 2 + MIN_PITCH, step)
    if current is not None:
        notes.append((current[0], current[1] + offset, step + 1 + offset))
    return notes


def notes_to_events(notes: list[Note], start: int = 0, steps: int = WINDOW_STEPS) -> np.ndarray:
    """The event array of the window [start, start + steps) of a monophonic melody."""
    events = np.zeros(steps, np.int64)
    end = start + steps
    for pitch, s, e in notes:
        if e <= start or s >= end:
            continue
        if s >= start:
            events[s - start] = pitch - MIN_PITCH + 2
        if start < e < end and events[e - start] == 0:
            events[e - start] = 1
    # A note that starts before the window and runs into it is a rest here, as in magenta's slices.
    return events


# -- reading ----------------------------------------------------------------
def load_pretty_midi(data: bytes, source: str):
    """MIDI bytes -> pretty_midi.PrettyMIDI, or InputError saying why not (never with an empty reason)."""
    import pretty_midi

    if not data:
        raise InputError(f"{source} is empty (0 bytes); give a .mid file")
    if not data.startswith(b"MThd"):
        raise InputError(f"{source} is not a MIDI file (no MThd header); give a .mid file")
    try:
        return pretty_midi.PrettyMIDI(io.BytesIO(data))
    except Exception as exc:  # mido raises many types for broken files
        why = " ".join(str(exc).split())[:120]
        if isinstance(exc, EOFError) or not why:
            why = "the file ends early: it is truncated" if isinstance(exc, EOFError) else type(exc).__name__
        raise InputError(f"{source} is not a readable MIDI file ({why})") from None


def read_melody(data: bytes, source: str) -> Melody:
    """Extract the melody of a MIDI file, or raise NoMelodyError saying why there is none."""
    pm = load_pretty_midi(data, source)
    all_notes = [n for inst in pm.instruments for n in inst.notes]
    if not all_notes:
        raise NoMelodyError(f"{source} has no notes")
    pitched = [i for i in pm.instruments if not i.is_drum and i.notes]
    if not pitched:
        raise NoMelodyError(f"{source} has only drum tracks; muse needs a melody (a pitched track)")
    for ts in pm.time_signature_changes:
        if (ts.numerator, ts.denominator) not in DUPLE_METERS:
            raise NoMelodyError(
                f"{source} is in {ts.numerator}/{ts.denominator} time; muse's 2-bar models need 4/4 "
                "(2/4 and 2/2 work too)")

    def to_step(t: float) -> int:
        return int(round(pm.time_to_tick(t) / pm.resolution * STEPS_PER_QUARTER))

    def in_range(inst):
        return [n for n in inst.notes if MIN_PITCH <= n.pitch <= MAX_PITCH]

    inst = max(pitched, key=lambda i: len(in_range(i)))
    raw = sorted(((n.pitch, to_step(n.start), to_step(n.end)) for n in in_range(inst)),
                 key=lambda x: (x[1], -x[0]))
    if not raw:
        raise NoMelodyError(f"{source} has no notes in the piano range {MIN_PITCH}-{MAX_PITCH}")
    onsets: dict[int, int] = {}
    for p, s, _ in raw:
        onsets[s] = onsets.get(s, 0) + 1
    if len(onsets) > 1 and all(c >= 2 for c in onsets.values()):
        raise NoMelodyError(f"{source} holds only chords (every onset has several notes); "
                            "give a file with a single-line melody")
    notes: list[Note] = []
    for p, s, e in raw:  # skyline: the highest note at each onset; a new onset ends the last note
        if notes and notes[-1][1] == s:
            continue
        if notes and notes[-1][2] > s:
            notes[-1] = (notes[-1][0], notes[-1][1], s)
        notes.append((p, s, max(e, s + 1)))
    total = max(e for _, _, e in notes)
    if total < STEPS_PER_BAR:
        raise NoMelodyError(f"{source} is too short: {total} steps (16th notes); muse needs at least "
                            "one 4/4 bar")
    tempi = pm.get_tempo_changes()[1]
    qpm = float(tempi[0]) if len(tempi) else 120.0
    return Melody(source=source, notes=notes, total_steps=total, qpm=qpm)


def windows(melody: Melody) -> list[tuple[int, np.ndarray]]:
    """(start_bar, events) for consecutive, non-overlapping 2-bar windows covering the melody."""
    out = []
    for start in range(0, melody.total_steps, WINDOW_STEPS):
        out.append((start // STEPS_PER_BAR, notes_to_events(melody.notes, start)))
    return out


# -- writing ----------------------------------------------------------------
def to_midi_bytes(notes: list[Note], qpm: float = 120.0, provenance: dict | None = None,
                  seconds: float | None = None, velocity: int = 90) -> bytes:
    """A one-track MIDI file of ``notes`` at ``qpm``, with provenance in a text meta event.

    With ``seconds`` the file lasts exactly that long: notes are cut there and an
    all-notes-off controller marks the end.
    """
    import pretty_midi

    step_s = 60.0 / qpm / STEPS_PER_QUARTER
    pm = pretty_midi.PrettyMIDI(initial_tempo=qpm, resolution=480)
    pm.time_signature_changes.append(pretty_midi.TimeSignature(4, 4, 0.0))
    inst = pretty_midi.Instrument(program=PROGRAM, name="muse melody")
    for pitch, s, e in notes:
        start, end = s * step_s, e * step_s
        if seconds is not None:
            if start >= seconds - 1e-9:
                continue
            end = min(end, seconds)
        inst.notes.append(pretty_midi.Note(velocity=velocity, pitch=int(pitch), start=start, end=end))
    if seconds is not None:
        inst.control_changes.append(pretty_midi.ControlChange(number=123, value=0, time=seconds))
    pm.instruments.append(inst)
    if provenance:
        text = PROVENANCE_PREFIX + json.dumps(provenance, sort_keys=True, separators=(",", ":"))
        pm.text_events.append(pretty_midi.Text(text, 0.0))
    buf = io.BytesIO()
    pm.write(buf)
    return buf.getvalue()


def read_provenance(data: bytes) -> dict | None:
    """The provenance muse wrote into a MIDI file, or None."""
    import pretty_midi

    pm = pretty_midi.PrettyMIDI(io.BytesIO(data))
    for t in pm.text_events:
        if t.text.startswith(PROVENANCE_PREFIX):
            return json.loads(t.text[len(PROVENANCE_PREFIX):])
    return None


# -- features ---------------------------------------------------------------
KRUMHANSL_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
KRUMHANSL_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])


def features(notes: list[Note]) -> dict[str, float]:
    """Features of a melody (Yang & Lerch 2018 and a few for prompts), from its notes.

    pitch_range (semitones), mean_abs_interval (semitones), note_count,
    pch_entropy (bits, pitch-class histogram weighted by count), mean_ioi (steps
    between onsets), mean_pitch, density (onsets per bar), slope (semitones per
    bar, least squares over onsets), stepwise (share of intervals of 1-2
    semitones among non-repeats), major_minus_minor (best Krumhansl correlation
    of major minus that of minor keys, duration-weighted).
    """
    if not notes:
        return {k: 0.0 for k in ("pitch_range", "mean_abs_interval", "note_count", "pch_entropy", "mean_ioi",
                                 "mean_pitch", "density", "slope", "stepwise", "major_minus_minor")}
    pitches = np.array([n[0] for n in notes], float)
    starts = np.array([n[1] for n in notes], float)
    durs = np.array([max(1, n[2] - n[1]) for n in notes], float)
    intervals = np.diff(pitches)
    pc = np.bincount(pitches.astype(int) % 12, minlength=12).astype(float)
    p = pc / pc.sum()
    entropy = float(-(p[p > 0] * np.log2(p[p > 0])).sum())
    moves = np.abs(intervals[intervals != 0])
    span_bars = max(1.0, (max(n[2] for n in notes) - min(n[1] for n in notes)) / STEPS_PER_BAR)
    slope = float(np.polyfit(starts / STEPS_PER_BAR, pitches, 1)[0]) if len(notes) > 1 and np.ptp(starts) > 0 else 0.0
    weighted = np.bincount(pitches.astype(int) % 12, weights=durs, minlength=12)
    return {
        "pitch_range": float(np.ptp(pitches)),
        "mean_abs_interval": float(np.abs(intervals).mean()) if len(intervals) else 0.0,
        "note_count": float(len(notes)),
        "pch_entropy": entropy,
        "mean_ioi": float(np.diff(starts).mean()) if len(starts) > 1 else 0.0,
        "mean_pitch": float(pitches.mean()),
        "density": float(len(notes) / span_bars),
        "slope": slope,
        "stepwise": float(np.mean(moves <= 2)) if len(moves) else 1.0,
        "major_minus_minor": _mode_score(weighted),
    }


def _mode_score(weighted_pc: np.ndarray) -> float:
    if weighted_pc.sum() == 0:
        return 0.0
    best = {}
    for name, profile in (("major", KRUMHANSL_MAJOR), ("minor", KRUMHANSL_MINOR)):
        best[name] = max(float(np.corrcoef(np.roll(profile, k), weighted_pc)[0, 1])
                         if np.std(weighted_pc) > 0 else 0.0 for k in range(12))
    return best["major"] - best["minor"]
