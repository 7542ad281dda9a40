"""Form and continuation: the recipes of ``--form AABA`` and ``muse continue``, on top of :mod:`muse_cli.model`.

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
from pathlib import Path

import numpy as np

from muse_cli.encoding import QUARTERS_PER_BAR, STEPS_PER_BAR, WINDOW_STEPS, window_seconds
from muse_cli.errors import UsageError
from muse_cli.model import Generated, new_seed, provenance, sample_seconds, segments_for
from muse_cli.paths import LONGFORM_RHO, decode_paths, latent_path, slerp
from muse_cli.refine import means

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


def continue_name(source: str, seed: int, index: int) -> str:
    """The file stem of continuation ``index`` (0-based) of ``source`` with ``seed``: tune.cont_s3_001."""
    stem = Path(source).stem if source not in ("-", "", "stdin") else "stdin"
    return f"{stem}.cont_s{seed}_{index + 1:03d}"


def continuation_path(mu: np.ndarray, seed: int, index: int, segments: int, form: str | None = None) -> np.ndarray:
    """The latents of ``segments`` new windows: long form's AR(1) walk from ``mu`` (then ``form``).

    The walk of ``latent_path(seed, index, segments + 1)`` with its start moved to ``mu``: step k
    moves by rho**k * (mu - z[0]), so every step keeps the walk's own innovations."""
    base = latent_path(seed, index, segments + 1, len(mu))
    decay = LONGFORM_RHO ** np.arange(segments + 1, dtype=np.float64)
    walk = (base + decay[:, None] * (np.asarray(mu, np.float64) - base[0])).astype(np.float32)[1:]
    return form_path(walk, form, seed, index) if form else walk


def continue_melody(
    model,
    melody,
    seconds: float | None = None,
    n: int = 1,
    temperature: float = 1.0,
    seed: int | None = None,
    qpm: float = 120.0,
    form: str | None = None,
    keep: bool = False,
    attrs: dict | None = None,
) -> list:
    """``n`` continuations of ``melody``: its notes as written, then ``seconds`` of new bars from the bar line.

    The new bars walk on from the encoder mean of the melody's last 2 bars (:func:`continuation_path`);
    continuation ``v`` decodes window k with noise (seed, v, 1, k). ``keep`` returns only the new bars;
    ``attrs`` moves the new bars' latents by the checkpoint's attribute vectors (:mod:`muse_cli.attributes`)."""
    from muse_cli.attributes import attr_offset, shifted
    from muse_cli.midi import events_to_notes, notes_to_events

    seed = new_seed() if seed is None else int(seed)
    form = check_form(form, seconds, qpm)
    segments = segments_for(seconds, qpm)
    join = -(-melody.total_steps // STEPS_PER_BAR) * STEPS_PER_BAR  # the input, padded to a bar line
    mu = means(model, notes_to_events(melody.notes, max(0, join - WINDOW_STEPS))[None])
    delta, extra = attr_offset(model, attrs)
    paths = [shifted(continuation_path(mu[0], seed, v, segments, form), delta) for v in range(n)]
    events = decode_paths(model, paths, [(seed, v) for v in range(n)], temperature)
    new_seconds = sample_seconds(seconds, qpm)
    join_seconds = join / STEPS_PER_BAR * QUARTERS_PER_BAR * 60.0 / qpm
    said = {**({"form": form} if form else {}), **({"keep": True} if keep else {}), **extra}
    prov = provenance(model, seed, temperature, qpm, mode="continue", source=melody.source, seconds=new_seconds, **said)
    out = []
    for v, ev in enumerate(events):
        notes = events_to_notes(ev) if keep else list(melody.notes) + events_to_notes(ev, offset=join)
        length = new_seconds if keep else join_seconds + new_seconds
        out.append(Generated(continue_name(melody.source, seed, v), notes, qpm, length, {**prov, "index": v}))
    return out
