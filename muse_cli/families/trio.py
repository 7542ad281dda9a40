"""The 16-bar codecs: hierdec-trio_16bar (magenta's TrioConverter: melody, bass and drums) and hierdec-mel_16bar
(magenta's OneHotMelodyConverter sliced to 16 bars).

A step of the trio is three one-hots side by side: the melody's 90 classes, the bass's 90 (muse's melody events,
:mod:`muse_cli.encoding`) and the drums' 512 (the 9 reduced classes, :mod:`muse_cli.families.drums`); inputs and
outputs are the same tensor. magenta finds the parts by program: an instrument of General MIDI program 0-31
(piano, chromatic percussion, organ, guitar) is a melody, 32-39 a bass, a drum track drums. Where a file has
several of a kind, magenta trains on every combination; muse takes the one with the most notes of each.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from muse_cli.encoding import MAX_PITCH, MIN_PITCH, NUM_CLASSES, STEPS_PER_BAR
from muse_cli.errors import InputError
from muse_cli.families.drums import (
    OUTPUT_VELOCITY,
    REDUCED_DRUM_PITCH_CLASSES,
    Drums,
    decode,
    drum_events,
    drum_notes,
    drum_part,
    drums_of,
    one_hot,
)
from muse_cli.midi import (
    PROGRAM,
    Melody,
    Note,
    Part,
    check_meter,
    events_to_notes,
    load_pretty_midi,
    notes_to_events,
    quantize,
    read_melody,
    skyline,
)

BARS = 16
STEPS = BARS * STEPS_PER_BAR
MEL_PROGRAMS = range(0, 32)  # magenta's: piano, chromatic percussion, organ, guitar
BASS_PROGRAMS = range(32, 40)
BASS_PROGRAM = 33  # Electric Bass (finger): magenta's ELECTRIC_BASS_PROGRAM for the bass it writes
DRUM_DEPTH = 2 ** len(REDUCED_DRUM_PITCH_CLASSES)
SPLIT_DEPTHS = (NUM_CLASSES, NUM_CLASSES, DRUM_DEPTH)  # melody, bass, drums


@dataclass(frozen=True)
class Trio:
    """A trio read from a file: melody and bass notes ``(pitch, start_step, end_step)``, the drums, the song's
    length in steps, its first tempo and ``remarks``: what reading it left out (one sentence each)."""

    source: str
    melody: list
    bass: list
    drums: Drums
    total_steps: int
    qpm: float
    remarks: tuple = ()


def read_trio(data: bytes, source: str) -> Trio:
    """The melody, bass and drums of a MIDI file (magenta's choice by program), or InputError naming ``source``
    and the part it lacks."""
    pm = load_pretty_midi(data, source)
    check_meter(pm, source, InputError)
    kinds = {
        "melody (program 0-31: piano, chromatic percussion, organ or guitar)": [
            i for i in pm.instruments if not i.is_drum and i.program in MEL_PROGRAMS and _in_range(i)
        ],
        "bass (program 32-39)": [
            i for i in pm.instruments if not i.is_drum and i.program in BASS_PROGRAMS and _in_range(i)
        ],
        "drum (MIDI channel 10)": [i for i in pm.instruments if i.is_drum and i.notes],
    }
    missing = [kind for kind, found in kinds.items() if not found]
    if missing:
        raise InputError(f"{source} has no {' and no '.join(missing)} track; a trio needs a melody, a bass and drums")
    melody, bass, drums = (max(found, key=lambda i: len(i.notes)) for found in kinds.values())
    lines = [_line(pm, melody), _line(pm, bass)]
    kit = drums_of(pm, [drums], source)
    total = max(kit.total_steps, *(max(e for _, _, e in notes) for notes in lines))
    remarks = [
        f"took the {kind.split()[0]} track with the most notes; {len(found) - 1} other(s) left out"
        for kind, found in kinds.items()
        if len(found) > 1
    ]
    tempi = pm.get_tempo_changes()[1]
    qpm = float(tempi[0]) if len(tempi) else 120.0
    return Trio(source, lines[0], lines[1], kit, total, qpm, tuple(remarks) + kit.remarks)


def _in_range(inst) -> list:
    return [n for n in inst.notes if MIN_PITCH <= n.pitch <= MAX_PITCH]


def _line(pm, inst) -> list[Note]:
    """A track's top line on the step grid (magenta's melody extraction, polyphony ignored)."""
    raw = sorted(
        ((n.pitch, quantize(pm, n.start), quantize(pm, n.end), n.velocity) for n in _in_range(inst)),
        key=lambda x: (x[1], -x[0]),
    )
    return skyline(raw)[0]


def melody_one_hot(notes: list[Note], start: int = 0, steps: int = STEPS) -> np.ndarray:
    """[steps, 90] float32: the one-hot melody events of the window [start, start + steps)."""
    events = notes_to_events(notes, start, steps)
    out = np.zeros((steps, NUM_CLASSES), np.float32)
    out[np.arange(steps), events] = 1.0
    return out


def melody_notes(outputs: np.ndarray, start_step: int = 0) -> list[Note]:
    """The notes of one-hot melody outputs [T, 90] (their argmax events), placed at ``start_step``."""
    return events_to_notes(np.argmax(outputs, axis=-1), offset=start_step)


@dataclass(frozen=True)
class TrioCodec:
    """magenta's TrioConverter of hierdec-trio_16bar (16 bars, inputs = outputs = 90 + 90 + 512 one-hots)."""

    config: str = "hierdec-trio_16bar"
    STEPS = STEPS
    INPUT_DEPTH = OUTPUT_DEPTH = sum(SPLIT_DEPTHS)
    CONTROL_DEPTH = 0

    def read(self, data: bytes, source: str) -> Trio:
        return read_trio(data, source)

    def encode(self, trio: Trio, start: int = 0) -> np.ndarray:
        """[STEPS, 692] float32: the trio's window from ``start``."""
        drums = one_hot(drum_events(trio.drums, REDUCED_DRUM_PITCH_CLASSES, start, STEPS), 9)
        return np.concatenate([melody_one_hot(trio.melody, start), melody_one_hot(trio.bass, start), drums], axis=1)

    def to_windows(self, song: Trio) -> list[tuple[int, np.ndarray, None]]:
        """(start_bar, inputs [256, 692], None) for consecutive 16-bar windows covering the song."""
        return [(start // STEPS_PER_BAR, self.encode(song, start), None) for start in range(0, song.total_steps, STEPS)]

    def to_parts(self, outputs: np.ndarray, start_step: int = 0, controls=None) -> list[Part]:
        """Melody (program 0), bass (program 33) and drums (channel 10) of outputs [T, 692], at magenta's velocity."""
        mel, bass, drums = np.split(np.asarray(outputs), np.cumsum(SPLIT_DEPTHS)[:2], axis=-1)
        return [
            Part(melody_notes(mel, start_step), PROGRAM, name="muse melody", velocity=OUTPUT_VELOCITY),
            Part(melody_notes(bass, start_step), BASS_PROGRAM, name="muse bass", velocity=OUTPUT_VELOCITY),
            drum_part(drum_notes(decode(drums, 9), REDUCED_DRUM_PITCH_CLASSES, start_step)),
        ]


@dataclass(frozen=True)
class MelodyCodec:
    """hierdec-mel_16bar: muse's melody (:func:`muse_cli.midi.read_melody`) as 16-bar one-hot windows."""

    config: str = "hierdec-mel_16bar"
    STEPS = STEPS
    INPUT_DEPTH = OUTPUT_DEPTH = NUM_CLASSES
    CONTROL_DEPTH = 0

    def read(self, data: bytes, source: str) -> Melody:
        return read_melody(data, source)

    def to_windows(self, song: Melody) -> list[tuple[int, np.ndarray, None]]:
        """(start_bar, inputs [256, 90], None) for consecutive 16-bar windows covering the melody."""
        return [(s // STEPS_PER_BAR, melody_one_hot(song.notes, s), None) for s in range(0, song.total_steps, STEPS)]

    def to_parts(self, outputs: np.ndarray, start_step: int = 0, controls=None) -> list[Part]:
        """The melody of outputs [T, 90] placed at ``start_step`` (program 0, muse's melody velocity)."""
        return [Part(melody_notes(outputs, start_step))]


TRIO_16BAR = TrioCodec()
MEL_16BAR = MelodyCodec()
CODECS = {c.config: c for c in (TRIO_16BAR, MEL_16BAR)}
