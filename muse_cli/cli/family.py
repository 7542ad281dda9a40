"""The generating commands for MusicVAE's other families (drums, grooves, melodies over chords, 16-bar melodies and
trios), and `muse groove` / `muse drumify`: parse, call :mod:`muse_cli.family_model`, write.

`muse sample`, `decode`, `interpolate`, `vary` and `continue` hand over to these when the checkpoint is not a
2-bar melody model (:func:`family_for`).
"""

from __future__ import annotations

import click

from muse_cli.cli.group import cli
from muse_cli.cli.options import decode_options, given, png_option, refuse_unused
from muse_cli.cli.output import _info, _load, _plan, _write, busy
from muse_cli.errors import UsageError
from muse_cli.files import STDIO

MELODY_ONLY = ("prompt", "candidates", "form", "style", "attrs", "long")


def family_for(checkpoint: str | None):
    """The :class:`~muse_cli.families.Family` of ``checkpoint`` (cheap: the registry, no model)."""
    from muse_cli import registry
    from muse_cli.families import family_of

    return family_of(registry.resolve(checkpoint).config)


def refuse_melody_options(fam, command: str) -> None:
    """UsageError for the options only 2-bar melody models take (prompts, forms, styles, attributes, --walk)."""
    refuse_unused(MELODY_ONLY, f"goes with 2-bar melody checkpoints, not a {fam.name} model")
    if command not in fam.commands:
        raise UsageError(f"muse {command} does not play a {fam.name} checkpoint; it can: {', '.join(fam.commands)}")


def _prepare(checkpoint: str | None, command: str, seed: int | None) -> int:
    """Before a family command's work: the melody-only options refused, the command one the family can do;
    the seed (a new one when not given)."""
    from muse_cli.results import new_seed

    refuse_melody_options(family_for(checkpoint), command)
    return new_seed() if seed is None else seed


def refuse_chords(chords) -> None:
    if chords:
        raise UsageError(
            "--chords: this checkpoint is not conditioned on chords; use a chord model such as cat-mel_2bar_med_chords"
        )


def read_songs(checkpoint: str | None, files: tuple[str, ...]) -> list:
    """MIDI files read as ``checkpoint``'s family reads them (before the model loads: a bad file fails fast)."""
    from muse_cli.files import read_bytes

    if not files:
        raise UsageError("give one or more MIDI files, or - for stdin")
    codec = family_for(checkpoint).load_codec()
    return [codec.read(read_bytes(f), "stdin" if f == STDIO else f) for f in files]


def sample_family(num, seconds, temperature, seed, qpm, chords, checkpoint, out) -> None:
    from muse_cli import family_model as fm

    seed = _prepare(checkpoint, "sample", seed)
    names = [fm.sample_name(seed, i) for i in range(num)]
    paths = _plan(names, out)
    model = _load(checkpoint, num)
    with busy(num * fm.windows_for(model, seconds, qpm), f"sampling {num}"):
        items = fm.sample(model, n=num, seconds=seconds, temperature=temperature, seed=seed, qpm=qpm, chords=chords)
    _info(f"seed {seed}")
    _write(items, paths, out)


def decode_family(latents, midi_file, temperature, seed, qpm, chords, checkpoint, out) -> None:
    from muse_cli import family_model as fm
    from muse_cli.files import read_bytes
    from muse_cli.latents import read_latents

    seed = _prepare(checkpoint, "decode", seed)
    if latents is not None and midi_file is not None:
        raise UsageError("give latents or --midi FILE, not both")
    if midi_file is not None:
        song = read_songs(checkpoint, (midi_file,))[0]
        model = _load(checkpoint, 1)
        paths = _plan([fm.decoded_name(song.source)], out)
        items = fm.regroove(model, song, temperature, seed, qpm if given("qpm") else None, chords)
    else:
        if latents is None:
            raise UsageError("give a latents file (muse encode's output), - for stdin, or --midi FILE")
        windows = read_latents(read_bytes(latents), "stdin" if latents == STDIO else latents)
        paths = _plan([fm.decoded_name(s) for s in dict.fromkeys(w.source for w in windows)], out)
        model = _load(checkpoint, len(windows))
        items = fm.decode(model, windows, temperature, seed, qpm if given("qpm") else None, chords)
    _info(f"seed {seed}")
    _write(items, paths, out)


def vary_family(source, num, amount, temperature, seed, qpm, chords, checkpoint, out) -> None:
    from muse_cli import family_model as fm

    seed = _prepare(checkpoint, "vary", seed)
    song = read_songs(checkpoint, (source,))[0]
    model = _load(checkpoint, num)
    paths = _plan([fm.vary_name(song.source, seed, v) for v in range(num)], out)
    qpm = qpm if given("qpm") else None
    items = fm.vary(model, song, n=num, amount=amount, temperature=temperature, seed=seed, qpm=qpm, chords=chords)
    _info(f"seed {seed}")
    _write(items, paths, out)


def interpolate_family(a, b, steps, concat, temperature, seed, qpm, checkpoint, out) -> None:
    from muse_cli import family_model as fm

    seed = _prepare(checkpoint, "interpolate", seed)
    songs = read_songs(checkpoint, (a, b))
    model = _load(checkpoint, steps)
    paths = _plan(["interp"] if concat else [f"interp_{k + 1:03d}" for k in range(steps)], out)
    qpm = qpm if given("qpm") else None
    items = fm.interpolate(model, songs[0], songs[1], steps, temperature, seed, qpm, concat)
    _info(f"seed {seed}")
    _write(items, paths, out)


def _regroove_cmd(verb: str, default: str, source, temperature, seed, qpm, checkpoint, out) -> None:
    """`muse groove` / `muse drumify`: a file through a GrooVAE checkpoint and back."""
    from muse_cli import family_model as fm

    checkpoint = checkpoint or default
    fam = family_for(checkpoint)
    if verb not in fam.verbs:
        raise UsageError(
            f"muse {verb} needs a GrooVAE checkpoint made for it (such as {default}); "
            f"{checkpoint} is a {fam.name} model"
        )
    seed = fm.new_seed() if seed is None else seed
    song = read_songs(checkpoint, (source,))[0]
    model = _load(checkpoint, 1)
    paths = _plan([f"{fm.stem(song.source)}.{verb}"], out)
    items = fm.regroove(model, song, temperature, seed, qpm if given("qpm") else None)
    _info(f"seed {seed}")
    _write(items, paths, out)


@cli.command(name="groove")
@click.argument("source", metavar="BEAT.mid|-")
@decode_options
@png_option
def groove_cmd(source, temperature, seed, qpm, checkpoint, out):
    """Humanize a drum beat: GrooVAE gives a quantized, flat beat a drummer's timing and dynamics.

    \b
    The beat goes through groovae_2bar_humanize (or -c another groove checkpoint), 2 bars at a time.
    Examples:
      muse groove beat.mid -o beat.humanized.mid
      muse groove beat.mid -c groovae_4bar --temperature 0.5 --wav -o grooves/
    """
    _regroove_cmd("groove", "groovae_2bar_humanize", source, temperature, seed, qpm, checkpoint, out)


@cli.command(name="drumify")
@click.argument("source", metavar="TAPS.mid|-")
@decode_options
@png_option
def drumify_cmd(source, temperature, seed, qpm, checkpoint, out):
    """Turn a tapped rhythm (any one-instrument MIDI) into a drum beat, as Magenta Studio's Drumify does.

    \b
    The rhythm goes through groovae_2bar_tap_fixed_velocity (or -c another tap checkpoint), 2 bars at a time.
    Examples:
      muse drumify tune.mid -o tune.beat.mid          a melody's rhythm, tapped, becomes a beat
      muse drumify tune.mid --temperature 0.8 --seed 3 --wav -o beats/
    """
    _regroove_cmd("drumify", "groovae_2bar_tap_fixed_velocity", source, temperature, seed, qpm, checkpoint, out)


def continue_family(source, seconds, keep, num, temperature, seed, qpm, chords, checkpoint, out) -> None:
    from muse_cli import family_model as fm

    seed = _prepare(checkpoint, "continue", seed)
    song = read_songs(checkpoint, (source,))[0]
    model = _load(checkpoint, num)
    paths = _plan([fm.continue_name(song.source, seed, v) for v in range(num)], out)
    qpm = qpm if given("qpm") else None
    items = fm.continue_piece(model, song, seconds, num, temperature, seed, qpm, keep, chords)
    _info(f"seed {seed}")
    _write(items, paths, out)
