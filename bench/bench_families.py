"""MusicVAE's families side by side (make bench): cold `muse sample` per family on both engines, and `-n 64`
against magenta's own `music_vae_generate`, at the published shapes (random weights, built once under build/).

    python bench/bench_families.py [--runs 3] [--n 64] [--configs cat-drums_2bar_small ...] [--tiny]

Each case is a fresh process, as a user's shell runs it; the commands of one case alternate run by run so a noisy
machine slows them alike. The checkpoints have random weights and the exact variables of the published configs
(muse_cli.training.random_weights), so the time is the model's, not the music's. Prints one JSON line per case and
the Markdown table README quotes.
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

from muse_cli.configs import FAMILY_CONFIGS, HIERARCHICAL_CONFIGS

BIN = Path(sys.executable).parent
MUSE = str(BIN / "muse")
GENERATE = str(BIN / "music_vae_generate")
REPO = Path(__file__).resolve().parent.parent
CONFIGS = FAMILY_CONFIGS + HIERARCHICAL_CONFIGS
TINY = {"enc_rnn_size": [16], "dec_rnn_size": [8, 8], "z_size": 4}


def checkpoint(config: str, root: Path, tiny: bool) -> Path:
    """A random-weight checkpoint of ``config`` (published shapes unless ``tiny``), built once."""
    folder = root / (config + ("-tiny" if tiny else ""))
    if not (folder / "model.ckpt.index").exists():
        from muse_cli.training.random_weights import make_random_checkpoint

        hparams = ({**TINY, **({"nade_num_hidden": 5} if config.startswith("nade") else {})}) if tiny else {}
        print(f"building {folder} (random weights) ...", file=sys.stderr, flush=True)
        make_random_checkpoint(folder, config, hparams, seed=0)
    return folder


def wall(cmd: list[str], env: dict, cwd: str) -> float:
    t = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, env={**os.environ, **env}, cwd=cwd)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr.decode()[-2000:]}")
    return time.perf_counter() - t


def median_walls(commands: dict[str, tuple[list[str], dict]], runs: int) -> dict[str, float]:
    """Median wall seconds of each named command, the commands alternating run by run."""
    times: dict[str, list[float]] = {k: [] for k in commands}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(runs):
            for name, (cmd, env) in commands.items():
                out = Path(tmp) / f"{name}-{r}"
                out.mkdir()
                times[name].append(wall([c.replace("{out}", str(out)) for c in cmd], env, str(out)))
    return {k: round(statistics.median(v), 2) for k, v in times.items()}


def chords_for(config: str) -> list[str]:
    return ["--chords", "C G Am F"] if config == "cat-mel_2bar_med_chords" else []


def bench(config: str, ckpt: Path, runs: int, n: int, generate: bool) -> dict:
    sample = [MUSE, "sample", "-c", str(ckpt), "--seed", "1", *chords_for(config), "-o", "{out}/"]
    median_walls({"warm-up": (sample, {"MUSE_ENGINE": "numpy"})}, 1)  # untimed: the first use exports the weights
    cold = median_walls({e: (sample, {"MUSE_ENGINE": e}) for e in ("numpy", "magenta")}, runs)
    many = {"muse numpy": ([*sample[:2], "-n", str(n), *sample[2:]], {"MUSE_ENGINE": "numpy"})}
    if generate and config != "cat-mel_2bar_med_chords":  # music_vae_generate has no chords flag
        many["music_vae_generate"] = (
            [GENERATE, f"--config={config}", f"--checkpoint_file={ckpt / 'model.ckpt'}", "--mode=sample"]
            + [f"--num_outputs={n}", "--output_dir={out}", "--max_batch_size=64"],
            {},
        )
    batch = median_walls(many, runs)
    row = {"config": config, "runs": runs, "cold numpy s": cold["numpy"], "cold magenta s": cold["magenta"]}
    row[f"-n {n} numpy s"] = batch["muse numpy"]
    if "music_vae_generate" in batch:
        row[f"-n {n} music_vae_generate s"] = batch["music_vae_generate"]
        row["speed-up"] = round(batch["music_vae_generate"] / batch["muse numpy"], 1)
    return row


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=CONFIGS)
    ap.add_argument("--build", type=Path, default=REPO / "build" / "families")
    ap.add_argument(
        "--tiny",
        action="store_true",
        help="tiny shapes (the smoke run; music_vae_generate, which has no hparams flag, is left out)",
    )
    ap.add_argument("--skip-generate", action="store_true", help="leave music_vae_generate out")
    args = ap.parse_args(argv)
    rows = []
    for config in args.configs:
        ckpt = checkpoint(config, args.build, args.tiny)
        row = bench(config, ckpt, args.runs, args.n, not (args.skip_generate or args.tiny))
        print(json.dumps(row), flush=True)
        rows.append(row)
    keys = list(dict.fromkeys(k for r in rows for k in r))
    print("\n| " + " | ".join(keys) + " |\n|" + "---|" * len(keys))
    for r in rows:
        print("| " + " | ".join(str(r.get(k, "-")) for k in keys) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
