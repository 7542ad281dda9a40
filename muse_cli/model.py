"""The one recipe for sample, encode, decode, interpolate and long form, on any engine.

Everything here works on melody *event arrays*: int arrays of magenta's
melody classes (0 = hold/rest, 1 = note off, 2 + pitch - 21 = note on), 16 steps
per bar, 32 steps per 2-bar window. :mod:`muse_cli.midi` turns them into notes
and MIDI files.

Randomness is explicit: item ``i`` of a request with seed ``s`` draws its latent
from ``default_rng([s, i, 0])`` and the decoder's sampling noise for segment
``k`` from ``default_rng([s, i, 1, k])``. A melody therefore depends on its own
seed and index only, never on batch size or on which process decoded it.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from muse_cli import settings
from muse_cli.attributes import attr_offset, shifted
from muse_cli.encoding import (  # noqa: F401
    HOLD,
    MIN_PITCH,
    NOTE_OFF,
    NUM_CLASSES,
    QUARTERS_PER_BAR,
    STEPS_PER_BAR,
    WINDOW_BARS,
    WINDOW_STEPS,
    window_seconds,
)
from muse_cli.engines import Engine, gumbel  # noqa: F401  (re-exported: muse_cli.model.gumbel)
from muse_cli.errors import CheckpointError, UsageError
from muse_cli.paths import decode_paths, latent_path, slerp
from muse_cli.refine import DEFAULT_REFINE, means

MAX_BATCH = 64  # the fastest TrainedModel batch size measured for cat-mel_2bar_big on 2 cores (bench/)

Model = Engine  # what load_model returns: a loaded checkpoint in one of the engines


def segments_for(seconds: float | None, qpm: float) -> int:
    """Number of 2-bar segments needed to cover ``seconds`` at ``qpm``."""
    if seconds is None:
        return 1
    seg_seconds = window_seconds(qpm)
    return max(1, math.ceil(seconds / seg_seconds - 1e-9))


# -- the library API (re-exported by muse_cli) ---------------------------------
@dataclass(frozen=True)
class Generated:
    """A generated melody: notes on the 16th-note grid, tempo, length and provenance."""

    name: str  # a file stem: sample_s7_001, tune.decoded, interp_003 ...
    notes: list
    qpm: float
    seconds: float
    provenance: dict

    def midi(self) -> bytes:
        from muse_cli.midi import to_midi_bytes

        return to_midi_bytes(self.notes, self.qpm, self.provenance, self.seconds)


_LOADED: dict[tuple, Model] = {}  # one model per checkpoint, engine (and graph batch size) per process


def provenance(model: Model, seed: int, temperature: float, qpm: float, **rest) -> dict:
    """What a melody records of how it was made (written into its MIDI): the checkpoint, seed, temperature and
    tempo, then ``rest`` in order. The order is part of the MIDI's bytes."""
    return {"checkpoint": model.name, "seed": seed, "temperature": temperature, "qpm": qpm, **rest}


def load_model(checkpoint: str | None = None, batch_size: int = 8, engine: str | None = None) -> Model:
    """Load a checkpoint by registry name or path (default: the embedded model), once per process.

    ``engine`` is "numpy" or "magenta" (default: MUSE_ENGINE, else numpy); ``batch_size`` is the
    magenta engine's graph batch size (the NumPy engine has none)."""
    from muse_cli import engines, registry

    engine = engine or settings.engine()
    ckpt = registry.resolve(checkpoint)
    if not ckpt.sampling:
        raise CheckpointError(
            f"checkpoint {ckpt.name} uses config {ckpt.config}, which muse can download but "
            "not play: muse drives 2-bar melody models (cat-mel_2bar_*)"
        )
    key = (
        str(Path(ckpt.path).resolve()),
        ckpt.config,
        repr(sorted(ckpt.hparams.items())),
        engine,
        batch_size if engine == "magenta" else 0,
    )
    if key not in _LOADED:
        _LOADED[key] = engines.load(ckpt, engine, batch_size=batch_size)
    return _LOADED[key]


def batch_size_for(rows: int) -> int:
    """The graph batch size for a request of ``rows`` windows: a power of two up to MAX_BATCH."""
    return int(min(MAX_BATCH, 2 ** math.ceil(math.log2(max(1, rows)))))


def new_seed() -> int:
    return int.from_bytes(os.urandom(4), "little") & 0x7FFFFFFF


def sample_seconds(seconds: float | None, qpm: float) -> float:
    """A sample's length: ``seconds`` as asked, else one 2-bar window at ``qpm``."""
    return float(seconds) if seconds is not None else window_seconds(qpm)


def sample_name(seed: int, index: int) -> str:
    """The file stem of melody ``index`` (from 0) drawn with ``seed``: sample_s42_001."""
    return f"sample_s{seed}_{index + 1:03d}"


def sampled(
    model: Model,
    events: np.ndarray,
    seed: int,
    index: int,
    seconds: float | None,
    temperature: float,
    qpm: float,
    **extra,
) -> Generated:
    """Decoded events as melody ``index`` of ``seed``: its name, notes, length and provenance (plus ``extra``)."""
    from muse_cli.midi import events_to_notes

    length = sample_seconds(seconds, qpm)
    prov = {
        "checkpoint": model.name,
        "seed": seed,
        "index": index,
        "temperature": temperature,
        "qpm": qpm,
        "seconds": length,
        "mode": "sample",
        **extra,
    }
    return Generated(sample_name(seed, index), events_to_notes(events), qpm, length, prov)


def sample_draws(
    model: Model,
    draws: list[tuple[int, int, float | None]],
    temperature: float = 1.0,
    qpm: float = 120.0,
    form: str | None = None,
    attrs: dict | None = None,
) -> list[Generated]:
    """One melody per draw (seed, index, seconds), all decoded in shared batches: the recipe of a sample.

    Draw (s, i, S) walks ``latent_path(s, i)`` over the windows that cover S seconds and decodes
    window k with noise (s, i, 1, k), so a melody depends on its own draw only: ``muse sample``
    and ``muse batch`` make the same bytes however the draws are grouped. ``form`` (such as "AABA")
    shapes every path (:func:`muse_cli.form.form_path`); ``attrs`` ({name: value}, see
    :mod:`muse_cli.attributes`) then moves every latent by the checkpoint's attribute vectors."""
    delta, extra = attr_offset(model, attrs)
    segments = [segments_for(sec, qpm) for _, _, sec in draws]
    paths = [latent_path(s, i, k, model.z_size) for (s, i, _), k in zip(draws, segments)]
    if form:
        from muse_cli.form import check_form, form_path

        for _, _, sec in draws:
            form = check_form(form, sec, qpm)
        paths = [form_path(p, form, s, i) for p, (s, i, _) in zip(paths, draws)]
    paths = [shifted(p, delta) for p in paths]
    events = decode_paths(model, paths, [(s, i) for s, i, _ in draws], temperature)
    said = {**({"form": form} if form else {}), **extra}
    return [sampled(model, ev, s, i, sec, temperature, qpm, **said) for (s, i, sec), ev in zip(draws, events)]


def sample(
    model: Model,
    n: int = 1,
    seconds: float | None = None,
    temperature: float = 1.0,
    seed: int | None = None,
    qpm: float = 120.0,
    first_index: int = 0,
    form: str | None = None,
    attrs: dict | None = None,
) -> list[Generated]:
    """``n`` melodies from the prior; with ``seconds``, each follows a smooth latent path (``form``: AABA ...)."""
    seed = new_seed() if seed is None else int(seed)
    draws = [(seed, i, seconds) for i in range(first_index, first_index + n)]
    return sample_draws(model, draws, temperature, qpm, form, attrs)


def encode(
    model: Model, melodies: list, sample_z: bool = False, seed: int | None = None, refine: int | None = None
) -> list:
    """Every consecutive 2-bar window of each melody -> LatentWindow: the encoder mean refined by ``refine``
    gradient steps on the decoder's reconstruction of the window (:func:`muse_cli.refine.means`; None: its
    default, 0: the mean itself), or with ``sample_z`` a posterior sample around the unrefined mean."""
    from muse_cli.latents import LatentWindow
    from muse_cli.midi import windows

    items = [(m.source, bar, ev) for m in melodies for bar, ev in windows(m)]
    events = np.stack([ev for _, _, ev in items])
    if sample_z:
        mu, sigma = model.encode_events(events)
        seed = new_seed() if seed is None else int(seed)
        eps = np.random.default_rng([seed, 2]).standard_normal(mu.shape)
        mu = mu + sigma * eps
    else:
        mu = means(model, events, DEFAULT_REFINE if refine is None else refine)
    return [LatentWindow(src, bar, z.astype(np.float32), model.name) for (src, bar, _), z in zip(items, mu)]


def decode(
    model: Model,
    latents: list,
    temperature: float = 1.0,
    seed: int | None = None,
    qpm: float = 120.0,
    attrs: dict | None = None,
) -> list[Generated]:
    """Latent windows -> one melody per source, its windows laid end to end in bar order (each moved by ``attrs``)."""
    from muse_cli.midi import events_to_notes

    seed = new_seed() if seed is None else int(seed)
    delta, extra = attr_offset(model, attrs)
    groups: dict[str, list] = {}
    for w in latents:
        groups.setdefault(w.source, []).append(w)
    out = []
    for gi, (source, wins) in enumerate(groups.items()):
        wins = sorted(wins, key=lambda w: w.start_bar)
        z = shifted(model.check_latents(np.stack([w.z for w in wins])), delta)
        noise = [(seed, gi, 1, k) for k in range(len(wins))]
        events = model.decode_events(z, temperature=temperature, noise_seeds=noise)
        first = wins[0].start_bar
        total = np.zeros((wins[-1].start_bar - first) * STEPS_PER_BAR + WINDOW_STEPS, np.int64)
        for w, ev in zip(wins, events):
            pos = (w.start_bar - first) * STEPS_PER_BAR
            total[pos : pos + WINDOW_STEPS] = ev
        seconds = len(total) / STEPS_PER_BAR * QUARTERS_PER_BAR * 60.0 / qpm
        prov = provenance(model, seed, temperature, qpm, source=source, windows=len(wins), mode="decode", **extra)
        stem = Path(source).stem if source not in ("-", "") else "stdin"
        out.append(Generated(f"{stem}.decoded", events_to_notes(total), qpm, seconds, prov))
    return out


def vary_name(source: str, seed: int, variation: int) -> str:
    """The file stem of variation ``variation`` (0-based) of ``source`` with ``seed``."""
    stem = Path(source).stem if source not in ("-", "", "stdin") else "stdin"
    return f"{stem}.var_s{seed}_{variation + 1:03d}"


def vary(
    model: Model,
    melody,
    n: int = 8,
    amount: float = 0.3,
    temperature: float = 1.0,
    seed: int | None = None,
    qpm: float = 120.0,
    attrs: dict | None = None,
) -> list[Generated]:
    """``n`` variations of ``melody``, window by window, laid end to end like :func:`decode`.

    Each 2-bar window's mean latent moves toward its own random prior draw by ``amount`` along the
    great circle between them (magenta.js ``MusicVAE.similar()`` with similarity ``1 - amount``):
    0 keeps the melody's own latents, 1 is a fresh sample. Variation ``v`` of seed ``s`` draws window
    ``k``'s prior point from ``default_rng([s, v, 3, k])`` and its decoder noise from ``(s, v, 1, k)``."""
    from muse_cli.midi import events_to_notes, windows

    if not 0.0 <= amount <= 1.0:
        raise UsageError(f"--amount must be between 0 (the melody itself) and 1 (a new melody), got {amount:g}")
    seed = new_seed() if seed is None else int(seed)
    delta, extra = attr_offset(model, attrs)
    wins = windows(melody)
    mu = means(model, np.stack([ev for _, ev in wins]))
    k_count = len(wins)
    z = np.stack(
        [
            slerp(mu[k], np.random.default_rng([seed, v, 3, k]).standard_normal(model.z_size), amount)
            for v in range(n)
            for k in range(k_count)
        ]
    )
    z = shifted(z, delta)
    noise = [(seed, v, 1, k) for v in range(n) for k in range(k_count)]
    events = model.decode_events(z, temperature=temperature, noise_seeds=noise).reshape(n, -1)
    seconds = events.shape[1] / STEPS_PER_BAR * QUARTERS_PER_BAR * 60.0 / qpm
    base = provenance(model, seed, temperature, qpm, mode="vary", source=melody.source, amount=amount, **extra)
    return [
        Generated(vary_name(melody.source, seed, v), events_to_notes(ev), qpm, seconds, {**base, "variation": v + 1})
        for v, ev in enumerate(events)
    ]


def interpolate(
    model: Model,
    a,
    b,
    steps: int = 5,
    temperature: float = 1.0,
    seed: int | None = None,
    qpm: float = 120.0,
    concat: bool = False,
) -> list[Generated]:
    """Spherical interpolation between the first 2-bar windows of melodies ``a`` and ``b``."""
    from muse_cli.midi import events_to_notes, windows

    seed = new_seed() if seed is None else int(seed)
    mu = means(model, np.stack([windows(a)[0][1], windows(b)[0][1]]))
    z = np.stack([slerp(mu[0], mu[1], t) for t in np.linspace(0.0, 1.0, steps)])
    # One noise seed for every step: only the latent changes along the way.
    events = model.decode_events(z, temperature=temperature, noise_seeds=[(seed, 0, 1, 0)] * steps)
    seg = window_seconds(qpm)
    base = provenance(model, seed, temperature, qpm, mode="interpolate", a=a.source, b=b.source, steps=steps)
    if concat:
        return [Generated("interp", events_to_notes(events.reshape(-1)), qpm, seg * steps, base)]
    return [
        Generated(f"interp_{k + 1:03d}", events_to_notes(ev), qpm, seg, {**base, "step": k + 1})
        for k, ev in enumerate(events)
    ]
