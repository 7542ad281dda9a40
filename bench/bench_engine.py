"""The engines side by side (make bench): cold whole-process wall time and peak memory, NumPy vs magenta.

    python bench/bench_engine.py [--runs 5] [--big build/big] [--skip-big]

Each case runs as a fresh `muse` process, as a user's shell or pipeline runs it; the two engines
alternate run by run so that a noisy machine slows both alike. Prints one JSON line per case and a
Markdown table (the one in README) at the end.
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

BIN = Path(sys.executable).parent
MUSE = str(BIN / "muse")
REPO = Path(__file__).resolve().parent.parent
TUNE = REPO / "tests" / "data" / "folk_16bar.mid"


def run(cmd: list[str], env: dict | None = None, cwd: str | None = None) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one process."""
    t = time.perf_counter()
    p = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=cwd, env={**os.environ, **(env or {})}
    )
    _, status, usage = os.wait4(p.pid, 0)
    elapsed = time.perf_counter() - t
    err = p.stderr.read().decode()
    p.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{err[-2000:]}")
    return elapsed, usage.ru_maxrss / 1024.0


def compare(name: str, make_cmd, runs: int, engines=("numpy", "magenta")) -> dict:
    """Median wall and peak RSS per engine for the command ``make_cmd(tmpdir)``, engines alternating."""
    results: dict[str, list] = {e: [] for e in engines}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(runs):
            for e in engines:
                out = Path(tmp) / f"{e}-{r}"
                out.mkdir()
                results[e].append(run(make_cmd(out), env={"MUSE_ENGINE": e}, cwd=str(out)))
    row = {"case": name, "runs": runs}
    for e in engines:
        row[f"{e} wall s"] = round(statistics.median(w for w, _ in results[e]), 3)
        row[f"{e} peak MB"] = round(max(m for _, m in results[e]), 0)
    if len(engines) == 2:
        row["speed-up"] = round(row[f"{engines[1]} wall s"] / row[f"{engines[0]} wall s"], 1)
    return row


def cases(big: Path | None, n: int) -> list[tuple]:
    out = [
        (
            "muse sample --seconds 16 (embedded)",
            lambda d: [MUSE, "sample", "--seconds", "16", "--seed", "1", "-o", "s.mid"],
        ),
        (
            "muse decode --prompt 'a slow sad tune in A minor'",
            lambda d: [MUSE, "decode", "--prompt", "a slow sad tune in A minor", "--seed", "1", "-o", "p.mid"],
        ),
        ("muse encode --refine 0 (16-bar tune)", lambda d: [MUSE, "encode", str(TUNE), "--refine", "0", "-o", "z.npz"]),
        ("muse --help", lambda d: [MUSE, "--help"]),
    ]
    if big is not None:
        out.append(
            (
                f"muse sample -n {n} (cat-mel_2bar_big shapes)",
                lambda d: [MUSE, "sample", "-n", str(n), "--seed", "1", "-c", str(big), "-o", "n/"],
            )
        )
    return out


def magenta_generate_cmd(big: Path, n: int, out: str) -> list[str]:
    """magenta's own sampling command on a cat-mel_2bar_big-shaped checkpoint (also used by bench_batch)."""
    return [
        sys.executable,
        "-m",
        "magenta.models.music_vae.music_vae_generate",
        "--config=cat-mel_2bar_big",
        f"--checkpoint_file={big}/model.ckpt",
        "--mode=sample",
        f"--num_outputs={n}",
        f"--output_dir={out}",
        "--log=ERROR",
    ]


def magenta_generate(big: Path, n: int, runs: int) -> dict:
    """magenta's own CLI on the same checkpoint, for the ratio the issue asks for."""
    with tempfile.TemporaryDirectory() as tmp:
        times = [run(magenta_generate_cmd(big, n, f"{tmp}/m{r}")) for r in range(runs)]
    return {
        "case": f"music_vae_generate --num_outputs={n}",
        "runs": runs,
        "wall s": round(statistics.median(w for w, _ in times), 3),
        "peak MB": round(max(m for _, m in times)),
    }


def table(rows: list[dict]) -> str:
    lines = ["| case | numpy: median wall, peak RSS | magenta: median wall, peak RSS | speed-up |", "|---|---|---|---|"]
    for r in rows:
        if "numpy wall s" in r:
            lines.append(
                f"| {r['case']} | {r['numpy wall s']:.2f} s, {r['numpy peak MB']:.0f} MB | "
                f"{r['magenta wall s']:.2f} s, {r['magenta peak MB']:.0f} MB | {r['speed-up']}x |"
            )
        else:
            lines.append(f"| {r['case']} | | {r['wall s']:.2f} s, {r['peak MB']:.0f} MB | |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--big", type=Path, default=REPO / "build" / "big")
    ap.add_argument("--skip-big", action="store_true")
    ap.add_argument("--n", type=int, default=64)
    args = ap.parse_args()
    big = None if args.skip_big or not (args.big / "model.ckpt.index").exists() else args.big.resolve()
    if big is not None:  # the one-time export for the NumPy engine is not what a cold run costs
        with tempfile.TemporaryDirectory() as tmp:
            run([MUSE, "sample", "-c", str(big), "--seed", "1", "-o", f"{tmp}/warm.mid"])
    rows = []
    for name, make_cmd in cases(big, args.n):
        rows.append(compare(name, make_cmd, args.runs))
        print(json.dumps(rows[-1]), flush=True)
    if big is not None:
        rows.append(magenta_generate(big, args.n, max(1, args.runs // 2)))
        print(json.dumps(rows[-1]), flush=True)
        numpy_big = rows[-2]["numpy wall s"]
        print(
            json.dumps({"big: music_vae_generate wall / muse (numpy) wall": round(rows[-1]["wall s"] / numpy_big, 1)}),
            flush=True,
        )
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
