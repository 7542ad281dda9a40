"""Does the conductor make 16 bars that read as one tune? `muse eval --structure`'s measures, with the walk beside it.

    python bench/bench_conductor.py [--tunes build/corpus/tunes.json.gz] [--pieces 200] [--seed 0]
    python bench/bench_conductor.py --select 1,0.7,0.5,0.35 [--pieces 200]     # model selection, validation split
    python bench/bench_conductor.py --cold 5                 # seconds of a cold process making one 32 s piece

Every statistic, the originality and the classifier are muse_cli.structure's (`muse eval --structure`): 16-bar
pieces at 120 qpm against held-out corpus tunes' first 16 bars. The methods: today's walk and `--form AABA`
(structure.GENERATORS); a ceiling (the held-out tunes' own windows encoded and decoded: what a perfect sequence
of latents would give); the conductor (muse_cli.longform.sample_long); the conductor without the scale mask;
with --form AABA; and without the cadence (its last window decoded like the others: real tunes' first 16 bars
seldom end on their tonic). Continuation: each held-out tune's first 8 bars continued by 8 bars, by the
conductor (muse continue) and by the walk (muse continue --walk) (structure.continuation_stats).

--select: the conductor at each latent scale (the spread of its latent draws at temperature 1) against the
validation split's tunes only, so that the report's numbers are not the ones the scale was picked on alone
(the report's held-out tunes are the validation and test splits together, as `muse eval --structure` takes them).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def conductor_generator(scale: bool = True, form: str | None = None, conductor=None, cadence_end: bool = True):
    def make(model, n: int, seed: int) -> list:
        from muse_cli.longform import sample_long
        from muse_cli.structure import PIECE_SECONDS, QPM

        draws = [(seed, i, PIECE_SECONDS) for i in range(n)]
        return sample_long(model, draws, qpm=QPM, form=form, scale=scale, conductor=conductor, cadence_end=cadence_end)

    return make


def own_latents(tunes: list[list]):
    """A ceiling: held-out tunes' own 2-bar windows, encoded and decoded (temperature 1, noise (seed, i, 1, k))."""
    from types import SimpleNamespace

    def make(model, n: int, seed: int) -> list:
        from muse_cli import structure as st
        from muse_cli.midi import events_to_notes

        out = []
        for i, notes in enumerate(tunes[:n]):
            wins = st.sections(st.piece_events(notes))
            mu, _ = model.encode_events(wins)
            events = model.decode_events(mu, 1.0, [(seed, i, 1, k) for k in range(len(wins))])
            out.append(SimpleNamespace(notes=events_to_notes(events.reshape(-1))))
        return out

    return make


COLD = """
import sys, time
t = time.perf_counter()
from muse_cli.longform import sample_long
from muse_cli.model import load_model
data = sample_long(load_model(), [(1, 0, 32.0)])[0].midi()
print(time.perf_counter() - t, "tensorflow" in sys.modules, len(data))
"""


def cold(runs: int) -> dict:
    """Seconds of a cold process that makes one 32-second piece with the conductor (library call, MIDI bytes)."""
    import subprocess

    times, tf = [], False
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", COLD], capture_output=True, text=True, check=True).stdout.split()
        times.append(float(out[0]))
        tf |= out[1] == "True"
    return {"runs": runs, "median_s": round(float(np.median(times)), 3), "tensorflow_imported": tf}


def select(model, args) -> dict:
    """Classifier AUCs of the conductor at each latent scale against the validation split's tunes."""
    from muse_cli import conductor as cond
    from muse_cli import structure as st

    corpus = [t for t in st._corpus(args.tunes, lambda m: None) if st._split(t) == "valid"]
    real = st.features(np.stack([st.piece_events(n) for n in st.held_out(corpus, args.pieces, args.seed)]))
    cols = [st.FEATURES.index(k) for k in st.STRUCTURE]
    shipped = cond.load(model)
    out = {}
    for scale in [float(x) for x in args.select.split(",")]:
        make = conductor_generator(conductor=replace(shipped, meta={**shipped.meta, "latent_scale": scale}))
        table = st.features(np.stack([st.piece_events(g.notes) for g in make(model, args.pieces, args.seed)]))
        out[scale] = {
            "auc_all": round(st.classifier_auc(real, table, args.seed), 3),
            "auc_structure": round(st.classifier_auc(real[:, cols], table[:, cols], args.seed), 3),
            **st.summary(table),
        }
    return {"split": "valid", "real_pieces": len(real), "latent_scales": out}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tunes", type=Path, default=Path("build/corpus/tunes.json.gz"))
    ap.add_argument("--pieces", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--select", default="", help="latent scales to compare on the validation split, e.g. 1,0.7,0.5")
    ap.add_argument("--cold", type=int, default=0, help="only time this many cold processes making one 32 s piece")
    args = ap.parse_args()
    if args.cold:
        print(json.dumps(cold(args.cold)))
        return
    from muse_cli import structure as st
    from muse_cli.model import load_model

    model = load_model()
    if args.select:
        print(json.dumps(select(model, args), indent=1))
        return
    log = lambda msg: print(msg, file=sys.stderr)  # noqa: E731
    real = st.held_out(st._corpus(args.tunes, log), args.pieces, args.seed)
    generators = {
        "held-out tunes' own latents": own_latents(real),
        **st.GENERATORS,  # walk, walk AABA, conductor, conductor AABA: what muse sample makes
        "conductor, no scale mask": conductor_generator(scale=False),
        "conductor, no cadence": conductor_generator(cadence_end=False),
    }
    result = st.evaluate_structure(model, args.pieces, args.seed, args.tunes, generators, log)
    print(st.format_report(result))
    print(json.dumps(result), file=sys.stderr)


if __name__ == "__main__":
    main()
