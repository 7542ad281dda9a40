"""Core benchmarks (make bench): start-up, big-checkpoint sampling vs magenta's CLI, long-form continuity.

    python bench/bench_core.py [--big build/cat-mel_2bar_big-random] [--skip-big] [--n 64]

Every comparison is measured side by side in this one run and printed as a ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
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


def bench_big(big: Path, n: int) -> dict:
    """`muse sample -n N` against magenta's music_vae_generate --mode=sample on the same checkpoint."""
    with tempfile.TemporaryDirectory() as tmp:
        t_muse = wall([MUSE, "sample", "-n", str(n), "--seed", "1", "-c", str(big), "-o", f"{tmp}/muse"])
        t_magenta = wall([sys.executable, "-m", "magenta.models.music_vae.music_vae_generate",
                          "--config=cat-mel_2bar_big", f"--checkpoint_file={big}/model.ckpt", "--mode=sample",
                          f"--num_outputs={n}", f"--output_dir={tmp}/magenta", "--log=ERROR"])
        made = len(list(Path(f"{tmp}/muse").glob("*.mid"))), len(list(Path(f"{tmp}/magenta").glob("*.mid")))
    return {f"muse sample -n {n} wall s": round(t_muse, 1),
            f"music_vae_generate --num_outputs={n} wall s": round(t_magenta, 1),
            "speed-up (magenta wall / muse wall)": round(t_magenta / t_muse, 2),
            "files written (muse, magenta)": made}


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

    model = m.load_model(checkpoint, batch_size=64)
    segs = m.segments_for(seconds, 120.0)
    out = {}
    for rho in (0.0, 0.5, m.LONGFORM_RHO, 0.95):
        paths = [m.latent_path(7, i, segs, model.z_size, rho=rho) for i in range(n)]
        events = m.decode_paths(model, paths, [(7, i) for i in range(n)], 1.0)
        sims = [_cos(_pc_hist(ev[k * 32:(k + 1) * 32]), _pc_hist(ev[(k + 1) * 32:(k + 2) * 32]))
                for ev in events for k in range(segs - 1)]
        out[f"rho {rho}"] = round(float(np.mean(sims)), 3)
    indep = [m.latent_path(99, i, 1, model.z_size)[0] for i in range(2 * n)]
    ev = model.decode_events(np.stack(indep), 1.0, [(99, i, 1, 0) for i in range(2 * n)])
    base = [_cos(_pc_hist(ev[2 * i]), _pc_hist(ev[2 * i + 1])) for i in range(n)]
    out["independent samples"] = round(float(np.mean(base)), 3)
    out["ratio (default rho / independent)"] = round(out[f"rho {m.LONGFORM_RHO}"] / out["independent samples"], 2)
    return {"checkpoint": model.name, "neighbouring-segment pitch-class cosine": out, "melodies": n,
            "seconds": seconds}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--big", type=Path, default=Path("build/cat-mel_2bar_big-random"))
    ap.add_argument("--skip-big", action="store_true")
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--checkpoint", default=None, help="for continuity; default: the embedded model")
    args = ap.parse_args()
    results = {"help": bench_help()}
    print(json.dumps(results["help"]), flush=True)
    results["continuity"] = bench_continuity(args.checkpoint)
    print(json.dumps(results["continuity"]), flush=True)
    if not args.skip_big:
        results["big"] = bench_big(args.big, args.n)
        print(json.dumps(results["big"]), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
