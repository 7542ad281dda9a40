"""What the generating commands share: inputs read, model loaded, outputs planned and written as one set."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from muse_cli import settings
from muse_cli.cli.options import Outputs
from muse_cli.errors import CheckpointError, UsageError
from muse_cli.files import STDIO


def _info(msg: str) -> None:
    click.echo(msg, err=True)


def _plan(names: list[str], out: Outputs) -> list[Path] | None:
    """Paths for each generated item (None means stdout); checked before any model work.

    Checked: stdout is not a terminal, each output's folder is (or can become) a writable directory,
    no output exists (without --force), and the SoundFont for --wav is one. --png: see :func:`png_paths`.
    """
    from muse_cli.files import check_writable, refuse_terminal

    output, force, wav, soundfont, png = out.output, out.force, out.wav, out.soundfont, out.png

    if wav and soundfont is not None:
        from muse_cli.render import check_soundfont

        check_soundfont(soundfont)
    if output == STDIO:
        if out.json:
            raise UsageError("--json describes the files written; with -o - stdout carries the MIDI itself")
        if len(names) != 1:
            raise UsageError(f"-o - writes one MIDI file to stdout, but this makes {len(names)}; give a directory")
        if wav:
            raise UsageError("--wav cannot go to stdout; pipe the MIDI into `muse render - -o -` instead")
        if png:
            raise UsageError("--png cannot go to stdout; pipe the MIDI into `muse show - -o ROLL.png` instead")
        refuse_terminal("MIDI")
        return None
    target = Path(output) if output else Path(".")
    check_extension(output, (".mid", ".midi"), "MIDI", folder=True)
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
    check_writable(
        paths + ([p.with_suffix(".wav") for p in paths] if wav else []) + png_paths(paths, png, out.sheet), force
    )
    return paths


def check_extension(output: str | None, accepted: tuple[str, ...], what: str, folder: bool = False) -> None:
    """UsageError unless -o ``output`` ends in one of ``accepted`` (or is -, or, with ``folder``, a folder: one
    that exists, ends in /, or has no extension). One rule for every command: the extension says the format."""
    if output is None or output == STDIO:
        return
    path = Path(output)
    if path.suffix.lower() in accepted:
        return
    if folder and (output.endswith(("/", os.sep)) or path.is_dir() or not path.suffix):
        return
    names = " or ".join(accepted)
    where = "a folder (end a new one with /), " if folder else ""
    raise UsageError(f"-o {output}: this writes {what}; give {where}a {names} file name, or - for stdout")


def png_paths(paths: list[Path], png: bool, sheet: str | None = None) -> list[Path]:
    """Where --png draws: a .png beside each .mid; with ``sheet``, one image of every item laid end to end
    (interpolate's steps), beside a lone .mid or named ``sheet``.png in their folder."""
    if not png or not paths:
        return []
    if sheet is None:
        return [p.with_suffix(".png") for p in paths]
    return [paths[0].with_suffix(".png") if len(paths) == 1 else paths[0].parent / f"{sheet}.png"]


def _png_images(items, paths: list[Path], png: bool, sheet: str | None) -> list[tuple[Path, bytes]]:
    """The piano rolls --png writes, as (path, PNG bytes); see :func:`png_paths`."""
    targets = png_paths(paths, png, sheet)
    if not targets:
        return []
    from muse_cli.show import piano_roll_png

    if sheet is None:  # drawn from the MIDI written and titled by its name: the bytes of `muse show X.mid -o X.png`
        return [(t, piano_roll_png(item.midi(), name=p.name)) for t, p, item in zip(targets, paths, items)]
    if len(items) == 1:
        return [(targets[0], piano_roll_png(items[0].midi(), name=paths[0].name))]
    return [(targets[0], piano_roll_png(items, name=f"{paths[0].name} ... {paths[-1].name}"))]


def _write(items, paths: list[Path] | None, out: Outputs) -> None:
    """Write every item (and its .wav and .png) as one set: all to temporary files, then all renamed.

    A failure or Ctrl-C part way leaves none of this run's outputs and no temporary file.
    """
    from muse_cli.files import OutputSet, write_stdout

    wav, png, png_sheet = out.wav, out.png, out.sheet

    if paths is None:
        write_stdout(items[0].midi(), "MIDI")
        return
    audio: dict[Path, float] = {}  # each .wav's length in seconds
    with OutputSet(out.force) as files:
        for item, path in zip(items, paths):
            data = item.midi()
            files.add(path, data)
            if wav:
                from muse_cli.render import render

                sound = render(data, soundfont=out.soundfont, source=str(path))
                audio[path] = wav_seconds(sound)
                files.add(path.with_suffix(".wav"), sound)
        images = _png_images(items, paths, png, png_sheet)
        for image, picture in images:
            files.add(image, picture)
        files.commit()
    announce(_records(items, paths, out, images, audio), out.json)


def wav_seconds(data: bytes) -> float:
    """The length of WAV bytes, in seconds (to the millisecond)."""
    import io
    import wave

    with wave.open(io.BytesIO(data)) as w:
        return round(w.getnframes() / w.getframerate(), 3)


def _records(items, paths: list[Path], out: Outputs, images, audio: dict) -> list[dict]:
    """What :func:`announce` says of each file a generating command wrote: the .mid, its .wav and .png, the sheet."""
    from muse_cli.midi import written_notes

    engine = settings.engine()
    records = []
    for item, path in zip(items, paths):
        p = item.provenance
        notes = len(written_notes(item.notes, item.qpm, item.seconds))
        about = {"seed": p.get("seed"), "seconds": round(item.seconds, 3), "notes": notes, "qpm": item.qpm}
        about |= {"temperature": p.get("temperature"), "checkpoint": p.get("checkpoint"), "engine": engine}
        records.append({"path": str(path), "format": "midi", **about, "_say": f"{item.seconds:.1f} s, {notes} notes"})
        if out.wav:
            wav, length = path.with_suffix(".wav"), audio[path]
            of = {"path": str(wav), "format": "wav", "of": str(path), **about, "seconds": length}
            records.append({**of, "_say": f"{length:.1f} s of audio"})
        if out.png and out.sheet is None:
            records.append({"path": str(path.with_suffix(".png")), "format": "png", "of": str(path), **about})
    for image, _ in images if out.sheet is not None else []:
        whole = {"format": "png", "of": [str(p) for p in paths], "checkpoint": items[0].provenance.get("checkpoint")}
        say = f"a piano roll of {len(items)} melodies" if len(items) > 1 else ""
        records.append({"path": str(image), **whole, "_say": say})
    return records


def announce(records: list[dict], json_: bool = False) -> None:
    """One line per written file. ``--json``: one JSON object per file on stdout. A terminal on stdout: ``wrote
    PATH (what)`` there. Otherwise (a pipe, a file): the bare path on stdout for scripts, ``wrote PATH (what)`` on
    stderr for the person watching. ``_say`` in a record is the human-readable part (not in the JSON)."""
    for record in records:
        if json_:
            click.echo(json.dumps({k: v for k, v in record.items() if not k.startswith("_")}))
            continue
        say = record.get("_say")
        line = f"wrote {record['path']}" + (f" ({say})" if say else "")
        if sys.stdout is not None and sys.stdout.isatty():
            click.echo(line)
        else:
            click.echo(record["path"])
            _info(line)


def _load(checkpoint: str | None, rows: int):
    from muse_cli import registry
    from muse_cli.families import family_of
    from muse_cli.model import batch_size_for, load_model

    engine = settings.engine()  # a bad MUSE_ENGINE is an error before anything is said
    family_of(
        registry.resolve(checkpoint).config
    )  # a bad name, path, muse.json or config fails here, before the slow part
    _info("loading model...")
    try:
        model = load_model(checkpoint, batch_size=batch_size_for(rows), engine=engine)
    except KeyError as exc:  # configs.build_config: a config name or hparam magenta does not know
        what = exc.args[0] if exc.args else exc
        raise CheckpointError(
            f"checkpoint {checkpoint or 'default'}: {what} is not a magenta config or hparam muse plays; "
            "fix the config in its muse.json or the registry"
        ) from None
    _info(f"checkpoint {model.name} (z {model.z_size})")
    return model


def _read_melodies(files: tuple[str, ...]):
    from muse_cli.files import read_bytes
    from muse_cli.midi import read_melody

    if not files:
        raise UsageError("give one or more MIDI files, or - for stdin")
    melodies = [read_melody(read_bytes(f), "stdin" if f == STDIO else f) for f in files]
    for melody in melodies:
        for remark in melody.remarks:
            _info(f"{melody.source}: {remark}")
    return melodies


STEP_WINDOWS = 256  # windows decoded between two progress updates of a long single command


def in_steps(total: int, per_step: int, label: str, unit: str, make) -> list:
    """``make(first, count)`` for ``total`` things: at once, or, when stderr is a terminal and there is more than one
    step, ``per_step`` at a time under the progress display (the recipes' bytes do not depend on the grouping)."""
    if total <= per_step or not sys.stderr.isatty():
        return make(0, total)
    from muse_cli.progress import Progress

    out: list = []
    with Progress(total, label, unit, every=None) as bar:
        bar.update(0)
        for first in range(0, total, per_step):
            out += make(first, min(per_step, total - first))
            bar.update(len(out))
    return out


BUSY_WINDOWS = 2048  # a recipe that decodes more windows than this in one call ticks on a terminal (a few seconds)


def busy(windows: int, label: str):
    """Around one recipe call that cannot be split without changing its bytes (decode, vary, continue, a prompted
    sample): the progress display's time spent, on a terminal's stderr, when it decodes more than BUSY_WINDOWS."""
    from contextlib import nullcontext

    if windows <= BUSY_WINDOWS:
        return nullcontext()
    from muse_cli.progress import ticking

    return ticking(label)
