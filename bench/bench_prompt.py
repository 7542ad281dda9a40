"""A prompt's way to its latent region, NumPy against the TensorFlow path muse used before.

    python bench/bench_prompt.py [--runs 3] [--warm 10] [--captions 256] [--prompt "a busy Irish reel"]

Each run is a fresh process that loads the shipped head (muse-mel_2bar), embeds the prompt beside
the neutral "a melody" (as muse_cli.prompt.api.prompt_guides does) and computes the head's region:
  numpy  muse_cli.prompt.text (tokenizers + safetensors + NumPy BERT) and PromptHead.region
  tf     transformers' BertTokenizerFast + TFBertModel and the head's tf.keras model
It reports the process's wall time, the in-process seconds of each step, the peak RSS
(resource.getrusage ru_maxrss), the warm seconds per prompt, the throughput on a batch of
caption-like prompts (what fit-prompt embeds, 64 at a time) and how far apart the two regions are.

NumPy's matmuls run on OpenBLAS; numpy 1.23.5 bundles OpenBLAS 0.3.20, which takes some newer Xeons
for a 'Prescott' (SSE3) and runs several times slower there: the report names the kernel it chose
(``OPENBLAS_CORETYPE=SkylakeX`` in the environment overrides it).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
HEAD = ROOT / "muse_cli" / "checkpoints" / "muse-mel_2bar" / "prompt_head"
NEUTRAL = "a melody"


def _numpy_path():
    from muse_cli.prompt.text import load_text_encoder

    enc = load_text_encoder()
    return lambda texts: enc.embed(texts)


def _tf_path():
    from muse_cli.prompt.text import MAX_TOKENS
    from muse_cli.training.reference import reference_bert

    tok, bert = reference_bert()

    def embed(texts):
        enc = tok(texts, padding="longest", truncation=True, max_length=MAX_TOKENS, return_tensors="np")
        h = bert(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"], training=False)
        mask = enc["attention_mask"].astype(np.int32)
        return h.last_hidden_state.numpy() * mask[..., None], mask

    return embed


def _captions(n: int) -> list[str]:
    rng = np.random.default_rng(0)
    words = (
        "a busy slow sad happy Irish German reel jig hornpipe march tune melody in D G A minor major "
        "rising falling high low register with leaps stepwise"
    ).split()
    return [" ".join(rng.choice(words, rng.integers(4, 16))) for _ in range(n)]


def _blas() -> str:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "unknown"
    return ", ".join(
        f"{i.get('internal_api')} {i.get('version')} {i.get('architecture')} x{i.get('num_threads')}"
        for i in threadpool_info()
        if i.get("user_api") == "blas"
    )


def child(mode: str, prompt: str, warm: int, captions: int) -> dict:
    t0 = time.perf_counter()
    from muse_cli.prompt.head import PromptHead

    head = PromptHead.load(HEAD)
    t_head = time.perf_counter()
    embed = _numpy_path() if mode == "numpy" else _tf_path()
    t_encoder = time.perf_counter()
    if mode == "numpy":
        region = head.region
    else:

        def region(h, mask):
            mean, logvar = head.keras((h.astype(np.float32), mask.astype(np.int32)), training=False)
            return mean.numpy(), np.exp(0.5 * logvar.numpy())

    h, mask = embed([prompt, NEUTRAL])
    t_embed = time.perf_counter()
    mean, sigma = region(h, mask)
    t_region = time.perf_counter()
    times = []
    for _ in range(warm):
        t = time.perf_counter()
        region(*embed([prompt, NEUTRAL]))
        times.append(time.perf_counter() - t)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    heavy = sorted(m for m in ("tensorflow", "transformers", "tf_keras", "torch") if m in sys.modules)
    texts = _captions(captions)
    t = time.perf_counter()
    for b in range(0, len(texts), 64):
        embed(texts[b : b + 64])
    rate = len(texts) / (time.perf_counter() - t) if texts else None
    return {
        "load head s": t_head - t0,
        "load encoder s": t_encoder - t_head,
        "first embed s": t_embed - t_encoder,
        "first region s": t_region - t_embed,
        "cold total s (in process)": t_region - t0,
        "warm embed+region s": statistics.median(times) if times else None,
        "peak RSS MiB": rss,
        "heavy modules": heavy,
        "captions/s (64 a batch)": rate,
        "blas": _blas(),
        "mean": mean.tolist(),
        "sigma": sigma.tolist(),
    }


def run(mode: str, prompt: str, warm: int, captions: int) -> dict:
    t = time.perf_counter()
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            mode,
            "--prompt",
            prompt,
            "--warm",
            str(warm),
            "--captions",
            str(captions),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    wall = time.perf_counter() - t
    if out.returncode != 0:
        raise SystemExit(f"{mode} run failed:\n{out.stderr[-2000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["process wall s"] = wall
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3, help="cold processes per path (median reported)")
    ap.add_argument("--warm", type=int, default=10, help="warm embed+region repeats inside each process")
    ap.add_argument("--captions", type=int, default=256, help="caption-like prompts embedded for throughput")
    ap.add_argument("--prompt", default="a busy Irish reel in D major")
    ap.add_argument("--child", choices=("numpy", "tf"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.prompt, args.warm, args.captions)))
        return
    results: dict[str, list[dict]] = {"numpy": [], "tf": []}
    for _ in range(args.runs):
        for mode in ("numpy", "tf"):  # interleaved: both see the same machine load
            results[mode].append(run(mode, args.prompt, 0, 0))  # one prompt, then exit: the cold cost
    warm = {mode: run(mode, args.prompt, args.warm, args.captions) for mode in ("numpy", "tf")}
    keys = (
        "process wall s",
        "cold total s (in process)",
        "load head s",
        "load encoder s",
        "first embed s",
        "first region s",
        "peak RSS MiB",
    )
    table = {mode: {k: round(statistics.median(r[k] for r in rs), 4) for k in keys} for mode, rs in results.items()}
    for mode in table:
        table[mode]["warm embed+region s"] = round(warm[mode]["warm embed+region s"] or 0, 4)
        table[mode]["captions/s (64 a batch)"] = round(warm[mode]["captions/s (64 a batch)"] or 0, 1)
        table[mode]["heavy modules"] = results[mode][0]["heavy modules"]
        table[mode]["blas"] = results[mode][0]["blas"]
    a, b = results["numpy"][0], results["tf"][0]
    table["numpy vs tf"] = {
        "max |mean diff|": float(np.abs(np.subtract(a["mean"], b["mean"])).max()),
        "max |sigma diff|": float(np.abs(np.subtract(a["sigma"], b["sigma"])).max()),
        "cold wall ratio (tf / numpy)": round(table["tf"]["process wall s"] / table["numpy"]["process wall s"], 2),
        "peak RSS ratio (tf / numpy)": round(table["tf"]["peak RSS MiB"] / table["numpy"]["peak RSS MiB"], 2),
    }
    print(json.dumps({"prompt": args.prompt, "runs": args.runs, "warm repeats": args.warm, **table}, indent=1))


if __name__ == "__main__":
    main()
