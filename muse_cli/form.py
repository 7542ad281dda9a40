"""Form and continuation paths: the latent maths of ``--form AABA`` and of ``muse continue``'s new bars.

A *form* is a string of letters A-Z, one per section. A piece of W 2-bar windows splits into len(form)
sections of W // len(form) windows each (the last section also takes the windows left over). The first
section of a letter is new material: the first letter keeps the piece's own walk (so form "A" is the
plain long form), and each later new letter walks from a fresh, independent draw of the prior, away from
what came before. A letter that returns re-uses the latents of its first section, each moved FORM_AMOUNT
of the way toward a fresh prior draw along the great circle (:func:`muse_cli.paths.slerp`, as ``muse vary``
does): the same material, a little varied.

Forms act on standard-normal paths (``latent_path``), so a prompt's region (``walk_around``) takes them too.
Randomness follows :mod:`muse_cli.model`: new letter ``n`` >= 1 of melody (s, i) walks from
``default_rng([s, i, 0, 4, n])``; window ``k`` of a returning section draws its prior point from
``default_rng([s, i, 5, k + 1])`` (prompt candidates append theirs). ``muse continue`` walks on from the
encoder mean of the input's last 2 bars: the same AR(1) walk as long form, started at that mean.
"""

from __future__ import annotations

import re

import numpy as np

from muse_cli.encoding import window_seconds
from muse_cli.errors import UsageError
from muse_cli.paths import LONGFORM_RHO, latent_path, slerp
from muse_cli.results import segments_for

FORM_AMOUNT = 0.15  # how far a returning section moves from its first statement (vary's --amount)
MAX_FORM = 32  # letters in a form


def form_letters(form: str) -> str:
    """``form`` as upper-case letters, or UsageError: 1 to MAX_FORM letters A-Z."""
    if not isinstance(form, str) or not re.fullmatch(r"[A-Za-z]+", form):
        raise UsageError(f"--form must be letters A-Z, one per section (such as AABA), got {form!r}")
    if len(form) > MAX_FORM:
        raise UsageError(f"--form has {len(form)} letters; at most {MAX_FORM} sections (such as AABA)")
    return form.upper()


def check_form(form: str | None, seconds: float | None, qpm: float) -> str | None:
    """The form, checked against the length it shapes: every section needs at least one 2-bar window."""
    if form is None:
        return None
    form = form_letters(form)
    windows = segments_for(seconds, qpm)
    if windows < len(form):
        have = f"{seconds:g} seconds" if seconds is not None else "the default length (one 2-bar window)"
        need = len(form) * window_seconds(qpm)
        raise UsageError(
            f"--form {form} needs {len(form)} 2-bar windows (one per letter), but {have} at {qpm:g} qpm "
            f"make {windows}; give --seconds {need:g} or more"
        )
    return form


def sections(form: str, windows: int) -> list[tuple[str, int, int]]:
    """(letter, first window, windows) of each section of a piece of ``windows`` windows."""
    per = windows // len(form)
    out = [(letter, s * per, per) for s, letter in enumerate(form)]
    letter, start, _ = out[-1]
    out[-1] = (letter, start, windows - start)
    return out


def form_path(path: np.ndarray, form: str, seed: int, index: int, candidate: int = 0) -> np.ndarray:
    """A standard-normal latent path [windows, z] reshaped by ``form`` (see the module docstring)."""
    path = np.array(path, np.float32)
    z_size = path.shape[1]
    tail = [candidate] if candidate else []
    first: dict[str, np.ndarray] = {}
    for letter, start, length in sections(form, len(path)):
        if letter not in first:
            if first:  # a new letter after the first: a walk of its own
                walk = latent_path(seed, index, length, z_size, candidate=candidate, stream=(4, len(first)))
                path[start : start + length] = walk
            first[letter] = path[start : start + length].copy()
            continue
        source = first[letter]
        for j in range(length):
            fresh = np.random.default_rng([seed, index, 5, start + j + 1, *tail]).standard_normal(z_size)
            path[start + j] = slerp(source[j % len(source)], fresh, FORM_AMOUNT)
    return path


def continuation_path(mu: np.ndarray, seed: int, index: int, segments: int, form: str | None = None) -> np.ndarray:
    """The latents of ``segments`` new windows: long form's AR(1) walk from ``mu`` (then ``form``).

    The walk of ``latent_path(seed, index, segments + 1)`` with its start moved to ``mu``: step k
    moves by rho**k * (mu - z[0]), so every step keeps the walk's own innovations."""
    base = latent_path(seed, index, segments + 1, len(mu))
    decay = LONGFORM_RHO ** np.arange(segments + 1, dtype=np.float64)
    walk = (base + decay[:, None] * (np.asarray(mu, np.float64) - base[0])).astype(np.float32)[1:]
    return form_path(walk, form, seed, index) if form else walk


def walk_around(
    mean: np.ndarray,
    scale: np.ndarray,
    seed: int,
    index: int,
    segments: int,
    temperature: float,
    rho: float = LONGFORM_RHO,
    candidate: int = 0,
    form: str | None = None,
) -> np.ndarray:
    """The same AR(1) walk inside a Gaussian N(mean, diag(scale²)) (used by prompts), shaped by ``form``."""
    eps = latent_path(seed, index, segments, len(mean), rho, candidate)
    if form:
        eps = form_path(eps, form, seed, index, candidate)
    return (mean[None, :] + temperature * scale[None, :] * eps).astype(np.float32)
