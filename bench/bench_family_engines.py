"""How closely the NumPy engine follows TrainedModel on the one-level family configs (the tensor-level API).

    python bench/bench_family_engines.py [--rows 256] [--published] [--config NAME ...]

For each config, a random-weight checkpoint (tiny hparams, or with --published the default ones) made with
magenta's own classes: the largest |mu| and |sigma| difference of encode_tensors on random 0/1 inputs, and
for decode_tensors at temperatures 0.5 and 1.0 (seeded uniforms) and with u = 0.5: how many sampled steps
differ in their discrete part (one-hot class, NADE units, groove hits) and the largest difference of the
continuous part (groove velocities and offsets). One JSON line per config.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

from muse_cli import engines, registry
from muse_cli.configs import FAMILY_CONFIGS
from muse_cli.engines.base import uniforms
from muse_cli.engines.spec import spec_for
from muse_cli.training.random_weights import make_random_checkpoint

CONFIGS = FAMILY_CONFIGS
TINY = {"enc_rnn_size": [16], "dec_rnn_size": [8, 8], "z_size": 4}


def _split(spec, samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(discrete part, continuous part) of samples."""
    if spec.sampler == "groove":
        k = spec.output_depth // 3
        return samples[..., :k], samples[..., k:]
    return samples, samples[..., :0]


def measure(config: str, rows: int, published: bool, folder: Path) -> dict:
    hparams = {} if published else {**TINY, **({"nade_num_hidden": 5} if config.startswith("nade") else {})}
    path = make_random_checkpoint(folder / config, config, hparams, seed=1)
    ckpt = registry.resolve(str(path))
    np_engine, tf_engine = engines.load(ckpt, "numpy", 64), engines.load(ckpt, "magenta", 64)
    spec, rng = spec_for(config), np.random.default_rng(0)
    inputs = (rng.random((rows, spec.steps, spec.input_depth)) < 0.2).astype(np.float32)
    controls = None
    if spec.control_depth:
        controls = np.eye(spec.control_depth, dtype=np.float32)[rng.integers(0, spec.control_depth, (rows, spec.steps))]
    (mu_n, sigma_n), (mu_t, sigma_t) = (
        np_engine.encode_tensors(inputs, controls),
        tf_engine.encode_tensors(inputs, controls),
    )
    out = {"config": config, "published": published, "rows": rows}
    out["mu_max_abs_diff"] = float(np.abs(mu_n - mu_t).max())
    out["sigma_max_abs_diff"] = float(np.abs(sigma_n - sigma_t).max())
    z = rng.standard_normal((rows, np_engine.z_size)).astype(np.float32)
    seeded = np.stack([uniforms((1, i), spec.steps, spec.output_depth) for i in range(rows)])
    for label, temperature, u in (
        ("T0.5", 0.5, seeded),
        ("T1.0", 1.0, seeded),
        ("u0.5", 1.0, np.full_like(seeded, 0.5)),
    ):
        (disc_n, cont_n), (disc_t, cont_t) = (
            _split(spec, e.decode_tensors(z, temperature, u, controls)) for e in (np_engine, tf_engine)
        )
        differ = np.any(disc_n != disc_t, axis=-1)
        out[f"{label}_steps_differing"] = f"{int(differ.sum())}/{differ.size}"
        out[f"{label}_continuous_max_abs_diff"] = float(np.abs(cont_n - cont_t).max()) if cont_n.size else None
    tf_engine.close()
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=256)
    ap.add_argument("--published", action="store_true", help="magenta's default hparams, not tiny ones")
    ap.add_argument("--config", nargs="*", default=list(CONFIGS))
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        for config in args.config:
            print(json.dumps(measure(config, args.rows, args.published, Path(tmp))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
