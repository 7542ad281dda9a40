"""`muse fit-style DIR -o NAME` (a style from a folder of tunes) and `muse styles` (the installed ones).

Registered by muse_cli/cli/__init__.py; the recipes are in :mod:`muse_cli.styles` (names, loading) and
:mod:`muse_cli.training.style` (fitting).
"""

from __future__ import annotations

import click

from muse_cli.cli.options import checkpoint_option, force_option


@click.command(name="fit-style")
@click.argument("folder", metavar="DIR")
@click.option("--out", "-o", "name", required=True, metavar="NAME", help="The style's name (letters, digits, _ -).")
@checkpoint_option
@force_option
def fit_style_command(folder, name, checkpoint, force):
    """Fit a style from a folder of your tunes, for --style NAME on sample and continue.

    \b
    Every .mid/.midi in DIR is moved to C major / A minor, cut into 2-bar windows and encoded;
    the checkpoint's conductor is then adapted toward these tunes (their first windows, new
    material, returns, modes and keys), as far as a few tunes can move it. The style is kept
    as $MUSE_HOME/styles/NAME.npz, for this checkpoint only.
    Examples:
      muse fit-style batch/ --out mine         a style named mine from the .mid files in batch/
      muse sample --seconds 32 --style mine -n 4 -o mine/
      muse continue tune.mid --seconds 16 --style mine -o tune.mine.mid
    """
    from pathlib import Path

    from muse_cli import styles
    from muse_cli.cli.output import _info, _load, announce
    from muse_cli.files import atomic_write, check_writable
    from muse_cli.training.style import fit_style, read_folder

    path = styles.path_for(name)
    check_writable([path], force)  # before any work: an existing style needs --force
    count = len(read_folder(Path(folder), lambda s: None))  # a bad folder fails before the model loads
    model = _load(checkpoint, 64)
    _info(f"fitting style {name} for {model.name} from {count} tunes in {folder}...")
    data = fit_style(model, Path(folder), _info)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, data, force=force)
    announce([{"path": str(path), "format": "npz", "checkpoint": model.name, "style": name, "_say": "style"}])


@click.command(name="styles")
def styles_command():
    """List the installed styles (muse fit-style DIR -o NAME makes one).

    \b
    Examples:
      muse styles
    """
    from muse_cli import styles
    from muse_cli.errors import WriteError
    from muse_cli.files import stdout_closed, write_stdout
    from muse_cli.settings import styles_dir

    if stdout_closed():
        raise WriteError("cannot write the list to stdout: it is closed")
    lines = []
    for name in styles.installed():
        d = styles.describe(name)
        if "error" in d:
            lines.append(f"{name:<20} unreadable: {d['error']}")
        else:
            lines.append(f"{name:<20} {d['checkpoint']}  {d['tunes']} tunes, {d['windows']} windows from {d['folder']}")
    text = "\n".join(lines) if lines else f"no styles in {styles_dir()}; fit one with: muse fit-style DIR -o NAME"
    write_stdout((text + "\n").encode(), "the list", binary=False)
