"""muse_cli.features: the one set of melody features (eval, captions, the choice, adherence)."""

from __future__ import annotations

import numpy as np
import pytest

from muse_cli.features import NAMES, measure
from muse_cli.midi import events_to_notes, notes_to_events

KRUMHANSL_MAJOR = [6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88]
KRUMHANSL_MINOR = [6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17]


def test_a_rising_c_major_phrase():
    notes = [(60, 0, 2), (62, 2, 4), (64, 4, 6), (65, 6, 8), (67, 8, 12)]
    f = measure(notes_to_events(notes, 0, 32)[None])[0]
    assert set(f) == set(NAMES)
    assert f["pitch_range"] == 7 and f["note_count"] == 5 and f["mean_pitch"] == pytest.approx(63.6)
    assert f["mean_abs_interval"] == 1.75 and f["mean_ioi"] == 2.0 and f["stepwise"] == 1.0
    assert f["density"] == 5.0  # 5 onsets in less than one bar count per one bar
    assert f["arch"] == -2.0  # the middle (62, 64, 65) peaks 2 below the higher end (67)
    assert f["slope"] > 0 and f["major_minus_minor"] > 0
    assert f["pch_entropy"] == pytest.approx(np.log2(5))


def test_an_empty_window_measures_zero():
    assert measure(np.zeros((1, 32), int)) == [{k: 0.0 if k != "rest_share" else 1.0 for k in NAMES}]


def test_slope_and_key_follow_their_textbook_definitions():
    rng = np.random.default_rng(0)
    events = np.where(rng.random((40, 32)) < 0.3, rng.integers(2, 90, (40, 32)), 0)
    events[::7, ::3] = 1
    for ev, got in zip(events, measure(events)):
        notes = events_to_notes(ev)
        if len(notes) < 2:
            continue
        pitches = np.array([n[0] for n in notes], float)
        starts = np.array([n[1] for n in notes], float)
        assert got["slope"] == pytest.approx(
            np.polyfit(starts / 16, pitches, 1)[0] if np.ptp(starts) else 0.0, abs=1e-9
        )
        hist = np.bincount(pitches.astype(int) % 12, weights=[max(1, e - s) for _, s, e in notes], minlength=12)
        best = [
            max(np.corrcoef(np.roll(profile, k), hist)[0, 1] for k in range(12)) if np.std(hist) > 0 else 0.0
            for profile in (KRUMHANSL_MAJOR, KRUMHANSL_MINOR)
        ]
        assert got["major_minus_minor"] == pytest.approx(best[0] - best[1], abs=1e-9)
