"""`muse attrs` (a checkpoint's attribute sliders) and `muse fit-attrs` (make them).

Registered by muse_cli/cli/__init__.py; the recipes are in :mod:`muse_cli.attributes` (reading, applying) and
:mod:`muse_cli.training.attributes` (fitting).
"""

from __future__ import annotations

import click

from muse_cli.cli.options import (
    checkpoint_option,
    count_option,
    fit_seed_option,
    force_option,
    tunes_option,
)


@click.command(name="attrs")
@checkpoint_option
def attrs_command(checkpoint):
    """List the checkpoint's attribute sliders for --attr NAME=VALUE.

    \b
    Each row names an attribute, what its feature measures, and the feature's mean over
    256 two-bar samples at -1, 0 and +1 (measured when the vectors were fitted).
    Examples:
      muse attrs
      muse sample --attr density=+1 --attr register=-0.5 --seed 3 -o busy_low.mid
      muse sample --attr contour=+1 leaps=-1 --seed 3 -o rising_steps.mid
    """
    from muse_cli.attributes import ATTRIBUTES, load
    from muse_cli.cli.output import _load
    from muse_cli.errors import WriteError
    from muse_cli.files import stdout_closed, write_stdout

    if stdout_closed():  # before any work, as every command that writes to stdout
        raise WriteError("cannot write the table to stdout: it is closed")
    table = load(_load(checkpoint, 1))
    meta = table["meta"]
    values = meta.get("table_values", [-1.0, 0.0, 1.0])
    lines = [f"checkpoint {meta.get('checkpoint')}: {len(table['names'])} attributes ({meta.get('method')})"]
    lines.append(f"{'attribute':<10} {'feature':<18}" + "".join(f"{v:>+8g}" for v in values) + "  what it measures")
    for name in table["names"]:
        feature, what, _ = ATTRIBUTES.get(name, (meta.get("features", {}).get(name, "?"), "", False))
        row = meta.get("table", {}).get(name, [])
        lines.append(f"{name:<10} {feature:<18}" + "".join(f"{x:>8.2f}" for x in row) + f"  {what}")
    write_stdout(("\n".join(lines) + "\n").encode(), "the table", binary=False)


@click.command(name="fit-attrs")
@checkpoint_option
@count_option(
    "--samples",
    64,
    None,
    "Prior draws to decode and measure. Default: 8192 (about 30 s on 2 cores for the default model).",
    show_default=False,
)
@fit_seed_option(0, "Seed of the draws.")
@tunes_option(
    "Fit from the encoder means of this corpus file's training windows (the paper's way) instead of prior "
    "samples; --samples windows at most."
)
@force_option
def fit_attrs_command(checkpoint, samples, seed, tunes, force):
    """Fit the attribute vectors of a checkpoint (for --attr and muse attrs).

    \b
    Prior latents are decoded and measured (density, register, contour, leaps, range, rests);
    each attribute's vector is half the difference between the mean latent of the top and of
    the bottom quartile. No corpus is needed, so it works for any checkpoint; the file records
    the checkpoint's sha256 and is refused with any other. `make attrs` remakes the default one.
    The file goes where --attr and muse attrs read it: attributes.npz in the checkpoint's folder
    (so there is no -o). To try a fit without replacing a checkpoint's file, copy the checkpoint's
    folder and give -c COPY.
    Examples:
      muse fit-attrs -c cat-mel_2bar_big
    """
    from muse_cli import registry
    from muse_cli.attributes import path_for
    from muse_cli.cli.output import _info, _load, announce
    from muse_cli.files import atomic_write, check_writable
    from muse_cli.training.attributes import FIT_SAMPLES, corpus_windows, fit

    path = path_for(registry.resolve(checkpoint).path)
    check_writable([path], force)  # before the model loads and the fit's seconds: as every command plans outputs
    windows = None if tunes is None else corpus_windows(tunes, samples or FIT_SAMPLES, seed)  # an input, read first
    model = _load(checkpoint, 64)
    what = f"{len(windows)} corpus windows" if tunes else f"{samples or FIT_SAMPLES} prior samples"
    _info(f"fitting attribute vectors of {model.name} from {what}...")
    atomic_write(path, fit(model, samples or FIT_SAMPLES, seed, windows), force=force)
    announce([{"path": str(path), "format": "npz", "checkpoint": model.name, "_say": "attribute vectors"}])
