"""Many jobs from a JSON-lines file, run on a Dask cluster, recorded in a manifest.

A job file holds one JSON object per line (blank lines are skipped); ``muse batch --help`` and README's
"Many melodies" show one line of each op, and :mod:`.schema` holds the fields.

One idea per module, in the order a run uses them:

- :mod:`.schema`: the fields of each op and their types, checked line by line.
- :mod:`.jobs`: the whole file is checked before anything runs, every bad line reported with its
  number; outputs must stay inside the root (:mod:`.claims`: no output claimed twice).
- :mod:`.plan`: jobs -> tasks; compatible sample jobs (same op, checkpoint, temperature,
  segment count and tempo) share model batches.
- :mod:`.cluster`: a Dask client for a scheduler, or an embedded LocalCluster.
- :mod:`.worker`: a task on a worker: :mod:`.verify` what exists, decode the rest, write MIDI;
  WAVs render as separate small tasks that spread over every core.
- :mod:`.client`: the loop that submits tasks and appends each finished job to the :mod:`.manifest`.

A sample job draws exactly what ``muse sample -n 1 --seed SEED`` with the same
settings draws (a vary or continue job, what ``muse vary|continue -n 1`` makes),
so its bytes do not depend on how jobs were grouped, on the number of workers or
on which worker ran it. Re-running a job file skips every
job whose outputs exist and verify, so an interrupted run continues where it
stopped. Nothing here imports Dask or TensorFlow at import time; workers import
TensorFlow when a job needs a model.
"""

from muse_cli.batch.client import BatchFailed, Summary, run
from muse_cli.batch.cluster import ClusterError, check_scheduler, machine_cores, open_cluster
from muse_cli.batch.jobs import Job, JobFileError, Options, check_checkpoints, checkpoint_ref, parse_jobs, sample_jobs
from muse_cli.batch.manifest import Manifest, manifest_path_for
from muse_cli.batch.plan import plan_tasks
from muse_cli.batch.worker import Result

__all__ = [
    "BatchFailed",
    "ClusterError",
    "Job",
    "JobFileError",
    "Manifest",
    "Options",
    "Result",
    "Summary",
    "check_checkpoints",
    "checkpoint_ref",
    "check_scheduler",
    "machine_cores",
    "manifest_path_for",
    "open_cluster",
    "parse_jobs",
    "plan_tasks",
    "run",
    "sample_jobs",
]
