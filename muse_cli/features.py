"""The features of a melody, measured on its event arrays: one set for eval, captions, the choice and adherence.

Yang & Lerch (2018) and a few for prompts, from the notes of each event array:
pitch_range (semitones), mean_abs_interval (semitones), note_count, pch_entropy
(bits, pitch-class histogram weighted by count), mean_ioi (steps between
onsets), mean_pitch, density (onsets per bar), slope (semitones per bar, least
squares over onsets), stepwise (share of intervals of 1-2 semitones among
non-repeats), arch (how far the middle rises above the ends), major_minus_minor
(best Krumhansl correlation of major minus that of minor keys, duration-weighted), rest_share
(share of the event array's steps with no note sounding).

Pure NumPy. The least squares and the 24 key correlations are done in closed
form over all rows at once.
"""

from __future__ import annotations

import numpy as np

from muse_cli.encoding import STEPS_PER_BAR
from muse_cli.midi import events_to_notes

KRUMHANSL_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
KRUMHANSL_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
NAMES = (
    "pitch_range",
    "mean_abs_interval",
    "note_count",
    "pch_entropy",
    "mean_ioi",
    "mean_pitch",
    "density",
    "slope",
    "stepwise",
    "arch",
    "major_minus_minor",
    "rest_share",
)


def measure(events: np.ndarray) -> list[dict[str, float]]:
    """The features (:data:`NAMES`) of each event array, a row of ``events``."""
    rows, hists = [], np.zeros((len(events), 12))
    for i, ev in enumerate(events):
        notes = events_to_notes(ev)
        rows.append({**_note_features(notes), "rest_share": _rest_share(notes, len(ev))})
        hists[i] = pitch_class_histogram(notes)
    for row, score in zip(rows, _mode_scores(hists)):
        row["major_minus_minor"] = float(score)
    return rows


def _note_features(notes: list) -> dict[str, float]:
    """Every feature but major_minus_minor, of one melody's notes."""
    if not notes:
        return {k: 0.0 for k in NAMES if k not in ("major_minus_minor", "rest_share")}
    p = np.array([n[0] for n in notes], float)
    s = np.array([n[1] for n in notes], float)
    iv = np.diff(p)
    moves = np.abs(iv[iv != 0])
    span = max(1.0, (max(n[2] for n in notes) - min(n[1] for n in notes)) / STEPS_PER_BAR)
    x = s / STEPS_PER_BAR
    sx = x - x.mean()
    slope = float((sx * (p - p.mean())).sum() / (sx * sx).sum()) if len(p) > 1 and np.ptp(s) > 0 else 0.0
    pc = np.bincount(p.astype(int) % 12, minlength=12).astype(float)
    share = pc[pc > 0] / pc.sum()
    return {
        "pitch_range": float(np.ptp(p)),
        "mean_abs_interval": float(np.abs(iv).mean()) if len(iv) else 0.0,
        "note_count": float(len(p)),
        "pch_entropy": float(-(share * np.log2(share)).sum()),
        "mean_ioi": float(np.diff(s).mean()) if len(s) > 1 else 0.0,
        "mean_pitch": float(p.mean()),
        "density": float(len(p) / span),
        "slope": slope,
        "stepwise": float(np.mean(moves <= 2)) if len(moves) else 1.0,
        "arch": _arch(p),
    }


def _rest_share(notes: list, steps: int) -> float:
    """Share of the ``steps`` 16th steps with no note sounding."""
    sounding = np.zeros(max(1, steps), bool)
    for _, start, end in notes:
        sounding[start:end] = True
    return float(1.0 - sounding.mean())


def _arch(p: np.ndarray) -> float:
    """How far the highest note of the middle third rises above the higher of the outer thirds' means."""
    if len(p) < 3:
        return 0.0
    third = max(1, len(p) // 3)
    ends = max(p[:third].mean(), p[-third:].mean())
    middle = p[third:-third] if len(p[third:-third]) else p[1:-1]
    return float(middle.max() - ends)


MODES = ("major", "minor")


def key_correlations(hists: np.ndarray) -> np.ndarray:
    """Krumhansl-Kessler correlation [n, 2, 12] of each row of pitch-class histograms [n, 12] with every key:
    [:, 0, t] major on tonic t, [:, 1, t] minor (0 for an empty or flat histogram). The one key estimator."""
    hists = np.atleast_2d(np.asarray(hists, np.float64))
    h = hists - hists.mean(1, keepdims=True)
    hn = np.linalg.norm(h, axis=1, keepdims=True)
    ok = (hn[:, 0] > 1e-12) & (hists.sum(1) > 0)
    h = h / np.where(hn > 1e-12, hn, 1.0)
    out = []
    for profile in (KRUMHANSL_MAJOR, KRUMHANSL_MINOR):
        rolled = np.stack([np.roll(profile, k) for k in range(12)])
        rolled = rolled - rolled.mean(1, keepdims=True)
        rolled /= np.linalg.norm(rolled, axis=1, keepdims=True)
        out.append(np.where(ok[:, None], h @ rolled.T, 0.0))
    return np.stack(out, 1)


def _mode_scores(hists: np.ndarray) -> np.ndarray:
    """Best major minus best minor key correlation of each row of duration-weighted pitch-class histograms."""
    r = key_correlations(hists)
    return r[:, 0].max(1) - r[:, 1].max(1)


def estimated_key(notes: list) -> tuple[int, str]:
    """(tonic pitch class, "major" or "minor") of notes (pitch, start, end): the key whose Krumhansl-Kessler
    profile correlates best with their duration-weighted pitch-class histogram (C major when there are none)."""
    r = key_correlations(pitch_class_histogram(notes)[None])[0]
    mode, tonic = np.unravel_index(int(np.argmax(r)), r.shape)
    return int(tonic), MODES[int(mode)]


# -- how alike two melodies are (muse vary's and --form's measures; bench/bench_vary.py, bench/bench_form.py) ----
def pitch_class_histogram(notes: list) -> np.ndarray:
    """The duration-weighted pitch-class histogram [12] of notes (pitch, start, end), C = 0: the one histogram."""
    h = np.zeros(12)
    for pitch, start, end in notes:
        h[int(pitch) % 12] += end - start
    return h


def pitch_class_cosine(a: list, b: list) -> float:
    """Cosine of two melodies' duration-weighted pitch-class histograms (1 when both are silent)."""
    ha, hb = pitch_class_histogram(a), pitch_class_histogram(b)
    na, nb = np.linalg.norm(ha), np.linalg.norm(hb)
    return float(ha @ hb / (na * nb)) if na > 0 and nb > 0 else float(na == nb)


def onset_jaccard(a: list, b: list) -> float:
    """Jaccard index of two melodies' sets of onset steps (1 when both are silent)."""
    sa, sb = {s for _, s, _ in a}, {s for _, s, _ in b}
    return len(sa & sb) / len(sa | sb) if sa | sb else 1.0


# -- key and scale (the one key estimator: prompts' named keys, muse eval --structure) ----------------------------
SCALES = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10)}  # minor: natural (aeolian)


def scale_share(notes: list, tonic: int, mode: str = "major") -> float:
    """Share of the notes' time whose pitch class lies in the scale of ``tonic`` ``mode`` (1.0 for no notes)."""
    hist = pitch_class_histogram(notes)
    total = hist.sum()
    return float(hist[[(tonic + d) % 12 for d in SCALES[mode]]].sum() / total) if total else 1.0


def diatonic_fit(notes: list) -> tuple[float, frozenset[int]]:
    """(share of note time in the best diatonic scale, the major tonics of every scale that reaches it).
    Every diatonic scale (major, natural minor, the church modes) is one of the 12 major scales' sets."""
    shares = np.array([scale_share(notes, tonic) for tonic in range(12)])
    best = shares.max()
    return float(best), frozenset(int(t) for t in np.flatnonzero(shares >= best - 1e-9))
