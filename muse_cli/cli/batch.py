"""`muse batch`: run a job file (or the --sample shorthand) on a Dask cluster.

Parsing and checks happen here and in :mod:`muse_cli.batch` before any worker
starts; progress and the summary go to stderr. Light to import: Dask and
TensorFlow load only when the command runs.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import click

from muse_cli import settings
from muse_cli.errors import UsageError

PROGRESS_EVERY = 10.0  # seconds between progress lines when stderr is not a terminal
BAR_WIDTH = 24


class _Progress:
    """done/total, rate and ETA on stderr: a redrawn bar on a terminal, else a line every PROGRESS_EVERY s."""

    def __init__(self, total: int, stream=None, every: float = PROGRESS_EVERY):
        self.total = total
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.every = every
        self.start = time.monotonic()
        self.last = 0.0
        self.drawn = False

    def _text(self, s) -> str:
        elapsed = max(1e-9, time.monotonic() - self.start)
        rate = s.done / elapsed
        eta = (self.total - s.done) / rate if rate > 0 else float("nan")
        eta_s = time.strftime("%H:%M:%S", time.gmtime(eta)) if eta == eta else "--:--:--"
        failed = f", {len(s.failed)} failed" if s.failed else ""
        skipped = f", {s.skipped} skipped" if s.skipped else ""
        return f"{s.done}/{self.total} jobs{skipped}{failed}  {rate:.1f} jobs/s  ETA {eta_s}"

    def update(self, result, summary) -> None:
        now = time.monotonic()
        if self.tty:
            if now - self.last < 0.1 and summary.done < self.total:
                return
            filled = int(BAR_WIDTH * summary.done / max(1, self.total))
            bar = "#" * filled + "-" * (BAR_WIDTH - filled)
            self.stream.write(f"\r[{bar}] {self._text(summary)}\x1b[K")
            self.drawn = True
        elif now - self.last >= self.every or summary.done == self.total:
            self.stream.write(f"muse batch: {self._text(summary)}\n")
        else:
            return
        self.stream.flush()
        self.last = now

    def close(self) -> None:
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()


def _info(msg: str) -> None:
    click.echo(msg, err=True)


@click.command(name="batch")
@click.argument("jobs_file", required=False, metavar="[JOBS.jsonl]", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--sample",
    "sample_count",
    type=click.IntRange(1, 10_000_000),
    default=None,
    metavar="N",
    help="Instead of a job file: N sample jobs, seeds SEED_START.., into -o DIR/sample_{seed}.mid.",
)
@click.option("--seconds", "-s", type=float, default=None, help="With --sample: length of each melody.")
@click.option("--temperature", "-t", type=float, default=1.0, show_default=True, help="With --sample.")
@click.option("--qpm", type=float, default=120.0, show_default=True, help="With --sample: tempo.")
@click.option(
    "--seed-start", type=click.IntRange(0), default=0, show_default=True, help="With --sample: seed of the first job."
)
@click.option("--wav", is_flag=True, help="With --sample: also render each .mid to a .wav beside it.")
@click.option(
    "--output",
    "-o",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    metavar="DIR",
    help="With --sample: the output directory (also the root outputs must stay in).",
)
@click.option(
    "--checkpoint",
    "-c",
    default=None,
    metavar="NAME|PATH",
    help="Checkpoint for jobs that name none. Default: the embedded model.",
)
@click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    metavar="DIR",
    help="Directory that relative paths start from and outputs must stay inside. "
    "Default: the job file's directory (with --sample: -o DIR).",
)
@click.option(
    "--manifest",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to append the manifest. Default: JOBS.manifest.jsonl beside the job file "
    "(with --sample: DIR/sample.manifest.jsonl).",
)
@click.option(
    "--scheduler",
    default=None,
    metavar="tcp://HOST:PORT",
    help="Use this Dask scheduler (or MUSE_SCHEDULER) instead of starting a local cluster; "
    "its workers must have muse installed and see the same paths.",
)
@click.option(
    "--workers",
    "-j",
    type=click.IntRange(1, 512),
    default=None,
    help="Worker processes of the local cluster. Default: one per CPU core.",
)
@click.option(
    "--batch-size",
    type=click.IntRange(1, 4096),
    default=None,
    help="Windows decoded per model call. Default: muse's measured best (model.MAX_BATCH).",
)
@click.option(
    "--soundfont",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="SoundFont (.sf2) for WAV rendering. Default: pretty_midi's TimGM6mb.sf2.",
)
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

    scheduler = scheduler or settings.scheduler()
    checkpoint = b.checkpoint_ref(checkpoint, Path.cwd())
    if sample_count is not None:
        if jobs_file is not None:
            raise UsageError("give a job file or --sample N, not both")
        if output is None:
            raise UsageError("--sample needs -o DIR for its outputs")
        if seconds is not None and not 0 < seconds <= settings.MAX_SECONDS:
            raise UsageError(f"--seconds must be between 0 and {settings.MAX_SECONDS:g}, got {seconds:g}")
        if not (math.isfinite(temperature) and 0 < temperature <= settings.MAX_TEMPERATURE):
            raise UsageError(f"--temperature must be > 0 and at most {settings.MAX_TEMPERATURE:g}, got {temperature:g}")
        if not 20 <= qpm <= 400:
            raise UsageError(f"--qpm must be between 20 and 400, got {qpm:g}")
        root = root or output
        if output.resolve() != root.resolve() and root.resolve() not in output.resolve().parents:
            raise UsageError(f"-o {output} is outside --root {root}")
        if not scheduler:  # one message for the checkpoint, not one per generated job
            from muse_cli import registry

            registry.resolve(checkpoint)
        try:
            jobs = b.sample_jobs(sample_count, output, seed_start, seconds, temperature, qpm, wav, checkpoint)
        except b.JobFileError as exc:  # the jobs differ only in seed: say the problem once, with no line number
            raise UsageError(f"--sample: {exc.problems[0][1]}") from None
        manifest = manifest or output / "sample.manifest.jsonl"
    else:
        if jobs_file is None:
            raise UsageError("give a job file (JSON lines), or --sample N -o DIR")
        given = [
            name
            for name, v in (
                ("--seconds", seconds),
                ("--wav", wav or None),
                ("-o", output),
                ("--seed-start", seed_start or None),
            )
            if v is not None
        ]
        if given or temperature != 1.0 or qpm != 120.0:
            raise UsageError(
                f"{', '.join(given) or '--temperature/--qpm'} go with --sample; in a job file, "
                "put the settings in each line"
            )
        try:
            text = jobs_file.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise UsageError(f"{jobs_file}: no such file") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"{jobs_file} cannot be read: {exc}") from None
        root = root or jobs_file.parent
        manifest = manifest or b.manifest_path_for(jobs_file)
        reserved = {Path(jobs_file).absolute(): "job file", Path(manifest).absolute(): "manifest"}
        jobs = b.parse_jobs(text, str(jobs_file), root, checkpoint, reserved)
    if not scheduler:
        # (the workers of a remote cluster may see other paths: they check there)
        b.check_checkpoints(jobs, str(jobs_file) if jobs_file else "--sample")
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
    summary = _run(b, jobs, opts, scheduler, n_workers if not scheduler else None, Path(manifest), fail_fast)
    _report(b, summary, manifest)


def _run(b, jobs, opts, scheduler, workers, manifest_path, fail_fast):
    log = b.Manifest(manifest_path)
    progress = _Progress(len(jobs))
    try:
        with b.open_cluster(scheduler, workers) as client:
            return b.run(client, jobs, opts, log, fail_fast=fail_fast, on_result=progress.update)
    finally:
        progress.close()
        log.close()


def _report(b, summary, manifest) -> None:
    rate = summary.done / summary.elapsed if summary.elapsed > 0 else 0.0
    _info(
        f"{summary.ok} done, {summary.skipped} skipped (already there), {len(summary.failed)} failed, "
        f"{summary.total - summary.done} not run, of {summary.total} job(s) in {summary.elapsed:.1f} s "
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
