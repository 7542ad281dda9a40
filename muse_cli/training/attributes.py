"""Fitting attribute vectors for ``--attr`` (MusicVAE paper, Roberts et al. 2018, §5.3).

The vectors are fitted from the checkpoint's own prior: :data:`FIT_SAMPLES` latents drawn from
N(0, I) are decoded (temperature 1, seeded), each decoded 2-bar window is measured with
:mod:`muse_cli.features`, and for each attribute ``v = SCALE * (mean z of the top quartile - mean z of
the bottom quartile)``. ``muse fit-attrs --tunes`` fits from the encoder means of a corpus's training
windows instead (the paper's way). :mod:`muse_cli.attributes` reads the file this writes and applies it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from muse_cli.attributes import ATTRIBUTES, shifted, to_bytes
from muse_cli.errors import UsageError

FIT_SAMPLES = 8192
QUANTILE = 0.25  # top vs bottom quartile
SCALE = 0.5  # v = SCALE * (high mean - low mean): +1 goes from the middle to about the top quartile's mean
TABLE_SAMPLES = 256  # fresh draws measured at -1, 0, +1 for `muse attrs`
TABLE_VALUES = (-1.0, 0.0, 1.0)


def measured(events: np.ndarray) -> dict[str, np.ndarray]:
    """Each attribute's feature of each window (NaN where it needs two notes and the window has fewer)."""
    from muse_cli.features import measure

    rows = measure(events)
    count = np.array([r["note_count"] for r in rows])
    out = {}
    for name, (feature, _, needs_notes) in ATTRIBUTES.items():
        values = np.array([r[feature] for r in rows], float)
        out[name] = np.where(count >= 2, values, np.nan) if needs_notes else values
    return out


def prior_windows(model, n: int, seed: int, delta: np.ndarray | None = None, stream: int = 7) -> tuple:
    """(z [n, z], decoded events [n, 32]) of ``n`` prior draws (moved by ``delta``), temperature 1, seeded."""
    z = np.random.default_rng([seed, stream]).standard_normal((n, model.z_size)).astype(np.float32)
    events = model.decode_events(shifted(z, delta), temperature=1.0, noise_seeds=[(seed, stream, i) for i in range(n)])
    return z, events


def vectors_from(z: np.ndarray, feats: dict[str, np.ndarray], quantile: float = QUANTILE) -> np.ndarray:
    """SCALE * (mean z of the top ``quantile`` - mean z of the bottom one) per attribute, [k, z]."""
    out = []
    for name in ATTRIBUTES:
        f = feats[name]
        ok = np.isfinite(f)
        lo, hi = np.quantile(f[ok], [quantile, 1.0 - quantile])
        low, high = ok & (f <= lo), ok & (f >= hi)
        if not low.any() or not high.any() or lo == hi:
            raise UsageError(f"the decoded samples do not vary in {name}; fit with more --samples")
        out.append(SCALE * (z[high].mean(0) - z[low].mean(0)))
    return np.stack(out).astype(np.float32)


def fit(model, samples: int = FIT_SAMPLES, seed: int = 0, windows: np.ndarray | None = None) -> bytes:
    """The attribute file of ``model``'s checkpoint, fitted from ``samples`` of its own prior draws, or
    (the paper's way) from the encoder means of corpus ``windows`` (event arrays [n, 32]) when given."""
    from muse_cli.cache import checkpoint_identity

    if windows is None:
        z, events = prior_windows(model, samples, seed)
        method = f"prior: {samples} draws decoded at temperature 1"
    else:
        from muse_cli.training.prompt_head import encode_windows

        events = np.asarray(windows)
        z = encode_windows(model, events, progress=False)
        method = f"corpus: encoder means of {len(events)} training windows"
    vectors = vectors_from(z, measured(events))
    names = list(ATTRIBUTES)
    table = {}
    for k, name in enumerate(names):
        row = []
        for value in TABLE_VALUES:
            delta = None if value == 0 else (value * vectors[k]).astype(np.float32)
            _, ev = prior_windows(model, TABLE_SAMPLES, seed, delta, stream=8)
            row.append(round(float(np.nanmean(measured(ev)[name])), 3))
        table[name] = row
    meta = {
        "checkpoint": model.name,
        "checkpoint_sha256": checkpoint_identity(model.checkpoint),
        "method": f"{method}; top minus bottom quartile mean z, times {SCALE}",
        "samples": len(events),
        "seed": seed,
        "quantile": QUANTILE,
        "scale": SCALE,
        "features": {n: ATTRIBUTES[n][0] for n in names},
        "table_values": list(TABLE_VALUES),
        "table": table,
    }
    return to_bytes(vectors, names, meta)


def corpus_windows(tunes: Path, count: int, seed: int) -> np.ndarray:
    """Up to ``count`` 2-bar windows of the training split of a corpus file (muse_cli.training.corpus)."""
    from muse_cli.training.captions import collect_windows
    from muse_cli.training.corpus import load_tunes

    loaded = load_tunes(tunes)
    windows = collect_windows(loaded, count, seed=seed).events
    if len(windows) < 64:
        raise UsageError(f"--tunes {tunes}: only {len(windows)} training windows in 2/4, 4/4 or 2/2; 64 or more needed")
    return windows
