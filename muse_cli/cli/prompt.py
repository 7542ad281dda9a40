"""`muse fit-prompt`: train the text-prompt head for a checkpoint (registered by muse_cli/cli/__init__.py).

Light to import: TensorFlow and the corpus load inside the command.
"""

from __future__ import annotations

import click

from muse_cli.cli.options import count_option, fit_seed_option, tunes_option
from muse_cli.training.options import FitOptions


@click.command(name="fit-prompt")
@click.option(
    "--checkpoint",
    "-c",
    default=None,
    metavar="NAME|PATH",
    help="Registry name or checkpoint directory. Default: the embedded model.",
)
@count_option("--steps", 1, FitOptions.steps, "Training steps of the head.")
@count_option("--windows", 2, FitOptions.windows, "Corpus 2-bar windows to encode (a random subset).")
@count_option("--captions", 1, FitOptions.captions, "Distinct training captions to embed.")
@fit_seed_option(FitOptions.seed, "Seed of windows, captions and batches.")
@tunes_option(
    "Corpus file (gzipped JSON) from muse_cli.training.corpus. Default: build/corpus/tunes.json.gz, else "
    "$MUSE_HOME/corpus."
)
@click.option("--restart", is_flag=True, help="Start over instead of resuming a stopped run.")
def fit_prompt_command(checkpoint, steps, windows, captions, seed, tunes, restart):
    """Train the text-prompt head of a checkpoint (for --prompt).

    \b
    Captions of real 2-bar corpus windows (source, tune type, key, register, density,
    contour...) are paired with the checkpoint's encoding of each window; the head learns
    the region of latent space each caption points to. It says how long it will take,
    resumes when run again after a stop, and stores the head where --prompt reads it:
    prompt_head/ in the checkpoint's folder (so there is no -o; to keep a checkpoint's head,
    copy its folder and give -c COPY).
    Examples:
      muse fit-prompt --checkpoint cat-mel_2bar_big
      muse fit-prompt --checkpoint path/to/checkpoint_dir --steps 1000
    """
    from muse_cli.model import load_model
    from muse_cli.training.prompt_head import fit

    click.echo("loading model...", err=True)
    model = load_model(checkpoint, batch_size=256)
    path = fit(
        model,
        tunes,
        FitOptions(steps=steps, windows=windows, captions=captions, seed=seed),
        restart=restart,
    )
    click.echo(str(path))
