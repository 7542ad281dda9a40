"""Options several commands share, and the checks behind them (click callbacks)."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path

import click

from muse_cli import settings
from muse_cli.errors import PromptError, UsageError
from muse_cli.refine import DEFAULT_REFINE


def _temperature(ctx, param, value):
    if value is not None and not (math.isfinite(value) and 0 < value <= settings.MAX_TEMPERATURE):
        raise click.BadParameter(f"must be > 0 and at most {settings.MAX_TEMPERATURE:g}, got {value:g}")
    return value


def _rate(ctx, param, value):
    if not 8000 <= value <= 192000:
        raise click.BadParameter(f"must be between 8000 and 192000 Hz, got {value}")
    return value


def _verbose(ctx, param, value):
    if value:
        settings.set_verbose(True)


def _check_prompt(text: str | None) -> str | None:
    """The prompt, or PromptError: not UTF-8 (undecodable bytes), empty, or nothing but control characters."""
    if text is None:
        return None
    if any(0xDC80 <= ord(c) <= 0xDCFF for c in text):  # bytes that were not UTF-8, as Python decodes argv
        raise PromptError("the prompt is not valid UTF-8 text; give it as plain words, e.g. --prompt 'a busy reel'")
    if not "".join(c for c in text if c.isprintable()).strip():
        text = ""
    from muse_cli.prompt.text import check_prompt

    return check_prompt(text)


def given(name: str) -> bool:
    """Whether the user gave option ``name`` on the command line (rather than its default)."""
    from click.core import ParameterSource

    return click.get_current_context().get_parameter_source(name) not in (ParameterSource.DEFAULT, None)


def _seconds(ctx, param, value):
    if value is not None and not 0 < value <= settings.MAX_SECONDS:
        raise click.BadParameter(f"must be between 0 and {settings.MAX_SECONDS:g} seconds, got {value:g}")
    return value


def _form(ctx, param, value):
    if value is None:
        return None
    from muse_cli.errors import UsageError
    from muse_cli.form import form_letters

    try:
        return form_letters(value)
    except UsageError as exc:
        raise click.BadParameter(str(exc).removeprefix("--form ")) from None


def _qpm(ctx, param, value):
    if not settings.MIN_QPM <= value <= settings.MAX_QPM:
        raise click.BadParameter(
            f"must be between {settings.MIN_QPM:g} and {settings.MAX_QPM:g} quarter notes per minute, got {value:g}"
        )
    return value


def seconds_option(help_text: str):
    """--seconds/-s, checked against settings.MAX_SECONDS (its help names the limit)."""
    return click.option(
        "--seconds",
        "-s",
        type=float,
        default=None,
        callback=_seconds,
        help=f"{help_text} Max {settings.MAX_SECONDS:g}.",
    )


def count_option(name: str, low: int, default: int | None, help_text: str, show_default: bool = True):
    """An integer option from ``low`` to a million (fit-prompt's and fit-attrs' sizes)."""
    return click.option(
        name, type=click.IntRange(low, 1_000_000), default=default, show_default=show_default, help=help_text
    )


def tunes_option(help_text: str):
    """--tunes PKL: a corpus pickle from muse_cli.training.corpus."""
    return click.option("--tunes", type=click.Path(dir_okay=False, path_type=Path), default=None, help=help_text)


def fit_seed_option(default: int, help_text: str):
    """--seed of a fitting command (fit-prompt, fit-attrs)."""
    return click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=default, show_default=True, help=help_text)


def path_output_option(help_text: str, folder: bool = False):
    """-o PATH of a fitting command: a file, or with ``folder`` a directory."""
    kind = click.Path(file_okay=False, path_type=Path) if folder else click.Path(dir_okay=False, path_type=Path)
    return click.option("--output", "-o", type=kind, default=None, help=help_text)


checkpoint_option = click.option(
    "--checkpoint",
    "-c",
    default=None,
    metavar="NAME|PATH",
    help="Registry name (see `muse checkpoints`) or checkpoint directory. Default: the embedded model.",
)
temperature_option = click.option(
    "--temperature",
    "-t",
    type=float,
    default=1.0,
    show_default=True,
    callback=_temperature,
    help=f"Sampling temperature (> 0, at most {settings.MAX_TEMPERATURE:g}); lower is more conservative.",
)
seed_option = click.option(
    "--seed",
    type=click.IntRange(0, 2**63 - 1),
    default=None,
    help="Random seed (>= 0): the same seed gives the same bytes.",
)
verbose_option = click.option(
    "--verbose",
    "-v",
    is_flag=True,
    expose_value=False,
    callback=_verbose,
    help="Show TensorFlow's logs (same as muse -v).",
)
qpm_option = click.option(
    "--qpm",
    type=float,
    default=120.0,
    show_default=True,
    callback=_qpm,
    help="Tempo of the written MIDI, quarter notes per minute. Given, it wins over a prompt's tempo words.",
)
force_option = click.option("--force", "-f", is_flag=True, help="Overwrite existing output files.")
wav_option = click.option("--wav", is_flag=True, help="Also render each .mid to a .wav beside it (FluidSynth).")
png_option = click.option(
    "--png",
    is_flag=True,
    help="Also draw a piano-roll .png beside each .mid, as `muse show -o` does (interpolate: one of all its steps).",
)


def _soundfont_option(help_text: str):
    return click.option("--soundfont", type=click.Path(dir_okay=False, path_type=Path), default=None, help=help_text)


soundfont_option = _soundfont_option("SoundFont (.sf2) for --wav. Default: pretty_midi's TimGM6mb.sf2.")
prompt_option = click.option(
    "--prompt",
    "-p",
    default=None,
    metavar="TEXT",
    help="Describe the melody in words (needs the checkpoint's prompt head; see `muse fit-prompt`). A key "
    "('in D major') and a tempo ('fast', 'at 140 bpm') named in it are kept.",
)
candidates_option = click.option(
    "--candidates",
    type=click.IntRange(1, 256),
    default=None,
    metavar="N",
    help="With --prompt: draw N melodies for each one asked for and keep the one whose measured features "
    "(register, density, contour...) best fit the words. Default 16; 1 turns the choice off.",
)
form_option = click.option(
    "--form",
    default=None,
    callback=_form,
    metavar="LETTERS",
    help="Shape the piece as sections, such as AABA: one equal run of 2-bar windows per letter (up to 32); "
    "a letter's first section is new material, a letter that returns repeats it with a small variation. "
    "Needs --seconds long enough for a window per letter.",
)
engine_option = click.option(
    "--engine",
    type=click.Choice(settings.ENGINES),
    default=None,
    expose_value=False,
    callback=lambda ctx, param, value: settings.set_engine(value),
    help="What runs the model: numpy (default, fast) or magenta (TrainedModel, TensorFlow); same notes. "
    "Env: MUSE_ENGINE.",
)
output_option = click.option(
    "--output",
    "-o",
    default=None,
    metavar="PATH|-",
    help="A directory for many files, a .mid path for one, or - for MIDI on stdout. Default: current directory.",
)


refine_option = click.option(
    "--refine",
    type=click.IntRange(0, 10_000),
    default=None,
    metavar="N",
    help=f"Refine each window's latent by N gradient steps on the decoder's reconstruction of it, in NumPy "
    f"(default {DEFAULT_REFINE}; 0: the encoder's mean). See README, Refinement, for accuracy and time per step count.",
)


def _attrs(ctx, param, value):
    if not value:
        return None
    from muse_cli.attributes import parse

    return parse(value)


attr_option = click.option(
    "--attr",
    "attrs",
    multiple=True,
    callback=_attrs,
    metavar="NAME=VALUE",
    help="Move the melody along an attribute (see `muse attrs`): density, register, contour, leaps, range, "
    f"rests; +1 is a clear step up, -1 down, at most ±{settings.MAX_ATTR:g}. Repeat it, or give several "
    "pairs after one --attr: --attr density=+1 register=-0.5.",
)


def spread_attr_pairs(args: list[str]) -> list[str]:
    """``--attr a=1 b=-2`` -> ``--attr a=1 --attr b=-2``: NAME=NUMBER words right after an --attr pair join it."""
    from muse_cli.attributes import PAIR

    out: list[str] = []
    joining = False
    for k, arg in enumerate(args):
        if arg == "--":
            return out + list(args[k:])
        if joining and PAIR.match(arg):
            out += ["--attr", arg]
            continue
        joining = out[-1:] == ["--attr"] or arg.startswith("--attr=")
        out.append(arg)
    return out


def check_attrs(attrs: dict | None, prompt: str | None, checkpoint: str | None) -> None:
    """Before any model work: --attr does not combine with --prompt yet, and its names must be the checkpoint's."""
    if not attrs:
        return
    if prompt is not None:
        raise UsageError("--attr does not combine with --prompt yet; give one or the other")
    from muse_cli import registry
    from muse_cli.attributes import check_file

    check_file(registry.resolve(checkpoint), list(attrs))


@dataclass(frozen=True)
class Outputs:
    """Where and how a generating command writes: -o, --force, --wav, --soundfont, --png; ``sheet`` names the
    one roll --png draws of every item (interpolate's steps) instead of one beside each .mid."""

    output: str | None
    force: bool
    wav: bool
    soundfont: Path | None
    png: bool = False
    sheet: str | None = None


def generation_options(f):
    """The options every command that writes generated MIDI shares, in help order. The command receives the
    output options (and --png, where it has it) as one ``out``: :class:`Outputs`."""

    @functools.wraps(f)
    def bundled(*args, output, wav, soundfont, force, png=False, **kwargs):
        return f(*args, out=Outputs(output, force, wav, soundfont, png), **kwargs)

    for option in reversed(
        (
            temperature_option,
            seed_option,
            qpm_option,
            checkpoint_option,
            engine_option,
            output_option,
            wav_option,
            soundfont_option,
            force_option,
            verbose_option,
        )
    ):
        bundled = option(bundled)
    return bundled
