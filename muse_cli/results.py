"""What every recipe returns and how it names it: ``Generated``, provenance, seeds and file stems.

Core: imports only the core below it, so that recipes, batch workers and the CLI share one home for a
melody's name, length and provenance.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

from muse_cli.encoding import window_seconds
from muse_cli.midi import DEFAULT_VELOCITY, PROGRAM, events_to_notes, parts_to_midi_bytes, to_midi_bytes

STDIN_STEM = "stdin"  # the stem of outputs made from standard input ('-')


@dataclass(frozen=True)
class Generated:
    """A generated melody: notes on the 16th-note grid, tempo, length and provenance; the General MIDI
    program and velocities of the melody it came from, where it came from one (piano at 90 otherwise).
    A piece of several tracks (drums, a groove, a trio, a melody over chords) has ``parts``, and ``notes``
    holds every part's notes (what a summary counts)."""

    name: str  # a file stem: sample_s7_001, tune.decoded, interp_003 ...
    notes: list
    qpm: float
    seconds: float
    provenance: dict
    program: int = PROGRAM
    velocity: int = DEFAULT_VELOCITY
    velocities: tuple | None = None  # one per note, where they are known (an input's own notes)
    parts: tuple = ()  # muse_cli.midi.Part tracks (drums, a trio, chords): written instead of one melody track

    def midi(self) -> bytes:
        if self.parts:
            return parts_to_midi_bytes(list(self.parts), self.qpm, self.provenance, self.seconds)
        return to_midi_bytes(
            self.notes, self.qpm, self.provenance, self.seconds, self.velocity, self.program, self.velocities
        )


def provenance(model, seed: int, temperature: float, qpm: float, **rest) -> dict:
    """What a melody records of how it was made (written into its MIDI): the checkpoint, seed, temperature and
    tempo, then ``rest`` in order. The order is part of the MIDI's bytes."""
    return {"checkpoint": model.name, "seed": seed, "temperature": temperature, "qpm": qpm, **rest}


def new_seed() -> int:
    return int.from_bytes(os.urandom(4), "little") & 0x7FFFFFFF


def segments_for(seconds: float | None, qpm: float) -> int:
    """Number of 2-bar segments needed to cover ``seconds`` at ``qpm``."""
    if seconds is None:
        return 1
    return max(1, math.ceil(seconds / window_seconds(qpm) - 1e-9))


def styled(melody) -> dict:
    """The Generated fields that carry an input melody's sound: its program and typical velocity."""
    return {"program": melody.program, "velocity": melody.velocity}


def sample_seconds(seconds: float | None, qpm: float) -> float:
    """A sample's length: ``seconds`` as asked, else one 2-bar window at ``qpm``."""
    return float(seconds) if seconds is not None else window_seconds(qpm)


def sampled(
    model,
    events,
    seed: int,
    index: int,
    seconds: float | None,
    temperature: float,
    qpm: float,
    **extra,
) -> Generated:
    """Decoded events as melody ``index`` of ``seed``: its name, notes, length and provenance (plus ``extra``)."""
    length = sample_seconds(seconds, qpm)
    prov = {
        "checkpoint": model.name,
        "seed": seed,
        "index": index,
        "temperature": temperature,
        "qpm": qpm,
        "seconds": length,
        "mode": "sample",
        **extra,
    }
    return Generated(sample_name(seed, index), events_to_notes(events), qpm, length, prov)


# -- file stems -------------------------------------------------------------------------
def stem(source: str) -> str:
    """The file stem of outputs made from ``source``: its file name without suffix, or ``stdin`` for '-'."""
    return Path(source).stem if source not in ("-", "", STDIN_STEM) else STDIN_STEM


def sample_name(seed: int, index: int) -> str:
    """The file stem of melody ``index`` (from 0) drawn with ``seed``: sample_s42_001."""
    return f"sample_s{seed}_{index + 1:03d}"


def decoded_name(source: str) -> str:
    """The file stem of a source's decoded latents: tune.decoded."""
    return f"{stem(source)}.decoded"


def vary_name(source: str, seed: int, variation: int) -> str:
    """The file stem of variation ``variation`` (0-based) of ``source`` with ``seed``: tune.var_s3_001."""
    return f"{stem(source)}.var_s{seed}_{variation + 1:03d}"


def continue_name(source: str, seed: int, index: int) -> str:
    """The file stem of continuation ``index`` (0-based) of ``source`` with ``seed``: tune.cont_s3_001."""
    return f"{stem(source)}.cont_s{seed}_{index + 1:03d}"
