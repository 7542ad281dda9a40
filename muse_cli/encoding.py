"""Magenta's melody events, as cat-mel_2bar models see them.

An event array holds one int per 16th note: 0 = hold the previous event (or keep resting),
1 = note off, 2 + (pitch - 21) = note on. A model window is 2 bars of 4/4: 32 steps, each
a one-hot of 90 classes (2 special events + 88 piano pitches, 21..108). The one home of these
numbers: other modules import them from here.
"""

from __future__ import annotations

STEPS_PER_BAR = 16
STEPS_PER_QUARTER = 4
QUARTERS_PER_BAR = STEPS_PER_BAR // STEPS_PER_QUARTER
WINDOW_BARS = 2
WINDOW_STEPS = STEPS_PER_BAR * WINDOW_BARS
NUM_CLASSES = 90
MIN_PITCH, MAX_PITCH = 21, 108
HOLD, NOTE_OFF = 0, 1
FIRST_NOTE = 2  # class of MIN_PITCH
# Meters whose beats fall on the 16-steps-per-bar grid: the default model's training data, and what
# a MIDI file may be in.
DUPLE_METERS = ("4/4", "2/2", "2/4", "4/2", "4/8", "8/8")


def step_seconds(qpm: float) -> float:
    """Length of one 16th-note step at ``qpm`` quarter notes per minute."""
    return 60.0 / qpm / STEPS_PER_QUARTER


def steps_seconds(steps: int, qpm: float) -> float:
    """Length of ``steps`` 16th-note steps at ``qpm``: the one steps-to-seconds formula."""
    return steps / STEPS_PER_QUARTER * 60.0 / qpm


def window_seconds(qpm: float) -> float:
    """Length of one 2-bar window at ``qpm`` quarter notes per minute."""
    return steps_seconds(WINDOW_STEPS, qpm)
