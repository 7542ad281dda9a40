"""MIDI <-> melodies: reading and checking MIDI files, melody extraction, 2-bar windows,
and writing MIDI with provenance (the one MIDI writer).

Pure Python on pretty_midi: no TensorFlow, no note_seq.

A melody is a list of notes ``(pitch, start_step, end_step)`` on a grid of 16
steps per 4/4 bar, monophonic and sorted. Event arrays use magenta's melody
classes (see :mod:`muse_cli.encoding`): 0 = hold/rest, 1 = note off, 2 + pitch - 21
= note on.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from muse_cli.encoding import (
    DUPLE_METERS,
    FIRST_NOTE,
    HOLD,
    MAX_PITCH,
    MIN_PITCH,
    NOTE_OFF,
    STEPS_PER_BAR,
    STEPS_PER_QUARTER,
    WINDOW_STEPS,
    step_seconds,
)
from muse_cli.errors import InputError, NoMelodyError

PROVENANCE_PREFIX = "muse "
PROGRAM = 0  # Acoustic Grand Piano
CHORD_TRACK_NAME = "muse chords"  # the track of chords muse writes (muse_cli.families.chords); never the melody
DEFAULT_VELOCITY = 90

Note = tuple  # (pitch, start_step, end_step)


@dataclass(frozen=True)
class Melody:
    """A melody read from a file: its notes on the step grid and how long it is, its first tempo, its track's
    program, each note's velocity, and ``remarks``: what reading it changed (one sentence each)."""

    source: str
    notes: list
    total_steps: int
    qpm: float
    program: int = PROGRAM
    velocities: tuple = ()  # one per note; () for DEFAULT_VELOCITY throughout
    remarks: tuple = ()

    @property
    def velocity(self) -> int:
        """The melody's typical velocity (the median), for the notes muse writes beside it."""
        return int(np.median(self.velocities)) if self.velocities else DEFAULT_VELOCITY


# -- events <-> notes -------------------------------------------------------
def events_to_notes(events: Iterable[int], offset: int = 0) -> list[Note]:
    """Notes of an event array (magenta's Melody semantics: a note lasts until the next event)."""
    notes: list[Note] = []
    current = None  # (pitch, start)
    step = -1
    for step, e in enumerate(events):
        e = int(e)
        if e == HOLD:
            continue
        if current is not None:
            notes.append((current[0], current[1] + offset, step + offset))
            current = None
        if e >= FIRST_NOTE:
            current = (e - FIRST_NOTE + MIN_PITCH, step)
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
            events[s - start] = pitch - MIN_PITCH + FIRST_NOTE
        if start < e < end and events[e - start] == HOLD:
            events[e - start] = NOTE_OFF
    # A note that starts before the window and runs into it is a rest here, as in magenta's slices.
    return events


def transpose(events: np.ndarray, shift: int) -> tuple[np.ndarray, int]:
    """(events moved by ``shift`` semitones or that +-12, whichever stays in the piano range and nearest the
    original register; the semitones used). Notes a whole melody cannot fit are moved by octaves one by one."""
    events = np.asarray(events).copy()
    on = events >= FIRST_NOTE
    if not on.any():
        return events, 0
    low, high = events[on].min() - FIRST_NOTE + MIN_PITCH, events[on].max() - FIRST_NOTE + MIN_PITCH
    for d in sorted((shift, shift - 12, shift + 12), key=abs):
        if MIN_PITCH <= low + d and high + d <= MAX_PITCH:
            events[on] += d
            return events, d
    pitch = events[on] - FIRST_NOTE + MIN_PITCH + shift  # wider than the range allows: fold note by note
    pitch = np.where(pitch < MIN_PITCH, pitch + 12, np.where(pitch > MAX_PITCH, pitch - 12, pitch))
    events[on] = pitch - MIN_PITCH + FIRST_NOTE
    return events, shift


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
    # The chords muse writes beside a melody accompany it: the melody is in another track.
    pitched = [i for i in pitched if i.name != CHORD_TRACK_NAME] or pitched
    if not pitched:
        raise NoMelodyError(f"{source} has only drum tracks; muse needs a melody (a pitched track)")
    check_meter(pm, source)

    def in_range(inst):
        return [n for n in inst.notes if MIN_PITCH <= n.pitch <= MAX_PITCH]

    inst = max(pitched, key=lambda i: len(in_range(i)))
    kept = in_range(inst)
    raw = sorted(
        ((n.pitch, quantize(pm, n.start), quantize(pm, n.end), n.velocity) for n in kept), key=lambda x: (x[1], -x[0])
    )
    if not raw:
        raise NoMelodyError(f"{source} has no notes in the piano range {MIN_PITCH}-{MAX_PITCH}")
    onsets: dict[int, int] = {}
    for _, s, _, _ in raw:
        onsets[s] = onsets.get(s, 0) + 1
    if len(onsets) > 1 and all(c >= 2 for c in onsets.values()):
        raise NoMelodyError(
            f"{source} holds only chords (every onset has several notes); give a file with a single-line melody"
        )
    notes, velocities = skyline(raw)
    total = max(e for _, _, e in notes)
    if total < STEPS_PER_BAR:
        raise NoMelodyError(f"{source} is too short: {total} steps (16th notes); muse needs at least one 4/4 bar")
    tempi = pm.get_tempo_changes()[1]
    qpm = float(tempi[0]) if len(tempi) else 120.0
    remarks = _remarks(pm, pitched, inst, kept, onsets, tempi)
    return Melody(source, notes, total, qpm, int(inst.program), tuple(velocities), tuple(remarks))


def quantize(pm, seconds: float) -> int:
    """The 16th-note step nearest ``seconds`` in a PrettyMIDI file, counted in its ticks (so at its own tempi)."""
    return int(round(pm.time_to_tick(seconds) / pm.resolution * STEPS_PER_QUARTER))


def check_meter(pm, source: str, error: type[InputError] = NoMelodyError) -> None:
    """Raise ``error`` naming ``source`` unless every time signature of the file falls on the 16-steps-a-bar grid."""
    for ts in pm.time_signature_changes:
        if f"{ts.numerator}/{ts.denominator}" not in DUPLE_METERS:
            raise error(
                f"{source} is in {ts.numerator}/{ts.denominator} time; muse's 2-bar models need 4/4 "
                "(2/4 and 2/2 work too)"
            )


def skyline(raw: list[tuple]) -> tuple[list[Note], list[int]]:
    """(notes, velocities) of the top line of ``(pitch, start, end, velocity)`` sorted by (start, -pitch): the
    highest note at each onset; a new onset ends the last note; every note lasts at least a step (magenta's
    Melody extraction with polyphony ignored)."""
    notes: list[Note] = []
    velocities: list[int] = []
    for p, s, e, v in raw:
        if notes and notes[-1][1] == s:
            continue
        if notes and notes[-1][2] > s:
            notes[-1] = (notes[-1][0], notes[-1][1], s)
        notes.append((p, s, max(e, s + 1)))
        velocities.append(int(v))
    return notes, velocities


def _remarks(pm, pitched: list, inst, kept: list, onsets: dict, tempi) -> list[str]:
    """What reading a melody left out or changed, one sentence each (the commands print them)."""
    out = []
    if len(pitched) > 1:
        out.append(
            f"took the pitched track with the most notes (program {inst.program}); {len(pitched) - 1} other(s) left out"
        )
    if len(kept) < len(inst.notes):
        out.append(f"left out {len(inst.notes) - len(kept)} note(s) outside the piano range {MIN_PITCH}-{MAX_PITCH}")
    chords = sum(1 for c in onsets.values() if c > 1)
    if chords:
        out.append(f"kept the highest note of {chords} chord(s) (the top line)")
    if len(tempi) > 1 and len(set(np.round(tempi, 6))) > 1:
        out.append(f"kept the first tempo ({tempi[0]:g} qpm); {len(tempi) - 1} later tempo change(s) are not kept")
    meters = sorted({f"{ts.numerator}/{ts.denominator}" for ts in pm.time_signature_changes} - {"4/4"})
    if meters:
        out.append(f"read {', '.join(meters)} on the 4/4 grid (16 sixteenths a bar)")
    return out


def windows(melody: Melody) -> list[tuple[int, np.ndarray]]:
    """(start_bar, events) for consecutive, non-overlapping 2-bar windows covering the melody."""
    out = []
    for start in range(0, melody.total_steps, WINDOW_STEPS):
        out.append((start // STEPS_PER_BAR, notes_to_events(melody.notes, start)))
    return out


# -- writing ----------------------------------------------------------------
# Written by hand rather than through pretty_midi, whose object model and mido's checks of every
# message took 14 times as long (2,000 16-s melodies: 1.74 ms against 0.12 ms each): more than the
# model takes to decode one in `muse batch`. The bytes are those pretty_midi 0.2.10 wrote before
# (tests/test_midi.py pins them): its tick rounding, its order of events at equal ticks, mido's
# running status.
RESOLUTION = 480  # ticks per quarter note
TRACK_NAME = b"muse melody"
_ORDER = {"program_change": 6 << 16, "control_change": 8 << 16, "note_on": 10 << 16}  # pretty_midi's, at equal ticks
_STATUS = {"program_change": 0xC0, "control_change": 0xB0, "note_on": 0x90}
_END_OF_TRACK = b"\x01\xff\x2f\x00"  # one tick after the last event


@dataclass(frozen=True)
class Part:
    """One track of a MIDI file: notes ``(pitch, start_step, end_step)`` on the 16th-note grid (steps may be
    fractional: a groove's micro-timing), its General MIDI program, ``drums`` for MIDI channel 10 (General MIDI
    drum pitches, the SoundFont's drum kit), its name, velocities (one per note, else ``velocity`` throughout)
    and ``texts``: ``(step, text)`` marker events (chord symbols) that a DAW shows on its timeline."""

    notes: list
    program: int = PROGRAM
    drums: bool = False
    name: str = TRACK_NAME.decode()
    velocities: tuple | list | None = None
    velocity: int = DEFAULT_VELOCITY
    texts: tuple = ()


DRUM_CHANNEL = 9  # MIDI channel 10, General MIDI's percussion channel


def to_midi_bytes(
    notes: list[Note],
    qpm: float = 120.0,
    provenance: dict | None = None,
    seconds: float | None = None,
    velocity: int = DEFAULT_VELOCITY,
    program: int = PROGRAM,
    velocities: list[int] | tuple | None = None,
) -> bytes:
    """A one-track MIDI file of ``notes`` at ``qpm``, with provenance in a text meta event.

    With ``seconds`` the file lasts exactly that long: notes are cut there and an
    all-notes-off controller marks the end. ``velocities`` (one per note) win over ``velocity``;
    ``program`` is the track's General MIDI program (0, piano, by default).
    """
    return parts_to_midi_bytes(
        [Part(notes, program, False, TRACK_NAME.decode(), velocities, velocity)], qpm, provenance, seconds
    )


def parts_to_midi_bytes(
    parts: list[Part], qpm: float = 120.0, provenance: dict | None = None, seconds: float | None = None
) -> bytes:
    """A MIDI file of one track per :class:`Part` (after the tempo track) at ``qpm``: drum parts on channel 10,
    the others on channels 1, 2, ... in order; provenance and ``seconds`` as :func:`to_midi_bytes`."""
    import struct

    tick_scale = 60.0 / (qpm * RESOLUTION)  # seconds per tick
    channels = iter(c for c in range(16) if c != DRUM_CHANNEL)
    tracks = [_timing_track(tick_scale, provenance)]
    for part in parts:
        channel = DRUM_CHANNEL if part.drums else next(channels)
        tracks.append(_note_track(part, qpm, tick_scale, seconds, channel))
    return (
        b"MThd"
        + struct.pack(">Lhhh", 6, 1, len(tracks), RESOLUTION)
        + b"".join(b"MTrk" + struct.pack(">L", len(t)) + t for t in tracks)
    )


def _vlq(n: int) -> bytes:
    """MIDI's variable-length quantity."""
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    return bytes(reversed(out))


def _timing_track(tick_scale: float, provenance: dict | None) -> bytes:
    """Tempo, 4/4 and the provenance text, all at tick 0."""
    tempo = int(6e7 / (60.0 / (tick_scale * RESOLUTION)))  # microseconds per quarter, as pretty_midi computes it
    body = b"\x00\xff\x51\x03" + tempo.to_bytes(3, "big") + b"\x00\xff\x58\x04\x04\x02\x18\x08"
    if provenance:
        text = (PROVENANCE_PREFIX + json.dumps(provenance, sort_keys=True, separators=(",", ":"))).encode("latin1")
        body += b"\x00\xff\x01" + _vlq(len(text)) + text
    return body + _END_OF_TRACK


def written_notes(notes: list[Note], qpm: float, seconds: float | None) -> list[Note]:
    """The notes a file of ``seconds`` at ``qpm`` holds: those starting before its end (to_midi_bytes cuts the rest)."""
    if seconds is None:
        return list(notes)
    step_s = step_seconds(qpm)
    return [n for n in notes if n[1] * step_s < seconds - 1e-9]


def _note_track(part: Part, qpm: float, tick_scale: float, seconds: float | None, channel: int) -> bytes:
    """A part's track: its name, the program, its markers, the notes (cut at ``seconds``), the closing controller."""

    def tick(t: float) -> int:
        return int(round(t / tick_scale)) if t > 0 else 0

    step_s = step_seconds(qpm)
    events = [(0, "program_change", int(part.program), 0)]
    loud = list(part.velocities) if part.velocities else [part.velocity] * len(part.notes)
    for (pitch, s, e), v in zip(written_notes(part.notes, qpm, seconds), loud):
        start, end = s * step_s, e * step_s
        if seconds is not None:
            end = min(end, seconds)
        events.append((tick(start), "note_on", int(pitch), int(v)))
        events.append((tick(end), "note_on", int(pitch), 0))  # note off: a note on at velocity 0, as mido writes
    if seconds is not None:
        events.append((tick(seconds), "control_change", 123, 0))
    name = part.name.encode("latin1", "replace")
    body = bytearray(b"\x00\xff\x03" + _vlq(len(name)) + name)
    last, running = 0, None
    for step, text in part.texts:  # markers first at their ticks: ordered by time, before the notes they name
        events.append((tick(step * step_s), "marker", text, 0))
    events.sort(key=lambda e: (e[0], -1 if e[1] == "marker" else _ORDER[e[1]] + e[2] * 256 + e[3]))
    for t, kind, a, b in events:
        body += _vlq(t - last)
        last = t
        if kind == "marker":
            text = a.encode("latin1", "replace")
            body += b"\xff\x06" + _vlq(len(text)) + text
            running = None  # a meta event cancels running status
            continue
        status = _STATUS[kind] | channel
        if status != running:  # running status: the status byte only when it changes
            body.append(status)
            running = status
        body += bytes((a,) if kind == "program_change" else (a, b))
    return bytes(body + _END_OF_TRACK)


def read_provenance(data: bytes) -> dict | None:
    """The provenance muse wrote into a MIDI file, or None."""
    import pretty_midi

    pm = pretty_midi.PrettyMIDI(io.BytesIO(data))
    for t in pm.text_events:
        if t.text.startswith(PROVENANCE_PREFIX):
            return json.loads(t.text[len(PROVENANCE_PREFIX) :])
    return None
