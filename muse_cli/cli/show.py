"""`muse show`: a melody as a text roll on stdout, or as a piano-roll PNG (matplotlib, loaded only for the PNG);
drums as a grid beside it."""

from __future__ import annotations

import shutil
from pathlib import Path

import click

from muse_cli.cli.group import cli
from muse_cli.cli.options import force_option, json_option
from muse_cli.cli.output import announce, check_extension
from muse_cli.errors import UsageError
from muse_cli.files import STDIO


@cli.command(name="show")
@click.argument("midi", metavar="FILE.mid|-")
@click.option(
    "--output",
    "-o",
    default=None,
    metavar="ROLL.png|-",
    help="Write a piano-roll PNG there (- for PNG on stdout). Default: a text roll on stdout.",
)
@force_option
@json_option
def show_cmd(midi, output, force, json_):
    """Show a melody: a text piano roll on stdout, or a PNG piano roll with -o.

    \b
    The text roll has one row per pitch of the melody's range, one column per 16th note,
    | at bar lines, # where a note starts and = while it holds; it wraps to the terminal's width.
    The PNG adds beats, muse's 2-bar windows (orange) and their labels from the file's provenance.
    Drums (MIDI channel 10) follow as a grid: a row per drum class (kick, snare, closed hi-hat ...
    ride), x at each hit; a file of drums alone shows its grid (as PNG too).
    Examples:
      muse show tune.mid                           a text roll
      muse show tune.mid -o tune.roll.png          a piano-roll picture
      muse sample --seed 3 -o - | muse show -      a text roll of a melody on stdin
      muse show tune.mid -o - > tune.stdout.png    PNG on stdout
      muse show tune.mid -o tune.json.png --json   {"path": "tune.json.png", ...} on stdout
    """
    from muse_cli.files import atomic_write, check_writable, read_bytes, refuse_terminal, write_stdout
    from muse_cli.show import draw_png, draw_text, read_views

    check_extension(output, (".png",), "a PNG image")
    if json_ and output in (None, STDIO):
        raise UsageError("--json describes a written file; give -o ROLL.png (without it, stdout carries the roll)")
    if output == STDIO:
        refuse_terminal("a PNG image")
    elif output is not None:
        check_writable([Path(output)], force)
    views = read_views(read_bytes(midi), "stdin" if midi == STDIO else midi)
    if output is None:
        width = shutil.get_terminal_size((80, 24)).columns
        write_stdout(draw_text(views, width=min(max(width, 40), 240)).encode(), "the roll", binary=False)
    elif output == STDIO:
        write_stdout(draw_png(views), "a PNG image")
    else:
        atomic_write(Path(output), draw_png(views), force)
        announce([{"path": output, "format": "png", "source": "-" if midi == STDIO else midi}], json_)
