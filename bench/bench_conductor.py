"""Does the conductor make 16 bars that read as one tune? Against held-out corpus tunes, with today's walk beside it.

    python bench/bench_conductor.py [--tunes build/corpus/tunes.pkl] [--pieces 200] [--bars 16] [--seed 1]

Real: the test split's duple-meter tunes at least BARS bars long (PIECES of them, in a seeded shuffle, so that
every collection is in), their first BARS bars, in their own keys.
Generated at 120 qpm, temperature 1, seeds (SEED, 0..PIECES-1): the conductor (muse_cli.longform.sample_long)
with and without the scale mask, today's walk (muse_cli.model.sample) and `--form AABA` on the walk.

Per piece (16th grid): note time in its one best scale (the most of any of the 12 major scales, which hold
the natural minors too); close and exact returns (share of 2-bar windows at even bars, after the first, whose
events equal an earlier window's, or whose pitch-class cosine >= 0.9 and onset Jaccard >= 0.8, as bench_form);
notes per bar; range; last note on the tonic (muse_cli.prompt.tonality.estimated_key); last onset in the last
bar on a beat; register drift (second half's mean pitch minus the first's); and the features of
muse_cli.features.measure over the whole piece. AUC: 5-fold cross-validated logistic regression telling real
from generated, on all features and on the structure features alone (returns, scale, ending, drift).
Originality: share of generated 2-bar windows (with notes) equal up to transposition to a window of a training
tune (build/conductor/data-*.npz); the held-out real tunes' own share beside it.

Continuation: the first 4 bars of PIECES // 4 held-out tunes (at 100 qpm), continued 8 bars with seed SEED by
muse_cli.longform.continue_long and by today's muse_cli.form.continue_melody: new bars' note time in the
input's scale (its estimated key), new bars ending on the input's tonic, and the kept tempo.
"""

from __future__ import annotations

import argparse
import glob
import json
import pickle
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

STRUCTURE = ("close_returns", "exact_returns", "in_scale", "ends_on_tonic", "ends_on_beat", "drift")
MAJOR = (0, 2, 4, 5, 7, 9, 11)


def real_pieces(path: Path, steps: int, split: str) -> list[list]:
    from muse_cli.encoding import DUPLE_METERS, MAX_PITCH, MIN_PITCH, STEPS_PER_QUARTER

    with open(path, "rb") as f:
        tunes = pickle.load(f)
    out = []
    for t in tunes:
        if t.get("split") != split or not set(t.get("meters") or ["?"]) <= set(DUPLE_METERS):
            continue
        q = STEPS_PER_QUARTER
        notes = [(int(p), int(round(s * q)), int(round(e * q))) for p, s, e in t["notes"] if s >= 0]
        notes = [(p, s, min(e, steps)) for p, s, e in notes if s < steps and e > s and MIN_PITCH <= p <= MAX_PITCH]
        if notes and max(e for _, _, e in t["notes"]) * q >= steps:
            out.append(notes)
    return [out[i] for i in np.random.default_rng(0).permutation(len(out))]  # collections mixed, not in file order


def windows_of(notes: list, steps: int) -> np.ndarray:
    from muse_cli.encoding import WINDOW_STEPS
    from muse_cli.midi import notes_to_events

    return np.stack([notes_to_events(notes, s) for s in range(0, steps, WINDOW_STEPS)])


def best_scale(notes: list) -> float:
    from muse_cli.prompt.tonality import note_time

    h = note_time(notes)
    return float(max(h[[(t + d) % 12 for d in MAJOR]].sum() for t in range(12)) / max(h.sum(), 1e-9))


def returns(wins: np.ndarray) -> tuple[float, float]:
    from muse_cli.features import onset_jaccard, pitch_class_cosine
    from muse_cli.midi import events_to_notes

    notes = [events_to_notes(w) for w in wins]
    exact = close = 0
    for k in range(1, len(wins)):
        exact += any(np.array_equal(wins[j], wins[k]) for j in range(k))
        close += any(
            pitch_class_cosine(notes[j], notes[k]) >= 0.9 and onset_jaccard(notes[j], notes[k]) >= 0.8 for j in range(k)
        )
    return close / (len(wins) - 1), exact / (len(wins) - 1)


def features(notes: list, steps: int) -> dict:
    from muse_cli.encoding import STEPS_PER_BAR
    from muse_cli.features import measure
    from muse_cli.midi import notes_to_events
    from muse_cli.prompt.tonality import estimated_key

    wins = windows_of(notes, steps)
    close, exact = returns(wins)
    pitches = np.array([p for p, _, _ in notes], float)
    half = np.array([s < steps // 2 for _, s, _ in notes])
    last = notes[-1]
    row = {
        "close_returns": close,
        "exact_returns": exact,
        "in_scale": best_scale(notes),
        "ends_on_tonic": float(last[0] % 12 == estimated_key(notes)[0]),
        "ends_on_beat": float(last[1] >= steps - STEPS_PER_BAR and last[1] % 4 == 0),
        "drift": float(pitches[~half].mean() - pitches[half].mean()) if half.any() and (~half).any() else 0.0,
        "notes_per_bar": len(notes) / (steps / STEPS_PER_BAR),
        "range": float(np.ptp(pitches)),
    }
    row.update({f"f_{k}": v for k, v in measure(notes_to_events(notes, 0, steps)[None])[0].items()})
    return row


def auc(real: list[dict], fake: list[dict], keys) -> float:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x = np.array([[r[k] for k in keys] for r in real + fake])
    y = np.array([0] * len(real) + [1] * len(fake))
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    return float(cross_val_score(clf, x, y, cv=5, scoring="roc_auc").mean())


def shape_key(w: np.ndarray) -> bytes | None:
    """A window up to transposition: note-ons moved so that the lowest is class 2; None without notes."""
    on = w >= 2
    if not on.any():
        return None
    w = w.astype(np.int16).copy()
    w[on] -= w[on].min() - 2
    return w.tobytes()


def originality(pieces: list[list], steps: int, known: set) -> float:
    keys = [shape_key(w) for notes in pieces for w in windows_of(notes, steps)]
    keys = [k for k in keys if k is not None]
    return float(np.mean([k in known for k in keys])) if keys else 0.0


def summary(rows: list[dict]) -> dict:
    keys = ("in_scale", "close_returns", "exact_returns", "notes_per_bar", "range", "ends_on_tonic", "drift")
    out = {k + (" (mean)" if "returns" in k or "ends" in k else " (median)"): None for k in keys}
    for k in keys:
        v = np.array([r[k] for r in rows])
        out[k + (" (mean)" if "returns" in k or "ends" in k else " (median)")] = round(
            float(v.mean() if "returns" in k or "ends" in k else np.median(v)), 3
        )
    return out


def continuation(model, real: list[list], n: int, seed: int) -> dict:
    from muse_cli.form import continue_melody
    from muse_cli.longform import continue_long
    from muse_cli.midi import Melody
    from muse_cli.prompt.tonality import estimated_key
    from muse_cli.prompt.words import Key

    out = {}
    for name in ("conductor", "walk"):
        shares, tonic, tempo = [], [], []
        for t, notes in enumerate(real[:n]):
            head = [(p, s, min(e, 64)) for p, s, e in notes if s < 64]
            mel = Melody(f"tune{t}.mid", head, max(e for _, _, e in head), 100.0)
            tk, mode = estimated_key(head)
            key = Key(tk, "", mode)
            if name == "conductor":
                g = continue_long(model, mel, seconds=8 * 2.4, seed=seed)[0]
            else:
                g = continue_melody(model, mel, seconds=8 * 2.4, seed=seed, qpm=100.0)[0]
            new = [x for x in g.notes if x[1] >= 64]
            from muse_cli.prompt.tonality import in_scale

            shares.append(in_scale(new, key) if new else 1.0)
            tonic.append(bool(new) and new[-1][0] % 12 == tk)
            tempo.append(g.qpm == 100.0 and g.notes[: len(head)] == head)
        out[name] = {
            "inputs": len(shares),
            "new note time in the input's scale (mean)": round(float(np.mean(shares)), 3),
            "ends on the input's tonic": round(float(np.mean(tonic)), 3),
            "input notes and qpm kept": round(float(np.mean(tempo)), 3),
        }
    return out


def select(args) -> None:
    """AUCs of the conductor at each latent scale against the --split's tunes (model selection)."""
    from dataclasses import replace

    from muse_cli import conductor as cond
    from muse_cli.encoding import STEPS_PER_BAR
    from muse_cli.longform import sample_long
    from muse_cli.model import load_model

    steps = args.bars * STEPS_PER_BAR
    model = load_model()
    real = [features(n, steps) for n in real_pieces(args.tunes, steps, args.split)[: args.pieces]]
    shipped = cond.load(model)
    draws = [(args.seed, i, args.bars * 2.0) for i in range(args.pieces)]
    out = {}
    for scale in [float(x) for x in args.latent_scales.split(",")]:
        conductor = replace(shipped, meta={**shipped.meta, "latent_scale": scale})
        rows = [features(g.notes, steps) for g in sample_long(model, draws, conductor=conductor) if g.notes]
        out[scale] = {"auc_all": round(auc(real, rows, list(real[0])), 3)}
        out[scale].update({"auc_structure": round(auc(real, rows, STRUCTURE), 3), **summary(rows)})
    print(json.dumps({"split": args.split, "real_pieces": len(real), "latent_scales": out}, indent=1))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tunes", type=Path, default=Path("build/corpus/tunes.pkl"))
    ap.add_argument("--pieces", type=int, default=200)
    ap.add_argument("--bars", type=int, default=16)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--split", default="test", help="real tunes from: test (report) or valid (model selection)")
    ap.add_argument("--latent-scales", default="", help="e.g. 1,0.7,0.5: the conductor at each latent scale only")
    args = ap.parse_args()
    if args.latent_scales:
        return select(args)
    from muse_cli.encoding import STEPS_PER_BAR
    from muse_cli.longform import sample_long
    from muse_cli.model import load_model, sample

    steps = args.bars * STEPS_PER_BAR
    model = load_model()
    real = real_pieces(args.tunes, steps, args.split)[: args.pieces]
    seconds = args.bars * 2.0  # at 120 qpm
    draws = [(args.seed, i, seconds) for i in range(args.pieces)]
    made = {
        "conductor": [g.notes for g in sample_long(model, draws)],
        "conductor, no scale mask": [g.notes for g in sample_long(model, draws, scale=False)],
        "walk (today)": [g.notes for g in sample(model, args.pieces, seconds, seed=args.seed)],
        "walk --form AABA": [g.notes for g in sample(model, args.pieces, seconds, seed=args.seed, form="AABA")],
    }
    data = np.load(sorted(glob.glob("build/conductor/data-*.npz"))[0])
    known = {shape_key(w) for w, s in zip(data["events"], np.repeat(data["split"], data["lengths"])) if s == 0}
    real_rows = [features(n, steps) for n in real]
    report = {"real (test split)": {**summary(real_rows), "originality": round(originality(real, steps, known), 3)}}
    allk = list(real_rows[0])
    for name, pieces in made.items():
        rows = [features(n, steps) for n in pieces if n]
        report[name] = {
            **summary(rows),
            "originality": round(originality(pieces, steps, known), 3),
            "auc_all": round(auc(real_rows, rows, allk), 3),
            "auc_structure": round(auc(real_rows, rows, STRUCTURE), 3),
        }
    report["continuation"] = continuation(model, real, max(4, args.pieces // 4), args.seed)
    print(json.dumps({"real_pieces": len(real), "bars": args.bars, **report}, indent=1))


if __name__ == "__main__":
    main()
