"""Chords for cat-mel_2bar_med_chords: chord symbols -> the model's control tensors, and chords -> MIDI.

Symbols are read the way note_seq's ``chord_symbols_lib`` reads them (root, kind, scale-degree changes such as
``b5``/``add9``/``no3``, ``/bass``) and reduced to a class the way ``TriadChordOneHotEncoding`` reduces them: 49
classes, 0 = no chord ("N.C."), then the 12 major, 12 minor, 12 augmented and 12 diminished triads (root C
first). A chord reduces by its 1st, 3rd and 5th: C7, Cmaj7, C9, C6, Cadd9 and C/E are C major; Cm7, Cm9 are C
minor; Cm7b5 and Cdim7 are C diminished; C+7 is C augmented. Chords without a plain triad (Csus4, Csus2, C5,
C7b5, Cped) have no class: note_seq refuses them, and so does muse, with a message.

Over time the chords follow magenta.js (``ChordEncoder.encodeProgression``): n chords spread over the steps,
step t getting chord ``floor(t * n / steps)``, so "C G Am F" over one 2-bar window gives each chord 8 steps (half
a bar). A piece longer than one window takes the progression over the whole piece and each window its slice
(:func:`window_controls`): "C G Am F" over 4 bars is a chord a bar.

In the MIDI muse writes, the chords are a second track, :data:`CHORD_TRACK_NAME` (soft piano triads held for
each chord, voiced around middle C) with a marker event naming each chord where it starts: DAWs show the
markers on their timeline. :func:`read_chords` reads back the markers of that track (and only that track:
section markers such as "A" or "B" in other files would read as chords); any other file needs ``--chords``.

NumPy, mido and muse's own MIDI reader and writer: no TensorFlow, magenta or note_seq.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from muse_cli.encoding import NUM_CLASSES, STEPS_PER_BAR, STEPS_PER_QUARTER, WINDOW_STEPS
from muse_cli.errors import InputError, UsageError
from muse_cli.midi import CHORD_TRACK_NAME, Melody, Part, events_to_notes, notes_to_events, read_melody

NO_CHORD = "N.C."
TRIADS = ("maj", "min", "aug", "dim")  # TriadChordOneHotEncoding's order of kinds
CONTROL_DEPTH = 1 + 12 * len(TRIADS)  # 49
CHORD_PROGRAM = 0  # Acoustic Grand Piano
CHORD_VELOCITY = 50  # below the melody's 90: an accompaniment
EXAMPLE = 'write chords like "C G Am F"'
_INTERVALS = {"maj": (0, 4, 7), "min": (0, 3, 7), "aug": (0, 4, 8), "dim": (0, 3, 6)}
_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")  # note_seq's decode_event spelling
_SUFFIX = {"maj": "", "min": "m", "aug": "aug", "dim": "dim"}


@dataclass(frozen=True)
class Chord:
    """A chord symbol as written and what the model sees of it: its root pitch class (0 = C) and triad kind
    (one of :data:`TRIADS`); ``root`` None for no chord."""

    symbol: str
    root: int | None = None
    kind: str | None = None

    @property
    def index(self) -> int:
        """The class of TriadChordOneHotEncoding.encode_event: 0 for no chord, else 1 + 12 * kind + root."""
        return 0 if self.root is None else 1 + 12 * TRIADS.index(self.kind) + self.root

    @property
    def pitch_classes(self) -> tuple[int, ...]:
        """The triad's pitch classes, root first; () for no chord."""
        return () if self.root is None else tuple((self.root + i) % 12 for i in _INTERVALS[self.kind])


N_C = Chord(NO_CHORD)


# -- chord symbols, as note_seq's chord_symbols_lib reads them ---------------------------------------------------
# Each chord kind: its abbreviations and its scale degrees (in note_seq's order, which decides how the pattern
# splits a symbol such as "Cm7b5").
_KINDS = (
    (("", "maj", "M"), "1 3 5"),
    (("m", "min", "-"), "1 b3 5"),
    (("+", "aug"), "1 3 #5"),
    (("o", "dim"), "1 b3 b5"),
    (("7",), "1 3 5 b7"),
    (("maj7", "M7"), "1 3 5 7"),
    (("m7", "min7", "-7"), "1 b3 5 b7"),
    (("o7", "dim7"), "1 b3 b5 bb7"),
    (("+7", "aug7"), "1 3 #5 b7"),
    (("m7b5", "-7b5", "/o", "/o7"), "1 b3 b5 b7"),
    (
        ("mmaj7", "mM7", "minmaj7", "minM7", "-maj7", "-M7")
        + ("m(maj7)", "m(M7)", "min(maj7)", "min(M7)", "-(maj7)", "-(M7)"),
        "1 b3 5 7",
    ),
    (("6",), "1 3 5 6"),
    (("m6", "min6", "-6"), "1 b3 5 6"),
    (("9",), "1 3 5 b7 9"),
    (("maj9", "M9"), "1 3 5 7 9"),
    (("m9", "min9", "-9"), "1 b3 5 b7 9"),
    (("+9", "aug9"), "1 3 #5 b7 9"),
    (("6/9",), "1 3 5 6 9"),
    (("11",), "1 3 5 b7 9 11"),
    (("maj11", "M11"), "1 3 5 7 9 11"),
    (("m11", "min11", "-11"), "1 b3 5 b7 9 11"),
    (("13",), "1 3 5 b7 9 11 13"),
    (("maj13", "M13"), "1 3 5 7 9 11 13"),
    (("m13", "min13", "-13"), "1 b3 5 b7 9 11 13"),
    (("sus2",), "1 2 5"),
    (("sus", "sus4"), "1 4 5"),
    (("sus7", "7sus"), "1 4 5 b7"),
    (("ped",), "1"),
    (("5",), "1 5"),
)
_DEGREES = {abbrev: degrees for abbrevs, degrees in _KINDS for abbrev in abbrevs}
_MODS = ("add", "add#", "addb", "no", "#", "b")
_ROOT = r"[A-G](?:#*|b*)(?![#b])"
_MOD_ALTERNATION = "|".join(re.escape(m) for m in _MODS)
_KIND = "|".join(re.escape(a) for a in _DEGREES)
_MODIFICATIONS = f"(?:\\(?(?:{_MOD_ALTERNATION})[0-9]+\\)?)*"
_SYMBOL = re.compile(f"({_ROOT})({_KIND})({_MODIFICATIONS})(|/{_ROOT})$")  # root, kind, modifications, bass
_MOD = re.compile(f"\\(?({_MOD_ALTERNATION})([0-9]+)\\)?")
_STEP_PITCH = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_QUALITY = {(0, 0, 0): "maj", (0, -1, 0): "min", (0, 0, 1): "aug", (0, -1, -1): "dim"}


def _alteration(accidentals: str) -> int:
    return len(accidentals) * (1 if "#" in accidentals else -1)


def _degrees(kind: str, mods: str) -> dict[int, int] | None:
    """Scale degree -> alteration of a chord kind after its modifications; None where note_seq refuses them
    (adding a degree already there, removing one that is not)."""
    degrees = {}
    for d in _DEGREES[kind].split():
        degrees[int(d.lstrip("#b"))] = _alteration(d[: len(d) - len(d.lstrip("#b"))])
    while mods:
        match = _MOD.match(mods)
        op, degree = match.group(1), int(match.group(2))
        mods = mods[match.end() :]
        if op.startswith("add"):
            if degree in degrees:
                return None
            degrees[degree] = _alteration(op[3:]) - (degree == 7)  # "add7" adds the minor 7th, as note_seq
        elif op == "no":
            if degree not in degrees:
                return None
            del degrees[degree]
        else:
            degrees[degree] = degrees.get(degree, 0) + _alteration(op)
    return degrees


def _read_symbol(symbol: str) -> Chord | str:
    """The chord of a symbol, or why not: "unreadable" (note_seq's ChordSymbolError) or "not a triad"
    (its ChordEncodingError)."""
    if symbol.upper() in ("N.C.", "NC", "N.C"):
        return N_C
    match = _SYMBOL.match(symbol)
    if not match:
        return "unreadable"
    root, kind, mods, _bass = match.groups()
    degrees = _degrees(kind, mods)
    if degrees is None:
        return "unreadable"
    quality = _QUALITY.get(tuple(degrees.get(d, None) for d in (1, 3, 5)))
    if quality is None:
        return "not a triad"
    return Chord(symbol, (_STEP_PITCH[root[0]] + _alteration(root[1:])) % 12, quality)


def parse_chord(symbol: str, option: str = "--chords") -> Chord:
    """One chord symbol ("Am", "Bb7", "N.C.") -> Chord, or a one-line UsageError naming it."""
    chord = _read_symbol(symbol)
    if not isinstance(chord, Chord) and chord == "unreadable":
        raise UsageError(f"{option}: cannot read chord '{symbol}'; {EXAMPLE}")
    if not isinstance(chord, Chord):
        raise UsageError(
            f"{option}: chord '{symbol}' has no major, minor, augmented or diminished triad, the only chords the "
            f"model knows (sus and power chords have none); {EXAMPLE}"
        )
    return chord


def parse_chords(text: str, option: str = "--chords") -> tuple[Chord, ...]:
    """A progression written as symbols separated by spaces or commas ("C G Am F", "C, G, Am, F") -> its
    chords, or a one-line UsageError (an empty text, or the first chord that cannot be read)."""
    symbols = [s for s in re.split(r"[\s,]+", text or "") if s]
    if not symbols:
        raise UsageError(f"{option} is empty; {EXAMPLE}")
    return tuple(parse_chord(s, option) for s in symbols)


def chord_of_index(index: int) -> Chord:
    """The chord of a TriadChordOneHotEncoding class, spelled as its decode_event spells it ("Ebm", "Caug")."""
    if index == 0:
        return N_C
    kind, root = TRIADS[(index - 1) // 12], (index - 1) % 12
    return Chord(_NAMES[root] + _SUFFIX[kind], root, kind)


# -- chords over steps: the model's controls --------------------------------------------------------------------
def _as_chords(chords: Sequence[Chord | str]) -> tuple[Chord, ...]:
    return tuple(c if isinstance(c, Chord) else parse_chord(c) for c in chords)


def spread_chords(chords: Sequence[Chord | str], steps: int) -> tuple[Chord, ...]:
    """The chord at each of ``steps`` steps: magenta.js's spread, step t gets chord floor(t * n / steps).
    ``steps`` chords give themselves back; more chords than steps is a UsageError (some would never sound)."""
    chords = _as_chords(chords)
    if not chords:
        raise UsageError(f"--chords is empty; {EXAMPLE}")
    if len(chords) > steps:
        raise UsageError(f"--chords: {len(chords)} chords do not fit in {steps} steps (16th notes); give fewer")
    return tuple(chords[i] for i in (np.arange(steps) * len(chords)) // steps)


def controls_of(per_step: Sequence[Chord]) -> np.ndarray:
    """float32 [steps, 49]: the one-hot TriadChordOneHotEncoding class of each step's chord."""
    out = np.zeros((len(per_step), CONTROL_DEPTH), np.float32)
    out[np.arange(len(per_step)), [c.index for c in per_step]] = 1.0
    return out


def chord_controls(chords: Sequence[Chord | str], steps: int = WINDOW_STEPS) -> np.ndarray:
    """float32 [steps, 49]: ``chords`` spread over ``steps`` as magenta.js's MusicVAE spreads its
    ``chordProgression`` over a sequence, one-hot as note_seq's TriadChordOneHotEncoding."""
    return controls_of(spread_chords(chords, steps))


def window_controls(
    chords: Sequence[Chord | str], total_steps: int, window_steps: int = WINDOW_STEPS
) -> list[np.ndarray]:
    """The controls [window_steps, 49] of each consecutive window of a piece of ``total_steps``: the chords spread
    over the whole piece, each window its slice; a last, partial window holds the last chord to its end."""
    per_step = spread_chords(chords, total_steps)
    windows = -(-total_steps // window_steps)
    per_step = per_step + per_step[-1:] * (windows * window_steps - total_steps)
    controls = controls_of(per_step)
    return [controls[w * window_steps : (w + 1) * window_steps] for w in range(windows)]


def decode_controls(controls: np.ndarray) -> tuple[Chord, ...]:
    """The chord of each step of controls [steps, 49] (its largest class), spelled as note_seq spells it."""
    return tuple(chord_of_index(int(i)) for i in np.argmax(np.asarray(controls), axis=-1))


# -- chords in MIDI ---------------------------------------------------------------------------------------------
def voicing(chord: Chord) -> tuple[int, ...]:
    """The MIDI pitches muse plays for a chord: its triad in root position, the root between F3 (53) and E4
    (64), so the chord sits around middle C; () for no chord."""
    if chord.root is None:
        return ()
    root = 48 + chord.root + (12 if chord.root < 5 else 0)
    return tuple(root + i for i in _INTERVALS[chord.kind])


def chord_part(
    chords: Sequence[Chord | str], steps: int, start_step: float = 0, velocity: int = CHORD_VELOCITY
) -> Part:
    """The MIDI track of ``chords`` spread over ``steps`` (as :func:`chord_controls` spreads them) from
    ``start_step``: each chord's triad held for its span (no notes for "N.C.") and a marker with the chord's
    symbol where it starts. A chord written twice in a row is held on, with one marker."""
    per_step = spread_chords(chords, steps)
    notes, texts = [], []
    start = 0
    for t in range(1, steps + 1):
        if t < steps and per_step[t].symbol == per_step[start].symbol:
            continue
        chord = per_step[start]
        texts.append((start_step + start, chord.symbol))
        notes.extend((p, start_step + start, start_step + t) for p in voicing(chord))
        start = t
    notes.sort(key=lambda n: (n[1], n[0]))
    return Part(notes, CHORD_PROGRAM, False, CHORD_TRACK_NAME, None, velocity, tuple(texts))


def read_chords(data: bytes, source: str) -> tuple[tuple[int, Chord], ...]:
    """(step, chord) at each chord change marked in the :data:`CHORD_TRACK_NAME` track of a MIDI file muse
    wrote, in time order; () for a file without that track (the caller asks for ``--chords``). A marker that is
    not a chord the model knows is an InputError naming it."""
    import mido

    try:
        midi = mido.MidiFile(file=io.BytesIO(data))
    except Exception as exc:  # mido raises many types for broken files
        raise InputError(f"{source} is not a readable MIDI file ({type(exc).__name__})") from None
    changes = []
    for track in midi.tracks:
        if not any(m.type == "track_name" and m.name == CHORD_TRACK_NAME for m in track):
            continue
        tick = 0
        for message in track:
            tick += message.time
            if message.type != "marker":
                continue
            step = int(round(tick * STEPS_PER_QUARTER / midi.ticks_per_beat))
            chord = _read_symbol(message.text)
            if not isinstance(chord, Chord):
                raise InputError(
                    f"{source}: chord marker '{message.text}' at step {step} is {chord} for the model; "
                    f"give the chords with --chords"
                )
            changes.append((step, chord))
    return tuple(sorted(changes, key=lambda c: c[0]))


def chords_at_steps(changes: Sequence[tuple[int, Chord]], steps: int, start_step: int = 0) -> tuple[Chord, ...]:
    """The chord sounding at each of ``steps`` steps from ``start_step``, from (step, chord) changes: each holds
    until the next; "N.C." before the first (note_seq's chord at each step of a melody)."""
    out = []
    i, current = 0, N_C
    changes = sorted(changes, key=lambda c: c[0])
    for t in range(start_step, start_step + steps):
        while i < len(changes) and changes[i][0] <= t:
            current = changes[i][1]
            i += 1
        out.append(current)
    return tuple(out)


# -- the codec of cat-mel_2bar_med_chords -----------------------------------------------------------------------
@dataclass(frozen=True)
class ChordedMelody:
    """A melody and the chord at each of its steps (() when its file marks none: the caller asks for --chords)."""

    melody: Melody
    chords: tuple = ()

    # what every family's song offers the recipes (muse_cli.family_model): where it came from, tempo, length
    source = property(lambda self: self.melody.source)
    qpm = property(lambda self: self.melody.qpm)
    total_steps = property(lambda self: self.melody.total_steps)

    def with_chords(self, chords: Sequence[Chord | str]) -> ChordedMelody:
        """The same melody with ``chords`` spread over its whole length (the progression over the piece)."""
        return ChordedMelody(self.melody, spread_chords(chords, self.melody.total_steps))


@dataclass(frozen=True)
class MelodyChordsCodec:
    """magenta's OneHotMelodyConverter with TriadChordOneHotEncoding (cat-mel_2bar_med_chords): melody events
    one-hot in and out, the chords as controls. The upper-case attributes and the methods are the interface
    every family codec shares."""

    config: str = "cat-mel_2bar_med_chords"
    STEPS = WINDOW_STEPS
    INPUT_DEPTH = NUM_CLASSES
    OUTPUT_DEPTH = NUM_CLASSES
    CONTROL_DEPTH = CONTROL_DEPTH

    def read(self, data: bytes, source: str) -> ChordedMelody:
        """The melody of a MIDI file and the chords muse marked in it, if any."""
        melody = read_melody(data, source)
        changes = read_chords(data, source)
        return ChordedMelody(melody, chords_at_steps(changes, melody.total_steps) if changes else ())

    def to_windows(self, song: ChordedMelody) -> list[tuple[int, np.ndarray, np.ndarray]]:
        """(start_bar, inputs [32, 90], controls [32, 49]) for consecutive windows covering the song."""
        if not song.chords:
            raise UsageError(f"{song.melody.source} has no chords muse wrote; give them with --chords")
        controls = window_controls(song.chords, song.melody.total_steps, self.STEPS)
        out = []
        for w, start in enumerate(range(0, song.melody.total_steps, self.STEPS)):
            events = notes_to_events(song.melody.notes, start, self.STEPS)
            out.append((start // STEPS_PER_BAR, np.eye(NUM_CLASSES, dtype=np.float32)[events], controls[w]))
        return out

    def to_parts(
        self, outputs: np.ndarray, start_step: int = 0, controls: np.ndarray | None = None, chords=None
    ) -> list[Part]:
        """The melody of model outputs [T, 90] placed at ``start_step`` and, with ``controls`` [T, 49], the chord
        track (spelled as ``chords``, one per step, when given: "Cmaj7" stays "Cmaj7"; else as note_seq spells
        the classes)."""
        events = np.argmax(np.asarray(outputs), axis=-1)
        parts = [Part(events_to_notes(events, start_step))]
        if chords is None and controls is not None:
            chords = decode_controls(controls)
        if chords is not None:
            parts.append(chord_part(chords, len(events), start_step))
        return parts


CAT_MEL_2BAR_MED_CHORDS = MelodyChordsCodec()
CODECS = {CAT_MEL_2BAR_MED_CHORDS.config: CAT_MEL_2BAR_MED_CHORDS}
