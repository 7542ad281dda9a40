"""`muse eval`: reconstruction and prior-sample quality of a checkpoint on the held-out test split."""

from __future__ import annotations

import json

import click

from muse_cli import settings
from muse_cli.cli.options import check_temperature, engine_option, refine_option, refuse_unused, tunes_option

_SAMPLES = "Prior samples for the overlapping areas."
_TEMP = "With --prompts: the sampling temperature of the prompted melodies."
_PER_POLE = "With --prompts: melodies per prompt pole."
_CANDIDATES = (
    "With --prompts: melodies drawn per prompted melody for the reranked rows (default as muse sample --prompt); "
    "the head alone (one draw) is always measured beside them."
)
_GUIDANCE = "With --prompts: how far prompts push away from the neutral prompt (default as muse sample --prompt)."
_STRUCTURE = "Measure long-term structure instead: 16-bar pieces against held-out corpus tunes (issue 18)."
_PIECES = "With --structure: pieces of each kind (real tunes: at most as many as the corpus holds out)."
_TUNES = "With --structure: the corpus file (default: music21's corpus, parsed once)."


@click.command(name="eval")
@click.option("--checkpoint", "-c", default=None, metavar="NAME|PATH", help="Default: the embedded model.")
@click.option("--json", "json_", is_flag=True, help="Print JSON.")
@click.option("--limit", type=click.IntRange(1), default=None, help="Use a random subset of N test windows.")
@click.option("--samples", type=click.IntRange(1, 4096), default=256, show_default=True, help=_SAMPLES)
@click.option("--prompts", is_flag=True, help="Measure prompt adherence instead (needs the checkpoint's prompt head).")
@click.option("--temperature", "-t", type=float, default=1.0, show_default=True, callback=check_temperature, help=_TEMP)
@click.option("--per-pole", type=click.IntRange(2, 512), default=32, show_default=True, help=_PER_POLE)
@click.option("--candidates", type=click.IntRange(1, 256), default=None, help=_CANDIDATES)
@click.option("--guidance", type=click.FloatRange(0.0, 10.0), default=None, help=_GUIDANCE)
@click.option("--structure", is_flag=True, help=_STRUCTURE)
@click.option("--pieces", type=click.IntRange(2, 4096), default=200, show_default=True, help=_PIECES)
@tunes_option(_TUNES)
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=0, show_default=True)
@refine_option
@engine_option
def eval_command(
    checkpoint,
    json_,
    limit,
    samples,
    prompts,
    temperature,
    per_pole,
    candidates,
    guidance,
    structure,
    pieces,
    tunes,
    seed,
    refine,
):
    """Measure a checkpoint on the test split of muse's corpus.

    \b
    Reconstruction (argmax decode of the posterior mean, then of the latents refined
    as muse refines every MIDI input): step accuracy with the always-hold baseline,
    exact windows, note-on accuracy, and by rhythm class. Prior samples: the
    overlapping area with the test set of five melody features. With --prompts:
    pairwise accuracy of prompted attributes on held-out paraphrases, for the
    head alone and reranked, beside the no-prompt baseline, measured by muse's
    own features and by independent ones (muse_cli/judge.py).
    With --structure: 16-bar pieces of muse against held-out corpus tunes: returns,
    key, ending, drift and shape, sections copied from training tunes, a classifier's
    AUC, and continuations' key and ending.
    Examples:
      muse eval                               the whole test split, mean and refined (minutes)
      muse eval --limit 200 --samples 64 --json   a quick look at a random subset, as JSON
      muse eval --checkpoint cat-mel_2bar_big
      muse eval --refine 50                   reconstruction from latents refined by 50 steps
      muse eval --refine 0                    the encoder's mean alone (12 to 30 s)
      muse eval --prompts                     the first run parses music21's corpus (6 to 30 minutes)
      muse eval --prompts --per-pole 8        a quick look
      muse eval --structure                   16 bars of muse against held-out tunes (15 s once parsed)
    """
    from muse_cli.model import batch_size_for, load_model

    if prompts:
        refuse_unused(("limit", "samples", "refine"), "measure reconstruction and prior samples, not --prompts")
    else:
        refuse_unused(("temperature", "per_pole", "candidates", "guidance"), "go with --prompts")
    engine = settings.engine()
    if structure:
        if prompts:
            raise click.UsageError("--structure and --prompts are two evaluations; give one")
        return _structure(lambda: load_model(checkpoint, engine=engine), pieces, seed, tunes, json_)
    if prompts:
        from muse_cli.training.prompt_head import tunes_path

        if not tunes_path().exists():  # the style classifier trains on corpus windows
            click.echo(
                f"muse eval --prompts: the first run parses music21's corpus into {tunes_path()} for the style "
                "classifier; that takes 6 to 30 minutes on 2 cores, once (later runs reuse it)",
                err=True,
            )
    click.echo("loading model...", err=True)
    model = load_model(checkpoint, batch_size=batch_size_for(448 if prompts else 64), engine=engine)
    if prompts:
        from muse_cli import adherence

        result = adherence.evaluate_prompts(
            model,
            n_per_pole=per_pole,
            seed=seed,
            temperature=temperature,
            candidates=candidates,
            guidance=guidance,
            log=lambda msg: click.echo(msg, err=True),
        )
        click.echo(json.dumps(result, indent=1) if json_ else adherence.format_report(result))
        return
    from muse_cli.evaluate import evaluate, format_report
    from muse_cli.refine import DEFAULT_REFINE

    steps = DEFAULT_REFINE if refine is None else refine
    result = evaluate(model, limit=limit, samples=samples, seed=seed, refine_steps=steps)
    click.echo(json.dumps(result, indent=1) if json_ else format_report(result))


def _structure(load, pieces: int, seed: int, tunes, json_: bool) -> None:
    from muse_cli.structure import evaluate_structure, format_report
    from muse_cli.training.prompt_head import tunes_path

    if tunes is None and not tunes_path().exists():
        click.echo(
            f"muse eval --structure: the first run parses music21's corpus into {tunes_path()}; that takes 6 to 30 "
            "minutes on 2 cores, once (later runs reuse it)",
            err=True,
        )
    result = evaluate_structure(load(), pieces, seed, tunes, log=lambda msg: click.echo(msg, err=True))
    click.echo(json.dumps(result, indent=1) if json_ else format_report(result))
