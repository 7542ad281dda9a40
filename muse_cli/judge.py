"""Independent judges of prompt adherence: measures that share no code with what the head trains on or the
reranker selects on (:mod:`muse_cli.features`, :mod:`muse_cli.prompt.select`, the captions' labels).

Melodies are judged from the MIDI file muse writes, read back with mido (not muse's reader), as notes
(pitch, start, end) in quarter notes. Corpus windows for the learned judges are cut straight from the
tunes' notes, not through muse's event encoding.

Hand-written measures, each a different statistic from the features' (features.py), written from scratch:

- mode: Temperley's Bayesian key finder (Music and Probability, 2007, ch. 4) on one segment: the log
  probability of the set of pitch classes present (not their durations) under each of 24 keys with the
  Kostka-Payne profiles; the measure is the best major key's log probability minus the best minor key's.
  muse's own estimator correlates duration-weighted histograms with Krumhansl-Kessler profiles.
- register: the duration-weighted mean pitch (features.py: the mean over onsets).
- density: onsets per quarter note of the melody's span in the file (features.py: per bar of the notes' span).
- contour: the duration-weighted mean pitch of the second half of the melody's time minus the first half's
  (features.py: a least-squares slope over onsets).
- motion: minus the mean size of the moves between successive notes of different pitch, in semitones
  (higher = smoother; features.py: the share of moves of one or two semitones).

Learned judges (logistic regressions on transposition-invariant note statistics) are trained on windows
of the corpus's valid split and scored on its test split: tunes the head never saw (it fits on the train
split). Their labels come from the tunes' metadata (the ABC key's mode, the collection and rhythm), not
from any measured feature.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

WINDOW_QUARTERS = 8.0  # two bars of 4/4
HOP_QUARTERS = 4.0
MIN_NOTES = 3
PER_TUNE = 8
# Temperley (2007), Kostka-Payne corpus: P(pitch class present in a segment | key), tonic first.
TEMPERLEY_MAJOR = (0.748, 0.060, 0.488, 0.082, 0.670, 0.460, 0.096, 0.715, 0.104, 0.366, 0.057, 0.400)
TEMPERLEY_MINOR = (0.712, 0.084, 0.474, 0.618, 0.049, 0.460, 0.105, 0.747, 0.404, 0.067, 0.133, 0.330)
MEASURES = ("mode", "register", "density", "contour", "motion")


# -- reading the written file ---------------------------------------------------------------------
def read_midi_notes(data: bytes) -> list[tuple[int, float, float]]:
    """(pitch, start, end) in quarter notes of every note in a MIDI file, read with mido."""
    import mido

    mid = mido.MidiFile(file=io.BytesIO(data))
    tpq = float(mid.ticks_per_beat)
    notes = []
    for track in mid.tracks:
        tick, sounding = 0, {}
        for msg in track:
            tick += msg.time
            if msg.type == "note_on" and msg.velocity > 0:
                sounding.setdefault((msg.channel, msg.note), []).append(tick)
            elif msg.type in ("note_off", "note_on") and sounding.get((msg.channel, msg.note)):
                start = sounding[(msg.channel, msg.note)].pop(0)
                notes.append((int(msg.note), start / tpq, tick / tpq))
    return sorted(notes, key=lambda n: (n[1], n[0]))


def written_windows(events: np.ndarray, qpm: float = 120.0) -> list[list]:
    """The notes of each 2-bar window of a melody's events, as muse writes them to MIDI and mido reads them."""
    from muse_cli.midi import events_to_notes, to_midi_bytes

    notes = read_midi_notes(to_midi_bytes(events_to_notes(np.asarray(events).ravel()), qpm))
    span = len(np.asarray(events).ravel()) / 4  # 16th-note steps -> quarters
    return [
        [(p, s - a, e - a) for p, s, e in notes if a <= s < a + WINDOW_QUARTERS]
        for a in np.arange(0.0, max(span, WINDOW_QUARTERS), WINDOW_QUARTERS)
    ]


# -- hand-written measures --------------------------------------------------------------------------
def _log_profiles() -> np.ndarray:
    """[24, 12, 2]: log P(absent), log P(present) of each pitch class under each key (12 major, then 12 minor)."""
    rows = []
    for profile in (TEMPERLEY_MAJOR, TEMPERLEY_MINOR):
        for tonic in range(12):
            p = np.roll(np.asarray(profile), tonic)
            rows.append(np.stack([np.log1p(-p), np.log(p)], -1))
    return np.stack(rows)


_LOG = _log_profiles()


def key_log_probs(notes: list) -> np.ndarray:
    """[24] log probability of the pitch-class set of ``notes`` under each key (Temperley's model)."""
    present = np.zeros(12, int)
    for p, _, _ in notes:
        present[int(p) % 12] = 1
    return _LOG[:, np.arange(12), present].sum(1)


def temperley_key(notes: list) -> tuple[int, str]:
    """(tonic pitch class, "major" or "minor") that Temperley's model finds most probable (C major when silent)."""
    best = int(np.argmax(key_log_probs(notes)))
    return best % 12, ("major", "minor")[best // 12]


def measure_notes(notes: list) -> dict[str, float]:
    """The hand-written measures (:data:`MEASURES`) of one window's notes (quarter-note times)."""
    if not notes:
        return {k: 0.0 for k in MEASURES}
    p = np.array([n[0] for n in notes], float)
    s = np.array([n[1] for n in notes], float)
    e = np.array([n[2] for n in notes], float)
    d = np.maximum(e - s, 1e-6)
    lp = key_log_probs(notes)
    mid = (s.min() + e.max()) / 2
    first, second = s < mid, s >= mid
    contour = 0.0
    if first.any() and second.any():
        contour = np.average(p[second], weights=d[second]) - np.average(p[first], weights=d[first])
    moves = np.abs(np.diff(p))
    moves = moves[moves > 0]
    return {
        "mode": float(lp[:12].max() - lp[12:].max()),
        "register": float(np.average(p, weights=d)),
        "density": float(len(p) / WINDOW_QUARTERS),
        "contour": float(contour),
        "motion": float(-moves.mean()) if len(moves) else 0.0,
    }


# -- the learned judges -------------------------------------------------------------------------------
DIATONIC = np.isin(np.arange(12), (0, 2, 4, 5, 7, 9, 11))


def judge_features(notes: list) -> np.ndarray:
    """A transposition-invariant description of one window's notes (quarter-note times): duration-weighted pitch
    classes, and the first, last and lowest note's, relative to the diatonic collection that holds the most note
    time (4 x 12); move sizes (6); onset rhythm (8); Temperley's major-minus-minor (1)."""
    out = np.zeros(4 * 12 + 6 + 9)
    if not notes:
        return out
    p = np.array([n[0] for n in notes], int)
    s = np.array([n[1] for n in notes], float)
    d = np.maximum(np.array([n[2] for n in notes], float) - s, 1e-6)
    hist = np.bincount(p % 12, weights=d, minlength=12) / d.sum()
    root = int(np.argmax([hist[np.roll(DIATONIC, r)].sum() for r in range(12)]))
    out[:12] = np.roll(hist, -root)
    for j, pitch in enumerate((p[0], p[-1], p[np.argmin(p)])):
        out[12 * (j + 1) + (pitch - root) % 12] = 1.0
    moves = np.abs(np.diff(p))
    if len(moves):
        out[48:54] = np.histogram(np.minimum(moves, 12), bins=(0, 1, 3, 5, 8, 12, 13))[0] / len(moves)
    ioi = np.diff(s)
    if len(ioi):
        out[54:59] = np.histogram(ioi, bins=(0, 0.3, 0.6, 1.1, 2.1, 99))[0] / len(ioi)
    frac = s % 1.0
    lp = key_log_probs(notes)
    out[59:63] = [
        np.mean(frac == 0),
        np.mean(np.isclose(frac, 0.5)),
        len(p) / WINDOW_QUARTERS,
        lp[:12].max() - lp[12:].max(),
    ]
    return out


def corpus_windows(tune: dict, rng: np.random.Generator) -> list[list]:
    """Up to PER_TUNE random 2-bar windows (notes in quarters, shifted to start at 0) of a tune, cut from its notes."""
    notes = [(int(p), float(a), float(b)) for p, a, b in tune["notes"] if a >= 0]
    if not notes:
        return []
    end = max(b for _, _, b in notes)
    starts = np.arange(0.0, max(HOP_QUARTERS, end - HOP_QUARTERS), HOP_QUARTERS)
    out = []
    for a in starts:
        win = [(p, s - a, min(e, a + WINDOW_QUARTERS) - a) for p, s, e in notes if a <= s < a + WINDOW_QUARTERS]
        if len(win) >= MIN_NOTES:
            out.append(win)
    if len(out) > PER_TUNE:
        out = [out[i] for i in np.sort(rng.choice(len(out), PER_TUNE, replace=False))]
    return out


@dataclass
class Judge:
    """A logistic regression on :func:`judge_features`: P(pole A) of a window; accuracy on test-split windows."""

    name: str
    mean: np.ndarray
    std: np.ndarray
    w: np.ndarray
    b: float
    test_accuracy: float
    train_windows: int
    test_windows: int

    def score(self, windows: list[list]) -> np.ndarray:
        x = (np.stack([judge_features(w) for w in windows]) - self.mean) / self.std
        return 1.0 / (1.0 + np.exp(-(x @ self.w + self.b)))


DUPLE = ("4/4", "2/2", "2/4", "4/2", "4/8", "8/8")


def train_judge(name: str, tunes: list[dict], pole, seed: int = 0) -> Judge:
    """Fit a judge on valid-split windows, labelled by ``pole(tune)`` (True: pole A, False: pole B, None: neither),
    and measure it on test-split windows."""
    from sklearn.linear_model import LogisticRegression

    def data(split: str):
        rng = np.random.default_rng([seed, 19])
        x, y = [], []
        for t in tunes:
            label = pole(t) if t.get("split") == split and set(t["meters"]) <= set(DUPLE) else None
            if label is None:
                continue
            for win in corpus_windows(t, rng):
                x.append(judge_features(win))
                y.append(bool(label))
        return np.array(x).reshape(len(x), -1), np.array(y, bool)

    x, y = data("valid")
    if len(set(y.tolist())) < 2:
        return Judge(name, np.zeros(63), np.ones(63), np.zeros(63), 0.0, float("nan"), len(y), 0)
    mean, std = x.mean(0), x.std(0) + 1e-6
    fit = LogisticRegression(C=0.5, class_weight="balanced", max_iter=2000).fit((x - mean) / std, y)
    judge = Judge(name, mean, std, fit.coef_[0], float(fit.intercept_[0]), float("nan"), len(y), 0)
    xt, yt = data("test")
    if len(yt):
        p = 1.0 / (1.0 + np.exp(-(((xt - mean) / std) @ judge.w + judge.b)))
        recall = [np.mean((p > 0.5)[yt == c] == c) for c in (True, False) if (yt == c).any()]
        judge.test_accuracy, judge.test_windows = float(np.mean(recall)), len(yt)  # balanced accuracy
    return judge
