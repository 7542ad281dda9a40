"""The recipes for MusicVAE's other families: drums, grooves, melodies over chords, 16-bar melodies and trios.

One recipe per idea, as :mod:`muse_cli.model` is for the 2-bar melodies, on the engines' tensor API
(``encode_tensors`` / ``decode_tensors``) and each config's codec (:mod:`muse_cli.families`). Randomness is the
melodies': item ``i`` of seed ``s`` draws its latents from ``default_rng([s, i, 0])`` (an AR(1) walk past one
window, :func:`muse_cli.paths.latent_path`) and window ``k``'s sampling noise from ``default_rng([s, i, 1, k])``,
so a piece depends on its seed and index only, on either engine.

A piece longer than one window is windows laid end to end; its file is cut at the seconds asked.
"""

from __future__ import annotations

import numpy as np

from muse_cli.encoding import STEPS_PER_BAR, steps_seconds
from muse_cli.engines.base import uniforms as engine_uniforms
from muse_cli.errors import UsageError
from muse_cli.families import family_of
from muse_cli.midi import Part
from muse_cli.paths import LONGFORM_RHO, latent_path, slerp
from muse_cli.results import (  # noqa: F401  (re-exported: the CLI names files with them)
    Generated,
    continue_name,
    decoded_name,
    new_seed,
    sample_name,
    stem,
    vary_name,
)

DETERMINISTIC = 0.5  # the uniform noise that decodes by argmax (categorical) or p > 0.5 (hits, NADE)


def family(model):
    return family_of(model.spec.config)


def codec_of(model):
    return family(model).load_codec()


def window_steps(model) -> int:
    return int(model.spec.steps)


def windows_for(model, seconds: float | None, qpm: float) -> int:
    """How many of the model's windows a piece of ``seconds`` at ``qpm`` takes (one when None)."""
    if seconds is None:
        return 1
    per = steps_seconds(window_steps(model), qpm)
    return max(1, int(np.ceil(seconds / per - 1e-9)))


def uniforms(model, seeds: list[tuple] | None, rows: int) -> np.ndarray:
    """[rows, T, D] sampling uniforms, row ``j`` from its own seed (the melodies' convention); 0.5 without seeds."""
    shape = (window_steps(model), int(model.spec.output_depth))
    if seeds is None:
        return np.full((rows, *shape), DETERMINISTIC)
    return np.stack([engine_uniforms(s, *shape) for s in seeds])


def check_chords(model, chords, song=None) -> tuple | None:
    """The chords a piece of ``model`` is played over: ``chords`` as given, else those muse marked in ``song``'s
    file; UsageError when chords go to a model without chord conditioning, or a chord model gets none."""
    fam = family(model)
    if chords and not fam.chords:
        raise UsageError(
            f"--chords: checkpoint {model.name} ({model.spec.config}) is not conditioned on chords; "
            "use a chord model such as cat-mel_2bar_med_chords"
        )
    if not fam.chords:
        return None
    chords = chords or getattr(song, "chords", ())
    if not chords:
        where = f"{song.source} has no chords muse wrote; " if song is not None else ""
        raise UsageError(f'checkpoint {model.name} plays over chords: {where}give --chords, e.g. --chords "C G Am F"')
    return tuple(chords)


def _controls(model, chords, windows: int) -> np.ndarray | None:
    """[windows, T, c] chord controls: the progression spread over the whole piece, each window its slice."""
    if not chords:
        return None
    from muse_cli.families.chords import window_controls

    steps = window_steps(model)
    return np.stack(window_controls(chords, windows * steps, steps))


def _decode(model, z: np.ndarray, temperature: float, seeds, controls) -> np.ndarray:
    return model.decode_tensors(model.check_latents(z), float(temperature), uniforms(model, seeds, len(z)), controls)


def _starts(model, wins: list) -> list[int]:
    """Where each latent window of a source starts, in steps: at its bar, or end to end when the bars overlap (an
    .npy of latents numbers its rows as 2-bar windows, whatever the model's window)."""
    starts = [(w.start_bar - wins[0].start_bar) * STEPS_PER_BAR for w in wins]
    if any(b - a < window_steps(model) for a, b in zip(starts, starts[1:])):
        return [k * window_steps(model) for k in range(len(wins))]
    return starts


def _piece(model, outputs: np.ndarray, starts: list[int], chords, name, qpm, seconds, prov) -> Generated:
    """Decoded windows laid end to end (window ``k`` at step ``starts[k]``) as one Generated of parts."""
    codec = codec_of(model)
    merged: dict[str, list] = {}
    for out, start in zip(outputs, starts):
        for part in codec.to_parts(out, start_step=start):
            merged.setdefault(part.name, []).append(part)
    parts = [_join(group) for group in merged.values()]
    total = max(starts) + window_steps(model)
    if chords:
        from muse_cli.families.chords import chord_part

        parts.append(chord_part(chords, total))
    length = float(seconds) if seconds is not None else steps_seconds(total, qpm)
    notes = [n for p in parts for n in p.notes if not (chords and p is parts[-1])]
    return Generated(name, notes, qpm, length, prov, parts=tuple(parts))


def _join(parts: list[Part]) -> Part:
    """One track of several windows' parts of the same name."""
    first = parts[0]
    notes = [n for p in parts for n in p.notes]
    loud = [v for p in parts for v in (p.velocities or [p.velocity] * len(p.notes))]
    texts = tuple(t for p in parts for t in p.texts)
    return Part(notes, first.program, first.drums, first.name, tuple(loud), first.velocity, texts)


def _symbols(chords) -> list[str]:
    """The chord symbols as written, a repeated one once in a row (chords read from a file are one per step)."""
    out = [getattr(c, "symbol", str(c)) for c in chords]
    return [c for k, c in enumerate(out) if k == 0 or c != out[k - 1]]


def _prov(model, seed, temperature, qpm, chords, **rest) -> dict:
    said = {"chords": " ".join(_symbols(chords))} if chords else {}
    return {"checkpoint": model.name, "seed": seed, "temperature": temperature, "qpm": qpm, **rest, **said}


def sample(
    model,
    n: int = 1,
    seconds: float | None = None,
    temperature: float = 1.0,
    seed: int | None = None,
    qpm: float = 120.0,
    first_index: int = 0,
    chords: tuple[str, ...] | None = None,
) -> list[Generated]:
    """``n`` pieces from the prior; past one window each walks the latent space (AR(1)) window by window."""
    chords = check_chords(model, chords)
    seed = new_seed() if seed is None else int(seed)
    count = windows_for(model, seconds, qpm)
    steps = window_steps(model)
    controls = _controls(model, chords, count)
    out = []
    for i in range(first_index, first_index + n):
        z = latent_path(seed, i, count, model.z_size)
        decoded = _decode(model, z, temperature, [(seed, i, 1, k) for k in range(count)], controls)
        prov = _prov(model, seed, temperature, qpm, chords, index=i, mode="sample", windows=count)
        if seconds is not None:
            prov["seconds"] = float(seconds)
        starts = [k * steps for k in range(count)]
        out.append(_piece(model, decoded, starts, chords, sample_name(seed, i), qpm, seconds, prov))
    return out


def read(model, data: bytes, source: str):
    """A MIDI file read as the model's family reads it (drums, a groove, a trio ...)."""
    return codec_of(model).read(data, source)


def encode(model, songs: list, sample_z: bool = False, seed: int | None = None, chords=None) -> list:
    """Every consecutive window of each song -> LatentWindow (the encoder's mean, or a posterior sample). A chord
    model hears each song over ``chords`` (spread over the song), else over the chords muse marked in its file."""
    from muse_cli.latents import LatentWindow

    codec = codec_of(model)
    items, inputs, controls = [], [], []
    for song in songs:
        if check_chords(model, chords, song) and chords:
            song = song.with_chords(chords)
        for bar, x, c in codec.to_windows(song):
            items.append((song.source, bar))
            inputs.append(x)
            controls.append(c)
    if not items:
        raise UsageError("no windows to encode: the input is shorter than one step")
    mu, sigma = model.encode_tensors(
        np.stack(inputs).astype(np.float32), None if controls[0] is None else np.stack(controls).astype(np.float32)
    )
    if sample_z:
        seed = new_seed() if seed is None else int(seed)
        mu = mu + sigma * np.random.default_rng([seed, 2]).standard_normal(mu.shape)
    return [LatentWindow(src, bar, z.astype(np.float32), model.name) for (src, bar), z in zip(items, mu)]


def decode(
    model, latents: list, temperature: float = 1.0, seed: int | None = None, qpm: float | None = None, chords=None
) -> list[Generated]:
    """Latent windows -> one piece per source, its windows at their bars, at ``qpm`` (default 120)."""
    chords = check_chords(model, chords)
    seed = new_seed() if seed is None else int(seed)
    qpm = 120.0 if qpm is None else qpm
    groups: dict[str, list] = {}
    for w in latents:
        groups.setdefault(w.source, []).append(w)
    out = []
    for gi, (source, wins) in enumerate(groups.items()):
        wins = sorted(wins, key=lambda w: w.start_bar)
        z = np.stack([w.z for w in wins])
        decoded = _decode(
            model, z, temperature, [(seed, gi, 1, k) for k in range(len(wins))], _controls(model, chords, len(wins))
        )
        starts = _starts(model, wins)
        prov = _prov(model, seed, temperature, qpm, chords, source=source, windows=len(wins), mode="decode")
        out.append(_piece(model, decoded, starts, chords, decoded_name(source), qpm, None, prov))
    return out


def regroove(model, song, temperature: float = 1.0, seed: int | None = None, qpm: float | None = None, chords=None):
    """A song through the model and back: GrooVAE's humanize (a quantized beat gets timing and dynamics) and
    drumify (a tapped rhythm becomes a beat); for the others, a reconstruction. At the song's own tempo."""
    chords = check_chords(model, chords, song)
    latents = encode(model, [song], chords=chords)
    return decode(model, latents, temperature, seed, song.qpm if qpm is None else qpm, chords)


def interpolate(
    model, a, b, steps: int = 5, temperature: float = 1.0, seed=None, qpm=None, concat=False, chords=None
) -> list[Generated]:
    """``steps`` pieces from song ``a``'s first window to ``b``'s along the great circle (slerp)."""
    seed = new_seed() if seed is None else int(seed)
    chords = check_chords(model, chords, a)
    za, zb = (encode(model, [s], chords=chords)[0].z for s in (a, b))
    z = np.stack([slerp(za, zb, t) for t in np.linspace(0.0, 1.0, steps)])
    qpm = a.qpm if qpm is None else qpm
    controls = None if not chords else np.repeat(_controls(model, chords, 1), steps, axis=0)
    decoded = _decode(model, z, temperature, [(seed, k, 1, 0) for k in range(steps)], controls)
    w = window_steps(model)
    if concat:
        prov = _prov(model, seed, temperature, qpm, chords, mode="interpolate", steps=steps)
        return [_piece(model, decoded, [k * w for k in range(steps)], chords, "interp", qpm, None, prov)]
    return [
        _piece(
            model,
            decoded[k : k + 1],
            [0],
            chords,
            f"interp_{k + 1:03d}",
            qpm,
            None,
            _prov(model, seed, temperature, qpm, chords, mode="interpolate", step=k + 1, steps=steps),
        )
        for k in range(steps)
    ]


def vary(model, song, n=8, amount=0.3, temperature=1.0, seed=None, qpm=None, chords=None) -> list[Generated]:
    """``n`` variations of ``song``: each window's mean moves toward its own prior draw by ``amount`` (slerp)."""
    if not 0.0 <= amount <= 1.0:
        raise UsageError(f"--amount must be between 0 and 1, got {amount:g}")
    seed = new_seed() if seed is None else int(seed)
    chords = check_chords(model, chords, song)
    wins = encode(model, [song], chords=chords)
    qpm = song.qpm if qpm is None else qpm
    out = []
    for v in range(n):
        rng = np.random.default_rng([seed, v, 0])
        z = np.stack([slerp(w.z, rng.standard_normal(model.z_size).astype(np.float32), amount) for w in wins])
        seeds = [(seed, v, 1, k) for k in range(len(wins))]
        decoded = _decode(model, z, temperature, seeds, _controls(model, chords, len(wins)))
        starts = _starts(model, wins)
        prov = _prov(model, seed, temperature, qpm, chords, source=song.source, variation=v, amount=amount, mode="vary")
        out.append(_piece(model, decoded, starts, chords, vary_name(song.source, seed, v), qpm, None, prov))
    return out


def continue_piece(
    model, song, seconds=None, n=1, temperature=1.0, seed=None, qpm=None, keep=False, chords=None
) -> list[Generated]:
    """A melody over chords carried on: the melody as written, then ``seconds`` (default one window) of new
    windows over ``chords`` from its next bar line, walking on from its last window's latent (AR(1))."""
    chords = check_chords(model, chords, song)
    seed = new_seed() if seed is None else int(seed)
    qpm = song.qpm if qpm is None else qpm
    last = encode(model, [song], chords=chords)[-1].z
    count, steps = windows_for(model, seconds, qpm), window_steps(model)
    offset = 0 if keep else -(-song.total_steps // STEPS_PER_BAR) * STEPS_PER_BAR
    tune = getattr(song, "melody", song)  # a ChordedMelody's melody
    given = Part(list(tune.notes), tune.program, False, Part.name, tune.velocities or None, tune.velocity)
    out = []
    for i in range(n):
        eps = np.random.default_rng([seed, i, 0]).standard_normal((count, model.z_size)).astype(np.float32)
        z = np.empty_like(eps)
        for k in range(count):
            z[k] = LONGFORM_RHO * (last if k == 0 else z[k - 1]) + np.sqrt(1 - LONGFORM_RHO**2) * eps[k]
        seeds = [(seed, i, 1, k) for k in range(count)]
        decoded = _decode(model, z, temperature, seeds, _controls(model, chords, count))
        prov = _prov(model, seed, temperature, qpm, chords, source=song.source, index=i, mode="continue")
        starts = [offset + k * steps for k in range(count)]
        piece = _piece(model, decoded, starts, chords, continue_name(song.source, seed, i), qpm, None, prov)
        if not keep:
            length = steps_seconds(offset + count * steps, qpm)
            parts = (_join([given, piece.parts[0]]), *piece.parts[1:])  # one melody track: as written, then new
            piece = Generated(piece.name, list(tune.notes) + piece.notes, qpm, length, prov, parts=parts)
        out.append(piece)
    return out
