"""The conductor's data (:mod:`muse_cli.training.conductor` fits it): real tunes as sequences of latents.

Data (cached in build/conductor/data-SHA12.npz, so a second run only fits): every duple-meter tune,
transposed by the fewest semitones (-5..+6) that take the corpus's own key (music21's analysis, the
tune's "key" and "mode") to C major or A minor, cut into consecutive 2-bar windows at bar lines
(:func:`muse_cli.midi.notes_to_events`, as muse encodes a MIDI file), at most MAX_WINDOWS per tune, each
window's encoder mean. A window k RETURNS to an earlier window j when it has the same 32 events (exact),
or else when their duration-weighted pitch-class cosine is >= 0.9 and their onset Jaccard >= 0.8 (varied;
:mod:`muse_cli.features`, the issue's measure). Fitting uses the training split; the validation split
picks the ridge and shrinkage and is reported as negative log-likelihoods beside no-model baselines.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from muse_cli.conductor import MODES, common_shift
from muse_cli.encoding import DUPLE_METERS, MAX_PITCH, MIN_PITCH, STEPS_PER_QUARTER, WINDOW_STEPS

BUILD = Path("build/conductor")
MAX_WINDOWS = 16  # 32 bars: the longest stretch of a tune fitted
CLOSE_PC, CLOSE_ONSETS = 0.9, 0.8
_LETTER = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
KIND = {"new": 0, "exact": 1, "varied": 2}


def tonic_of(name: str) -> int | None:
    """Pitch class of a music21 key name (C, F#, B-), or None."""
    if not name or name[0].upper() not in _LETTER:
        return None
    return (_LETTER[name[0].upper()] + name.count("#") - name.count("-")) % 12


def tune_windows(tune: dict) -> tuple[np.ndarray, int, str, bool] | None:
    """(events [w, 32] in the common frame, original tonic, mode, whether the tune ends in them) or None."""
    from muse_cli.midi import notes_to_events

    tonic, mode = tonic_of(tune.get("key", "")), tune.get("mode")
    if tonic is None or mode not in MODES or not set(tune.get("meters") or ["?"]) <= set(DUPLE_METERS):
        return None
    shift = common_shift(tonic, mode)
    notes = [
        (p + shift, int(round(s * STEPS_PER_QUARTER)), int(round(e * STEPS_PER_QUARTER))) for p, s, e in tune["notes"]
    ]
    notes = [(p, s, e) for p, s, e in notes if s >= 0 and e > s]
    if not notes or min(p for p, _, _ in notes) < MIN_PITCH or max(p for p, _, _ in notes) > MAX_PITCH:
        return None
    total = int(round(max(e for _, _, e in notes) / WINDOW_STEPS))
    if total < 2:
        return None
    count = min(total, MAX_WINDOWS)
    events = np.stack([notes_to_events(notes, w * WINDOW_STEPS) for w in range(count)])
    return events, tonic, mode, count == total


def return_labels(events: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(kind [w]: 0 new, 1 exact, 2 varied; positives [w, w] bool: the earlier windows each one returns to)."""
    from muse_cli.features import onset_jaccard, pitch_class_cosine
    from muse_cli.midi import events_to_notes

    notes = [events_to_notes(ev) for ev in events]
    w = len(events)
    kind, pos = np.zeros(w, np.int8), np.zeros((w, w), bool)
    for k in range(1, w):
        exact = [j for j in range(k) if np.array_equal(events[j], events[k])]
        if exact:
            kind[k], pos[k, exact] = 1, True
            continue
        close = [
            j
            for j in range(k)
            if pitch_class_cosine(notes[j], notes[k]) >= CLOSE_PC and onset_jaccard(notes[j], notes[k]) >= CLOSE_ONSETS
        ]
        if close:
            kind[k], pos[k, close] = 2, True
    return kind, pos


def build_data(tunes_path: Path, model, build: Path = BUILD) -> dict:
    """The windows, encoder means and return labels of every usable tune (cached per checkpoint)."""
    from muse_cli.cache import checkpoint_identity

    path = build / f"data-{checkpoint_identity(model.checkpoint)[:12]}.npz"
    if path.exists():
        return dict(np.load(path))
    from muse_cli.training.corpus import load_tunes, split_of

    tunes = load_tunes(Path(tunes_path))
    rows = []
    for t in tunes:
        got = tune_windows(t)
        if got is not None:
            rows.append((t, *got))
    print(f"{len(rows)} duple-meter tunes with a key and 2+ windows", file=sys.stderr)
    events = np.concatenate([r[1] for r in rows])
    mu = np.concatenate([model.encode_events(events[i : i + 2048])[0] for i in range(0, len(events), 2048)]).astype(
        np.float32
    )
    labels = [return_labels(r[1]) for r in rows]
    pos = np.zeros((len(events), MAX_WINDOWS), bool)
    at = 0
    for kind_pos in labels:
        w = len(kind_pos[0])
        pos[at : at + w, :w] = kind_pos[1]
        at += w
    split = {"train": 0, "valid": 1, "test": 2}
    data = {
        "events": events.astype(np.uint8),
        "mu": mu,
        "lengths": np.array([len(r[1]) for r in rows]),
        "split": np.array([split[r[0].get("split") or split_of(r[0]["id"])] for r in rows]),
        "tonic": np.array([r[2] for r in rows]),
        "minor": np.array([r[3] == "minor" for r in rows]),
        "ends": np.array([r[4] for r in rows]),
        "kind": np.concatenate([kp[0] for kp in labels]),
        "positives": pos,
    }
    build.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, **data)
    tmp.replace(path)
    return data


def tunes_of(data: dict, split: int) -> list[dict]:
    """Per tune of ``split``: its latents, kinds, positives, mode and whether it ends inside them."""
    out, at = [], 0
    for n, s, minor, ends in zip(data["lengths"], data["split"], data["minor"], data["ends"]):
        if s == split:
            sl = slice(at, at + n)
            out.append(
                {
                    "z": data["mu"][sl].astype(np.float64),
                    "kind": data["kind"][sl],
                    "pos": data["positives"][sl, :n],
                    "mode": "minor" if minor else "major",
                    "ends": bool(ends),
                }
            )
        at += n
    return out


def plan_of(tune: dict) -> list:
    """The (kind, source) plan of a real tune: a return's source is its nearest positive in latent space."""
    plan = []
    for k, kd in enumerate(tune["kind"]):
        if kd == 0:
            plan.append(("new", -1))
            continue
        js = np.flatnonzero(tune["pos"][k, :k])
        j = int(js[np.argmin(np.linalg.norm(tune["z"][js] - tune["z"][k], axis=1))])
        plan.append(("exact" if kd == 1 else "varied", j))
    return plan
