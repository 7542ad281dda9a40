"""GrooVAE: drum performances as hits, velocities and micro-timing (a port of magenta's GrooveConverter).

A step of a groove is 27 numbers, in magenta's order: 9 hits (0 or 1), 9 velocities (velocity / 127) and
9 offsets (how far a hit falls from its 16th, in [-1, 1]: 2 * (grid time - true time) / step length, so a
hit played early is positive), one of each per drum class of REDUCED_DRUM_PITCH_CLASSES (magenta's
``inference_pitch_classes``; a class is written as its first pitch). The configs differ only in what the
encoder is shown (:meth:`GrooveCodec.inputs`): ``groovae_2bar_humanize`` the hits alone (velocities and timing
dropped), ``groovae_2bar_tap_fixed_velocity`` the loudest hit of each step on the open hi-hat with its timing
(every drum folded onto one: a tapped rhythm), ``groovae_4bar`` the whole performance, 4 bars long. The
decoder always writes a whole performance. NumPy and pretty_midi only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from muse_cli.encoding import STEPS_PER_BAR, STEPS_PER_QUARTER
from muse_cli.errors import InputError
from muse_cli.families.drums import REDUCED_DRUM_PITCH_CLASSES, class_map
from muse_cli.midi import Part, check_meter, load_pretty_midi

PITCH_CLASSES = REDUCED_DRUM_PITCH_CLASSES  # the classes GrooVAE reads and writes at inference
NUM_DRUMS = len(PITCH_CLASSES)
DEPTH = 3 * NUM_DRUMS  # hits, velocities, offsets
TAP_CLASS = 3  # the open hi-hat: where magenta's tapify puts every tap
TAP_PITCH = PITCH_CLASSES[TAP_CLASS][0]
PART_NAME = "muse groove"

Hit = tuple  # (pitch, seconds, velocity)


@dataclass(frozen=True)
class Groove:
    """Drum hits read from a MIDI file, unquantized: ``hits`` ``(pitch, seconds, velocity)`` in the file's
    order (General MIDI drum pitches; taps read from a pitched track are on TAP_PITCH), its first tempo
    ``qpm`` (seconds are at that tempo throughout) and ``remarks``: what reading it changed."""

    source: str
    hits: tuple
    qpm: float
    remarks: tuple = ()

    @property
    def total_steps(self) -> int:
        """Steps up to the end of the bar of the last hit (magenta's length of a performance)."""
        last = max(_step(t, self.qpm) for _, t, _ in self.hits)
        return STEPS_PER_BAR * math.ceil((last + 1) / STEPS_PER_BAR)


def _step(seconds: float, qpm: float) -> int:
    """The 16th a time falls on, as note_seq quantizes it (nearest step, halves up)."""
    steps_per_second = STEPS_PER_QUARTER * qpm / 60.0
    return int(seconds * steps_per_second + 0.5)


# -- reading ------------------------------------------------------------------------------------
def read_groove(data: bytes, source: str, taps: bool = False) -> Groove:
    """The drum hits of a MIDI file (all its drum tracks, MIDI channel 10) with their velocities and exact
    times, or InputError naming ``source``. With ``taps`` a file without drums is read as a tapped rhythm:
    every note of its pitched track (the one with the most notes) is a tap, whatever its pitch."""
    pm = load_pretty_midi(data, source)
    if not any(i.notes for i in pm.instruments):
        raise InputError(f"{source} has no notes; give a MIDI file with a drum track")
    check_meter(pm, source, InputError)
    tracks = [i for i in pm.instruments if i.is_drum and i.notes]
    pitched = [i for i in pm.instruments if not i.is_drum and i.notes]
    remarks = []
    if tracks:
        notes = [n for i in tracks for n in i.notes]
        if len(tracks) > 1:
            remarks.append(f"read the hits of {len(tracks)} drum tracks as one kit")
        if pitched:
            remarks.append(f"left out {len(pitched)} pitched track(s): GrooVAE reads the drums")
    elif taps:
        track = max(pitched, key=lambda i: len(i.notes))
        notes = [_Tap(n) for n in track.notes]
        remarks.append(f"read the {len(notes)} notes of the track of program {track.program} as taps")
        if len(pitched) > 1:
            remarks.append(f"took the track with the most notes; {len(pitched) - 1} other(s) left out")
    else:
        raise InputError(
            f"{source} has no drum notes (no notes on MIDI channel 10); give a file with a drum track "
            "(a rhythm tapped on any instrument suits the tap model, groovae_2bar_tap_fixed_velocity)"
        )
    known = class_map(PITCH_CLASSES)
    unknown = sorted({n.pitch for n in notes} - set(known))
    notes = [n for n in notes if n.pitch in known]
    if not notes:
        raise InputError(
            f"{source} has no drum GrooVAE knows (pitches {', '.join(map(str, unknown))}); "
            "give General MIDI drums (kick 36, snare 38, hi-hats 42 and 46, ...)"
        )
    if unknown:
        remarks.append(f"left out the drum pitch(es) {', '.join(map(str, unknown))}: not in GrooVAE's kit")
    tempi = pm.get_tempo_changes()[1]
    qpm = float(tempi[0])
    if len(set(np.round(tempi, 6))) > 1:  # one tempo throughout, as magenta needs: times at the first one
        remarks.append(f"kept the first tempo ({qpm:g} qpm); {len(tempi) - 1} later tempo change(s) are not kept")
        times = [pm.time_to_tick(n.start) * 60.0 / (qpm * pm.resolution) for n in notes]
    else:
        times = [n.start for n in notes]
    hits = tuple((int(n.pitch), float(t), int(n.velocity)) for n, t in zip(notes, times))
    groove = Groove(source, hits, qpm)
    doubled = len(hits) - len(_loudest(groove))
    if doubled:
        remarks.append(f"kept the loudest of the hits of a drum class at the same 16th ({doubled} left out)")
    return Groove(source, hits, qpm, tuple(remarks))


class _Tap:
    """A pitched note read as a tap: its time and velocity, the tap pitch."""

    def __init__(self, note):
        self.pitch, self.start, self.velocity = TAP_PITCH, note.start, note.velocity


# -- a performance: hits, velocities, offsets per step and class -----------------------------------
def _loudest(groove: Groove) -> dict[tuple[int, int], tuple[float, int]]:
    """{(step, class): (seconds, velocity)}: the loudest hit of each class at each 16th (the first of equals,
    as magenta's converter keeps it)."""
    classes = class_map(PITCH_CLASSES)
    out: dict[tuple[int, int], tuple[float, int]] = {}
    for pitch, seconds, velocity in groove.hits:
        key = (_step(seconds, groove.qpm), classes[pitch])
        if key not in out or velocity > out[key][1]:
            out[key] = (seconds, velocity)
    return out


def performance(groove: Groove) -> np.ndarray:
    """[total_steps, 27] float32: the whole performance in the model's output layout (magenta's ``outputs``:
    what the decoder is trained to write; a reconstruction target)."""
    total = groove.total_steps
    hits, velocities, offsets = (np.zeros((total, NUM_DRUMS)) for _ in range(3))
    step_length = 60.0 / groove.qpm / STEPS_PER_QUARTER
    for (step, drum), (seconds, velocity) in _loudest(groove).items():
        hits[step, drum] = 1.0
        velocities[step, drum] = velocity / 127.0
        offsets[step, drum] = (step_length * step - seconds) / step_length * 2
    return np.concatenate([hits, velocities, offsets], axis=1).astype(np.float32)


def _split(steps: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(hits, velocities, offsets) [T, 9] each, copies."""
    steps = np.array(steps, np.float32)
    return steps[:, :NUM_DRUMS], steps[:, NUM_DRUMS : 2 * NUM_DRUMS], steps[:, 2 * NUM_DRUMS :]


def tap(steps: np.ndarray) -> np.ndarray:
    """A performance [T, 27] folded onto the open hi-hat: at each step the loudest class's hit, velocity and
    offset (the first class of equals), every other class silent (magenta's tapify)."""
    hits, velocities, offsets = _split(steps)
    loudest = np.argmax(velocities, axis=1)
    rows = np.arange(len(steps))
    out = np.zeros_like(np.asarray(steps, np.float32))
    for block, values in enumerate((hits, velocities, offsets)):
        out[:, block * NUM_DRUMS + TAP_CLASS] = values[rows, loudest]
    return out


# -- back to notes --------------------------------------------------------------------------------
def groove_notes(outputs: np.ndarray, start_step: float = 0) -> tuple[list, list[int]]:
    """(notes ``(pitch, start, end)`` in fractional steps, velocities) of decoder outputs [T, 27], as magenta's
    from_tensors makes them: a hit where its value is over 0.5, velocity round(v * 127), the hit moved by
    offset / 2 of a step (earlier when positive), one step long. A hit of velocity 0 is left out: MIDI
    cannot hold it (a note-on of velocity 0 is a note-off)."""
    hits, velocities, offsets = _split(outputs)
    notes, loud = [], []
    for i in range(len(hits)):
        for j in np.flatnonzero(hits[i] > 0.5).tolist():
            velocity = int(np.clip(int(np.round(velocities[i, j] * 127)), 0, 127))
            if velocity == 0:
                continue
            start = start_step + i - float(np.clip(offsets[i, j] / 2, -0.5, 0.5))
            notes.append((PITCH_CLASSES[j][0], start, start + 1))
            loud.append(velocity)
    return notes, loud


# -- the codecs ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class GrooveCodec:
    """magenta's GrooveConverter for one GrooVAE config, at inference. The upper-case attributes and the
    methods ``read``, ``to_windows`` and ``to_parts`` are the interface every family codec shares."""

    config: str
    bars: int
    humanize: bool = False
    tapify: bool = False
    fixed_velocities: bool = False
    INPUT_DEPTH = DEPTH
    OUTPUT_DEPTH = DEPTH
    CONTROL_DEPTH = 0

    @property
    def STEPS(self) -> int:
        return self.bars * STEPS_PER_BAR

    def read(self, data: bytes, source: str) -> Groove:
        """The groove of a MIDI file; the tap config also takes any one-instrument file as taps."""
        return read_groove(data, source, taps=self.tapify)

    def inputs(self, steps: np.ndarray) -> np.ndarray:
        """What the encoder is shown of a performance [T, 27] (magenta's ``inputs``): tapped, its velocities
        and timing dropped (humanize) or its velocities fixed, as the config says."""
        out = tap(steps) if self.tapify else np.array(steps, np.float32)
        if self.humanize:
            out[:, NUM_DRUMS:] = 0.0
        if self.fixed_velocities:
            out[:, NUM_DRUMS : 2 * NUM_DRUMS] = 0.0
        return out

    def to_windows(self, song: Groove) -> list[tuple[int, np.ndarray, None]]:
        """(start_bar, inputs [STEPS, 27], None) for consecutive windows covering the song, the last padded
        with silence (magenta's converter drops a last window that is not whole)."""
        steps = performance(song)
        padded = np.zeros((math.ceil(len(steps) / self.STEPS) * self.STEPS, DEPTH), np.float32)
        padded[: len(steps)] = self.inputs(steps)
        return [
            (start // STEPS_PER_BAR, padded[start : start + self.STEPS], None)
            for start in range(0, len(padded), self.STEPS)
        ]

    def to_parts(self, outputs: np.ndarray, start_step: int = 0, controls=None) -> list[Part]:
        """The drum track (MIDI channel 10) of decoder outputs [T, 27] placed at ``start_step``: each hit at
        its velocity and micro-timing, each class played as its first pitch."""
        notes, velocities = groove_notes(outputs, start_step)
        return [Part(notes, program=0, drums=True, name=PART_NAME, velocities=tuple(velocities))]


GROOVAE_2BAR_HUMANIZE = GrooveCodec("groovae_2bar_humanize", 2, humanize=True)
GROOVAE_4BAR = GrooveCodec("groovae_4bar", 4)
GROOVAE_2BAR_TAP_FIXED_VELOCITY = GrooveCodec("groovae_2bar_tap_fixed_velocity", 2, tapify=True, fixed_velocities=True)
CODECS = {c.config: c for c in (GROOVAE_2BAR_HUMANIZE, GROOVAE_4BAR, GROOVAE_2BAR_TAP_FIXED_VELOCITY)}
