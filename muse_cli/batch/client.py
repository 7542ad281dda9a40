"""The client's loop: submit the planned tasks, collect results, write the manifest, stop cleanly.

Only the client writes the manifest; it fsyncs once per finished task. A job's
WAVs are rendered by separate tasks submitted as its MIDI arrives, so the job is
finished (and recorded) when its last WAV is.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from muse_cli.batch.cluster import drain
from muse_cli.batch.jobs import Job, Options
from muse_cli.batch.manifest import Manifest
from muse_cli.batch.plan import plan_tasks
from muse_cli.batch.worker import Result, error_text, failed, render_wav, run_task
from muse_cli.errors import ExitCode, MuseError


class BatchFailed(MuseError):
    """Some jobs failed; the message lists each with its line number and reason."""

    exit_code = ExitCode.ERROR


@dataclass
class Summary:
    total: int
    ok: int = 0
    skipped: int = 0
    failed: list = field(default_factory=list)  # [(line, id, error)]
    interrupted: bool = False
    stopped: bool = False  # --fail-fast stopped the run
    elapsed: float = 0.0

    @property
    def done(self) -> int:
        return self.ok + self.skipped + len(self.failed)


class _Collector:
    """Finished jobs -> manifest lines and the summary; a job with WAVs finishes with its last WAV."""

    def __init__(self, jobs: list[Job], manifest: Manifest, on_result, t0: float):
        self.by_line = {j.line: j for j in jobs}
        self.manifest, self.on_result, self.t0 = manifest, on_result, t0
        self.summary = Summary(total=len(jobs))
        self.pending_wavs: dict[int, tuple[Result, int]] = {}  # line -> (result so far, WAVs left)

    def finish(self, res: Result) -> None:
        rec = res.record(self.by_line[res.line].shown)
        if not self.manifest.already(rec):
            self.manifest.append(rec, sync=False)  # fsync once per finished task, by the loop
        summary = self.summary
        if res.status == "ok":
            summary.ok += 1
        elif res.status == "skipped":
            summary.skipped += 1
        else:
            summary.failed.append((res.line, res.id, res.error))
        summary.elapsed = time.perf_counter() - self.t0
        if self.on_result:
            self.on_result(res, summary)

    def wait_for_wavs(self, res: Result) -> None:
        self.pending_wavs[res.line] = (res, len(res.wav_todo))

    def wav_done(self, line: int, out: dict | None, secs: float, err: str | None) -> None:
        prev, left = self.pending_wavs[line]
        prev.seconds += secs
        if err:
            prev.status, prev.error = "failed", err
        else:
            prev.outputs.append(out)
        if left > 1:
            self.pending_wavs[line] = (prev, left - 1)
        else:
            del self.pending_wavs[line]
            self.finish(prev)


def _outcome(fut, kind: str, what):
    """A finished future's value; a task that failed on the cluster fails its jobs."""
    try:
        return fut.result()
    except Exception as exc:  # KilledWorker: the task took down workers again and again
        reason = f"its task failed on the cluster: {error_text(exc)}"
        return [failed(j, reason) for j in what] if kind == "task" else (None, 0.0, reason)


def _submit_wavs(client, res: Result, opts: Options, token: str) -> list:
    """Futures rendering a finished job's MIDI outputs to WAV, ahead of queued model work."""
    return [
        client.submit(
            render_wav,
            midi,
            path,
            opts.soundfont,
            pure=False,
            priority=10,
            key=f"muse-batch-{token}-wav-{Path(path).name}-line{res.line}",
        )
        for midi, path in res.wav_todo
    ]


def run(
    client,
    jobs: list[Job],
    opts: Options,
    manifest: Manifest,
    fail_fast: bool = False,
    on_result: Callable[[Result, Summary], None] | None = None,
) -> Summary:
    """Run ``jobs`` on ``client``; append each finished job to ``manifest``; return the summary.

    KeyboardInterrupt cancels what is queued and returns with ``interrupted`` set;
    each file is written whole or not at all, so the next run continues.
    """
    from distributed import as_completed

    t0 = time.perf_counter()
    col = _Collector(jobs, manifest, on_result, t0)
    summary = col.summary
    token = uuid.uuid4().hex[:8]  # keys unique per run, also on a shared long-lived cluster
    futures = {}
    for i, task in enumerate(plan_tasks(jobs, opts.batch_size)):
        fut = client.submit(run_task, task, opts, pure=False, key=f"muse-batch-{token}-{i}-line{task[0].line}")
        futures[fut] = ("task", task)
    ac = as_completed(list(futures))
    try:
        for fut in ac:
            kind, what = futures.pop(fut)
            out = _outcome(fut, kind, what)
            fut.release()
            if kind == "wav":
                col.wav_done(what, *out)
            for res in out if kind == "task" else ():
                if not res.wav_todo:
                    col.finish(res)
                    continue
                col.wait_for_wavs(res)
                for wf in _submit_wavs(client, res, opts, token):
                    futures[wf] = ("wav", res.line)
                    ac.add(wf)
                res.wav_todo = None
            manifest.sync()
            if fail_fast and summary.failed:
                summary.stopped = True
                break
    except KeyboardInterrupt:
        summary.interrupted = True
    finally:
        if futures:
            client.cancel(list(futures), force=True)
        if summary.interrupted or summary.stopped:
            drain(client)
        summary.elapsed = time.perf_counter() - t0
    return summary
