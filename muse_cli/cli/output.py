"""What the generating commands share: inputs read, model loaded, outputs planned and written as one set."""

from __future__ import annotations

from pathlib import Path

import click

from muse_cli import settings
from muse_cli.errors import CheckpointError, UsageError
from muse_cli.files import STDIO


def _info(msg: str) -> None:
    click.echo(msg, err=True)


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


def _read_melodies(files: tuple[str, ...]):
    from muse_cli.files import read_bytes
    from muse_cli.midi import read_melody

    if not files:
        raise UsageError("give one or more MIDI files, or - for stdin")
    return [read_melody(read_bytes(f), "stdin" if f == STDIO else f) for f in files]
