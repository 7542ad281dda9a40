"""Does a style bring muse's pieces closer to the tunes it was fitted on? (issue 18: `muse fit-style`, `--style`)

    .venv/bin/python bench/bench_style.py [--tunes build/corpus/tunes.json.gz] [--collection oneills1850]
        [--fit 100] [--pieces 100] [--seed 0] [--mean-prior 4] [--cov-prior 64]

One collection of the corpus is split: its training-split duple tunes (up to --fit) are written out as MIDI files
to a temporary folder and fitted as a style (`muse fit-style`'s code, :func:`muse_cli.training.style.fit_style`);
its held-out (valid/test) duple tunes of 16 bars or more (up to --pieces) are the reference. Then --pieces pieces
of 16 bars (`muse sample --seconds 32`) with the default conductor and with the style are each told apart from the
held-out tunes by :func:`muse_cli.structure.classifier_auc` on :func:`muse_cli.structure.features` (all features,
and the structure ones). The fitting tunes of 16 bars or more (their first 16 bars) against the held-out tunes
are the floor (real against real of one collection). The classifier is not what the style fits (it fits
latents), so it is an independent measure. The issue's target: the style lowers the AUC by 0.15 or more.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def split_collection(tunes: list[dict], collection: str, fit: int, held: int, seed: int) -> tuple[list, list]:
    """(grid notes of up to ``fit`` training tunes, of up to ``held`` held-out tunes of 16 bars+) of a collection."""
    from muse_cli.structure import HELD_OUT, PIECE_STEPS, _duple, _split
    from muse_cli.training.corpus import grid_notes

    train, test = [], []
    for t in tunes:
        if t.get("collection") != collection or not _duple(t):
            continue
        notes = grid_notes(t)
        if not notes:
            continue
        if _split(t) == "train":
            train.append(notes)
        elif _split(t) in HELD_OUT and max(e for _, _, e in notes) >= PIECE_STEPS:
            test.append(notes)
    rng = np.random.default_rng([seed, 18, 4])
    pick = lambda rows, n: [rows[i] for i in sorted(rng.permutation(len(rows))[:n])]  # noqa: E731
    return pick(train, fit), pick(test, held)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tunes", type=Path, default=Path("build/corpus/tunes.json.gz"))
    ap.add_argument("--collection", default="oneills1850")
    ap.add_argument("--fit", type=int, default=100, help="training tunes of the collection to fit the style on")
    ap.add_argument("--pieces", type=int, default=100, help="held-out tunes, and pieces per conductor")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--mean-prior", type=float, default=None, help="override training.style.MEAN_PRIOR")
    ap.add_argument("--cov-prior", type=float, default=None, help="override training.style.COV_PRIOR")
    args = ap.parse_args(argv)
    home = tempfile.mkdtemp(prefix="bench_style_")
    os.environ["MUSE_HOME"] = home  # the style is installed here, as fit-style installs it (the model is embedded)
    from muse_cli import styles
    from muse_cli.midi import to_midi_bytes
    from muse_cli.model import load_model, sample
    from muse_cli.structure import (
        FEATURES,
        PIECE_SECONDS,
        PIECE_STEPS,
        QPM,
        STRUCTURE,
        classifier_auc,
        features,
        piece_events,
    )
    from muse_cli.training import style as fitting
    from muse_cli.training.corpus import load_tunes

    if args.mean_prior is not None:
        fitting.MEAN_PRIOR = args.mean_prior
    if args.cov_prior is not None:
        fitting.COV_PRIOR = args.cov_prior
    started = time.monotonic()
    fit_notes, held = split_collection(load_tunes(args.tunes), args.collection, args.fit, args.pieces, args.seed)
    _log(f"{args.collection}: fitting on {len(fit_notes)} training tunes, {len(held)} held-out tunes")
    folder = Path(home) / "tunes"
    folder.mkdir()
    for i, notes in enumerate(fit_notes):
        (folder / f"tune_{i:03d}.mid").write_bytes(to_midi_bytes(notes, QPM))
    model = load_model()
    t0 = time.monotonic()
    data = fitting.fit_style(model, folder, lambda s: None)
    fit_seconds = time.monotonic() - t0
    styles.path_for("bench").parent.mkdir(parents=True, exist_ok=True)
    styles.path_for("bench").write_bytes(data)
    real = features(np.stack([piece_events(n) for n in held]))
    long_enough = [n for n in fit_notes if max(e for _, _, e in n) >= PIECE_STEPS]  # the floor: 16 bars, as held
    sets = {"fitting tunes (real, 16 bars+)": features(np.stack([piece_events(n) for n in long_enough]))}
    for name, style in (("default conductor", None), ("style", "bench")):
        _log(f"sampling {len(held)} pieces of 16 bars: {name}...")
        made = sample(model, len(held), seconds=PIECE_SECONDS, seed=args.seed, qpm=QPM, style=style)
        sets[name] = features(np.stack([piece_events(g.notes) for g in made]))
    cols = [FEATURES.index(k) for k in STRUCTURE]
    auc = {
        name: {
            "all": round(classifier_auc(real, t, args.seed), 4),
            "structure": round(classifier_auc(real[:, cols], t[:, cols], args.seed), 4),
        }
        for name, t in sets.items()
    }
    result = {
        "collection": args.collection,
        "fit_tunes": len(fit_notes),
        "held_out_tunes": len(held),
        "seed": args.seed,
        "priors": {"mean": fitting.MEAN_PRIOR, "cov": fitting.COV_PRIOR, "choice_sd": fitting.CHOICE_SD},
        "auc_vs_held_out": auc,
        "style_lowers_auc_by": round(auc["default conductor"]["all"] - auc["style"]["all"], 4),
        "fit_seconds": round(fit_seconds, 1),
        "seconds": round(time.monotonic() - started, 1),
    }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
