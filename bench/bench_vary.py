"""How far `muse vary --amount A` moves from its source (make bench): similarity to the source by amount.

    python bench/bench_vary.py [--sources 64] [--variations 8]

Sources: 2-bar windows of the held-out test split as one-window melodies (plus nothing else). For each
source and amount, N variations; per variation, two similarities to its source:
- pitch classes: cosine of the duration-weighted pitch-class histograms;
- rhythm: Jaccard index of the sets of onset steps.
Prints the mean of each at every amount (it should fall smoothly as the amount rises).
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

AMOUNTS = (0.0, 0.1, 0.3, 0.5, 0.8, 1.0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sources", type=int, default=64)
    ap.add_argument("--variations", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    from muse_cli import model as m
    from muse_cli.encoding import WINDOW_STEPS
    from muse_cli.evaluate import load_test_windows
    from muse_cli.features import onset_jaccard, pitch_class_cosine
    from muse_cli.midi import Melody, events_to_notes

    model = m.load_model(None)
    windows = load_test_windows()
    picked = windows[np.random.default_rng(args.seed).permutation(len(windows))[: args.sources]]
    rows = []
    for amount in AMOUNTS:
        pcs, rhythm = [], []
        for i, ev in enumerate(picked):
            source = events_to_notes(ev)
            melody = Melody(f"w{i}", source, WINDOW_STEPS, 120.0)
            for var in m.vary(model, melody, n=args.variations, amount=amount, temperature=1.0, seed=args.seed + i):
                pcs.append(pitch_class_cosine(source, var.notes))
                rhythm.append(onset_jaccard(source, var.notes))
        rows.append(
            {
                "amount": amount,
                "pitch-class cosine": round(float(np.mean(pcs)), 3),
                "onset Jaccard": round(float(np.mean(rhythm)), 3),
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    print("| --amount | " + " | ".join(f"{r['amount']:g}" for r in rows) + " |")
    print("|---" * (len(rows) + 1) + "|")
    for key in ("pitch-class cosine", "onset Jaccard"):
        print(f"| {key} | " + " | ".join(f"{r[key]:.3f}" for r in rows) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
