"""Latent paths: long form's AR(1) walk, slerp, and decoding many paths in shared batches.

A path is one latent per 2-bar window of a melody. Melody ``index`` of seed ``s`` walks from
``default_rng([s, index, 0])``, so it depends on its own seed and index only.
"""

from __future__ import annotations

import math

import numpy as np

from muse_cli.engines import Engine

LONGFORM_RHO = 0.85  # correlation between neighbouring segments' latents in long form


def latent_path(
    seed: int,
    index: int,
    segments: int,
    z_size: int,
    rho: float = LONGFORM_RHO,
    candidate: int = 0,
    stream: tuple[int, ...] = (),
) -> np.ndarray:
    """A smooth latent path: an AR(1) walk that keeps every step distributed as the prior N(0, I).

    ``candidate`` > 0 draws an alternative path for the same melody (prompt candidates); ``stream``
    another walk of it (a new section of a form, :mod:`muse_cli.form`)."""
    rng = np.random.default_rng([seed, index, 0] + ([candidate] if candidate else []) + list(stream))
    z = np.empty((segments, z_size), np.float32)
    z[0] = rng.standard_normal(z_size)
    for k in range(1, segments):
        z[k] = rho * z[k - 1] + math.sqrt(1 - rho * rho) * rng.standard_normal(z_size)
    return z


def slerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """Spherical interpolation, as magenta's music_vae_generate does for --mode=interpolate."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    omega = np.arccos(np.clip(np.dot(a / np.linalg.norm(a), b / np.linalg.norm(b)), -1.0, 1.0))
    so = np.sin(omega)
    if so < 1e-8:
        return ((1.0 - t) * a + t * b).astype(np.float32)
    return (np.sin((1.0 - t) * omega) / so * a + np.sin(t * omega) / so * b).astype(np.float32)


def decode_paths(
    model: Engine, paths: list[np.ndarray], seeds: list[tuple[int, ...]], temperature: float
) -> list[np.ndarray]:
    """Decode several latent paths (one per melody) in shared batches; join each path's windows.

    ``seeds[m]`` is (seed, index) or (seed, index, candidate): window k of path m decodes with
    noise (seed, index, 1, k) or (seed, index, 1, k, candidate)."""
    flat = np.concatenate(paths, axis=0)
    noise = [(s[0], s[1], 1, k, *s[2:]) for s, p in zip(seeds, paths) for k in range(len(p))]
    events = model.decode_events(flat, temperature=temperature, noise_seeds=noise)
    out, pos = [], 0
    for p in paths:
        out.append(events[pos : pos + len(p)].reshape(-1))
        pos += len(p)
    return out
