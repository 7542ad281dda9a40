"""Checkpoints with random weights and real shapes, built with magenta's own model classes.

Used by the tests (tiny melody models) and by ``make big`` (a checkpoint with the
exact variables of cat-mel_2bar_big, about 538 MB) to prove that a config loads,
samples and renders through the same path as a trained checkpoint. The weights
are random, so the music is too: nothing made from these is a trained model.

    python -m muse_cli.training.random_weights OUT_DIR --config cat-mel_2bar_big [--hparams JSON]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from muse_cli.registry import MANIFEST


def make_random_checkpoint(
    out_dir: Path, config: str, hparams: dict | None = None, seed: int = 0, name: str | None = None
) -> Path:
    """Save a randomly initialised inference graph of ``config`` to ``out_dir``/model.ckpt."""
    from muse_cli.quiet import quiet_tensorflow

    quiet_tensorflow()
    import tensorflow.compat.v1 as tf

    from muse_cli.configs import any_config, create_variables

    cfg = any_config(config, hparams)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tf.Graph().as_default():
        tf.set_random_seed(seed)
        create_variables(cfg)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            tf.train.Saver().save(sess, str(out_dir / "model.ckpt"), write_meta_graph=False)
    manifest = {
        "name": name or out_dir.name,
        "config": config,
        "hparams": hparams or {},
        "random_weights": True,
        "seed": seed,
    }
    (out_dir / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
    return out_dir


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Write a random-weight MusicVAE checkpoint.")
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--config", default="cat-mel_2bar_big")
    ap.add_argument("--hparams", default="{}", help="JSON hparam overrides")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    path = make_random_checkpoint(args.out_dir, args.config, json.loads(args.hparams), args.seed)
    size = sum(p.stat().st_size for p in path.iterdir())
    print(f"wrote {path} ({size / 1e6:.0f} MB, random weights, config {args.config})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
