"""`muse batch` benchmarks (make bench): each measured side by side in this one run, printed as a ratio.

    python bench/bench_batch.py [--checkpoint NAME|PATH] [--big build/cat-mel_2bar_big-random] [--quick]

1. N two-bar samples with MIDI written, on the default checkpoint: `muse batch`
   samples/s against magenta's TrainedModel.sample at its fastest batch size
   (the same checkpoint, no files written). `muse batch` is timed on a warm
   cluster (workers started and the model loaded by a small first run), and also
   end to end as a user runs it (start-up included). Target: warm ratio >= 0.8.
2. The same count on a random-weight checkpoint with cat-mel_2bar_big's shapes:
   `muse batch --sample N` end to end against magenta's own music_vae_generate
   --mode=sample --num_outputs=N end to end. Target: >= 2.5x its samples/s.
3. R renders of 16-second melodies: seconds of audio per wall second with 2
   workers against 1 (the same MIDI files), warm and end to end.

Every number depends on what else the machine is doing; the JSON lines say how
many cores it has and its load average when each part started.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_engine import magenta_generate_cmd  # noqa: E402  (bench/ is on sys.path when run as a script)

BIN = Path(sys.executable).parent
MUSE = str(BIN / "muse")
BATCH_SIZES = (8, 16, 32, 64, 128, 256)  # TrainedModel.sample
WARM_SIZES = (32, 64, 128, 256)  # muse batch --batch-size

# Runs in a fresh interpreter: magenta's TrainedModel.sample at several batch sizes, no files written.
_BASELINE = r"""
import json, sys, time
from muse_cli import registry
from muse_cli.cache import checkpoint_prefix
from muse_cli.configs import build_config
from muse_cli.quiet import quiet_tensorflow
quiet_tensorflow()
from magenta.models.music_vae import TrainedModel
ckpt = registry.resolve(sys.argv[1] or None)
n, sizes = int(sys.argv[2]), [int(x) for x in sys.argv[3].split(",")]
out = {}
for bs in sizes:
    tm = TrainedModel(build_config(ckpt.config, ckpt.hparams), batch_size=bs,
                      checkpoint_dir_or_path=checkpoint_prefix(ckpt.path))
    tm.sample(n=bs, length=32, temperature=1.0)  # warm-up
    count = max(n, 2 * bs) // bs * bs
    t = time.perf_counter()
    tm.sample(n=count, length=32, temperature=1.0)
    out[bs] = count / (time.perf_counter() - t)
    tm._sess.close()
print(json.dumps(out))
"""


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def _run(cmd: list[str]) -> float:
    t = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True)
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, cmd))} failed:\n{p.stderr.decode()[-3000:]}")
    return time.perf_counter() - t


def baseline_rates(checkpoint: str | None, n: int) -> dict[int, float]:
    p = subprocess.run(
        [sys.executable, "-c", _BASELINE, checkpoint or "", str(n), ",".join(map(str, BATCH_SIZES))],
        capture_output=True,
        text=True,
    )
    if p.returncode != 0:
        raise SystemExit(f"baseline failed:\n{p.stderr[-3000:]}")
    return {int(k): v for k, v in json.loads(p.stdout.strip().splitlines()[-1]).items()}


def _warm_up(checkpoint, opts) -> None:  # runs on each worker
    from muse_cli.batch.worker import model_for

    model_for(checkpoint, opts)


def warm_batch_rates(checkpoint: str | None, n: int, tmp: Path, workers: int, sizes) -> dict[int, float]:
    """samples/s of muse batch's library, per batch size, on a cluster whose workers already hold the model."""
    from muse_cli import batch as b

    rates = {}
    with b.open_cluster(None, workers) as client:
        for bs in sizes:
            opts = b.Options(batch_size=bs, tf_threads=max(1, b.machine_cores() // workers))
            # Load the model on every worker first, the way the first tasks of a long run do.
            client.gather(
                [client.submit(_warm_up, checkpoint, opts, workers=[w], pure=False) for w in client.nthreads()]
            )
            jobs = b.sample_jobs(n, tmp / f"timed{bs}", 0, checkpoint=checkpoint)
            log = b.Manifest(tmp / f"timed{bs}.jsonl")
            t = time.perf_counter()
            s = b.run(client, jobs, opts, log)
            rates[bs] = n / (time.perf_counter() - t)
            log.close()
            if s.ok != n:
                raise SystemExit(f"muse batch made {s.ok} of {n}: {s.failed[:3]}")
    return rates


def bench_default(checkpoint: str | None, n: int, workers: int) -> dict:
    base = baseline_rates(checkpoint, n)
    best_bs = max(base, key=base.get)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        warm = warm_batch_rates(checkpoint, n, tmp, workers, WARM_SIZES)
        best_warm = max(warm, key=warm.get)
        cmd = [
            MUSE,
            "batch",
            "--sample",
            str(n),
            "--seed-start",
            "0",
            "-o",
            str(tmp / "e2e"),
            "--batch-size",
            str(best_warm),
        ]
        e2e = n / _run(cmd + (["-c", checkpoint] if checkpoint else []))
    return {
        "part": "1 default checkpoint, 2-bar samples with MIDI",
        "checkpoint": checkpoint or "default",
        "n": n,
        "TrainedModel.sample samples/s by batch size": {k: round(v, 1) for k, v in base.items()},
        "best batch size": best_bs,
        "muse batch warm samples/s by --batch-size": {k: round(v, 1) for k, v in warm.items()},
        "muse batch best --batch-size": best_warm,
        "muse batch end-to-end samples/s (that batch size)": round(e2e, 1),
        "ratio warm / best TrainedModel.sample (target >= 0.8)": round(warm[best_warm] / base[best_bs], 3),
        "ratio end-to-end / best TrainedModel.sample": round(e2e / base[best_bs], 3),
    }


def bench_big(big: Path, n: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        t_muse = _run([MUSE, "batch", "--sample", str(n), "-o", f"{tmp}/muse", "-c", str(big)])
        t_mag = _run(magenta_generate_cmd(big, n, f"{tmp}/magenta"))
        made = (len(list(Path(f"{tmp}/muse").glob("*.mid"))), len(list(Path(f"{tmp}/magenta").glob("*.mid"))))
    return {
        "part": "2 cat-mel_2bar_big shapes (random weights), end to end",
        "n": n,
        "muse batch samples/s": round(n / t_muse, 2),
        "music_vae_generate samples/s": round(n / t_mag, 2),
        "ratio (target >= 2.5)": round(t_mag / t_muse, 2),
        "files (muse, magenta)": made,
    }


def bench_render(checkpoint: str | None, count: int, seconds: float) -> dict:
    """Render throughput with 1 and 2 workers: warm (library, start-up excluded) and end to end (CLI)."""
    from muse_cli import batch as b
    from muse_cli.model import sample_name

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cmd = [MUSE, "batch", "--sample", str(count), "--seconds", str(seconds), "-o", str(tmp / "mid")]
        _run(cmd + (["-c", checkpoint] if checkpoint else []))  # the MIDI files (not timed)
        lines = [
            json.dumps({"op": "render", "midi": f"mid/{sample_name(i, 0)}.mid", "out": f"w{{w}}/{i}.wav"})
            for i in range(count)
        ]
        warm, e2e = {}, {}
        for w in (1, 2):
            jobs_text = "\n".join(x.replace("{w}", str(w)) for x in lines) + "\n"
            with b.open_cluster(None, w) as client:
                first = b.parse_jobs(jobs_text.replace(f"w{w}/", f"warm{w}/"), "warm", tmp)[: 2 * w]
                b.run(client, first, b.Options(), b.Manifest(tmp / f"warm{w}.jsonl"))  # imports FluidSynth
                jobs = b.parse_jobs(jobs_text, "timed", tmp)
                t = time.perf_counter()
                s = b.run(client, jobs, b.Options(), b.Manifest(tmp / f"timed{w}.jsonl"))
                warm[w] = count * seconds / (time.perf_counter() - t)
            if s.ok != count:
                raise SystemExit(f"renders: {s.ok} of {count} made: {s.failed[:3]}")
            shutil.rmtree(tmp / f"w{w}")
            path = tmp / f"render{w}.jsonl"
            path.write_text(jobs_text)
            e2e[w] = count * seconds / _run([MUSE, "batch", str(path), "--workers", str(w)])
    return {
        "part": "3 renders, seconds of audio per wall second",
        "renders": count,
        "seconds each": seconds,
        "warm 1 worker": round(warm[1], 1),
        "warm 2 workers": round(warm[2], 1),
        "ratio warm 2 / 1 workers": round(warm[2] / warm[1], 2),
        "end-to-end 1 worker": round(e2e[1], 1),
        "end-to-end 2 workers": round(e2e[2], 1),
        "ratio end-to-end 2 / 1 workers": round(e2e[2] / e2e[1], 2),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", default=None, help="for parts 1 and 3; default: the embedded model")
    ap.add_argument("--big", type=Path, default=Path("build/cat-mel_2bar_big-random"))
    ap.add_argument("--samples", type=int, default=2000)
    ap.add_argument("--renders", type=int, default=500)
    ap.add_argument("--workers", type=int, default=None, help="part 1; default: one per core")
    ap.add_argument("--quick", action="store_true", help="200 samples, 40 renders")
    ap.add_argument("--skip", default="", help="comma-separated parts to skip: 1,2,3")
    args = ap.parse_args()
    if args.quick:
        args.samples, args.renders = 200, 40
    from muse_cli.batch import machine_cores

    workers = args.workers or machine_cores()
    skip = set(args.skip.split(","))
    header = {
        "cores": machine_cores(),
        "load average at start": _load(),
        "samples": args.samples,
        "renders": args.renders,
    }
    print(json.dumps(header), flush=True)
    if "1" not in skip:
        print(json.dumps({**bench_default(args.checkpoint, args.samples, workers), "load": _load()}), flush=True)
    if "2" not in skip:
        if not (args.big / "model.ckpt.index").exists():
            print(json.dumps({"part": "2", "skipped": f"{args.big} missing; make big"}), flush=True)
        else:
            print(json.dumps({**bench_big(args.big, args.samples), "load": _load()}), flush=True)
    if "3" not in skip:
        print(json.dumps({**bench_render(args.checkpoint, args.renders, 16.0), "load": _load()}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
