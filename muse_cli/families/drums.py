"""Drums: magenta's drum pitch classes, General MIDI drum names, and the codecs of the 2-bar drum models.

The one home of the drum class tables: GrooVAE (ROLAND_DRUM_PITCH_CLASSES), the 9-class models
(REDUCED_DRUM_PITCH_CLASSES: cat-drums_2bar_small, the trio's drums) and nade-drums_2bar_full
(FULL_DRUM_PITCH_CLASSES) import them from here. Copied from magenta's music_vae/data.py and note_seq's
drums_encoder_decoder.py; a class's first pitch is the one magenta writes for it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from muse_cli.encoding import STEPS_PER_BAR, WINDOW_STEPS
from muse_cli.errors import InputError
from muse_cli.midi import Note, Part, check_meter, load_pretty_midi, quantize

# 9 classes (note_seq's DEFAULT_DRUM_TYPE_PITCHES, magenta's REDUCED_DRUM_PITCH_CLASSES): all GM1 and GM2 drums
# (and Roland's 22 and 26, hi-hat edges) mapped onto a small kit.
REDUCED_DRUM_PITCH_CLASSES = (
    (36, 35),  # kick
    (38, 27, 28, 31, 32, 33, 34, 37, 39, 40, 56, 65, 66, 75, 85),  # snare
    (42, 44, 54, 68, 69, 70, 71, 73, 78, 80, 22),  # closed hi-hat
    (46, 67, 72, 74, 79, 81, 26),  # open hi-hat
    (45, 29, 41, 43, 61, 64, 84),  # low tom
    (48, 47, 60, 63, 77, 86, 87),  # mid tom
    (50, 30, 62, 76, 83),  # high tom
    (49, 52, 55, 57, 58),  # crash
    (51, 53, 59, 82),  # ride
)
# The names of the 9 classes (of REDUCED and ROLAND alike), in class order.
DRUM_CLASS_NAMES = ("kick", "snare", "closed hi-hat", "open hi-hat", "low tom", "mid tom", "high tom", "crash", "ride")
# GrooVAE's 9 classes: Roland TD-11 V-Drums pitches (magenta's ROLAND_DRUM_PITCH_CLASSES).
ROLAND_DRUM_PITCH_CLASSES = (
    (36,),  # kick
    (38, 37, 40),  # snare
    (42, 22, 44),  # closed hi-hat
    (46, 26),  # open hi-hat
    (43, 58),  # low tom
    (47, 45),  # mid tom
    (50, 48),  # high tom
    (49, 52, 55, 57),  # crash
    (51, 53, 59),  # ride
)
# 61 classes, one pitch each: the full General MIDI set (magenta's FULL_DRUM_PITCH_CLASSES, in its order).
FULL_DRUM_PITCH_CLASSES = tuple(
    (p,)
    for p in (
        36, 35, 38, 27, 28, 31, 32, 33, 34, 37, 39, 40, 56, 65, 66, 75, 85, 42, 44, 54, 68, 69, 70, 71, 73, 78, 80,
        46, 67, 72, 74, 79, 81, 45, 29, 41, 61, 64, 84, 48, 47, 60, 63, 77, 86, 87, 50, 30, 43, 62, 76, 83, 49, 55,
        57, 58, 51, 52, 53, 59, 82,
    )
)  # fmt: skip
# General MIDI percussion as pretty_midi spells it (GM1 35-81; GM2 27-34 and 82-87; Roland's hi-hat edges 22, 26).
GM_DRUM_NAMES = {
    22: "Closed Hi Hat (edge)", 26: "Open Hi Hat (edge)",
    27: "High Q", 28: "Slap", 29: "Scratch Push", 30: "Scratch Pull", 31: "Sticks", 32: "Square Click",
    33: "Metronome Click", 34: "Metronome Bell", 35: "Acoustic Bass Drum", 36: "Bass Drum 1", 37: "Side Stick",
    38: "Acoustic Snare", 39: "Hand Clap", 40: "Electric Snare", 41: "Low Floor Tom", 42: "Closed Hi Hat",
    43: "High Floor Tom", 44: "Pedal Hi Hat", 45: "Low Tom", 46: "Open Hi Hat", 47: "Low-Mid Tom",
    48: "Hi-Mid Tom", 49: "Crash Cymbal 1", 50: "High Tom", 51: "Ride Cymbal 1", 52: "Chinese Cymbal",
    53: "Ride Bell", 54: "Tambourine", 55: "Splash Cymbal", 56: "Cowbell", 57: "Crash Cymbal 2", 58: "Vibraslap",
    59: "Ride Cymbal 2", 60: "Hi Bongo", 61: "Low Bongo", 62: "Mute Hi Conga", 63: "Open Hi Conga",
    64: "Low Conga", 65: "High Timbale", 66: "Low Timbale", 67: "High Agogo", 68: "Low Agogo", 69: "Cabasa",
    70: "Maracas", 71: "Short Whistle", 72: "Long Whistle", 73: "Short Guiro", 74: "Long Guiro", 75: "Claves",
    76: "Hi Wood Block", 77: "Low Wood Block", 78: "Mute Cuica", 79: "Open Cuica", 80: "Mute Triangle",
    81: "Open Triangle", 82: "Shaker", 83: "Jingle Bell", 84: "Belltree", 85: "Castanets", 86: "Mute Surdo",
    87: "Open Surdo",
}  # fmt: skip
OUTPUT_VELOCITY = 80  # the velocity magenta's converters write (data.OUTPUT_VELOCITY)


def class_map(pitch_classes) -> dict[int, int]:
    """{MIDI pitch: class index} of a class table (a pitch in two classes goes to the later, as magenta's)."""
    return {p: i for i, pitches in enumerate(pitch_classes) for p in pitches}


# -- reading ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Drums:
    """Drum hits read from a MIDI file: ``hits`` ``(step, pitch)`` on the 16-steps-a-bar grid (General MIDI
    pitches, sorted, one per pitch and step), ``velocities`` one per hit, the song's length in steps, its first
    tempo and ``remarks``: what reading it changed (one sentence each)."""

    source: str
    hits: tuple
    total_steps: int
    qpm: float
    velocities: tuple = ()
    remarks: tuple = ()


def read_drums(data: bytes, source: str) -> Drums:
    """The drum hits of a MIDI file (all its drum tracks, MIDI channel 10), quantized to 16ths at its own tempo
    as :func:`muse_cli.midi.read_melody` quantizes a melody, or InputError naming ``source``."""
    pm = load_pretty_midi(data, source)
    tracks = [i for i in pm.instruments if i.is_drum and i.notes]
    if not tracks:
        raise InputError(f"{source} has no drum notes (no notes on MIDI channel 10); give a file with a drum track")
    check_meter(pm, source, InputError)
    return drums_of(pm, tracks, source)


def drums_of(pm, tracks: list, source: str) -> Drums:
    """The hits of some drum tracks (pretty_midi Instruments) of a PrettyMIDI file, as one kit."""
    found = sorted((quantize(pm, n.start), n.pitch, -n.velocity, quantize(pm, n.end)) for i in tracks for n in i.notes)
    hits, velocities, total = [], [], 0
    for step, pitch, velocity, end in found:
        total = max(total, end, step + 1)
        if hits and hits[-1] == (step, pitch):  # the same drum twice at a step: one hit, the louder
            continue
        hits.append((step, pitch))
        velocities.append(-velocity)
    tempi = pm.get_tempo_changes()[1]
    remarks = []
    if len(tracks) > 1:
        remarks.append(f"read the hits of {len(tracks)} drum tracks as one kit")
    if len(found) > len(hits):
        remarks.append(f"merged {len(found) - len(hits)} repeated hit(s) of a drum at the same 16th")
    if len(set(np.round(tempi, 6))) > 1:
        remarks.append(f"kept the first tempo ({tempi[0]:g} qpm); {len(tempi) - 1} later tempo change(s) are not kept")
    qpm = float(tempi[0]) if len(tempi) else 120.0
    return Drums(source, tuple(hits), total, qpm, tuple(velocities), tuple(remarks))


# -- events: one frozenset of class indices per step ----------------------------------------------
def drum_events(drums: Drums, pitch_classes, start: int = 0, steps: int = WINDOW_STEPS) -> list[frozenset]:
    """The classes hit at each step of the window [start, start + steps): pitches outside the table are left
    out, as magenta's DrumsConverter leaves them."""
    classes = class_map(pitch_classes)
    events: list[set] = [set() for _ in range(steps)]
    for step, pitch in drums.hits:
        if start <= step < start + steps and pitch in classes:
            events[step - start].add(classes[pitch])
    return [frozenset(e) for e in events]


def roll(events: list[frozenset], num_classes: int, nor_bit: bool = False) -> np.ndarray:
    """[T, num_classes (+1)] float32: a 1 for each class hit at a step (and with ``nor_bit`` a last column that is
    1 where nothing is hit: magenta's roll input)."""
    out = np.zeros((len(events), num_classes + nor_bit), np.float32)
    for t, e in enumerate(events):
        out[t, list(e)] = 1.0
        if nor_bit and not e:
            out[t, num_classes] = 1.0
    return out


def one_hot(events: list[frozenset], num_classes: int) -> np.ndarray:
    """[T, 2**num_classes] float32: one class per step, the sum of 2**c over the classes c hit
    (note_seq's MultiDrumOneHotEncoding)."""
    out = np.zeros((len(events), 2**num_classes), np.float32)
    out[np.arange(len(events)), [sum(1 << c for c in e) for e in events]] = 1.0
    return out


def decode(outputs: np.ndarray, num_classes: int) -> list[frozenset]:
    """Events of model outputs: a one-hot over 2**num_classes (its argmax's bits) or a roll (entries over 0.5)."""
    outputs = np.asarray(outputs)
    if outputs.shape[-1] == num_classes:
        return [frozenset(np.flatnonzero(row > 0.5).tolist()) for row in outputs]
    return [frozenset(c for c in range(num_classes) if i >> c & 1) for i in np.argmax(outputs, axis=-1).tolist()]


def drum_notes(events: list[frozenset], pitch_classes, offset: int = 0) -> list[Note]:
    """One-step notes ``(pitch, step, step + 1)`` of events, each class played as its first pitch (magenta's
    DrumsConverter.from_tensors), sorted by step and pitch."""
    return [
        (p, t + offset, t + offset + 1) for t, e in enumerate(events) for p in sorted(pitch_classes[c][0] for c in e)
    ]


def drum_part(notes: list[Note], name: str = "muse drums") -> Part:
    """A drum track (MIDI channel 10) at magenta's output velocity."""
    return Part(notes, program=0, drums=True, name=name, velocity=OUTPUT_VELOCITY)


# -- the codecs ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class DrumsCodec:
    """magenta's DrumsConverter for one config: its class table, roll or one-hot input and output, its length.
    The upper-case attributes and the methods are the interface every family codec shares."""

    config: str
    pitch_classes: tuple
    roll_input: bool
    roll_output: bool
    bars: int = WINDOW_STEPS // STEPS_PER_BAR
    CONTROL_DEPTH = 0

    @property
    def STEPS(self) -> int:
        return self.bars * STEPS_PER_BAR

    @property
    def INPUT_DEPTH(self) -> int:
        n = len(self.pitch_classes)
        return n + 1 if self.roll_input else 2**n

    @property
    def OUTPUT_DEPTH(self) -> int:
        n = len(self.pitch_classes)
        return n if self.roll_output else 2**n

    def read(self, data: bytes, source: str) -> Drums:
        return read_drums(data, source)

    def encode(self, events: list[frozenset], output: bool = False) -> np.ndarray:
        """The model's inputs (or with ``output`` its outputs) for events, as magenta's converter makes them."""
        n = len(self.pitch_classes)
        as_roll = self.roll_output if output else self.roll_input
        return roll(events, n, nor_bit=not output) if as_roll else one_hot(events, n)

    def to_windows(self, song: Drums) -> list[tuple[int, np.ndarray, None]]:
        """(start_bar, inputs [STEPS, INPUT_DEPTH], None) for consecutive windows covering the song."""
        out = []
        for start in range(0, song.total_steps, self.STEPS):
            inputs = self.encode(drum_events(song, self.pitch_classes, start, self.STEPS))
            out.append((start // STEPS_PER_BAR, inputs, None))
        return out

    def to_parts(self, outputs: np.ndarray, start_step: int = 0, controls=None) -> list[Part]:
        """The drum track of model outputs [T, OUTPUT_DEPTH] placed at ``start_step``."""
        events = decode(outputs, len(self.pitch_classes))
        return [drum_part(drum_notes(events, self.pitch_classes, start_step))]


CAT_DRUMS_2BAR_SMALL = DrumsCodec(
    "cat-drums_2bar_small", REDUCED_DRUM_PITCH_CLASSES, roll_input=True, roll_output=False
)
NADE_DRUMS_2BAR_FULL = DrumsCodec("nade-drums_2bar_full", FULL_DRUM_PITCH_CLASSES, roll_input=True, roll_output=True)
CODECS = {c.config: c for c in (CAT_DRUMS_2BAR_SMALL, NADE_DRUMS_2BAR_FULL)}
