"""`muse vary` and `muse continue`: new melodies from one you give, written as MIDI (and WAV)."""

from __future__ import annotations

import click

from muse_cli.cli.family import continue_family, family_for, refuse_chords, vary_family
from muse_cli.cli.generate import _say_long
from muse_cli.cli.group import cli
from muse_cli.cli.options import (
    attr_option,
    check_attrs,
    chords_option,
    form_option,
    given,
    melody_options,
    png_option,
    seconds_option,
    style_option,
    walk_option,
)
from muse_cli.cli.output import _info, _load, _plan, _read_melodies, _write, busy
from muse_cli.encoding import WINDOW_STEPS


def _amount(ctx, param, value):
    if not 0.0 <= value <= 1.0:  # also refuses nan
        raise click.BadParameter(f"must be between 0 (the melody itself) and 1 (a new melody), got {value:g}")
    return value


@cli.command(name="vary")
@click.argument("source", metavar="FILE.mid|-")
@click.option("--num", "-n", type=click.IntRange(1, 256), default=8, show_default=True, help="How many variations.")
@click.option(
    "--amount",
    "-a",
    type=float,
    default=0.3,
    show_default=True,
    callback=_amount,
    help="How far each variation moves from the melody: 0 keeps it, 1 is a new melody of the same length.",
)
@attr_option
@chords_option
@melody_options
@png_option
def vary_cmd(source, num, amount, attrs, chords, temperature, seed, qpm, checkpoint, out):
    """Variations of a melody, 2-bar window by 2-bar window, as long as the melody.

    \b
    Each window's latent moves toward a random point of the prior by --amount, along the
    great circle between them (as magenta.js's MusicVAE.similar() does).
    Examples:
      muse vary tune.mid -n 4 --amount 0.3 --seed 7 -o variations/
      muse vary tune.mid -n 1 --amount 0.1 -o - > close.mid
      muse vary tune.mid -n 2 --amount 0.2 --attr density=-1 --seed 7 -o sparser/
    """
    from muse_cli import model as m

    if family_for(checkpoint).codec:
        return vary_family(source, num, amount, temperature, seed, qpm, chords, checkpoint, out)
    refuse_chords(chords)
    melody = _read_melodies((source,))[0]
    check_attrs(attrs, None, checkpoint)
    seed = m.new_seed() if seed is None else seed
    paths = _plan([m.vary_name(melody.source, seed, v) for v in range(num)], out)
    windows = num * max(1, -(-melody.total_steps // WINDOW_STEPS))
    model = _load(checkpoint, windows)
    qpm = qpm if given("qpm") else None  # else the melody's own tempo
    with busy(windows, f"{num} variations"):
        items = m.vary(model, melody, n=num, amount=amount, temperature=temperature, seed=seed, qpm=qpm, attrs=attrs)
    _info(f"seed {seed}")
    _write(items, paths, out)


@cli.command(name="continue")
@click.argument("source", metavar="FILE.mid|-")
@seconds_option("Length of the new part (the input plays first, as written). Default: one 2-bar window.")
@click.option("--keep", is_flag=True, help="Write only the new bars.")
@click.option("--num", "-n", type=click.IntRange(1, 256), default=1, show_default=True, help="How many continuations.")
@form_option
@walk_option
@style_option
@attr_option
@chords_option
@melody_options
@png_option
def continue_cmd(source, seconds, keep, num, form, long, style, attrs, chords, temperature, seed, qpm, checkpoint, out):
    """Carry a melody on: the melody as written, then new bars from its next bar line.

    \b
    The conductor leads the new bars: it hears every 2-bar window of the melody, keeps its key,
    returns to its material as real tunes do, and ends on a cadence; --seconds rounds to whole bars.
    Examples:
      muse continue tune.mid --seconds 16 --seed 3 -o tune.more.mid
      muse continue tune.mid --seconds 16 --keep -n 2 -o next/    only the new bars
      muse continue tune.mid --seconds 32 --form ABAC --wav -o shaped/
    """
    from muse_cli import model as m
    from muse_cli.form import check_form

    if family_for(checkpoint).codec:
        return continue_family(source, seconds, keep, num, temperature, seed, qpm, chords, checkpoint, out)
    refuse_chords(chords)
    melody = _read_melodies((source,))[0]
    qpm = qpm if given("qpm") else melody.qpm  # the melody's own tempo unless --qpm says otherwise
    form = check_form(form, seconds, qpm)
    check_attrs(attrs, None, checkpoint)
    seed = m.new_seed() if seed is None else seed
    paths = _plan([m.continue_name(melody.source, seed, v) for v in range(num)], out)
    windows = num * m.segments_for(seconds, qpm)
    model = _load(checkpoint, windows)
    _say_long(model, long, seconds, qpm, style)
    with busy(windows, f"{num} continuations"):
        items = m.continue_melody(
            model,
            melody,
            seconds,
            n=num,
            temperature=temperature,
            seed=seed,
            qpm=qpm,
            form=form,
            keep=keep,
            attrs=attrs,
            long=long,
            style=style,
        )
    _info(f"seed {seed}")
    _write(items, paths, out)
