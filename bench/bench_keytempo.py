"""Prompts that name a key or a tempo (make bench): how much note time lies in the named scale, and the
tempo written.

    python bench/bench_keytempo.py [--num 16] [--seed 0] [--seconds S]

For each prompt, --num melodies as `muse sample --prompt TEXT -n NUM --seed SEED` makes them, at three steps:
- today: the candidate choice by features alone, no transposition (muse before key words);
- + transposed: the same melodies, each transposed to the named tonic by its best shift (tonality.to_key);
- + key choice: the candidates whose best transposition has tonality.KEY_FIT of their note time in the
  scale are preferred (and of those, the ones whose estimated tonic is the named one), then transposed:
  what muse does now (measured on the written MIDI, read back).
Per step: mean share of note time in the named scale, the lowest melody's share, how many melodies reach
0.9, and the share of melodies whose estimated key (Krumhansl-Kessler) has the named tonic; and what the
key costs the feature choice: the mean of select.py's score (0 fits the words' features perfectly, lower
fits worse; transposition moves the register) with no choice (--candidates 1), today and now. Then the
tempo written into the MIDI for tempo words, a number, and --qpm given beside them (through the CLI).
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

PROMPTS = (
    "a fast happy reel in D major",
    "a slow sad tune in A minor",
    "a gentle air in F major",
    "a march in Bb major",
    "a lament in E minor",
    "a jig in G major",
)
TEMPO_RUNS = (
    ("a slow air", []),
    ("a fast reel", []),
    ("a reel at 140 bpm", []),
    ("a gentle air", []),
    ("a fast reel", ["--qpm", "100"]),
)


def _row(notes_list: list, key) -> dict:
    from muse_cli.features import estimated_key
    from muse_cli.prompt.tonality import in_scale

    shares = np.array([in_scale(n, key) for n in notes_list])
    tonic = np.mean([estimated_key(n)[0] == key.tonic for n in notes_list])
    return {
        "mean": round(float(shares.mean()), 3),
        "min": round(float(shares.min()), 3),
        ">=0.9": f"{int((shares >= 0.9).sum())}/{len(shares)}",
        "tonic": round(float(tonic), 2),
    }


def _fit(guides, events: list) -> float:
    """Mean score of the melodies' features against the prompt's (select.py's choice score; 0 is a perfect fit)."""
    from muse_cli.prompt.select import TARGET_GUIDANCE, melody_features

    f = guides.probe.standardize([melody_features(ev) for ev in events])
    return round(float(guides.probe.scores(guides.features[0], guides.neutral, f, TARGET_GUIDANCE).mean()), 3)


def key_rows(model, text: str, num: int, seed: int, seconds: float | None) -> dict:
    from muse_cli.midi import events_to_notes, read_melody, written_notes
    from muse_cli.model import segments_for
    from muse_cli.prompt.api import decode_prompted, prompt_guides, sample_with_prompt
    from muse_cli.prompt.tonality import to_key
    from muse_cli.prompt.words import read_words

    key = read_words(text).key
    made = sample_with_prompt(model, text, n=num, seconds=seconds, seed=seed)
    qpm = made[0].qpm
    guides = prompt_guides(model, [text])
    seeds = [(seed, i) for i in range(num)]
    segs = segments_for(seconds, qpm)
    today = decode_prompted(model, guides, [0] * num, seeds, segs, 1.0)
    seconds_ = made[0].seconds

    def cut(events):
        return written_notes(events_to_notes(events), qpm, seconds_)

    now = [read_melody(g.midi(), g.name).notes for g in made]
    keyed = decode_prompted(model, guides, [0] * num, seeds, segs, 1.0, key=key)
    return {
        "feature fit, no choice": _fit(guides, decode_prompted(model, guides, [0] * num, seeds, segs, 1.0, 1)),
        "feature fit today": _fit(guides, today),
        "feature fit now": _fit(guides, keyed),
        "prompt": text,
        "key": key.name,
        "today": _row([cut(ev) for ev in today], key),
        "+ transposed": _row([cut(to_key(ev, key)[0]) for ev in today], key),
        "+ key choice": _row(now, key),
        "out-of-scale notes": int(sum(g.provenance["out_of_key_notes"] for g in made)),
        "notes": int(sum(len(n) for n in now)),
    }


def tempo_rows(seed: int) -> list[dict]:
    import pretty_midi
    from click.testing import CliRunner

    from muse_cli.cli import cli

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for k, (text, extra) in enumerate(TEMPO_RUNS):
            out = Path(tmp) / f"t{k}.mid"
            args = ["sample", "--prompt", text, "--seed", str(seed), "-o", str(out), *extra]
            r = CliRunner().invoke(cli, args, catch_exceptions=False)
            assert r.exit_code == 0, r.output
            qpm = pretty_midi.PrettyMIDI(io.BytesIO(out.read_bytes())).get_tempo_changes()[1][0]
            rows.append({"prompt": text, "options": " ".join(extra), "qpm written": round(float(qpm), 2)})
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--num", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--seconds", type=float, default=None)
    args = ap.parse_args()

    from muse_cli.model import load_model

    model = load_model(None)
    rows = []
    for text in PROMPTS:
        rows.append(key_rows(model, text, args.num, args.seed, args.seconds))
        print(json.dumps(rows[-1]), flush=True)
    steps = ("today", "+ transposed", "+ key choice")
    print(
        f"\n{args.num} melodies per prompt, seed {args.seed}; in scale: mean (lowest) [melodies >= 0.9]; tonic: "
        "share whose estimated key has the named tonic"
    )
    print("| prompt | " + " | ".join(f"{s}: in scale | {s}: tonic" for s in steps) + " | notes out of scale now |")
    print("|---" * (2 * len(steps) + 2) + "|")
    for r in rows:
        cells = [f"{r[s]['mean']:.3f} ({r[s]['min']:.2f}) [{r[s]['>=0.9']}] | {r[s]['tonic']:.2f}" for s in steps]
        print(f"| {r['prompt']} | " + " | ".join(cells) + f" | {r['out-of-scale notes']} of {r['notes']} |")
    fits = ("feature fit, no choice", "feature fit today", "feature fit now")
    print("\n| prompt | " + " | ".join(fits) + " |\n" + "|---" * (len(fits) + 1) + "|")
    for r in rows:
        print(f"| {r['prompt']} | " + " | ".join(f"{r[f]:.3f}" for f in fits) + " |")
    tempos = tempo_rows(args.seed)
    print("\n| prompt | options | qpm written |\n|---|---|---|")
    for t in tempos:
        print(f"| {t['prompt']} | {t['options'] or '-'} | {t['qpm written']:g} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
