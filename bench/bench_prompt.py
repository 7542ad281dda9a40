"""A prompt's way to its latent region, NumPy against the TensorFlow path muse used before.

    python bench/bench_prompt.py [--runs 3] [--warm 10] [--prompt "a busy Irish reel"]

Each run is a fresh process that loads the shipped head (muse-mel_2bar), embeds the prompt beside
the neutral "a melody" (as muse_cli.prompt.api.prompt_guides does) and computes the head's region:
  numpy  muse_cli.prompt.text (tokenizers + safetensors + NumPy BERT) and PromptHead.region
  tf     transformers' BertTokenizerFast + TFBertModel and the head's tf.keras model
It reports the process's wall time, the in-process seconds of each step, the peak RSS
(resource.getrusage ru_maxrss), the warm seconds per prompt, and how far apart the two regions are.
"""

from __future__ import annotations

import argparse
import json
import os
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
    os.environ.update(USE_TF="1", USE_TORCH="0", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
                      TRANSFORMERS_VERBOSITY="error", TF_CPP_MIN_LOG_LEVEL="3", TOKENIZERS_PARALLELISM="false")
    legacy = os.environ.get("TF_USE_LEGACY_KERAS")
    from transformers import BertTokenizerFast, TFBertModel

    from muse_cli.prompt.text import MAX_TOKENS, model_dir

    if legacy is None:  # transformers sets it for tf_keras, which we lack; tf.keras is Keras 2.15 already
        os.environ.pop("TF_USE_LEGACY_KERAS", None)
    tok = BertTokenizerFast.from_pretrained(str(model_dir()), local_files_only=True)
    bert = TFBertModel.from_pretrained(str(model_dir()), local_files_only=True, use_safetensors=True)

    def embed(texts):
        enc = tok(texts, padding="longest", truncation=True, max_length=MAX_TOKENS, return_tensors="np")
        h = bert(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"], training=False)
        mask = enc["attention_mask"].astype(np.int32)
        return h.last_hidden_state.numpy() * mask[..., None], mask

    return embed


def child(mode: str, prompt: str, warm: int) -> dict:
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
    heavy = sorted(m for m in ("tensorflow", "transformers", "tf_keras", "torch") if m in sys.modules)
    return {"load head s": t_head - t0, "load encoder s": t_encoder - t_head, "first embed s": t_embed - t_encoder,
            "first region s": t_region - t_embed, "cold total s (in process)": t_region - t0,
            "warm embed+region s": statistics.median(times) if times else None,
            "peak RSS MiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "heavy modules": heavy,
            "mean": mean.tolist(), "sigma": sigma.tolist()}


def run(mode: str, prompt: str, warm: int) -> dict:
    t = time.perf_counter()
    out = subprocess.run([sys.executable, __file__, "--child", mode, "--prompt", prompt, "--warm", str(warm)],
                         capture_output=True, text=True, cwd=ROOT)
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
    ap.add_argument("--prompt", default="a busy Irish reel in D major")
    ap.add_argument("--child", choices=("numpy", "tf"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.prompt, args.warm)))
        return
    results: dict[str, list[dict]] = {"numpy": [], "tf": []}
    for _ in range(args.runs):
        for mode in ("numpy", "tf"):  # interleaved: both see the same machine load
            results[mode].append(run(mode, args.prompt, args.warm))
    keys = ("process wall s", "cold total s (in process)", "load head s", "load encoder s", "first embed s",
            "first region s", "warm embed+region s", "peak RSS MiB")
    table = {mode: {k: round(statistics.median(r[k] for r in rs), 4) for k in keys} for mode, rs in results.items()}
    for mode, rs in results.items():
        table[mode]["heavy modules"] = rs[0]["heavy modules"]
    a, b = results["numpy"][0], results["tf"][0]
    table["numpy vs tf"] = {
        "max |mean diff|": float(np.abs(np.subtract(a["mean"], b["mean"])).max()),
        "max |sigma diff|": float(np.abs(np.subtract(a["sigma"], b["sigma"])).max()),
        "cold wall ratio (tf / numpy)": round(table["tf"]["process wall s"] / table["numpy"]["process wall s"], 2),
        "peak RSS ratio (tf / numpy)": round(table["tf"]["peak RSS MiB"] / table["numpy"]["peak RSS MiB"], 2)}
    print(json.dumps({"prompt": args.prompt, "runs": args.runs, "warm repeats": args.warm, **table}, indent=1))


if __name__ == "__main__":
    main()
