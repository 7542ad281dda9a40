"""Batch jobs of MusicVAE's other families (drums, grooves, melodies over chords, 16-bar models): what the
matching muse command makes of each, through :mod:`muse_cli.family_model`."""

from __future__ import annotations

from muse_cli.errors import MuseError


def is_family(model) -> bool:
    """Whether ``model`` is a drums, groove, chords or 16-bar checkpoint (muse_cli.family_model's recipes)."""
    from muse_cli.families import is_melody

    return not is_melody(model.spec.config) if hasattr(model, "spec") else False


def _chords(p: dict):
    from muse_cli.families.chords import parse_chords

    return parse_chords(p["chords"]) if "chords" in p else None


def family_sample(model, draw: tuple, p: dict):
    """What ``muse sample -c CHECKPOINT -n 1 --seed SEED`` makes of a family checkpoint."""
    from muse_cli import family_model as fm

    seed, _, seconds = draw
    return fm.sample(model, 1, seconds, p["temperature"], seed, p["qpm"], chords=_chords(p))[0]


def family_generate(model, job, read_input) -> list:
    """A decode, interpolate, vary or continue job of a family checkpoint, as the matching muse command makes it."""
    from muse_cli import family_model as fm
    from muse_cli.latents import read_latents

    p = job.params
    settings = {"temperature": p["temperature"], "seed": p["seed"], "qpm": p["qpm"]}
    if job.op == "interpolate":
        a, b = (fm.read(model, read_input(p, k), p[k + "_shown"]) for k in ("a", "b"))
        return fm.interpolate(model, a, b, p["steps"], concat=p["concat"], **settings)
    if job.op in ("vary", "continue"):
        song = fm.read(model, read_input(p, "midi"), p["midi_shown"])
        if job.op == "vary":
            return fm.vary(
                model, song, n=1, chords=_chords(p), **settings, **({"amount": p["amount"]} if "amount" in p else {})
            )
        return fm.continue_piece(model, song, p.get("seconds"), 1, keep=p["keep"], chords=_chords(p), **settings)
    if "prompt" in p:
        raise MuseError(f"prompts are for 2-bar melody checkpoints, not {model.name}; give 'latents'")
    windows = read_latents(read_input(p, "latents"), p["latents_shown"])
    if "source" in p:
        windows = [w for w in windows if w.source == p["source"]]
    return fm.decode(model, windows, chords=_chords(p), **settings)[:1]
