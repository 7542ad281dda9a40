"""Core benchmarks (make bench): start-up and long-form continuity (engines: bench/bench_engine.py).

    python bench/bench_core.py [--checkpoint NAME|PATH]

Every comparison is measured side by side in this one run and printed as a ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

BIN = Path(sys.executable).parent
MUSE = str(BIN / "muse")


def wall(cmd: list[str], env: dict | None = None) -> float:
    t = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, env={**os.environ, **(env or {})})
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{p.stderr.decode()[-2000:]}")
    return time.perf_counter() - t


def bench_help(repeat: int = 5) -> dict:
    times = [wall([MUSE, "--help"]) for _ in range(repeat)]
    return {"muse --help median s": round(statistics.median(times), 3), "runs": repeat}


def bench_continuity(checkpoint: str | None, n: int = 64, seconds: float = 16.0) -> dict:
    """Pitch-class-histogram similarity of neighbouring 2-bar segments in long form vs independent samples."""
    from muse_cli import model as m
    from muse_cli.features import pitch_class_cosine
    from muse_cli.midi import events_to_notes
    from muse_cli.paths import LONGFORM_RHO, decode_paths, latent_path

    def cos(a, b) -> float:
        return pitch_class_cosine(events_to_notes(a), events_to_notes(b))

    model = m.load_model(checkpoint, batch_size=64)
    segs = m.segments_for(seconds, 120.0)
    out = {}
    for rho in (0.0, 0.5, LONGFORM_RHO, 0.95):
        walks = [latent_path(7, i, segs, model.z_size, rho=rho) for i in range(n)]
        events = decode_paths(model, walks, [(7, i) for i in range(n)], 1.0)
        sims = [
            cos(ev[k * 32 : (k + 1) * 32], ev[(k + 1) * 32 : (k + 2) * 32]) for ev in events for k in range(segs - 1)
        ]
        out[f"rho {rho}"] = round(float(np.mean(sims)), 3)
    indep = [latent_path(99, i, 1, model.z_size)[0] for i in range(2 * n)]
    ev = model.decode_events(np.stack(indep), 1.0, [(99, i, 1, 0) for i in range(2 * n)])
    base = [cos(ev[2 * i], ev[2 * i + 1]) for i in range(n)]
    out["independent samples"] = round(float(np.mean(base)), 3)
    out["ratio (default rho / independent)"] = round(out[f"rho {LONGFORM_RHO}"] / out["independent samples"], 2)
    return {"checkpoint": model.name, "neighbouring-segment pitch-class cosine": out, "melodies": n, "seconds": seconds}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", default=None, help="for continuity; default: the embedded model")
    ap.add_argument("--runs", type=int, default=5, help="cold `muse --help` runs")
    ap.add_argument("--n", type=int, default=64, help="melodies per continuity row")
    args = ap.parse_args()
    results = {"help": bench_help(args.runs)}
    print(json.dumps(results["help"]), flush=True)
    results["continuity"] = bench_continuity(args.checkpoint, n=args.n)
    print(json.dumps(results["continuity"]), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
