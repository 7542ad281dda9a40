"""The `muse` command: one small function per subcommand that parses, calls the library, writes.

Results go to stdout (file paths written, or the data itself with ``-o -``);
progress and messages go to stderr. Every MuseError becomes one line on stderr
and a non-zero exit; MUSE_DEBUG=1 shows the traceback instead.
"""

from __future__ import annotations

from muse_cli.cpu import choose_openblas_kernel

choose_openblas_kernel()  # before anything loads NumPy: see muse_cli/cpu.py

import errno  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import click  # noqa: E402

from muse_cli import settings  # noqa: E402
from muse_cli.encoding import WINDOW_STEPS  # noqa: E402
from muse_cli.errors import CheckpointError, ExitCode, MuseError, PromptError, UsageError, WriteError  # noqa: E402
from muse_cli.files import STDIO  # noqa: E402


# -- shared options -------------------------------------------------------------
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


def _seconds(ctx, param, value):
    if value is not None and not 0 < value <= settings.MAX_SECONDS:
        raise click.BadParameter(f"must be between 0 and {settings.MAX_SECONDS:g} seconds, got {value:g}")
    return value


def _qpm(ctx, param, value):
    if not 20 <= value <= 400:
        raise click.BadParameter(f"must be between 20 and 400 quarter notes per minute, got {value:g}")
    return value


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
    help="Tempo of the written MIDI, quarter notes per minute.",
)
force_option = click.option("--force", "-f", is_flag=True, help="Overwrite existing output files.")
wav_option = click.option("--wav", is_flag=True, help="Also render each .mid to a .wav beside it (FluidSynth).")


def _soundfont_option(help_text: str):
    return click.option("--soundfont", type=click.Path(dir_okay=False, path_type=Path), default=None, help=help_text)


soundfont_option = _soundfont_option("SoundFont (.sf2) for --wav. Default: pretty_midi's TimGM6mb.sf2.")
prompt_option = click.option(
    "--prompt",
    "-p",
    default=None,
    metavar="TEXT",
    help="Describe the melody in words (needs the checkpoint's prompt head; see `muse fit-prompt`).",
)
candidates_option = click.option(
    "--candidates",
    type=click.IntRange(1, 256),
    default=None,
    metavar="N",
    help="With --prompt: draw N melodies for each one asked for and keep the one whose measured features "
    "(register, density, contour...) best fit the words. Default 16; 1 turns the choice off.",
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
    default=0,
    show_default=True,
    metavar="N",
    help="Refine each window's latent by N gradient steps on the decoder's reconstruction of it (100 steps: "
    "step accuracy 0.978 against 0.909 on muse eval's test split). Loads TensorFlow (about 6 s), then about "
    "10 s per 50 steps for a tune, 5 min for muse eval's test split.",
)


def generation_options(f):
    """The options every command that writes generated MIDI shares, in help order."""
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
        f = option(f)
    return f


def _info(msg: str) -> None:
    click.echo(msg, err=True)


class _UserError(click.ClickException):
    """A MuseError on its way out: one line on stderr, the error's own exit code."""

    def __init__(self, error: MuseError):
        super().__init__(str(error))
        self.exit_code = error.exit_code

    def show(self, file=None) -> None:
        click.echo(f"muse: error: {self.message}", err=True)


class _MuseGroup(click.Group):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except MuseError as exc:
            if settings.debug():
                raise
            raise _UserError(exc) from exc
        except OSError as exc:  # the last net: a disk or stream error no check above foresaw
            if settings.debug():
                raise
            raise _UserError(_os_error(exc)) from exc
        except KeyboardInterrupt:
            if settings.debug():
                raise
            click.echo("muse: interrupted", err=True)
            ctx.exit(ExitCode.INTERRUPTED)


def _os_error(exc: OSError) -> MuseError:
    """One line for a stray OSError: exit 8 for the ways a write fails, 1 otherwise."""
    where = f"{exc.filename}: " if exc.filename else ""
    why = exc.strerror or str(exc) or type(exc).__name__
    if exc.errno in (
        errno.ENOSPC,
        errno.EROFS,
        errno.EDQUOT,
        errno.EFBIG,
        errno.EPIPE,
        errno.EACCES,
        errno.EPERM,
        errno.ENOTDIR,
        errno.EEXIST,
        errno.EISDIR,
    ):
        return WriteError(f"{where}{why}")
    return MuseError(f"{where}{why}")


@click.group(cls=_MuseGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="muse-cli", prog_name="muse")
@click.option("--verbose", "-v", is_flag=True, help="Show TensorFlow's logs.")
def cli(verbose: bool) -> None:
    """Make melodies with Magenta's MusicVAE.

    \b
    Examples:
      muse sample --seconds 16 --seed 7 --wav -o song.mid   a 16-second melody: song.mid and song.wav
      muse sample -n 8 --temperature 0.7 --seed 1 -o out/   out/sample_s1_001.mid ... _008.mid
      muse encode song.mid -o song.npz                      2-bar windows -> latent vectors
      muse decode song.npz -o song.decoded.mid
      muse interpolate out/sample_s1_001.mid out/sample_s1_008.mid --steps 5 --concat -o morph5.mid
      muse render song.decoded.mid                          -> song.decoded.wav
      muse sample -o - | muse render - -o - > stdout.wav

    Set MUSE_DEBUG=1 for tracebacks; MUSE_HOME moves the checkpoint cache.
    """
    settings.set_verbose(verbose)


# -- output planning ------------------------------------------------------------
def _plan(
    names: list[str], output: str | None, force: bool, wav: bool, soundfont: Path | None = None
) -> list[Path] | None:
    """Paths for each generated item (None means stdout); checked before any model work.

    Checked: stdout is not a terminal, each output's folder is (or can become) a writable directory,
    no output exists (without --force), and the SoundFont for --wav is one.
    """
    from muse_cli.files import check_writable, refuse_terminal

    if wav and soundfont is not None:
        from muse_cli.render import check_soundfont

        check_soundfont(soundfont)
    if output == STDIO:
        if len(names) != 1:
            raise UsageError(f"-o - writes one MIDI file to stdout, but this makes {len(names)}; give a directory")
        if wav:
            raise UsageError("--wav cannot go to stdout; pipe the MIDI into `muse render - -o -` instead")
        refuse_terminal("MIDI")
        return None
    target = Path(output) if output else Path(".")
    if target.suffix.lower() in (".mid", ".midi"):
        if len(names) != 1:
            raise UsageError(f"-o {output} names one file, but this makes {len(names)}; give a directory")
        paths = [target]
    else:
        if target.exists() and not target.is_dir():
            raise UsageError(f"-o {output} exists and is not a directory; give a directory or a .mid path")
        if target.is_symlink() and not target.exists():
            raise UsageError(f"-o {output} is a broken symbolic link; give a directory or a .mid path")
        paths = [target / f"{n}.mid" for n in names]
    check_writable(paths + ([p.with_suffix(".wav") for p in paths] if wav else []), force)
    return paths


def _write(items, paths: list[Path] | None, force: bool, wav: bool, soundfont: Path | None) -> None:
    """Write every item (and its .wav) as one set: all to temporary files, then all renamed.

    A failure or Ctrl-C part way leaves none of this run's outputs and no temporary file.
    """
    from muse_cli.files import OutputSet, write_stdout

    if paths is None:
        write_stdout(items[0].midi(), "MIDI")
        return
    with OutputSet(force) as out:
        for item, path in zip(items, paths):
            data = item.midi()
            out.add(path, data)
            if wav:
                from muse_cli.render import render

                out.add(path.with_suffix(".wav"), render(data, soundfont=soundfont, source=str(path)))
        out.commit()
    from muse_cli.midi import written_notes

    for item, path in zip(items, paths):
        click.echo(str(path))
        if wav:
            click.echo(str(path.with_suffix(".wav")))
        notes = len(written_notes(item.notes, item.qpm, item.seconds))
        _info(f"wrote {path}{' and .wav' if wav else ''} ({item.seconds:.1f} s, {notes} notes)")


def _load(checkpoint: str | None, rows: int):
    from muse_cli import registry
    from muse_cli.configs import MELODY_CONFIGS
    from muse_cli.model import batch_size_for, load_model

    engine = settings.engine()  # a bad MUSE_ENGINE is an error before anything is said
    ckpt = registry.resolve(checkpoint)  # a bad name, path or muse.json fails here, before the slow part
    if ckpt.sampling and ckpt.config not in MELODY_CONFIGS:
        raise CheckpointError(
            f"checkpoint {ckpt.name} names config {ckpt.config!r}; muse plays "
            f"{' and '.join(MELODY_CONFIGS)} (fix the config in its muse.json or the registry)"
        )
    _info("loading model...")
    try:
        model = load_model(checkpoint, batch_size=batch_size_for(rows), engine=engine)
    except KeyError as exc:  # configs.build_config: a config name or hparam magenta does not know
        what = exc.args[0] if exc.args else exc
        raise CheckpointError(
            f"checkpoint {checkpoint or 'default'}: {what} is not a magenta 2-bar melody "
            "config or hparam; fix the config in its muse.json or the registry"
        ) from None
    _info(f"checkpoint {model.name} (z {model.z_size})")
    return model


# -- commands -------------------------------------------------------------------
@cli.command(name="sample")
@click.option(
    "--num", "-n", type=click.IntRange(1, settings.MAX_NUM), default=1, show_default=True, help="How many melodies."
)
@click.option(
    "--seconds",
    "-s",
    type=float,
    default=None,
    callback=_seconds,
    help=f"Length of each melody (long form: chained 2-bar segments). Max {settings.MAX_SECONDS:g}.",
)
@prompt_option
@candidates_option
@generation_options
def sample_cmd(num, seconds, temperature, seed, qpm, prompt, candidates, checkpoint, output, wav, soundfont, force):
    """Sample melodies from the model's prior.

    \b
    Examples:
      muse sample                                  one 2-bar melody -> ./sample_s<seed>_001.mid
      muse sample --seconds 16 --temperature 1.0 --wav -o out/
      muse sample -n 16 --seed 42 -o batch/        same seed, same bytes
      muse sample -o - > melody.mid                MIDI on stdout
      muse sample --prompt "a slow sad tune in A minor" -n 4 -o sad/
    """
    from muse_cli import model as m

    prompt = _check_prompt(prompt)
    seed = m.new_seed() if seed is None else seed
    names = [m.sample_name(seed, i) for i in range(num)]
    paths = _plan(names, output, force, wav, soundfont)
    model = _load(checkpoint, num * m.segments_for(seconds, qpm))
    if prompt is not None:
        from muse_cli.prompt.api import sample_with_prompt

        items = sample_with_prompt(
            model, prompt, n=num, seconds=seconds, temperature=temperature, seed=seed, qpm=qpm, candidates=candidates
        )
    else:
        items = m.sample(model, n=num, seconds=seconds, temperature=temperature, seed=seed, qpm=qpm)
    _info(f"seed {seed}")
    _write(items, paths, force, wav, soundfont)


def _read_melodies(files: tuple[str, ...]):
    from muse_cli.files import read_bytes
    from muse_cli.midi import read_melody

    if not files:
        raise UsageError("give one or more MIDI files, or - for stdin")
    return [read_melody(read_bytes(f), "stdin" if f == STDIO else f) for f in files]


@cli.command(name="encode")
@click.argument("files", nargs=-1, metavar="FILE.mid... | -")
@click.option(
    "--output",
    "-o",
    default=STDIO,
    show_default=True,
    metavar="FILE.npz|FILE.npy|-",
    help="Latents: .npz (with sources and bars), .npy (vectors only), or NDJSON on stdout.",
)
@click.option("--sample-z", is_flag=True, help="Draw z from the posterior instead of using its mean mu.")
@refine_option
@seed_option
@checkpoint_option
@engine_option
@force_option
@verbose_option
def encode_cmd(files, output, sample_z, refine, seed, checkpoint, force):
    """Encode every 2-bar window of MIDI melodies into latent vectors.

    \b
    Each window is one latent: NDJSON lines {"source", "start_bar", "z", "checkpoint"}.
    Examples:
      muse encode tune.mid                          NDJSON on stdout
      muse encode tune.mid song.mid -o latents.npz  two files' windows, with their sources and bars
      cat tune.mid | muse encode - | muse decode - -o round.mid
      muse encode tune.mid --refine 50 -o tune.refined.npz  closer reconstruction, slower
    """
    from muse_cli import model as m
    from muse_cli.files import atomic_write, check_writable, stdout_closed, write_stdout
    from muse_cli.latents import latents_bytes

    fmt = (
        "ndjson"
        if output == STDIO
        else {".npz": "npz", ".npy": "npy", ".ndjson": "ndjson", ".jsonl": "ndjson"}.get(Path(output).suffix.lower())
    )
    if fmt is None:
        raise UsageError(f"-o {output}: use a .npz, .npy or .ndjson file name, or - for NDJSON on stdout")
    if output != STDIO:
        check_writable([Path(output)], force)
    elif stdout_closed():
        raise WriteError("cannot write latents to stdout: it is closed; use -o FILE")
    melodies = _read_melodies(files)
    windows_count = sum(max(1, -(-mel.total_steps // WINDOW_STEPS)) for mel in melodies)
    model = _load(checkpoint, windows_count)
    if refine and sample_z:
        raise UsageError("--refine and --sample-z do not go together: refinement starts from the mean")
    latents = m.encode(model, melodies, sample_z=sample_z, seed=seed, refine=refine)
    data = latents_bytes(latents, fmt)
    if output == STDIO:
        write_stdout(data, "latents", binary=False)
    else:
        atomic_write(Path(output), data, force)
        click.echo(output)
    _info(f"encoded {len(latents)} windows from {len(melodies)} file(s)")


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
@generation_options
def decode_cmd(
    latents, prompt, midi_file, candidates, temperature, seed, qpm, checkpoint, output, wav, soundfont, force
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
    """
    from muse_cli import model as m
    from muse_cli.files import read_bytes
    from muse_cli.latents import check_latent_length, read_latents

    prompt = _check_prompt(prompt)
    seed = m.new_seed() if seed is None else seed
    if prompt is not None:
        if latents is not None or midi_file is not None:
            _info(f"warning: --prompt ignored: the {'MIDI primer' if midi_file else 'latent input'} wins")
            prompt = None
    if latents is not None and midi_file is not None:
        raise UsageError("give latents or --midi FILE, not both")
    if prompt is not None:
        paths = _plan(["prompt.decoded"], output, force, wav, soundfont)
        model = _load(checkpoint, 1)
        from muse_cli.prompt.api import decode_prompt

        _info(f"seed {seed}")
        _write(
            decode_prompt(model, prompt, temperature=temperature, seed=seed, qpm=qpm, candidates=candidates),
            paths,
            force,
            wav,
            soundfont,
        )
        return
    if midi_file is not None:
        melodies = _read_melodies((midi_file,))
        names = [f"{Path(melodies[0].source).stem}.decoded"]
        paths = _plan(names, output, force, wav, soundfont)
        model = _load(checkpoint, max(1, -(-melodies[0].total_steps // WINDOW_STEPS)))
        windows = m.encode(model, melodies)
    else:
        if latents is None:
            raise UsageError("give a latents file (muse encode's output), - for stdin, --midi FILE or --prompt TEXT")
        windows = read_latents(read_bytes(latents), "stdin" if latents == STDIO else latents)
        check_latent_length(windows, qpm)
        sources = list(dict.fromkeys(w.source for w in windows))
        names = [f"{Path(s).stem if s not in ('-', '') else 'stdin'}.decoded" for s in sources]
        paths = _plan(names, output, force, wav, soundfont)
        model = _load(checkpoint, len(windows))
        other = sorted({w.checkpoint for w in windows} - {"", model.name})
        if other:
            _info(
                f"warning: these latents were encoded with {', '.join(other)}, not {model.name}; "
                "pass the same --checkpoint to decode them faithfully"
            )
    items = m.decode(model, windows, temperature=temperature, seed=seed, qpm=qpm)
    _info(f"seed {seed}")
    _write(items, paths, force, wav, soundfont)


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
@generation_options
def interpolate_cmd(a, b, steps, concat, temperature, seed, qpm, checkpoint, output, wav, soundfont, force):
    """Morph between two melodies by spherical interpolation of their latents.

    \b
    Uses the first 2-bar window of each file, as magenta's music_vae_generate does.
    Examples:
      muse interpolate tune.mid song.mid --steps 5 -o morph/   morph/interp_001.mid ... _005.mid
      muse interpolate tune.mid song.mid --steps 8 --concat --temperature 0.3 -o morph/all.mid --wav
    """
    from muse_cli import model as m

    melodies = _read_melodies((a, b))
    names = ["interp"] if concat else [f"interp_{k + 1:03d}" for k in range(steps)]
    paths = _plan(names, output, force, wav, soundfont)
    seed = m.new_seed() if seed is None else seed
    model = _load(checkpoint, steps)
    items = m.interpolate(
        model, melodies[0], melodies[1], steps=steps, temperature=temperature, seed=seed, qpm=qpm, concat=concat
    )
    _info(f"seed {seed}")
    _write(items, paths, force, wav, soundfont)


@cli.command(name="render")
@click.argument("midi", metavar="IN.mid|-")
@click.option(
    "--output", "-o", default=None, metavar="OUT.wav|-", help="WAV file, or - for stdout. Default: IN with .wav."
)
@click.option(
    "--rate", type=int, default=44100, show_default=True, callback=_rate, help="Sample rate in Hz (8000 to 192000)."
)
@_soundfont_option("SoundFont (.sf2) to play the MIDI with. Default: pretty_midi's TimGM6mb.sf2.")
@force_option
def render_cmd(midi, output, rate, soundfont, force):
    """Render a MIDI file to WAV with FluidSynth (no TensorFlow involved).

    \b
    Examples:
      muse render back.mid                       -> back.wav
      muse render back.mid -o back.22k.wav --rate 22050 --soundfont /usr/share/sounds/sf2/default-GM.sf2
      muse sample -o - | muse render - -o - > rendered.wav
    """
    from muse_cli.files import atomic_write, check_writable, read_bytes, refuse_terminal, write_stdout
    from muse_cli.render import check_soundfont, render

    if output is None:
        if midi == STDIO:
            raise UsageError("reading MIDI from stdin: give -o OUT.wav or -o - for stdout")
        output = str(Path(midi).with_suffix(".wav"))
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
        click.echo(output)


@cli.command(name="checkpoints")
@click.option("--json", "json_", is_flag=True, help="Print JSON instead of a table.")
def checkpoints_cmd(json_):
    """List the checkpoints muse knows (checkpoints.toml) and which are installed.

    \b
    Examples:
      muse checkpoints                  name, state, config, description; * marks the default
      muse checkpoints --json
    """
    from muse_cli import registry

    default, entries = registry.load()
    rows = []
    for e in entries.values():
        rows.append(
            {
                "name": e.name,
                "config": e.config,
                "installed": registry.is_installed(e),
                "default": e.name == default,
                "embedded": bool(e.embedded),
                "size": e.size,
                "playable": e.sampling,
                "description": e.description,
            }
        )
    if json_:
        click.echo(json.dumps(rows, indent=1))
        return
    for r in rows:
        mark = "*" if r["default"] else " "
        state = "embedded" if r["embedded"] else ("installed" if r["installed"] else "not installed")
        click.echo(f"{mark} {r['name']:<28} {state:<14} {r['config']:<22} {r['description']}")
    _info("* default; get others with: muse download NAME")


def _register_optional() -> None:
    """Commands that live in their own modules (still light to import)."""
    for module, attr in (
        ("muse_cli.cli_download", "download_command"),
        ("muse_cli.cli_eval", "eval_command"),
        ("muse_cli.cli_batch", "batch_command"),
        ("muse_cli.cli_prompt", "fit_prompt_command"),
    ):
        cli.add_command(getattr(__import__(module, fromlist=[attr]), attr))


_register_optional()


def main() -> None:
    """Entry point of the `muse` script."""
    from muse_cli.files import guard_stdout
    from muse_cli.quiet import keep_stdout_clean

    guard_stdout()
    keep_stdout_clean()
    try:
        cli(prog_name="muse")
    except SystemExit as exc:
        raise SystemExit(_flush_stdout(exc.code)) from None


def _flush_stdout(code):
    """Flush stdout before exit: a full or closed pipe becomes one line and exit 8, not Python's shutdown noise."""
    import os

    try:
        if sys.stdout is not None:
            sys.stdout.flush()
    except OSError as exc:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # what is still buffered goes nowhere, quietly
        os.close(devnull)
        if code in (0, None):
            why = "no space left on the device" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))
            click.echo(f"muse: error: cannot write to stdout: {why}", err=True)
            return WriteError.exit_code
    return code
