"""`muse sample`, `decode`, `interpolate`, `vary` and `continue`: generated melodies written as MIDI (and WAV)."""

from __future__ import annotations

from dataclasses import replace

import click

from muse_cli import settings
from muse_cli.cli.family import (
    decode_family,
    family_for,
    interpolate_family,
    refuse_chords,
    sample_family,
)
from muse_cli.cli.group import cli
from muse_cli.cli.options import (
    _check_prompt,
    attr_option,
    candidates_option,
    check_attrs,
    chords_option,
    decode_options,
    form_option,
    given,
    interpolate_options,
    png_option,
    prompt_option,
    refuse_unused,
    sample_options,
    seconds_option,
    sheet_png_option,
    style_option,
    walk_option,
)
from muse_cli.cli.output import STEP_WINDOWS, _info, _load, _plan, _read_melodies, _write, busy, in_steps
from muse_cli.encoding import WINDOW_STEPS
from muse_cli.errors import UsageError
from muse_cli.files import STDIO


@cli.command(name="sample")
@click.option(
    "--num", "-n", type=click.IntRange(1, settings.MAX_NUM), default=1, show_default=True, help="How many melodies."
)
@seconds_option("Length of each melody (long form: chained 2-bar segments).")
@prompt_option
@candidates_option
@form_option
@walk_option
@style_option
@attr_option
@chords_option
@sample_options
@png_option
def sample_cmd(
    num,
    seconds,
    temperature,
    seed,
    qpm,
    prompt,
    candidates,
    form,
    long,
    style,
    attrs,
    chords,
    checkpoint,
    out,
):
    """Sample melodies from the model's prior.

    \b
    Examples:
      muse sample                                  one 2-bar melody -> ./sample_s<seed>_001.mid
      muse sample --seconds 16 --temperature 1.0 --wav -o out/
      muse sample -n 16 --seed 42 -o batch/        same seed, same bytes
      muse sample -o - > melody.mid                MIDI on stdout
      muse sample -n 2 --seed 5 --json -o json/    one JSON object per file written, for scripts
      muse sample --prompt "a slow sad tune in A minor" -n 4 -o sad/
      muse sample --seconds 32 --form AABA --seed 4 -o aaba/   four 8-second sections: A, A, B, A
      muse sample --seconds 32 --walk --seed 4 -o walk/        the old walk between independent windows
      muse sample --attr density=+1 register=-0.5 --seed 42 -o busy/   attribute sliders: see muse attrs
      muse sample -c cat-drums_2bar_small.lokl --seed 2 -o beat.mid   a drum beat: see muse checkpoints for more
      muse sample -c cat-mel_2bar_med_chords --chords "C G Am F" --seconds 8 -o over/
    """
    from muse_cli import model as m
    from muse_cli.form import check_form

    if family_for(checkpoint).codec:
        return sample_family(num, seconds, temperature, seed, qpm, chords, checkpoint, out)
    refuse_chords(chords)
    prompt = _check_prompt(prompt)
    if prompt is None:
        refuse_unused(("candidates",), "goes with --prompt (it picks among prompted melodies)")
    elif long == "walk" or style:
        what = "--walk is" if long == "walk" else "--style is"
        raise UsageError(f"{what} for melodies without --prompt (a prompt's long pieces walk its region); leave it out")
    asked = qpm if given("qpm") else None  # --qpm wins over the prompt's tempo words
    if prompt is not None:
        from muse_cli.prompt.api import prompt_tempo

        qpm = prompt_tempo(prompt, asked)
    form = check_form(form, seconds, qpm)
    check_attrs(attrs, prompt, checkpoint)
    seed = m.new_seed() if seed is None else seed
    names = [m.sample_name(seed, i) for i in range(num)]
    paths = _plan(names, out)
    windows = num * m.segments_for(seconds, qpm)
    model = _load(checkpoint, windows)
    if prompt is not None:
        items = _sample_prompted(model, prompt, num, seconds, temperature, seed, asked, candidates, form)
    else:
        _say_long(model, long, seconds, qpm, style)
        items = _sample_prior(model, num, seconds, temperature, seed, qpm, form, attrs, long, style)
    _info(f"seed {seed}")
    _write(items, paths, out)


def _sample_prompted(model, prompt, num, seconds, temperature, seed, asked, candidates, form) -> list:
    """`muse sample --prompt`: under the progress display when it is long, with a note of what was applied."""
    from muse_cli import model as m
    from muse_cli.prompt.api import applied, sample_with_prompt

    windows = num * m.segments_for(seconds, 120.0 if asked is None else asked)
    with busy(windows * (candidates or 16), f"sampling {num} from the prompt"):
        items = sample_with_prompt(
            model,
            prompt,
            n=num,
            seconds=seconds,
            temperature=temperature,
            seed=seed,
            qpm=asked,
            candidates=candidates,
            form=form,
        )
    if applied(items):
        _info(applied(items))
    return items


def _say_long(model, long: str, seconds: float | None, qpm: float, style: str | None = None) -> None:
    """A note on stderr when a long piece would be conducted but the checkpoint has no conductor to do it."""
    from muse_cli import model as m
    from muse_cli.conductor import FIT_COMMAND

    if not style and long == "conductor" and m.is_long(seconds, qpm) and m.long_form(model, long) == "walk":
        _info(f"note: checkpoint {model.name} has no conductor, so long pieces walk (fit one: {FIT_COMMAND})")


def _sample_prior(model, num, seconds, temperature, seed, qpm, form, attrs, long, style):
    """`muse sample` without a prompt: under the progress display on a terminal, about STEP_WINDOWS at a time."""
    from muse_cli import model as m

    def some(first: int, count: int):
        return m.sample(
            model,
            n=count,
            seconds=seconds,
            temperature=temperature,
            seed=seed,
            qpm=qpm,
            first_index=first,
            form=form,
            attrs=attrs,
            long=long,
            style=style,
        )

    return in_steps(num, max(1, STEP_WINDOWS // m.segments_for(seconds, qpm)), "sampling", "melodies", some)


@cli.command(name="decode")
@click.argument("latents", required=False, metavar="[LATENTS|-]")
@prompt_option
@click.option(
    "--midi",
    "midi_file",
    default=None,
    metavar="FILE.mid|-",
    help="A MIDI primer: encode it and decode its windows (wins over --prompt).",
)
@candidates_option
@attr_option
@chords_option
@decode_options
@png_option
def decode_cmd(
    latents,
    prompt,
    midi_file,
    candidates,
    attrs,
    chords,
    temperature,
    seed,
    qpm,
    checkpoint,
    out,
):
    """Decode latent vectors (muse encode's output), a MIDI primer, or a text prompt into MIDI.

    \b
    Windows of one source are laid end to end, so a 16-bar tune comes back 16 bars long.
    A MIDI primer or latents win over a prompt (the prompt is then ignored, with a warning).
    Examples:
      muse decode tune.npz -o back.mid
      muse decode latents.npz --temperature 0.5 --seed 3 -o decoded/ --wav   one .mid and .wav per source
      muse encode tune.mid | muse decode - -o - > back.stdout.mid
      muse decode --prompt "a calm German folk song" --seed 2 -o folk.mid
      muse decode --midi tune.mid -o primed.mid
      muse decode tune.npz --attr register=+1 --seed 1 -o tune.higher.mid
    """
    from muse_cli import model as m
    from muse_cli.files import read_bytes
    from muse_cli.latents import check_latent_length, read_latents

    if family_for(checkpoint).codec:
        return decode_family(latents, midi_file, temperature, seed, qpm, chords, checkpoint, out)
    refuse_chords(chords)
    prompt = _check_prompt(prompt)
    if prompt is None:
        refuse_unused(("candidates",), "goes with --prompt (it picks among prompted melodies)")
    seed = m.new_seed() if seed is None else seed
    if prompt is not None:
        if latents is not None or midi_file is not None:
            _info(f"warning: --prompt ignored: the {'MIDI primer' if midi_file else 'latent input'} wins")
            prompt = None
    check_attrs(attrs, prompt, checkpoint)
    if latents is not None and midi_file is not None:
        raise UsageError("give latents or --midi FILE, not both")
    if prompt is not None:
        asked = qpm if given("qpm") else None  # --qpm wins over the prompt's tempo words
        _decode_prompt(prompt, candidates, temperature, seed, asked, checkpoint, out)
        return
    if midi_file is not None:
        melodies = _read_melodies((midi_file,))
        names = [m.decoded_name(melodies[0].source)]
        paths = _plan(names, out)
        model = _load(checkpoint, max(1, -(-melodies[0].total_steps // WINDOW_STEPS)))
        windows = m.encode(model, melodies)
        like, qpm = melodies[0], (qpm if given("qpm") else None)  # else the primer's own tempo
    else:
        like = None
        if latents is None:
            raise UsageError("give a latents file (muse encode's output), - for stdin, --midi FILE or --prompt TEXT")
        windows = read_latents(read_bytes(latents), "stdin" if latents == STDIO else latents)
        check_latent_length(windows, qpm)
        sources = list(dict.fromkeys(w.source for w in windows))
        names = [m.decoded_name(s) for s in sources]
        paths = _plan(names, out)
        model = _load(checkpoint, len(windows))
        _say_other_checkpoint(windows, model)
    with busy(len(windows), f"decoding {len(windows)} windows"):
        items = m.decode(model, windows, temperature=temperature, seed=seed, qpm=qpm, attrs=attrs, like=like)
    _info(f"seed {seed}")
    _write(items, paths, out)


def _say_other_checkpoint(windows, model) -> None:
    """A warning when latents were encoded with another checkpoint than the one decoding them."""
    other = sorted({w.checkpoint for w in windows} - {"", model.name})
    if other:
        _info(
            f"warning: these latents were encoded with {', '.join(other)}, not {model.name}; "
            "pass the same --checkpoint to decode them faithfully"
        )


def _decode_prompt(prompt, candidates, temperature, seed, qpm, checkpoint, out) -> None:
    """`muse decode --prompt`: one melody from the prompt's region (``out``: out)."""
    from muse_cli.prompt.api import applied, decode_prompt, prompt_tempo

    prompt_tempo(prompt, qpm)  # a tempo out of range in the words fails before any work
    paths = _plan(["prompt.decoded"], out)
    model = _load(checkpoint, 1)
    items = decode_prompt(model, prompt, temperature=temperature, seed=seed, qpm=qpm, candidates=candidates)
    _info(f"seed {seed}")
    if applied(items):
        _info(applied(items))
    _write(items, paths, out)


@cli.command(name="interpolate")
@click.argument("a", metavar="A.mid")
@click.argument("b", metavar="B.mid")
@click.option(
    "--steps",
    type=click.IntRange(2, 64),
    default=5,
    show_default=True,
    help="Number of melodies from A to B, both ends included.",
)
@click.option("--concat", is_flag=True, help="Write one MIDI with the steps in sequence.")
@interpolate_options
@sheet_png_option
def interpolate_cmd(a, b, steps, concat, temperature, seed, qpm, checkpoint, out):
    """Morph between two melodies by spherical interpolation of their latents.

    \b
    Uses the first 2-bar window of each file, as magenta's music_vae_generate does.
    Examples:
      muse interpolate tune.mid song.mid --steps 5 -o morph/   morph/interp_001.mid ... _005.mid
      muse interpolate tune.mid song.mid --steps 8 --concat --temperature 0.3 -o morph/all.mid --wav
    """
    from muse_cli import model as m

    out = replace(out, sheet="interp")  # --png: one roll of every step
    if family_for(checkpoint).codec:
        return interpolate_family(a, b, steps, concat, temperature, seed, qpm, checkpoint, out)
    melodies = _read_melodies((a, b))
    names = ["interp"] if concat else [f"interp_{k + 1:03d}" for k in range(steps)]
    paths = _plan(names, out)
    seed = m.new_seed() if seed is None else seed
    model = _load(checkpoint, steps)
    qpm = qpm if given("qpm") else None  # else A's own tempo
    items = m.interpolate(
        model, melodies[0], melodies[1], steps=steps, temperature=temperature, seed=seed, qpm=qpm, concat=concat
    )
    _info(f"seed {seed}")
    _write(items, paths, out)
