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
    steps_seconds,
    window_seconds,
)
from muse_cli.engines import Engine, gumbel  # noqa: F401  (re-exported: muse_cli.model.gumbel)
from muse_cli.errors import UsageError
from muse_cli.form import check_form, continuation_path, form_path
from muse_cli.paths import decode_paths, latent_path, slerp
from muse_cli.refine import DEFAULT_REFINE, means
from muse_cli.results import (  # noqa: F401  (re-exported: the library's names for them)
    Generated,
    continue_name,
    decoded_name,
    new_seed,
    provenance,
    sample_name,
    sample_seconds,
    sampled,
    segments_for,
    styled,
    vary_name,
)
from muse_cli.styles import style_conductor

MAX_BATCH = 64  # the fastest TrainedModel batch size measured for cat-mel_2bar_big on 2 cores (bench/)

Model = Engine  # what load_model returns: a loaded checkpoint in one of the engines


# -- the library API (re-exported by muse_cli) ---------------------------------
_LOADED: dict[tuple, Model] = {}  # one model per checkpoint, engine (and graph batch size) per process


def load_model(checkpoint: str | None = None, batch_size: int = 8, engine: str | None = None) -> Model:
    """Load a checkpoint by registry name or path (default: the embedded model), once per process.

    ``engine`` is "numpy" or "magenta" (default: MUSE_ENGINE, else numpy); ``batch_size`` is the
    magenta engine's graph batch size (the NumPy engine has none)."""
    from muse_cli import engines, registry
    from muse_cli.families import family_of

    engine = engine or settings.engine()
    ckpt = registry.resolve(checkpoint)
    family_of(ckpt.config)  # CheckpointError for a config muse does not play
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


LONG_FORMS = ("conductor", "walk")  # how a piece longer than one 2-bar window is made


def long_form(model: Model, long: str = "conductor") -> str:
    """The long form a piece of ``model`` gets: ``long``, except that a checkpoint without a conductor file
    (one muse did not fit, such as a downloaded Magenta model) walks; UsageError for an unknown name."""
    from muse_cli.conductor import has_conductor

    if long not in LONG_FORMS:
        raise UsageError(f"long form must be one of {', '.join(LONG_FORMS)}, got {long!r}")
    return long if long == "walk" or has_conductor(model) else "walk"


def is_long(seconds: float | None, qpm: float) -> bool:
    """Whether a piece of ``seconds`` at ``qpm`` takes more than one 2-bar window (the conductor leads it)."""
    return segments_for(seconds, qpm) > 1


def sample_draws(
    model: Model,
    draws: list[tuple[int, int, float | None]],
    temperature: float = 1.0,
    qpm: float = 120.0,
    form: str | None = None,
    attrs: dict | None = None,
    long: str = "conductor",
    style: str | None = None,
) -> list[Generated]:
    """One melody per draw (seed, index, seconds), all decoded in shared batches: the recipe of a sample.

    A draw of one 2-bar window is a prior sample. A longer one is led by the checkpoint's conductor
    (:func:`muse_cli.longform.sample_long`: learned returns, one key, a cadence, whole bars); with
    ``long="walk"``, or for a checkpoint without a conductor (:func:`long_form`), it walks ``latent_path(s, i)``
    instead (an AR(1) walk between independent windows).
    Window k decodes with noise (s, i, 1, k, ...), so a melody depends on its own draw only: ``muse sample``
    and ``muse batch`` make the same bytes however the draws are grouped. ``form`` (such as "AABA")
    shapes every piece; ``attrs`` ({name: value}, see :mod:`muse_cli.attributes`) moves every latent by the
    checkpoint's attribute vectors. ``style`` (a name, :mod:`muse_cli.styles`): that style's conductor leads
    every piece, one window long too."""
    conductor, said = style_conductor(model, style, long)
    long = "conductor" if style else long_form(model, long)
    delta, extra = attr_offset(model, attrs)
    if form:
        for _, _, sec in draws:
            form = check_form(form, sec, qpm)
    conducted = [k for k, (_, _, sec) in enumerate(draws) if long == "conductor" and (style or is_long(sec, qpm))]
    if conducted:
        from muse_cli.longform import sample_long

        out: list = [None] * len(draws)
        todo, extra = [draws[k] for k in conducted], {**extra, **said}
        pieces = sample_long(model, todo, temperature, qpm, form, conductor=conductor, delta=delta, extra=extra)
        walked = [k for k in range(len(draws)) if k not in set(conducted)]
        rest = _walk_draws(model, [draws[k] for k in walked], temperature, qpm, form, delta, extra) if walked else []
        for k, g in [*zip(conducted, pieces), *zip(walked, rest)]:
            out[k] = g
        return out
    return _walk_draws(model, draws, temperature, qpm, form, delta, extra)


def _walk_draws(model, draws, temperature, qpm, form, delta, extra) -> list[Generated]:
    """The walk: each draw's AR(1) latent path (shaped by ``form``, moved by ``delta``), decoded in shared batches."""
    segments = [segments_for(sec, qpm) for _, _, sec in draws]
    paths = [latent_path(s, i, k, model.z_size) for (s, i, _), k in zip(draws, segments)]
    if form:
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
    long: str = "conductor",
    style: str | None = None,
) -> list[Generated]:
    """``n`` melodies from the prior; past one 2-bar window each is a piece led by the conductor (``long="walk"``:
    the AR(1) walk), shaped by ``form`` (AABA ...), in whole bars (see :mod:`muse_cli.longform`)."""
    seed = new_seed() if seed is None else int(seed)
    draws = [(seed, i, seconds) for i in range(first_index, first_index + n)]
    return sample_draws(model, draws, temperature, qpm, form, attrs, long, style)


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
    qpm: float | None = None,
    attrs: dict | None = None,
    like=None,
) -> list[Generated]:
    """Latent windows -> one melody per source, its windows laid end to end in bar order (each moved by ``attrs``).

    ``like``: the Melody the latents were encoded from (decode --midi): its tempo (unless ``qpm`` is given),
    program and typical velocity. Without it, 120 qpm on a piano."""
    from muse_cli.midi import events_to_notes

    seed = new_seed() if seed is None else int(seed)
    qpm = (like.qpm if like is not None else 120.0) if qpm is None else qpm
    sound = styled(like) if like is not None else {}
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
        seconds = steps_seconds(len(total), qpm)
        prov = provenance(model, seed, temperature, qpm, source=source, windows=len(wins), mode="decode", **extra)
        out.append(Generated(decoded_name(source), events_to_notes(total), qpm, seconds, prov, **sound))
    return out


def vary(
    model: Model,
    melody,
    n: int = 8,
    amount: float = 0.3,
    temperature: float = 1.0,
    seed: int | None = None,
    qpm: float | None = None,
    attrs: dict | None = None,
) -> list[Generated]:
    """``n`` variations of ``melody``, window by window, laid end to end like :func:`decode`, at
    its own tempo unless ``qpm`` is given, with its program and velocity.

    Each 2-bar window's mean latent moves toward its own random prior draw by ``amount`` along the
    great circle between them (magenta.js ``MusicVAE.similar()`` with similarity ``1 - amount``):
    0 keeps the melody's own latents, 1 is a fresh sample. Variation ``v`` of seed ``s`` draws window
    ``k``'s prior point from ``default_rng([s, v, 3, k])`` and its decoder noise from ``(s, v, 1, k)``."""
    from muse_cli.midi import events_to_notes, windows

    if not 0.0 <= amount <= 1.0:
        raise UsageError(f"--amount must be between 0 (the melody itself) and 1 (a new melody), got {amount:g}")
    seed = new_seed() if seed is None else int(seed)
    qpm = melody.qpm if qpm is None else qpm
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
    seconds = steps_seconds(events.shape[1], qpm)
    base = provenance(model, seed, temperature, qpm, mode="vary", source=melody.source, amount=amount, **extra)
    return [
        Generated(
            vary_name(melody.source, seed, v),
            events_to_notes(ev),
            qpm,
            seconds,
            {**base, "variation": v + 1},
            **styled(melody),
        )
        for v, ev in enumerate(events)
    ]


def interpolate(
    model: Model,
    a,
    b,
    steps: int = 5,
    temperature: float = 1.0,
    seed: int | None = None,
    qpm: float | None = None,
    concat: bool = False,
) -> list[Generated]:
    """Spherical interpolation between the first 2-bar windows of melodies ``a`` and ``b`` (at ``a``'s tempo
    unless ``qpm`` is given, with ``a``'s program and velocity)."""
    from muse_cli.midi import events_to_notes, windows

    seed = new_seed() if seed is None else int(seed)
    qpm = a.qpm if qpm is None else qpm
    mu = means(model, np.stack([windows(a)[0][1], windows(b)[0][1]]))
    z = np.stack([slerp(mu[0], mu[1], t) for t in np.linspace(0.0, 1.0, steps)])
    # One noise seed for every step: only the latent changes along the way.
    events = model.decode_events(z, temperature=temperature, noise_seeds=[(seed, 0, 1, 0)] * steps)
    seg = window_seconds(qpm)
    base = provenance(model, seed, temperature, qpm, mode="interpolate", a=a.source, b=b.source, steps=steps)
    if concat:
        return [Generated("interp", events_to_notes(events.reshape(-1)), qpm, seg * steps, base, **styled(a))]
    return [
        Generated(f"interp_{k + 1:03d}", events_to_notes(ev), qpm, seg, {**base, "step": k + 1}, **styled(a))
        for k, ev in enumerate(events)
    ]


def continue_melody(
    model,
    melody,
    seconds: float | None = None,
    n: int = 1,
    temperature: float = 1.0,
    seed: int | None = None,
    qpm: float | None = None,
    form: str | None = None,
    keep: bool = False,
    attrs: dict | None = None,
    long: str = "conductor",
    style: str | None = None,
) -> list:
    """``n`` continuations of ``melody``: its notes as written, then ``seconds`` of new bars from the bar line.

    The input keeps its own notes, velocities, program and (unless ``qpm`` is given) its first tempo; the new
    bars are written at its typical velocity. ``keep`` returns only the new bars; ``attrs`` moves the new
    bars' latents by the checkpoint's attribute vectors (:mod:`muse_cli.attributes`).

    The conductor leads the new bars (:func:`muse_cli.longform.continue_long`): conditioned on every 2-bar
    window of the input, in its key, in whole bars, ending on a cadence. With ``long="walk"`` they walk on
    from the encoder mean of the melody's last 2 bars instead (:func:`continuation_path`); continuation
    ``v`` decodes window k with noise (seed, v, 1, k). ``style``: that style's conductor leads the new bars."""
    from muse_cli.midi import events_to_notes, notes_to_events

    conductor, said = style_conductor(model, style, long)
    if style or long_form(model, long) == "conductor":
        from muse_cli.longform import continue_long

        delta, extra = attr_offset(model, attrs)
        extra = {**extra, **said}
        return continue_long(
            model,
            melody,
            seconds,
            n,
            temperature,
            seed,
            form,
            conductor=conductor,
            qpm=qpm,
            keep=keep,
            delta=delta,
            extra=extra,
        )
    seed = new_seed() if seed is None else int(seed)
    qpm = melody.qpm if qpm is None else qpm
    form = check_form(form, seconds, qpm)
    segments = segments_for(seconds, qpm)
    join = -(-melody.total_steps // STEPS_PER_BAR) * STEPS_PER_BAR  # the input, padded to a bar line
    mu = means(model, notes_to_events(melody.notes, max(0, join - WINDOW_STEPS))[None])
    delta, extra = attr_offset(model, attrs)
    paths = [shifted(continuation_path(mu[0], seed, v, segments, form), delta) for v in range(n)]
    events = decode_paths(model, paths, [(seed, v) for v in range(n)], temperature)
    new_seconds = sample_seconds(seconds, qpm)
    join_seconds = steps_seconds(join, qpm)
    said = {**({"form": form} if form else {}), **({"keep": True} if keep else {}), **extra}
    prov = provenance(model, seed, temperature, qpm, mode="continue", source=melody.source, seconds=new_seconds, **said)
    out = []
    sound = styled(melody)
    for v, ev in enumerate(events):
        new = events_to_notes(ev, offset=0 if keep else join)
        notes = new if keep else list(melody.notes) + new
        loud = None if keep or not melody.velocities else (*melody.velocities, *[sound["velocity"]] * len(new))
        length = new_seconds if keep else join_seconds + new_seconds
        name = continue_name(melody.source, seed, v)
        out.append(Generated(name, notes, qpm, length, {**prov, "index": v}, velocities=loud, **sound))
    return out
