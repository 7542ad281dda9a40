"""`muse encode`: MIDI melodies to latent vectors (NDJSON, .npz or .npy)."""

from __future__ import annotations

from pathlib import Path

import click

from muse_cli import settings
from muse_cli.cli.family import family_for, read_songs, refuse_chords
from muse_cli.cli.group import cli
from muse_cli.cli.options import (
    checkpoint_option,
    chords_option,
    engine_option,
    force_option,
    json_option,
    refine_option,
    refuse_unused,
    seed_option,
    verbose_option,
)
from muse_cli.cli.output import _info, _load, _read_melodies, announce
from muse_cli.encoding import WINDOW_STEPS
from muse_cli.errors import UsageError, WriteError
from muse_cli.files import STDIO
from muse_cli.refine import DEFAULT_REFINE


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
@chords_option
@checkpoint_option
@engine_option
@force_option
@json_option
@verbose_option
def encode_cmd(files, output, sample_z, refine, seed, chords, checkpoint, force, json_):
    """Encode every 2-bar window of MIDI melodies into latent vectors.

    \b
    Each window is one latent: NDJSON lines {"source", "start_bar", "z", "checkpoint"}.
    Examples:
      muse encode tune.mid                          NDJSON on stdout
      muse encode tune.mid song.mid -o latents.npz  two files' windows, with their sources and bars
      cat tune.mid | muse encode - | muse decode - -o round.mid
      muse encode tune.mid --refine 0 -o tune.mu.npz  the encoder's mean, unrefined
      muse encode tune.mid -o tune.json.npz --json  {"path": "tune.json.npz", "windows": ...} on stdout
      muse encode beat.mid -c cat-drums_2bar_small.hikl -o beat.npz   any family, window by window
    """
    from muse_cli import model as m
    from muse_cli.files import check_writable, stdout_closed

    fmt = (
        "ndjson"
        if output == STDIO
        else {".npz": "npz", ".npy": "npy", ".ndjson": "ndjson", ".jsonl": "ndjson"}.get(Path(output).suffix.lower())
    )
    if not sample_z:
        refuse_unused(("seed",), "goes with --sample-z (the mean mu is the same every run)")
    if fmt is None:
        raise UsageError(f"-o {output}: use a .npz, .npy or .ndjson file name, or - for NDJSON on stdout")
    if output != STDIO:
        check_writable([Path(output)], force)
    elif json_:
        raise UsageError("--json describes a written file; give -o FILE.npz (with -o - stdout carries the latents)")
    elif stdout_closed():
        raise WriteError("cannot write latents to stdout: it is closed; use -o FILE")
    if family_for(checkpoint).codec:
        latents, said = _encode_family(files, sample_z, refine, seed, chords, checkpoint)
        return _write_latents(
            latents, fmt, output, force, json_, said, {"refine": 0, "checkpoint": latents[0].checkpoint}
        )
    refuse_chords(chords)
    melodies = _read_melodies(files)
    windows_count = sum(max(1, -(-mel.total_steps // WINDOW_STEPS)) for mel in melodies)
    model = _load(checkpoint, windows_count)
    if refine is not None and sample_z:
        raise UsageError("--refine and --sample-z do not go together: refinement starts from the mean")
    steps = 0 if sample_z else (DEFAULT_REFINE if refine is None else refine)
    if steps:
        from muse_cli.progress import ticking

        with ticking(f"refining {windows_count} windows, {steps} steps"):
            latents = m.encode(model, melodies, refine=steps)
    else:
        latents = m.encode(model, melodies, sample_z=sample_z, seed=seed, refine=0)
    said = f"{len(latents)} windows from {len(melodies)} file(s)"
    _write_latents(latents, fmt, output, force, json_, said, {"files": len(melodies), "refine": steps})


def _encode_family(files, sample_z, refine, seed, chords, checkpoint) -> tuple[list, str]:
    """`muse encode` of a drums, groove, chords or 16-bar checkpoint: every window of each file (no refinement)."""
    from muse_cli import family_model as fm

    refuse_unused(("refine",), "is for 2-bar melody checkpoints")
    songs = read_songs(checkpoint, files)
    model = _load(checkpoint, len(files))
    latents = fm.encode(model, songs, sample_z=sample_z, seed=seed, chords=chords)
    return latents, f"{len(latents)} windows from {len(songs)} file(s)"


def _write_latents(latents, fmt, output, force, json_, said: str, about: dict) -> None:
    """The latents as ``fmt`` to ``output`` (- for stdout), announced."""
    from muse_cli.files import atomic_write, write_stdout
    from muse_cli.latents import latents_bytes

    data = latents_bytes(latents, fmt)
    if output == STDIO:
        write_stdout(data, "latents", binary=False)
        _info(f"encoded {said}")
        return
    atomic_write(Path(output), data, force)
    about = {"format": fmt, "windows": len(latents), **about}
    about |= {"checkpoint": latents[0].checkpoint if latents else "", "engine": settings.engine()}
    announce([{"path": output, **about, "_say": said}], json_)
