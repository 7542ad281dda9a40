"""Options several commands share, and the checks behind them (click callbacks)."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import click

from muse_cli import settings
from muse_cli.errors import PromptError, UsageError
from muse_cli.refine import DEFAULT_REFINE


def check_temperature(ctx, param, value):
    if value is not None and not settings.temperature_ok(value):
        raise click.BadParameter(f"must be {settings.TEMPERATURE_RANGE}, got {value:g}")
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


def refuse_unused(names: tuple[str, ...], why: str) -> None:
    """UsageError naming the options of ``names`` the user gave, which this run would ignore (``why``)."""
    unused = ["--" + name.replace("_", "-") for name in names if given(name)]
    if unused:
        raise UsageError(f"{', '.join(unused)} {why}; leave {'them' if len(unused) > 1 else 'it'} out")


def _seconds(ctx, param, value):
    if value is not None and not 0 < value <= settings.MAX_SECONDS:
        raise click.BadParameter(f"must be more than 0 and at most {settings.MAX_SECONDS:g} seconds, got {value:g}")
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
    """--tunes FILE: a corpus file (gzipped JSON) from muse_cli.training.corpus."""
    return click.option("--tunes", type=click.Path(dir_okay=False, path_type=Path), default=None, help=help_text)


def fit_seed_option(default: int, help_text: str):
    """--seed of a fitting command (fit-prompt, fit-attrs)."""
    return click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=default, show_default=True, help=help_text)


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
    callback=check_temperature,
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
QPM_HELP = "Tempo of the written MIDI, quarter notes per minute."


def qpm_option_for(help_text: str, show_default: bool = True):
    """--qpm, checked against settings' tempo range (``help_text``: what it means for the command)."""
    return click.option("--qpm", type=float, default=120.0, show_default=show_default, callback=_qpm, help=help_text)


# Each command's --qpm says what it does there: sample and decode read tempo words in a prompt; the commands that
# read a melody keep its own tempo unless --qpm is given.
prompt_qpm_option = qpm_option_for(f"{QPM_HELP} Given, it wins over a prompt's tempo words.")
decode_qpm_option = qpm_option_for(
    f"{QPM_HELP} Default: 120, or a --midi primer's own tempo; given, it wins over that and over a prompt's "
    "tempo words.",
    show_default=False,
)
melody_qpm_option = qpm_option_for(f"{QPM_HELP} Default: the melody's own tempo.", show_default=False)
first_qpm_option = qpm_option_for(f"{QPM_HELP} Default: A's own tempo.", show_default=False)
force_option = click.option("--force", "-f", is_flag=True, help="Overwrite existing output files.")
wav_option = click.option("--wav", is_flag=True, help="Also render each .mid to a .wav beside it (FluidSynth).")
png_option = click.option(
    "--png", is_flag=True, help="Also draw a piano-roll .png beside each .mid, as `muse show -o` does."
)
sheet_png_option = click.option(
    "--png", is_flag=True, help="Also draw one piano-roll .png of every step, laid end to end, beside the MIDI."
)
json_option = click.option(
    "--json",
    "json_",
    is_flag=True,
    help="Describe each written file as one JSON object per line on stdout (path, seed, seconds, notes...).",
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
walk_option = click.option(
    "--walk",
    "long",
    flag_value="walk",
    default="conductor",
    help="Past one 2-bar window, walk between independent windows (an AR(1) walk, muse's first long form) "
    "instead of the conductor (learned returns, one key, a cadence, whole bars).",
)


def _style(ctx, param, value):
    if value is not None:
        from muse_cli.styles import check_name

        check_name(value)
    return value


style_option = click.option(
    "--style",
    default=None,
    callback=_style,
    metavar="NAME",
    help="Let a style (muse fit-style DIR -o NAME; see muse styles) lead the pieces instead of the checkpoint's "
    "own conductor.",
)
form_option = click.option(
    "--form",
    default=None,
    callback=_form,
    metavar="LETTERS",
    help="Shape the piece as sections, such as AABA: one equal run of 2-bar windows per letter (up to 32); "
    "a letter's first section is new material, a letter that returns repeats its first section, window by "
    "window. Needs --seconds long enough for a window per letter.",
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
    help="A directory for many files (a new one may end in /), a .mid or .midi path for one, or - for MIDI on "
    "stdout; any other extension is refused. Default: current directory.",
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
    """Where and how a generating command writes: -o, --force, --wav, --soundfont, --png, --json; ``sheet`` names
    the one roll --png draws of every item (interpolate's steps) instead of one beside each .mid."""

    output: str | None
    force: bool
    wav: bool
    soundfont: Path | None
    png: bool = False
    sheet: str | None = None
    json: bool = False


def _generation_options(qpm):
    """The options every command that writes generated MIDI shares, in help order (``qpm``: its --qpm). The
    command receives the output options (and --png, where it has it) as one ``out``: :class:`Outputs`."""

    def decorate(f):
        @functools.wraps(f)
        def bundled(*args, output, wav, soundfont, force, json_, png=False, **kwargs):
            return f(*args, out=Outputs(output, force, wav, soundfont, png, json=json_), **kwargs)

        for option in reversed(
            (
                temperature_option,
                seed_option,
                qpm,
                checkpoint_option,
                engine_option,
                output_option,
                wav_option,
                soundfont_option,
                force_option,
                json_option,
                verbose_option,
            )
        ):
            bundled = option(bundled)
        return bundled

    return decorate


sample_options = _generation_options(prompt_qpm_option)
decode_options = _generation_options(decode_qpm_option)
melody_options = _generation_options(melody_qpm_option)  # vary, continue
interpolate_options = _generation_options(first_qpm_option)


def _chords(ctx, param, value):
    if value is None:
        return None
    from muse_cli.families.chords import parse_chords

    return parse_chords(value)


chords_option = click.option(
    "--chords",
    default=None,
    callback=_chords,
    metavar='"C G Am F"',
    help="For a chord-conditioned checkpoint (cat-mel_2bar_med_chords): the chord progression, spread evenly over "
    "the piece as magenta.js does (N.C. for no chord). The chords are written into the MIDI as a soft second "
    "track and as markers.",
)
