"""Long-term structure (`muse eval --structure`, issue 18): do muse's 16-bar pieces hold together like real tunes?

A piece is 16 bars of 4/4 on the 16th grid (PIECE_STEPS = 256 steps) as magenta's event array, cut into eight
2-bar sections. Its statistics (:data:`FEATURES`; :data:`STRUCTURE` marks those about returns, key, ending and
drift), with the key estimator, histograms and similarities of :mod:`muse_cli.features`:

  in_scale           share of note time in the piece's one best diatonic scale
  close_returns      share of sections 2-8 that closely return an earlier one: pitch-class cosine >= 0.9 and
                     onset Jaccard >= 0.8 (a silent section never returns)
  exact_returns      share of sections 2-8 that return an earlier one exactly (the same notes)
  return_similarity  mean over sections 2-8 of the best (cosine + Jaccard) / 2 with an earlier section
  ends_on_tonic      the last note's pitch class is the tonic of the piece's estimated key
  key_change         the estimated keys of bars 1-8 and bars 9-16 differ (tonic or mode)
  scale_changes      share of the 3 borders between the 4-bar quarters across which the quarters' best diatonic
                     scales have none in common (ties count as shared)
  notes_per_bar, pitch_range, mean_abs_interval, pch_entropy, stepwise, rest_share, arch   features.measure

Real tunes: the corpus's held-out tunes (valid and test splits) in duple meters of at least 16 bars of 4/4, their
first 16 bars. Originality: the share of a set's sections with 2 or more notes that equal, up to transposition,
a 2-bar section (at a 2-bar line) of a training-split tune, and the share of pieces with 3/4 of them or more so.
The classifier: a logistic regression on the standardised features, stratified 5-fold cross-validated ROC AUC of
real against generated (0.5: can't tell).

An evaluation module: the generation path never imports it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from muse_cli.encoding import DUPLE_METERS, FIRST_NOTE, HOLD, NOTE_OFF, QUARTERS_PER_BAR, STEPS_PER_BAR, WINDOW_STEPS
from muse_cli.features import (
    diatonic_fit,
    estimated_key,
    measure,
    onset_jaccard,
    pitch_class_cosine,
    scale_share,
)
from muse_cli.midi import Melody, events_to_notes, notes_to_events

BARS = 16
QPM = 120.0
PIECE_STEPS = BARS * STEPS_PER_BAR
PIECE_SECONDS = BARS * QUARTERS_PER_BAR * 60.0 / QPM  # 32 s: `muse sample --seconds 32`
SECTIONS = PIECE_STEPS // WINDOW_STEPS
CLOSE_PC, CLOSE_ONSETS = 0.9, 0.8  # a close return: both similarities at least this
MIN_ORIGINAL_NOTES = 2  # sections with fewer notes are left out of originality (one held note matches anything)
COPIED = 0.75  # a piece with this share of its sections found in training tunes is (nearly) a copy of one
HELD_OUT = ("valid", "test")
REAL = "real tunes"
STRUCTURE = (
    "in_scale",
    "close_returns",
    "exact_returns",
    "return_similarity",
    "ends_on_tonic",
    "key_change",
    "scale_changes",
)
SHAPE = ("notes_per_bar", "pitch_range", "mean_abs_interval", "pch_entropy", "stepwise", "rest_share", "arch")
FEATURES = STRUCTURE + SHAPE
# how each feature is summarised over a set of pieces, and its row in the report
ROWS = {
    "in_scale": ("median", "note time in the piece's one best scale (median)"),
    "close_returns": ("percent", "2-bar sections that closely return an earlier one"),
    "exact_returns": ("percent", "2-bar sections that return exactly"),
    "return_similarity": ("median", "best similarity of a section to an earlier one (median of piece means)"),
    "ends_on_tonic": ("percent", "pieces whose last note is the tonic of their estimated key"),
    "key_change": ("percent", "pieces whose estimated key differs between bars 1-8 and 9-16"),
    "scale_changes": ("percent", "4-bar borders across which the best scale changes"),
    "notes_per_bar": ("median", "notes per bar (median)"),
    "pitch_range": ("median", "range in semitones (median)"),
    "mean_abs_interval": ("median", "mean interval in semitones (median)"),
    "pch_entropy": ("median", "pitch-class entropy in bits (median)"),
    "stepwise": ("median", "stepwise share of moves (median)"),
    "rest_share": ("median", "share of steps resting (median)"),
    "arch": ("median", "arch in semitones (median)"),
}


def _sample(form: str | None, long: str) -> Callable:
    def make(model, n: int, seed: int) -> list:
        from muse_cli.model import sample

        return sample(model, n, seconds=PIECE_SECONDS, seed=seed, qpm=QPM, form=form, long=long)

    return make


# name -> callable(model, n, seed) -> list[Generated] of 16 bars at 120 qpm: one more entry measures one more method
GENERATORS: dict[str, Callable] = {
    "walk": _sample(None, "walk"),
    "walk AABA": _sample("AABA", "walk"),
    "conductor": _sample(None, "conductor"),
    "conductor AABA": _sample("AABA", "conductor"),
}


# -- pieces -------------------------------------------------------------------------------------------------------
def piece_events(notes: list, steps: int = PIECE_STEPS) -> np.ndarray:
    """The event array of a melody's first ``steps`` steps (16 bars)."""
    return notes_to_events(notes, 0, steps)


def sections(events: np.ndarray) -> np.ndarray:
    """The 2-bar sections [k, 32] of an event array, as a window of their own would read (a note-off on the
    first step, left by a note of the section before, is a rest)."""
    secs = np.asarray(events).reshape(-1, WINDOW_STEPS).copy()
    secs[secs[:, 0] == NOTE_OFF, 0] = HOLD
    return secs


def _returns(secs: np.ndarray) -> tuple[float, float, float]:
    """(close, exact, mean best similarity) of sections 2.. against the sections before them."""
    notes = [events_to_notes(s) for s in secs]
    close = exact = 0
    best_sims = []
    for k in range(1, len(secs)):
        best, near, same = 0.0, False, False
        for j in range(k):
            pc, on = pitch_class_cosine(notes[j], notes[k]), onset_jaccard(notes[j], notes[k])
            best = max(best, (pc + on) / 2) if notes[k] else 0.0
            near |= bool(notes[k]) and pc >= CLOSE_PC and on >= CLOSE_ONSETS
            same |= bool(notes[k]) and np.array_equal(secs[j], secs[k])
        close, exact = close + near, exact + same
        best_sims.append(best)
    later = max(1, len(secs) - 1)
    return close / later, exact / later, float(np.mean(best_sims)) if best_sims else 0.0


def _structure(events: np.ndarray) -> dict[str, float]:
    """The STRUCTURE statistics of one piece."""
    notes = events_to_notes(events)
    close, exact, similar = _returns(sections(events))
    half, quarter = len(events) // 2, len(events) // 4
    tonic, _ = estimated_key(notes)
    keys = [estimated_key(events_to_notes(events[i : i + half])) for i in (0, half)]
    fits = [diatonic_fit(events_to_notes(events[i : i + quarter]))[1] for i in range(0, 4 * quarter, quarter)]
    return {
        "in_scale": diatonic_fit(notes)[0],
        "close_returns": close,
        "exact_returns": exact,
        "return_similarity": similar,
        "ends_on_tonic": float(bool(notes) and notes[-1][0] % 12 == tonic),
        "key_change": float(keys[0] != keys[1]),
        "scale_changes": float(np.mean([not (a & b) for a, b in zip(fits, fits[1:])])),
    }


def features(pieces: np.ndarray) -> np.ndarray:
    """The FEATURES of each piece (rows of event arrays): [n, len(FEATURES)]."""
    pieces = np.asarray(pieces)
    rows = []
    for events, shape in zip(pieces, measure(pieces)):
        shape = {**shape, "notes_per_bar": shape["note_count"] * STEPS_PER_BAR / pieces.shape[1]}
        rows.append({**_structure(events), **{k: shape[k] for k in SHAPE}})
    return np.array([[r[k] for k in FEATURES] for r in rows], float).reshape(len(rows), len(FEATURES))


def summary(table: np.ndarray) -> dict[str, float]:
    """Each feature's summary over a set (ROWS: median, or mean for shares and rates)."""
    how = {"median": np.median, "percent": np.mean}
    return {k: round(float(how[ROWS[k][0]](table[:, i])), 4) for i, k in enumerate(FEATURES)}


# -- the corpus -----------------------------------------------------------------------------------------------------
def _duple(tune: dict) -> bool:
    return bool(tune.get("notes")) and set(tune.get("meters") or [tune.get("meter", "?")]) <= set(DUPLE_METERS)


def _split(tune: dict) -> str:
    from muse_cli.training.corpus import split_of

    return tune.get("split") or split_of(str(tune["id"]))


def held_out(tunes: list[dict], n: int, seed: int) -> list[list]:
    """The grid notes (whole tunes) of up to ``n`` held-out duple tunes of at least 16 bars, drawn with ``seed``."""
    from muse_cli.training.corpus import grid_notes

    ok = []
    for t in tunes:
        if _duple(t) and _split(t) in HELD_OUT:
            notes = grid_notes(t)
            if notes and max(e for _, _, e in notes) >= PIECE_STEPS:
                ok.append(notes)
    pick = np.random.default_rng([seed, 18]).permutation(len(ok))[:n]
    return [ok[i] for i in sorted(pick)]


def section_keys(pieces: np.ndarray) -> list[list[bytes]]:
    """Per event array (rows of [n, steps]): transposition-free keys of its 2-bar sections with MIN_ORIGINAL_NOTES
    notes or more (each moved so that its lowest note is the lowest class)."""
    pieces = np.asarray(pieces)
    per = pieces.shape[-1] // WINDOW_STEPS
    secs = sections(pieces.reshape(-1, pieces.shape[-1])[:, : per * WINDOW_STEPS])
    on = secs >= FIRST_NOTE
    keep = on.sum(1) >= MIN_ORIGINAL_NOTES
    low = np.where(on, secs, 1 << 20).min(1, keepdims=True)
    moved = np.where(on, secs - low + FIRST_NOTE, secs).astype(np.uint8)
    return [[moved[i].tobytes() for i in range(p * per, (p + 1) * per) if keep[i]] for p in range(len(pieces))]


def training_sections(tunes: list[dict]) -> set[bytes]:
    """The section keys of every duple training-split tune, whole, cut at its 2-bar lines."""
    from muse_cli.training.corpus import grid_notes

    known: set[bytes] = set()
    for t in tunes:
        if _duple(t) and _split(t) == "train":
            notes = grid_notes(t)
            if notes:
                steps = -(-max(e for _, _, e in notes) // WINDOW_STEPS) * WINDOW_STEPS
                known.update(*section_keys(notes_to_events(notes, 0, steps)[None]))
    return known


def originality(pieces: np.ndarray, known: set[bytes]) -> dict[str, float]:
    """``sections``: the share of the pieces' sections (with notes) that equal a known section up to
    transposition; ``copied``: the share of pieces with COPIED of their sections or more among the known."""
    found = [[k in known for k in keys] for keys in section_keys(pieces)]
    flat = [f for keys in found for f in keys]
    return {
        "sections": round(float(np.mean(flat)), 4) if flat else 0.0,
        "copied": round(float(np.mean([bool(f) and np.mean(f) >= COPIED for f in found])), 4) if found else 0.0,
    }


# -- the classifier -------------------------------------------------------------------------------------------------
def classifier_auc(real: np.ndarray, other: np.ndarray, seed: int = 0, folds: int = 5) -> float:
    """Stratified ``folds``-fold cross-validated ROC AUC of a logistic regression (on standardised features)
    telling rows of ``real`` from rows of ``other``: 0.5 can't tell, 1.0 always can (nan with too few rows)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    folds = min(folds, len(real), len(other))
    if folds < 2:
        return float("nan")
    x = np.vstack([real, other])
    y = np.r_[np.ones(len(real), int), np.zeros(len(other), int)]
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    cv = StratifiedKFold(folds, shuffle=True, random_state=seed)
    return float(np.mean(cross_val_score(model, x, y, cv=cv, scoring="roc_auc")))


# -- continuation ---------------------------------------------------------------------------------------------------
def _kept(notes: list, key: tuple[int, str]) -> tuple[float, bool]:
    """(share of the notes' time in ``key``'s scale, whether the last note is its tonic)."""
    return scale_share(notes, *key), bool(notes) and notes[-1][0] % 12 == key[0]


def _continuer(long: str) -> Callable:
    def cont(model, melody: Melody, seconds: float, seed: int):
        from muse_cli.model import continue_melody

        return continue_melody(model, melody, seconds=seconds, seed=seed, qpm=QPM, keep=True, long=long)[0]

    return cont


CONTINUERS = {"conductor": _continuer("conductor"), "walk": _continuer("walk")}


def continuation_stats(model, tunes: list[list], seed: int, conts: dict | None = None) -> dict:
    """Continue each tune's first 8 bars by 8 bars with each of ``conts`` (name -> ``cont(model, melody, seconds,
    seed)`` -> the new bars from step 0; default :data:`CONTINUERS`, seed ``seed + i``); in the key estimated
    from those 8 bars: the new bars' share of note time in its scale and how often they end on its tonic, beside
    the same for the tune's own bars 9-16 and how often whole tunes end on their tonic."""
    conts = CONTINUERS if conts is None else conts
    half = PIECE_STEPS // 2
    made: dict = {name: [] for name in conts}
    real, whole = [], []
    for i, notes in enumerate(tunes):
        events = piece_events(notes)
        first = events_to_notes(events[:half])
        key = estimated_key(first)
        melody = Melody(source=f"held-out tune {i + 1}", notes=first, total_steps=half, qpm=QPM)
        for name, cont in conts.items():
            made[name].append(_kept(cont(model, melody, PIECE_SECONDS / 2, seed + i).notes, key))
        real.append(_kept(events_to_notes(events[half:]), key))
        whole.append(_kept(notes, estimated_key(notes))[1])

    def mean(rows, i):
        return round(float(np.mean([r[i] for r in rows])), 4) if rows else float("nan")

    return {
        "tunes": len(tunes),
        **{f"new bars in the input's scale (mean), {name}": mean(rows, 0) for name, rows in made.items()},
        **{f"new bars ending on the input's tonic, {name}": mean(rows, 1) for name, rows in made.items()},
        "real bars 9-16 in the scale of bars 1-8 (mean)": mean(real, 0),
        "real bars 9-16 ending on the tonic of bars 1-8": mean(real, 1),
        "whole real tunes ending on their tonic": round(float(np.mean(whole)), 4) if whole else float("nan"),
    }


# -- the evaluation -------------------------------------------------------------------------------------------------
def _corpus(tunes, log) -> list[dict]:
    """The corpus's tunes: ``tunes`` (a corpus file) or the parsed corpus, made once (one loader call)."""
    from muse_cli.errors import UsageError
    from muse_cli.training.prompt_head import load_corpus

    if tunes is not None and not Path(tunes).is_file():
        raise UsageError(f"--tunes {tunes}: no such file; give a corpus file (make train makes one)")
    return load_corpus(tunes, log)


def evaluate_structure(model, pieces: int = 200, seed: int = 0, tunes=None, generators=None, log=None) -> dict:
    """The statistics, originality and classifier AUCs of ``pieces`` held-out real tunes and of ``pieces`` pieces
    from each generator (default :data:`GENERATORS`), and continuation statistics on the real tunes."""
    from muse_cli.errors import UsageError

    log = log or (lambda msg: None)
    started = time.monotonic()
    corpus = _corpus(tunes, log)
    real = held_out(corpus, pieces, seed)
    if len(real) < 2:
        where = f"--tunes {tunes}" if tunes else "the corpus"
        raise UsageError(f"{where} has {len(real)} held-out duple tunes of 16 bars or more; 2 or more are needed")
    sets = {REAL: np.stack([piece_events(n) for n in real])}
    for name, make in (GENERATORS if generators is None else generators).items():
        log(f"generating {pieces} pieces of 16 bars: {name}...")
        sets[name] = np.stack([piece_events(g.notes) for g in make(model, pieces, seed)])
    log("measuring...")
    tables = {name: features(ev) for name, ev in sets.items()}
    known = training_sections(corpus)
    cols = [FEATURES.index(k) for k in STRUCTURE]
    auc = {
        name: {
            "all": round(classifier_auc(tables[REAL], t, seed), 4),
            "structure": round(classifier_auc(tables[REAL][:, cols], t[:, cols], seed), 4),
        }
        for name, t in tables.items()
        if name != REAL
    }
    log(f"continuing {len(real)} held-out tunes' first 8 bars by 8 bars...")
    return {
        "pieces": {name: len(ev) for name, ev in sets.items()},
        "seed": seed,
        "summary": {name: summary(t) for name, t in tables.items()},
        "originality": {name: originality(ev, known) for name, ev in sets.items()},
        "auc": auc,
        "continuation": continuation_stats(model, real, seed),
        "features": {"all": list(FEATURES), "structure": list(STRUCTURE)},
        "seconds": round(time.monotonic() - started, 1),
    }


def format_report(result: dict) -> str:
    """The result as a Markdown table: a row per statistic, a column per set; then the continuation numbers."""
    names = list(result["summary"])
    head = "| | " + " | ".join(f"{n} ({result['pieces'][n]})" for n in names) + " |\n|---" + "|---" * len(names) + "|"
    lines = [head]
    for k in FEATURES:
        how, label = ROWS[k]
        vals = [result["summary"][n][k] for n in names]
        lines.append(f"| {label} | " + " | ".join(f"{v:.0%}" if how == "percent" else f"{v:.2f}" for v in vals) + " |")
    for part, label in (
        ("sections", "sections equal to a training tune's, up to transposition"),
        ("copied", f"pieces with {COPIED:.0%} or more of their sections so (near copies)"),
    ):
        lines.append(f"| {label} | " + " | ".join(f"{result['originality'][n][part]:.1%}" for n in names) + " |")
    for part, what in (("all", f"all {len(FEATURES)} features"), ("structure", "structure features alone")):
        cells = ["–"] + [f"{result['auc'][n][part]:.2f}" for n in names[1:]]
        label = f"classifier AUC against the real tunes, {what} (0.5 = can't tell)"
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    cont = result["continuation"]
    lines.append(f"\ncontinuations of {cont['tunes']} held-out tunes (first 8 bars, continued by 8):")
    lines += [f"  {k}: {v:.2f}" for k, v in cont.items() if k != "tunes"]
    lines.append(f"seed {result['seed']}, {result['seconds']:.0f} s")
    return "\n".join(lines)
