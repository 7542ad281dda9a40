"""A named key kept: how much of a melody's note time lies in a scale, which transposition fits it
best, and the transposition itself (on magenta's event arrays, inside the piano range).

A prompt that names a key (:mod:`muse_cli.prompt.words`) makes the candidate choice prefer melodies
whose best transposition puts at least KEY_FIT of their note time in the scale; the chosen melody is
then transposed to the named tonic, by the fewest semitones (-6..+5) that reach it, an octave up or
down where the piano range (encoding.MIN_PITCH..MAX_PITCH) needs it. Notes are never rewritten one by
one: what stays outside the scale is counted and written into the provenance.
"""

from __future__ import annotations

import numpy as np

from muse_cli.features import MODES, estimated_key, key_correlations, pitch_class_histogram
from muse_cli.midi import transpose  # noqa: F401  (tonality.transpose: the one in midi.py)

KEY_FIT = 0.9  # share of note time in the scale that a candidate's best transposition must reach to be preferred


def in_scale(notes: list, key) -> float:
    """Share of the notes' time whose pitch class is in ``key``'s scale (1.0 for no notes)."""
    hist = pitch_class_histogram(notes)
    total = hist.sum()
    return float(hist[sorted(key.scale)].sum() / total) if total else 1.0


def out_of_scale(notes: list, key) -> int:
    """How many notes lie outside ``key``'s scale."""
    return sum(1 for p, _, _ in notes if int(p) % 12 not in key.scale)


def best_shift(notes: list, key) -> tuple[int, float]:
    """(semitones -6..+5, share in scale after it): the pitch-class shift that puts most note time in
    ``key``'s scale; ties go to the shift whose result correlates best with the key's profile."""
    hist = pitch_class_histogram(notes)
    total = hist.sum() or 1.0
    mask = np.zeros(12)
    mask[sorted(key.scale)] = 1.0
    mode = MODES.index(key.mode) if key.mode in MODES else 0
    shifts = range(-6, 6)
    fits = key_correlations(np.stack([np.roll(hist, shift) for shift in shifts]))[:, mode, key.tonic]
    best, pick = (-1.0, -2.0), (0, 1.0)
    for shift, r in zip(shifts, fits):
        moved = np.roll(hist, shift)
        share = float(moved @ mask / total)
        r = float(r)
        if (round(share, 9), r) > best:
            best, pick = (round(share, 9), r), (shift, share)
    return pick


def key_fits(group: list[np.ndarray], key) -> tuple[np.ndarray, np.ndarray]:
    """For each candidate's events after its best transposition: (share of note time in ``key``'s scale,
    whether its estimated key has ``key``'s tonic)."""
    from muse_cli.midi import events_to_notes

    shares, tonics = [], []
    for ev in group:
        notes = events_to_notes(ev)
        shift, share = best_shift(notes, key)
        shares.append(share)
        tonics.append(estimated_key([(p + shift, s, e) for p, s, e in notes])[0] == key.tonic)
    return np.array(shares), np.array(tonics, bool)


def to_key(events: np.ndarray, key) -> tuple[np.ndarray, int]:
    """(events transposed to ``key`` by their best shift, semitones moved)."""
    from muse_cli.midi import events_to_notes

    shift, _ = best_shift(events_to_notes(events), key)
    return transpose(events, shift)
