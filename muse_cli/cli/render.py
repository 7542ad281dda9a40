"""`muse render`: MIDI to WAV with FluidSynth (no TensorFlow involved)."""

from __future__ import annotations

from pathlib import Path

import click

from muse_cli.cli.group import cli
from muse_cli.cli.options import _rate, _soundfont_option, force_option, json_option
from muse_cli.cli.output import announce, check_extension, wav_seconds
from muse_cli.errors import UsageError
from muse_cli.files import STDIO


@cli.command(name="render")
@click.argument("midi", metavar="IN.mid|-")
@click.option(
    "--output",
    "-o",
    default=None,
    metavar="OUT.wav|-",
    help="A .wav file (no other extension is accepted), or - for stdout. Default: IN with .wav.",
)
@click.option(
    "--rate", type=int, default=44100, show_default=True, callback=_rate, help="Sample rate in Hz (8000 to 192000)."
)
@_soundfont_option("SoundFont (.sf2) to play the MIDI with. Default: pretty_midi's TimGM6mb.sf2.")
@force_option
@json_option
def render_cmd(midi, output, rate, soundfont, force, json_):
    """Render a MIDI file to WAV with FluidSynth (no TensorFlow involved).

    \b
    Examples:
      muse render back.mid                       -> back.wav
      muse render back.mid -o back.22k.wav --rate 22050 --soundfont /usr/share/sounds/sf2/default-GM.sf2
      muse sample -o - | muse render - -o - > rendered.wav
      muse render back.mid -o back.json.wav --json   {"path": "back.json.wav", "seconds": ...} on stdout
    """
    from muse_cli.files import atomic_write, check_writable, read_bytes, refuse_terminal, write_stdout
    from muse_cli.render import check_soundfont, render

    if output is None:
        if midi == STDIO:
            raise UsageError("reading MIDI from stdin: give -o OUT.wav or -o - for stdout")
        output = str(Path(midi).with_suffix(".wav"))
    check_extension(output, (".wav",), "WAV audio")
    if output == STDIO and json_:
        raise UsageError("--json describes a written file; give -o OUT.wav (with -o - stdout carries the audio)")
    if output != STDIO:
        check_writable([Path(output)], force)
    else:
        refuse_terminal("WAV audio")
    if soundfont is not None:
        check_soundfont(soundfont)
    data = read_bytes(midi)
    wav = render(data, rate=rate, soundfont=soundfont, source="stdin" if midi == STDIO else midi)
    if output == STDIO:
        write_stdout(wav, "WAV audio")
    else:
        atomic_write(Path(output), wav, force)
        seconds = wav_seconds(wav)
        about = {"format": "wav", "source": "-" if midi == STDIO else midi, "seconds": seconds, "rate": rate}
        announce([{"path": output, **about, "_say": f"{seconds:.1f} s of audio"}], json_)
