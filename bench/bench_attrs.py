"""What `--attr NAME=VALUE` does (make bench): each attribute's measured feature at -2, -1, 0, +1, +2.

    python bench/bench_attrs.py [--checkpoint NAME] [--num 64] [--seeds 4] [--file attributes.npz]

For every attribute of the checkpoint's attributes.npz and every value, ``muse_cli.sample`` makes
NUM two-bar melodies with each of SEEDS fixed seeds (the same draws at every value, so only the
slider changes) and the attribute's feature is measured with muse_cli.features (its mean over the
melodies; pitch features over melodies with 2 or more notes). Prints a Markdown table, whether each
row rises monotonically, and the side effects of +1: how far every feature moves, in standard
deviations of that feature at 0. Exits 1 if a row is not monotonic.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

VALUES = (-2.0, -1.0, 0.0, 1.0, 2.0)


def features_of(events: np.ndarray) -> dict[str, np.ndarray]:
    from muse_cli.training.attributes import measured

    return measured(events)


def melodies(model, name: str, value: float, num: int, seeds: int, table: dict | None) -> np.ndarray:
    """Event arrays of NUM two-bar melodies per seed at ``name=value``: through muse_cli.sample(attrs=...)
    for the checkpoint's own file, else the same draws and noise moved by ``table``'s vector."""
    import muse_cli
    from muse_cli.attributes import shifted
    from muse_cli.midi import notes_to_events
    from muse_cli.paths import decode_paths, latent_path

    draws = [(1000 + s, i) for s in range(seeds) for i in range(num)]
    if table is None:
        attrs = {name: value} if value else None
        items = [g for s in range(seeds) for g in muse_cli.sample(model, n=num, seed=1000 + s, attrs=attrs)]
        return np.stack([notes_to_events(g.notes) for g in items])
    delta = (value * table["vectors"][table["names"].index(name)]).astype(np.float32) if value else None
    paths = [shifted(latent_path(s, i, 1, model.z_size), delta) for s, i in draws]
    return np.stack(decode_paths(model, paths, draws, 1.0))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", "-c", default=None)
    ap.add_argument("--num", type=int, default=64, help="melodies per seed and value")
    ap.add_argument("--seeds", type=int, default=4, help="fixed seeds 1000, 1001, ...")
    ap.add_argument(
        "--file", default=None, help="another attributes.npz for the checkpoint (e.g. fitted from a corpus)"
    )
    ap.add_argument("--report-only", action="store_true", help="exit 0 even when a row is not monotonic (smoke runs)")
    args = ap.parse_args()
    import muse_cli
    from muse_cli.attributes import ATTRIBUTES, load

    t0 = time.time()
    model = muse_cli.load_model(args.checkpoint)
    table = load(model, args.file)
    own = None if args.file is None else table
    base = features_of(melodies(model, table["names"][0], 0.0, args.num, args.seeds, own))
    spread = {k: float(np.nanstd(v)) for k, v in base.items()}
    rows, side, ok = {}, {}, True
    for name in table["names"]:
        means = []
        for value in VALUES:
            feats = base if value == 0 else features_of(melodies(model, name, value, args.num, args.seeds, own))
            means.append(float(np.nanmean(feats[name])))
            if value == 1.0:
                side[name] = {k: (np.nanmean(v) - np.nanmean(base[k])) / spread[k] for k, v in feats.items()}
        rows[name] = means
        ok &= bool(np.all(np.diff(means) > 0))
    n = args.num * args.seeds
    print(f"checkpoint {model.name}: {n} two-bar melodies per cell, seeds 1000..{999 + args.seeds}", file=sys.stderr)
    print(f"vectors: {table['meta'].get('method')}", file=sys.stderr)
    print("| attribute (feature) | " + " | ".join(f"{v:+g}" for v in VALUES) + " | monotonic |")
    print("|---|" + "---|" * (len(VALUES) + 1))
    for name, means in rows.items():
        mono = "yes" if np.all(np.diff(means) > 0) else "**no**"
        print(f"| {name} ({ATTRIBUTES[name][0]}) | " + " | ".join(f"{m:.2f}" for m in means) + f" | {mono} |")
    print("\nside effects of +1 (change of each feature at +1, in standard deviations of that feature at 0):\n")
    print("| slider | " + " | ".join(side) + " |")
    print("|---|" + "---|" * len(side))
    for name, moves in side.items():
        print(f"| {name} +1 | " + " | ".join(f"{moves[k]:+.2f}" for k in side) + " |")
    print(json.dumps({"means": rows, "values": VALUES, "seconds": round(time.time() - t0, 1)}), file=sys.stderr)
    return 0 if ok or args.report_only else 1


if __name__ == "__main__":
    sys.exit(main())
