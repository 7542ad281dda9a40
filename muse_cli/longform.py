"""Long pieces led by the conductor (:mod:`muse_cli.conductor`): ``sample_long`` and ``continue_long``.

Length: ``seconds`` rounds to the nearest whole number of bars at ``qpm`` (halves round up), at least
one 2-bar window: bars = max(2, floor(seconds / bar_seconds + 0.5)); the piece decodes ceil(bars / 2)
windows and an odd count of bars drops the last window's second bar, so a piece always ends on a bar line.

A piece is made in the conductor's common frame (C major / A minor): its windows' latents come from
:func:`muse_cli.conductor.conduct`; an exact return copies the events of the window it returns to, a varied
return decodes with that window's noise (so it changes only where its latent does); with ``scale`` (the
default) the decoder may only sample note-ons in the piece's scale (a class mask on the sampling noise, the
same on both engines), and windows are decoded one after another so that each new window's first beat
stays within a fourth of the note before it (windows decoded apart leapt twice as far as real tunes' do at
their joins). The ending: the last window is decoded once more CANDIDATES ways (noise
(s, i, 1, k, c)) with no note-on but the tonic in its last half bar (:func:`muse_cli.conductor.cadence_classes`),
and the first of the plain decoding and these whose last note is the tonic, starting in the final bar on a
beat, is kept (else the first ending on the tonic, else the plain one). Then the piece moves to its key: ``sample_long``
draws the tonic from the corpus's keys of the piece's mode with ``default_rng([s, i, 10])``;
``continue_long`` goes back to the input's own key.

``continue_long`` plays the input exactly as written (its notes, velocities and program, at its own first
tempo), then the new bars (at its typical velocity)
from the bar line after it; the conductor conditions on every 2-bar window of the input (the first
starts before the input, on a rest, when the input has an odd number of bars).
"""

from __future__ import annotations

import math

import numpy as np

from muse_cli import conductor as cond
from muse_cli.attributes import shifted
from muse_cli.encoding import QUARTERS_PER_BAR, STEPS_PER_BAR, WINDOW_BARS, WINDOW_STEPS, steps_seconds
from muse_cli.refine import means
from muse_cli.results import Generated, continue_name, new_seed, provenance, sampled, styled

CANDIDATES = 16  # decodings of the last window to find a cadence among
KEY_STREAM = 10
NAMES = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")


def bars_for(seconds: float | None, qpm: float) -> int:
    """Whole bars of a piece of ``seconds`` at ``qpm`` (see the module docstring): 2 when None."""
    if seconds is None:
        return WINDOW_BARS
    bar = QUARTERS_PER_BAR * 60.0 / qpm
    return max(WINDOW_BARS, int(math.floor(seconds / bar + 0.5)))


def _bars_seconds(bars: int, qpm: float) -> float:
    return bars * QUARTERS_PER_BAR * 60.0 / qpm


def piece_seconds(seconds: float | None, qpm: float) -> float:
    """The length of a conducted piece (or new part) asked for as ``seconds`` at ``qpm``: its whole bars."""
    return _bars_seconds(bars_for(seconds, qpm), qpm)


def cadence(events: np.ndarray, tonic: int) -> int:
    """2 when the last note is ``tonic`` (a pitch class) and starts in the final bar on a beat, 1 when it is the
    tonic, else 0."""
    from muse_cli.midi import events_to_notes

    notes = events_to_notes(events)
    if not notes or notes[-1][0] % 12 != tonic:
        return 0
    start = notes[-1][1]
    return 2 if start >= len(events) - STEPS_PER_BAR and start % 4 == 0 else 1


def _sections(form: str | None, seconds: float | None, qpm: float, windows: int):
    if not form:
        return None, None
    from muse_cli.form import check_form, sections

    form = check_form(form, max(seconds or 0.0, windows * WINDOW_BARS * QUARTERS_PER_BAR * 60.0 / qpm), qpm)
    if len(set(form)) == 1 and len(form) == 1:  # one section: no constraint, the plain piece (as for the walk)
        return form, None
    return form, sections(form, windows)


def _noise_windows(piece: dict) -> list[int]:
    """For each new window, the new window whose decoder noise it takes: a return to a new window takes its
    source's (so a varied return changes only where its latent does), any other window its own."""
    c, steps, out = len(piece["context"]), piece["plan"]["windows"], []
    for k in range(c, len(steps)):
        src = steps[k]["source"] if steps[k]["kind"] != "new" else -1
        out.append(out[src - c] if src >= c else k - c)
    return out


def _heard_key(piece: dict, rows: list) -> tuple[int, str]:
    """The key a piece's ending cadences in: the input's (``piece["key"]``), else the key estimated from the
    piece before its last window (muse_cli.features), else its mode's tonic in the common frame."""
    from muse_cli.features import estimated_key
    from muse_cli.midi import events_to_notes

    if piece.get("key"):
        return piece["key"]
    notes = events_to_notes(np.concatenate(rows[:-1])) if len(rows) > 1 else []
    return estimated_key(notes) if notes else (cond.TONIC[piece["plan"]["mode"]], piece["plan"]["mode"])


def _last_pitch(rows: list) -> int | None:
    from muse_cli.encoding import FIRST_NOTE, MIN_PITCH

    for ev in reversed(rows):
        on = np.flatnonzero(np.asarray(ev) >= FIRST_NOTE)
        if len(on):
            return int(ev[on[-1]]) - FIRST_NOTE + MIN_PITCH
    return None


def _decode_windows(model, pieces: list[dict], temperature: float, scale: bool) -> list[list]:
    """Each piece's windows (its context's, then its new ones), decoded window by window across pieces: each
    new window's first beat joins the note before it (:func:`muse_cli.conductor.join_classes`), an exact
    return copies its source's events."""
    rows = [list(p["context"]) for p in pieces]
    noise = [_noise_windows(p) for p in pieces]
    for k in range(max(len(p["latents"]) for p in pieces)):
        todo = [i for i, p in enumerate(pieces) if k < len(p["latents"])]
        z = np.stack([pieces[i]["latents"][k] for i in todo])
        seeds = [(pieces[i]["seed"], pieces[i]["index"], 1, noise[i][k]) for i in todo]
        masks = np.stack([cond.join_classes(_last_pitch(rows[i]), scale) for i in todo])
        for i, ev in zip(todo, model.decode_events(z, temperature, seeds, allowed=masks)):
            step = pieces[i]["plan"]["windows"][len(rows[i])]
            rows[i].append(rows[i][step["source"]].copy() if step["kind"] == "exact" else ev)
    return rows


def decode_pieces(
    model, pieces: list[dict], temperature: float, scale: bool, cadence_end: bool = True
) -> list[np.ndarray]:
    """Each piece's events [steps] from its latents and plan (dict: latents, plan, seed, index, steps, context
    events [c, 32], maybe key); exact returns copied, the ending chosen among CANDIDATES (module docstring).
    Sets each piece's "key" (tonic, mode) in the common frame: the key its ending cadences in. Without
    ``cadence_end`` the last window is decoded like the others."""
    rows = _decode_windows(model, pieces, temperature, scale)
    for p, r in zip(pieces, rows):
        p["key"] = _heard_key(p, r)
    if not cadence_end:
        return [np.concatenate(r[len(p["context"]) :])[: p["steps"]] for p, r in zip(pieces, rows)]
    tails = [p["steps"] - (len(p["latents"]) - 1) * WINDOW_STEPS for p in pieces]
    last = np.repeat(np.stack([p["latents"][-1] for p in pieces]), CANDIDATES, axis=0)
    more = [(p["seed"], p["index"], 1, len(p["latents"]) - 1, c) for p in pieces for c in range(CANDIDATES)]
    ends = []
    for p, r, tail in zip(pieces, rows, tails):
        end = cond.cadence_classes(p["key"][0], scale, tail)
        ends.append(end & cond.join_classes(_last_pitch(r[:-1]), scale))
    ends = np.repeat(np.stack(ends), CANDIDATES, axis=0)
    alts = model.decode_events(last, temperature, more, allowed=ends).reshape(len(pieces), CANDIDATES, -1)
    out = []
    for p, r, alt, tail in zip(pieces, rows, alts, tails):
        options = [r[-1]] + list(alt)
        r[-1] = options[int(np.argmax([cadence(ev[:tail], p["key"][0]) for ev in options]))]
        out.append(np.concatenate(r[len(p["context"]) :])[: p["steps"]])
    return out


def sample_long(
    model,
    draws: list,
    temperature: float = 1.0,
    qpm: float = 120.0,
    form: str | None = None,
    scale: bool = True,
    conductor: cond.Conductor | None = None,
    cadence_end: bool = True,
    delta: np.ndarray | None = None,
    extra: dict | None = None,
) -> list[Generated]:
    """One piece per draw (seed, index, seconds), led by ``conductor`` (default: the checkpoint's own),
    decoded in shared batches; ``cadence_end`` False leaves the ending to the conductor alone. ``delta`` moves
    every latent (attribute sliders), ``extra`` is added to the provenance."""
    from muse_cli.midi import transpose

    conductor = conductor or cond.load(model)
    pieces = []
    for s, i, sec in draws:
        bars = bars_for(sec, qpm)
        windows = -(-bars // WINDOW_BARS)
        letters, secs = _sections(form, sec, qpm, windows)
        latents, plan = cond.conduct(conductor, s, i, windows, temperature, sections=secs)
        latents = shifted(latents, delta)
        pieces.append(
            {"latents": latents, "plan": plan, "seed": s, "index": i, "steps": bars * STEPS_PER_BAR, "bars": bars}
        )
        pieces[-1]["context"] = np.zeros((0, WINDOW_STEPS), np.int64)
    out = []
    for p, events in zip(pieces, decode_pieces(model, pieces, temperature, scale, cadence_end)):
        heard, mode = p["key"]
        counts = np.asarray(conductor.meta["tonics"][mode], float) + 1e-9
        tonic = int(np.random.default_rng([p["seed"], p["index"], KEY_STREAM]).choice(12, p=counts / counts.sum()))
        shift = (tonic - heard + 6) % 12 - 6
        events, _ = transpose(events, shift)
        said = {"conductor": True, "key": f"{NAMES[tonic]} {mode}", "scale": scale}
        said = said if cadence_end else {**said, "cadence": False}
        said = {**({"form": letters} if letters else {}), **said, **(extra or {})}
        sec = _bars_seconds(p["bars"], qpm)
        out.append(sampled(model, events, p["seed"], p["index"], sec, temperature, qpm, **said))
    return out


def context_windows(notes: list, join: int) -> np.ndarray:
    """The 2-bar windows [c, 32] of notes that end at step ``join`` (a bar line), the first maybe padded."""
    from muse_cli.midi import notes_to_events

    starts = list(range(join - WINDOW_STEPS, -STEPS_PER_BAR - 1, -WINDOW_STEPS))[::-1]
    return np.stack([notes_to_events(notes, s) for s in starts])


def continue_long(
    model,
    melody,
    seconds: float | None = None,
    n: int = 1,
    temperature: float = 1.0,
    seed: int | None = None,
    form: str | None = None,
    scale: bool = True,
    conductor: cond.Conductor | None = None,
    qpm: float | None = None,
    keep: bool = False,
    delta: np.ndarray | None = None,
    extra: dict | None = None,
) -> list[Generated]:
    """``n`` continuations of ``melody``: its notes and tempo as written (``qpm`` given: that tempo), then new
    bars in its key, led by ``conductor`` (default: the checkpoint's own); ``keep``: the new bars alone.
    ``delta`` moves the new bars' latents (attribute sliders), ``extra`` is added to the provenance."""
    from muse_cli.features import estimated_key
    from muse_cli.midi import events_to_notes, transpose

    seed = new_seed() if seed is None else int(seed)
    qpm = float(melody.qpm if qpm is None else qpm)
    tonic, mode = estimated_key(melody.notes)
    shift = cond.common_shift(tonic, mode)
    join = -(-melody.total_steps // STEPS_PER_BAR) * STEPS_PER_BAR
    ctx = context_windows([(p + shift, s, e) for p, s, e in melody.notes], join)
    mu = means(model, ctx)
    conductor = conductor or cond.load(model)
    bars = bars_for(seconds, qpm)
    windows = -(-bars // WINDOW_BARS)
    letters, secs = _sections(form, seconds, qpm, windows)
    pieces = []
    for v in range(n):
        latents, plan = cond.conduct(conductor, seed, v, windows, temperature, mu, secs, mode)
        latents = shifted(latents, delta)
        steps = bars * STEPS_PER_BAR
        piece = {"latents": latents, "plan": plan, "seed": seed, "index": v, "steps": steps, "context": ctx}
        pieces.append({**piece, "key": (cond.TONIC[mode], mode)})
    new_seconds = _bars_seconds(bars, qpm)
    join_seconds = steps_seconds(join, qpm)
    sound = styled(melody)
    said = {**({"form": letters} if letters else {}), "conductor": True, "key": f"{NAMES[tonic]} {mode}"}
    said = {**said, **({"keep": True} if keep else {}), **(extra or {})}
    prov = provenance(model, seed, temperature, qpm, mode="continue", source=melody.source, seconds=new_seconds)
    out = []
    for v, events in enumerate(decode_pieces(model, pieces, temperature, scale)):
        events, _ = transpose(events, -shift)
        new = events_to_notes(events, offset=0 if keep else join)
        notes = new if keep else list(melody.notes) + new
        loud = (*melody.velocities, *[sound["velocity"]] * len(new)) if melody.velocities and not keep else None
        name, length = continue_name(melody.source, seed, v), new_seconds + (0.0 if keep else join_seconds)
        prov_v = {**prov, **said, "scale": scale, "index": v}
        out.append(Generated(name, notes, qpm, length, prov_v, velocities=loud, **sound))
    return out
