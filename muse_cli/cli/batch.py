"""`muse batch`: run a job file (or the --sample shorthand) on a Dask cluster.

Parsing and checks happen here and in :mod:`muse_cli.batch` before any worker
starts; progress and the summary go to stderr. Light to import: Dask and
TensorFlow load only when the command runs.
"""

from __future__ import annotations

import time
from pathlib import Path

import click

from muse_cli import settings
from muse_cli.cli.options import check_temperature
from muse_cli.errors import UsageError
from muse_cli.progress import Progress


def _info(msg: str) -> None:
    click.echo(msg, err=True)


_DIR = click.Path(file_okay=False, path_type=Path)
_FILE = click.Path(dir_okay=False, path_type=Path)
_HELP = {
    "sample": "Instead of a job file: N sample jobs, seeds SEED_START.., into -o DIR/sample_s{seed}_001.mid "
    "(the name muse sample gives the same melody).",
    "seed_start": "With --sample: seed of the first job.",
    "output": "With --sample: the output directory (also the root outputs must stay in).",
    "checkpoint": "Checkpoint for jobs that name none. Default: the embedded model.",
    "root": "Directory that relative paths start from and outputs must stay inside. "
    "Default: the job file's directory (with --sample: -o DIR).",
    "manifest": "Where to append the manifest. Default: JOBS.manifest.jsonl beside the job file "
    "(with --sample: DIR/sample.manifest.jsonl).",
    "scheduler": "Use this Dask scheduler (or MUSE_SCHEDULER) instead of starting a local cluster; "
    "its workers must have muse installed and see the same paths.",
    "workers": "Worker processes of the local cluster. Default: one per CPU core.",
    "batch_size": "Windows decoded per model call. Default: muse's measured best (model.MAX_BATCH).",
    "soundfont": "SoundFont (.sf2) for WAV rendering. Default: pretty_midi's TimGM6mb.sf2.",
}


@click.command(name="batch")
@click.argument("jobs_file", required=False, metavar="[JOBS.jsonl]", type=_FILE)
@click.option("--sample", "sample_count", type=click.IntRange(1, 10_000_000), metavar="N", help=_HELP["sample"])
@click.option("--seconds", "-s", type=float, default=None, help="With --sample: length of each melody.")
@click.option(
    "--temperature", "-t", type=float, default=1.0, show_default=True, callback=check_temperature, help="With --sample."
)
@click.option("--qpm", type=float, default=120.0, show_default=True, help="With --sample: tempo.")
@click.option("--seed-start", type=click.IntRange(0), default=0, show_default=True, help=_HELP["seed_start"])
@click.option("--wav", is_flag=True, help="With --sample: also render each .mid to a .wav beside it.")
@click.option("--output", "-o", type=_DIR, default=None, metavar="DIR", help=_HELP["output"])
@click.option("--checkpoint", "-c", default=None, metavar="NAME|PATH", help=_HELP["checkpoint"])
@click.option("--root", type=_DIR, default=None, metavar="DIR", help=_HELP["root"])
@click.option("--manifest", type=_FILE, default=None, help=_HELP["manifest"])
@click.option("--scheduler", default=None, metavar="tcp://HOST:PORT", help=_HELP["scheduler"])
@click.option("--workers", "-j", type=click.IntRange(1, 512), default=None, help=_HELP["workers"])
@click.option("--batch-size", type=click.IntRange(1, 4096), default=None, help=_HELP["batch_size"])
@click.option("--soundfont", type=_FILE, default=None, help=_HELP["soundfont"])
@click.option("--fail-fast", is_flag=True, help="Stop at the first failed job.")
@click.option("--force", "-f", is_flag=True, help="Redo every job, overwriting outputs that exist.")
@click.option("--check", is_flag=True, help="Only validate the job file and show the plan; run nothing.")
def batch_command(
    jobs_file,
    sample_count,
    seconds,
    temperature,
    qpm,
    seed_start,
    wav,
    output,
    checkpoint,
    root,
    manifest,
    scheduler,
    workers,
    batch_size,
    soundfont,
    fail_fast,
    force,
    check,
):
    """Run many jobs on a Dask cluster, resumably, with a manifest.

    \b
    JOBS.jsonl holds one JSON object per line, for example:
      {"op": "sample", "seed": 1, "seconds": 16, "temperature": 1.0, "out": "out/0001.mid", "wav": true}
      {"op": "decode", "latents": "tune.npz", "seed": 2, "out": "out/tune.mid"}
      {"op": "decode", "prompt": "a calm tune", "seed": 3, "seconds": 8, "out": "out/calm.mid"}
      {"op": "interpolate", "a": "a.mid", "b": "b.mid", "steps": 5, "seed": 4, "out": "out/morph/"}
      {"op": "vary", "midi": "tune.mid", "amount": 0.3, "seed": 5, "out": "out/tune.var.mid"}
      {"op": "continue", "midi": "tune.mid", "seconds": 16, "form": "AB", "seed": 6, "out": "out/more.mid"}
      {"op": "render", "midi": "out/tune.mid", "out": "out/tune.wav", "rate": 44100}
      {"op": "show", "midi": "out/tune.mid", "out": "out/tune.png"}
    Every job may name a "checkpoint" and an "id". Relative paths start at the job
    file's directory; outputs must stay inside it (no '..'). The whole file is
    checked first: bad lines are listed and nothing runs (exit 2).

    \b
    Jobs whose outputs exist and verify are skipped, so after Ctrl-C or a crash
    the same command continues. Each finished job is appended to
    JOBS.manifest.jsonl (id, line, status, outputs with sha256, seconds, error).
    Exit status 1 if any job failed; each failure is listed with its line.

    \b
    Examples:
      echo '{"op": "sample", "seed": 1, "seconds": 16, "out": "jobs/0001.mid"}' > jobs.jsonl
      muse batch jobs.jsonl --check                 check the file and show the plan; run nothing
      muse batch jobs.jsonl
      muse batch --sample 10000 --seconds 8 --seed-start 0 -o many/
      muse batch jobs.jsonl --scheduler tcp://10.0.0.5:8786
    """
    from muse_cli import batch as b

    settings.engine()  # a bad MUSE_ENGINE is refused here, not on every worker
    scheduler = scheduler or settings.scheduler()
    checkpoint = b.checkpoint_ref(checkpoint, Path.cwd())
    if sample_count is not None:
        if jobs_file is not None:
            raise UsageError("give a job file or --sample N, not both")
        sample = (sample_count, output, seed_start, seconds, temperature, qpm, wav, checkpoint)
        jobs, manifest = _sample_jobs(b, sample, root, manifest, resolve=not scheduler)
    else:
        if jobs_file is None:
            raise UsageError("give a job file (JSON lines), or --sample N -o DIR")
        _no_sample_options(seconds, wav, output, seed_start, temperature, qpm)
        jobs, manifest = _file_jobs(b, jobs_file, root, manifest, checkpoint)
    if not scheduler:
        # (the workers of a remote cluster may see other paths: they check there)
        b.check_checkpoints(jobs, str(jobs_file) if jobs_file else "--sample")
    else:
        b.check_scheduler(scheduler)  # before the plan is said: a wrong address is the one line
    _plan_and_run(b, jobs, Path(manifest), scheduler, workers, batch_size, soundfont, force, fail_fast, check)


def _plan_and_run(b, jobs, manifest: Path, scheduler, workers, batch_size, soundfont, force, fail_fast, check) -> None:
    """Say the plan; unless --check, run it on the cluster and report."""
    from muse_cli.model import MAX_BATCH

    opts = b.Options(
        batch_size=batch_size or MAX_BATCH, force=force, soundfont=str(soundfont.absolute()) if soundfont else None
    )
    n_workers = workers or b.machine_cores()
    tasks = b.plan_tasks(jobs, opts.batch_size)
    where = f"scheduler {scheduler}" if scheduler else f"a local cluster of {n_workers} worker(s)"
    _info(f"{len(jobs)} job(s) in {len(tasks)} task(s) on {where}; manifest {manifest}")
    if check:
        return
    if not scheduler:
        import dataclasses

        opts = dataclasses.replace(opts, tf_threads=max(1, b.machine_cores() // n_workers))
    started = time.monotonic()  # the summary's time is the user's: starting the cluster and the models included
    summary = _run(b, jobs, opts, scheduler, n_workers if not scheduler else None, manifest, fail_fast)
    _report(b, summary, manifest, time.monotonic() - started)


def _sample_jobs(b, sample: tuple, root: Path | None, manifest: Path | None, resolve: bool):
    """(jobs, manifest) of --sample N: the job lines muse writes itself, checked by batch.jobs."""
    count, output, seed_start, seconds, temperature, qpm, wav, checkpoint = sample
    if output is None:
        raise UsageError("--sample needs -o DIR for its outputs")
    root = root or output
    if output.resolve() != root.resolve() and root.resolve() not in output.resolve().parents:
        raise UsageError(f"-o {output} is outside --root {root}")
    try:
        jobs = b.sample_jobs(count, output, seed_start, seconds, temperature, qpm, wav, checkpoint)
    except b.JobFileError as exc:  # the jobs differ only in seed: say the problem once, as the option's
        raise UsageError(_as_option(exc.problems[0][1], {"seconds": seconds, "qpm": qpm})) from None
    if resolve:  # one message for the checkpoint, not one per generated job
        from muse_cli import registry

        registry.resolve(checkpoint)
    return jobs, manifest or output / "sample.manifest.jsonl"


def _as_option(problem: str, values: dict) -> str:
    """batch.jobs' ``'qpm' must be ..., got 10.0`` about a --sample job, said of its option (``--qpm ... got 10``)."""
    for field, value in values.items():
        prefix = f"{field!r} must be "
        if problem.startswith(prefix):
            what = problem[len(prefix) :].rsplit(", got ", 1)[0]
            return f"--{field} must be {what}, got {value:g}"
    return f"--sample: {problem}"


def _no_sample_options(seconds, wav, output, seed_start, temperature, qpm) -> None:
    """A job file carries its settings in each line: the --sample options are refused."""
    options = (("--seconds", seconds), ("--wav", wav or None), ("-o", output), ("--seed-start", seed_start or None))
    given = [name for name, v in options if v is not None]
    if given or temperature != 1.0 or qpm != 120.0:
        raise UsageError(
            f"{', '.join(given) or '--temperature/--qpm'} go with --sample; in a job file, "
            "put the settings in each line"
        )


def _file_jobs(b, jobs_file: Path, root: Path | None, manifest: Path | None, checkpoint: str | None):
    """(jobs, manifest) of a job file, every line checked by batch.jobs."""
    try:
        text = jobs_file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"{jobs_file}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{jobs_file} cannot be read: {exc}") from None
    root = root or jobs_file.parent
    manifest = manifest or b.manifest_path_for(jobs_file)
    reserved = {Path(jobs_file).absolute(): "job file", Path(manifest).absolute(): "manifest"}
    return b.parse_jobs(text, str(jobs_file), root, checkpoint, reserved), manifest


def _run(b, jobs, opts, scheduler, workers, manifest_path, fail_fast):
    log = None  # made once the cluster is up: a cluster that cannot start leaves no empty manifest
    progress = Progress(len(jobs), "muse batch", "jobs")

    def update(result, s) -> None:
        skipped = f", {s.skipped} skipped" if s.skipped else ""
        failed = f", {len(s.failed)} failed" if s.failed else ""
        progress.update(s.done, note=skipped + failed)

    try:
        with b.open_cluster(scheduler, workers) as client:
            log = b.Manifest(manifest_path)
            return b.run(client, jobs, opts, log, fail_fast=fail_fast, on_result=update)
    finally:
        progress.close()
        if log is not None:
            log.close()


def _report(b, summary, manifest, seconds: float) -> None:
    rate = summary.done / seconds if seconds > 0 else 0.0
    _info(
        f"{summary.ok} done, {summary.skipped} skipped (already there), {len(summary.failed)} failed, "
        f"{summary.total - summary.done} not run, of {summary.total} job(s) in {seconds:.1f} s "
        f"({rate:.1f} jobs/s); manifest {manifest}"
    )
    for line, job_id, error in sorted(summary.failed):
        label = f"line {line}" + (f" (id {job_id})" if job_id != str(line) else "")
        _info(f"  {label}: {error}")
    if summary.interrupted:
        _info("interrupted: run the same command again to continue where it stopped")
        raise KeyboardInterrupt
    if summary.stopped:
        _info("--fail-fast: stopped at the first failure")
    if summary.failed:
        raise b.BatchFailed(f"{len(summary.failed)} of {summary.total} job(s) failed (listed above)")
