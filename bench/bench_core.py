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


def _pc_hist(events: np.ndarray) -> np.ndarray:
    from muse_cli.midi import events_to_notes

    h = np.zeros(12)
    for p, s, e in events_to_notes(events):
        h[p % 12] += e - s
    return h / max(h.sum(), 1e-9)


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    return float(a @ b / (na * nb)) if na > 0 and nb > 0 else 0.0


def bench_continuity(checkpoint: str | None, n: int = 64, seconds: float = 16.0) -> dict:
    """Pitch-class-histogram similarity of neighbouring 2-bar segments in long form vs independent samples."""
    from muse_cli import model as m
    from muse_cli import paths

    model = m.load_model(checkpoint, batch_size=64)
    segs = m.segments_for(seconds, 120.0)
    out = {}
    for rho in (0.0, 0.5, paths.LONGFORM_RHO, 0.95):
        paths = [paths.latent_path(7, i, segs, model.z_size, rho=rho) for i in range(n)]
        events = paths.decode_paths(model, paths, [(7, i) for i in range(n)], 1.0)
        sims = [
            _cos(_pc_hist(ev[k * 32 : (k + 1) * 32]), _pc_hist(ev[(k + 1) * 32 : (k + 2) * 32]))
            for ev in events
            for k in range(segs - 1)
        ]
        out[f"rho {rho}"] = round(float(np.mean(sims)), 3)
    indep = [paths.latent_path(99, i, 1, model.z_size)[0] for i in range(2 * n)]
    ev = model.decode_events(np.stack(indep), 1.0, [(99, i, 1, 0) for i in range(2 * n)])
    base = [_cos(_pc_hist(ev[2 * i]), _pc_hist(ev[2 * i + 1])) for i in range(n)]
    out["independent samples"] = round(float(np.mean(base)), 3)
    out["ratio (default rho / independent)"] = round(out[f"rho {paths.LONGFORM_RHO}"] / out["independent samples"], 2)
    return {"checkpoint": model.name, "neighbouring-segment pitch-class cosine": out, "melodies": n, "seconds": seconds}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", default=None, help="for continuity; default: the embedded model")
    args = ap.parse_args()
    results = {"help": bench_help()}
    print(json.dumps(results["help"]), flush=True)
    results["continuity"] = bench_continuity(args.checkpoint)
    print(json.dumps(results["continuity"]), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
