"""Does `--form AABA` repeat and contrast as asked, and how does that compare with real tunes? (make bench)

    python bench/bench_form.py [--tunes build/corpus/tunes.json.gz] [--pieces 64] [--bars 16] [--form AABA]

Generated: PIECES melodies of BARS bars from the default model with --form FORM on the walk (`--walk`; the
conductor's forms are measured by `muse eval --structure`), and the same seeds with
today's long form (no form). Each piece splits into the form's sections (as muse_cli.form.sections does);
per pair of sections, two similarities (muse_cli.features, as bench_vary.py uses them): the cosine of the
duration-weighted pitch-class histograms and the Jaccard index of the onset steps. Printed: A to its
return A' (sections 1 and 2), A to B (1 and 3), and neighbouring sections of the plain walk.

Returns of the opening: how often bars 1-2 come back later, exactly (the same 32 steps) or closely (pitch-class
cosine >= 0.9 and onset Jaccard >= 0.8), at any later bar line that leaves the opening behind. Measured
the same way on the generated pieces and on the corpus's real tunes in duple meters, each cut to its
first BARS bars of 4/4 (tunes shorter than that are left out). Without the corpus file
(muse_cli.training.corpus builds it) that part is skipped, and said so.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

CLOSE_PC, CLOSE_ONSETS = 0.9, 0.8  # "close": both measures at least this


def section_notes(notes: list, form: str, windows: int) -> list[list]:
    """Each section's notes, with steps from the section's start."""
    from muse_cli.encoding import WINDOW_STEPS
    from muse_cli.form import sections
    from muse_cli.midi import events_to_notes, notes_to_events

    return [
        events_to_notes(notes_to_events(notes, start * WINDOW_STEPS, length * WINDOW_STEPS))
        for _, start, length in sections(form, windows)
    ]


def similarity(a: list, b: list) -> tuple[float, float]:
    from muse_cli.features import onset_jaccard, pitch_class_cosine

    return pitch_class_cosine(a, b), onset_jaccard(a, b)


def opening_returns(notes: list, total_steps: int, bar_steps: int) -> tuple[bool, bool, float]:
    """(exact, close, best mean similarity): bars 1-2 against every later 2-bar window at a bar line."""
    from muse_cli.encoding import WINDOW_STEPS
    from muse_cli.midi import events_to_notes, notes_to_events

    opening = notes_to_events(notes, 0, WINDOW_STEPS)
    first = events_to_notes(opening)
    exact = close = False
    best = 0.0
    for start in range(WINDOW_STEPS, total_steps - WINDOW_STEPS + 1, bar_steps):
        ev = notes_to_events(notes, start, WINDOW_STEPS)
        pc, on = similarity(first, events_to_notes(ev))
        exact |= bool(np.array_equal(ev, opening))
        close |= pc >= CLOSE_PC and on >= CLOSE_ONSETS
        best = max(best, (pc + on) / 2)
    return exact, close, best


def corpus_notes(path: Path, steps: int) -> list[tuple[list, int]]:
    """(notes on the 16th grid, bar length in steps) of every duple-meter tune at least ``steps`` long, cut there."""
    from muse_cli.encoding import DUPLE_METERS, STEPS_PER_QUARTER
    from muse_cli.training.corpus import grid_notes, load_tunes

    tunes = load_tunes(path)
    out = []
    for t in tunes:
        if not t.get("notes") or not set(t.get("meters") or ["?"]) <= set(DUPLE_METERS):
            continue
        notes = grid_notes(t)
        bar = int(round(t["bar_quarters"] * STEPS_PER_QUARTER))
        if notes and bar > 0 and max(e for _, _, e in t["notes"]) * STEPS_PER_QUARTER >= steps:
            out.append(([(p, s, min(e, steps)) for p, s, e in notes if s < steps], bar))
    return out


def returns_row(name: str, items: list[tuple[list, int]], steps: int) -> dict:
    r = [opening_returns(notes, steps, bar) for notes, bar in items]
    return {
        "what": name,
        "pieces": len(r),
        "bars 1-2 return exactly": round(float(np.mean([x[0] for x in r])), 3),
        "bars 1-2 return closely": round(float(np.mean([x[1] for x in r])), 3),
        "best similarity of a later window": round(float(np.mean([x[2] for x in r])), 3),
    }


def pair_row(name: str, pairs: list[tuple[list, list]]) -> dict:
    sims = np.array([similarity(a, b) for a, b in pairs])
    return {
        "pair": name,
        "pitch-class cosine": round(float(sims[:, 0].mean()), 3),
        "onset Jaccard": round(float(sims[:, 1].mean()), 3),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--tunes", type=Path, default=Path("build/corpus/tunes.json.gz"), help="corpus file (muse_cli.training.corpus)"
    )
    ap.add_argument("--pieces", type=int, default=64)
    ap.add_argument("--bars", type=int, default=16)
    ap.add_argument("--form", default="AABA")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    from muse_cli import model as m
    from muse_cli.encoding import QUARTERS_PER_BAR, STEPS_PER_BAR, WINDOW_BARS

    model = m.load_model(None)
    seconds = args.bars * QUARTERS_PER_BAR * 60.0 / 120.0
    windows, steps = args.bars // WINDOW_BARS, args.bars * STEPS_PER_BAR
    shaped = m.sample(model, n=args.pieces, seconds=seconds, seed=args.seed, form=args.form, long="walk")
    plain = m.sample(model, n=args.pieces, seconds=seconds, seed=args.seed, long="walk")
    secs = [section_notes(g.notes, args.form, windows) for g in shaped]
    walk = [section_notes(g.notes, args.form, windows) for g in plain]
    f = args.form
    rows = []
    pairs = [(a, b) for a in range(len(f)) for b in range(a + 1, len(f)) if a == 0 or b == a + 1]
    for i, j in pairs:
        rows.append(pair_row(f"--form {f}: {f[i]}{i + 1} to {f[j]}{j + 1}", [(s[i], s[j]) for s in secs]))
    rows.append(pair_row("no form: neighbouring sections", [(s[k], s[k + 1]) for s in walk for k in range(len(f) - 1)]))
    rows.append(pair_row("no form: sections 1 and 3", [(s[0], s[2]) for s in walk if len(s) > 2]))
    for row in rows:
        print(json.dumps(row), flush=True)
    ret = [
        returns_row(f"--form {f}", [(g.notes, STEPS_PER_BAR) for g in shaped], steps),
        returns_row("no form", [(g.notes, STEPS_PER_BAR) for g in plain], steps),
    ]
    if args.tunes.exists():
        ret.append(returns_row(f"corpus tunes ({args.tunes.name})", corpus_notes(args.tunes, steps), steps))
    else:
        print(f"no corpus at {args.tunes}: real tunes skipped (build it: python -m muse_cli.training.corpus)")
    for row in ret:
        print(json.dumps(row), flush=True)
    print("\n| sections | pitch-class cosine | onset Jaccard |\n|---|---|---|")
    for r in rows:
        print(f"| {r['pair']} | {r['pitch-class cosine']:.3f} | {r['onset Jaccard']:.3f} |")
    keys = list(ret[0])[2:]
    print("\n| " + f"{args.bars} bars | pieces | " + " | ".join(keys) + " |\n" + "|---" * (len(keys) + 2) + "|")
    for r in ret:
        print(f"| {r['what']} | {r['pieces']} | " + " | ".join(f"{r[k]:.3f}" for k in keys) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
